//! Problems for the simulated world: arithmetic word problems in three
//! kinds, each told apart only by its vocabulary (bookkeeping, stories,
//! riddles), with several templates per kind so that no single sentence
//! gives the kind away. `econ-host sim problems` writes them as JSONL.

use crate::rng::SplitMix64;

/// One template: text with {a} and {b}, and the answer from (a, b).
struct Template {
    text: &'static str,
    op: Op,
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
}

const fn t(text: &'static str, op: Op) -> Template {
    Template { text, op }
}

const LEDGER: [Template; 4] = [
    t(
        "An accountant's ledger shows {a} invoices in March and {b} in April. How many invoices does the ledger show in total?",
        Op::Add,
    ),
    t(
        "The audit found {a} receipts in the ledger and removed {b} duplicates. How many receipts remain in the ledger?",
        Op::Sub,
    ),
    t(
        "Each invoice in the ledger lists {a} items, and the accountant files {b} invoices. How many items are listed?",
        Op::Mul,
    ),
    t(
        "An accountant pays {a} invoices on Monday and {b} invoices on Friday. How many invoices are paid in the audit week?",
        Op::Add,
    ),
];

const STORY: [Template; 4] = [
    t(
        "In the story, a dragon guards {a} coins and a knight brings {b} more. How many coins are in the dragon's cave now?",
        Op::Add,
    ),
    t(
        "The village in the story had {a} lanterns, and a storm blew out {b} of them. How many lanterns still shine?",
        Op::Sub,
    ),
    t(
        "In the story, each of {b} knights carries {a} arrows. How many arrows do the knights carry together?",
        Op::Mul,
    ),
    t(
        "A dragon in the story sleeps {a} nights, wakes, then sleeps {b} more nights. How many nights does the dragon sleep?",
        Op::Add,
    ),
];

const RIDDLE: [Template; 4] = [
    t(
        "Riddle: I start at {a} and add {b}. What number am I?",
        Op::Add,
    ),
    t(
        "Puzzle: take {a}, subtract {b}, and say the number you get.",
        Op::Sub,
    ),
    t(
        "Riddle: {b} boxes in the puzzle each hide {a} stones. How many stones are hidden?",
        Op::Mul,
    ),
    t(
        "Puzzle: a number is {b} less than {a}. What is the number?",
        Op::Sub,
    ),
];

/// `n` problems from `seed`: kinds in turn, templates and numbers drawn, no
/// question twice. Each is one JSON object per line with `id`, `question`,
/// `answer` and `kind` (the kind is for the reader; no adapter passes it to
/// the agents).
pub fn generate(n: usize, seed: u64) -> Vec<serde_json::Value> {
    let mut rng = SplitMix64::new(seed);
    let mut seen = std::collections::HashSet::new();
    let kinds: [(&str, &[Template]); 3] =
        [("ledger", &LEDGER), ("story", &STORY), ("riddle", &RIDDLE)];
    (0..n)
        .map(|i| {
            loop {
                let (kind, templates) = kinds[i % kinds.len()];
                let tpl = &templates[rng.below(templates.len() as u64) as usize];
                let (a, b, answer) = match tpl.op {
                    Op::Add => {
                        let (a, b) = (2 + rng.below(98) as i64, 2 + rng.below(98) as i64);
                        (a, b, a + b)
                    }
                    Op::Sub => {
                        let b = 2 + rng.below(60) as i64;
                        let a = b + 1 + rng.below(60) as i64;
                        (a, b, a - b)
                    }
                    Op::Mul => {
                        let (a, b) = (2 + rng.below(11) as i64, 2 + rng.below(11) as i64);
                        (a, b, a * b)
                    }
                };
                let question = tpl
                    .text
                    .replace("{a}", &a.to_string())
                    .replace("{b}", &b.to_string());
                if !seen.insert(question.clone()) {
                    continue;
                }
                break serde_json::json!({
                    "id": format!("sim-{i}"),
                    "question": question,
                    "answer": answer.to_string(),
                    "kind": kind,
                });
            }
        })
        .collect()
}

/// The problems as JSONL text.
pub fn jsonl(n: usize, seed: u64) -> String {
    generate(n, seed).iter().map(|v| format!("{v}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{SimConfig, World};

    #[test]
    fn answers_are_right_and_kinds_are_visible_to_the_world() {
        let world = World::new(SimConfig::default(), &[], &[], crate::data::HeldOut::Test);
        for v in generate(300, 3) {
            let q = v["question"].as_str().unwrap();
            let kind = v["kind"].as_str().unwrap();
            assert_eq!(world.kind_name(world.kind_of(q)), kind, "{q}");
            let nums: Vec<i64> = q
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|w| w.parse().ok())
                .collect();
            let answer: i64 = v["answer"].as_str().unwrap().parse().unwrap();
            assert!(answer > 0 && nums.len() == 2, "{q}");
            let (x, y) = (nums[0], nums[1]);
            assert!(
                [x + y, x - y, y - x, x * y].contains(&answer),
                "{q} -> {answer}"
            );
        }
    }

    #[test]
    fn no_question_comes_twice() {
        let all = generate(3000, 1);
        let questions: std::collections::HashSet<&str> = all
            .iter()
            .map(|v| v["question"].as_str().unwrap())
            .collect();
        assert_eq!(questions.len(), 3000);
    }

    #[test]
    fn the_shipped_file_is_what_the_generator_writes() {
        // configs/sim.toml reads this file; regenerate it with
        // `econ-host sim problems --n 3000 --seed 1 > data/sim-problems.jsonl`.
        let shipped = include_str!("../../../data/sim-problems.jsonl");
        assert!(
            shipped == jsonl(3000, 1),
            "data/sim-problems.jsonl is stale"
        );
    }
}
