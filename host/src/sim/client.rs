//! The simulated LLM: one client per role, answering from the world's rule.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

use super::world::{Known, World, normal, normal_cdf, text_hash};
use crate::data::HeldOut;
use crate::llm::{
    BoxFuture, ChatRequest, Completion, LlmClient, estimate_prompt_tokens, estimate_tokens,
};
use crate::rng::{self, SplitMix64};

/// Strategies without a number in them: the coordinator never gives the
/// answer away. One is picked per question.
const STRATEGIES: [&str; 4] = [
    "1. Identify the quantities the problem gives.\n2. Combine them with the operation it asks for.\n3. Check the result against the question.",
    "1. Read what is asked.\n2. Work out the needed operation step by step.\n3. Verify the final value.",
    "1. List the known values.\n2. Apply the operation the question describes.\n3. Re-check the arithmetic.",
    "1. Restate the problem in your own words.\n2. Compute the result carefully.\n3. Confirm it answers the question.",
];

/// Filler sentences; hotter executors ramble more.
const FILLER: [&str; 6] = [
    "Let me think about the quantities first.",
    "There may be a shortcut here.",
    "I double-check each step as I go.",
    "One could also approach this differently.",
    "The wording suggests a single operation.",
    "I keep the units aside for now.",
];

pub struct SimClient {
    world: Arc<World>,
    coordinator: bool,
    model: String,
    /// The run's seed: the executors' shared luck is drawn from it.
    seed: u64,
    /// Draws for requests that carry no seed (`[llm] seeds = "none"`).
    unseeded: Mutex<SplitMix64>,
}

impl SimClient {
    pub fn new(world: Arc<World>, coordinator: bool, model: &str, seed: u64) -> Self {
        SimClient {
            world,
            coordinator,
            model: model.to_string(),
            seed,
            unseeded: Mutex::new(SplitMix64::new(rng::derive(&[seed, coordinator as u64]))),
        }
    }

    /// The call's random stream: from its seed and prompt, as a server's.
    fn stream(&self, request: &ChatRequest, prompt: &str) -> SplitMix64 {
        let seed = match request.seed {
            Some(s) => u64::from(s),
            None => self
                .unseeded
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .next_u64(),
        };
        SplitMix64::new(rng::derive(&[seed, text_hash(prompt)]))
    }

    fn answer(&self, request: &ChatRequest) -> Result<String> {
        let prompt: String = request
            .messages
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let problem = self.world.find(&prompt).ok_or_else(|| {
            anyhow!("sim: the prompt holds none of the run's questions (is the dataset the sim's?)")
        })?;
        let mut draws = self.stream(request, &prompt);
        let shown = boxed_answers(&prompt);
        Ok(if self.coordinator {
            if shown.is_empty() {
                self.strategy(problem)
            } else {
                self.commit(&shown, &mut draws)
            }
        } else {
            self.execute(problem, request, &prompt, &shown, &mut draws)
        })
    }

    /// An executor's solution: right with the rule's chance at its action.
    fn execute(
        &self,
        problem: &Known,
        request: &ChatRequest,
        prompt: &str,
        shown: &[String],
        draws: &mut SplitMix64,
    ) -> String {
        let (t, p) = (
            f64::from(request.temperature),
            f64::from(request.repetition_penalty),
        );
        let chance = self.world.p_correct(problem.kind, t, p);
        let mut value = if self.world.config.coupling > 0.0 {
            // Luck partly shared with every executor asked this prompt at
            // a nearby action: they are right together and, when wrong,
            // give the same wrong answer.
            let shared = |which: u64| {
                let seed = rng::derive(&[self.seed, text_hash(prompt), which]);
                self.world.shared_luck(seed, t, p)
            };
            let right = normal_cdf(self.world.luck(shared(0), normal(draws)));
            let slip = normal_cdf(self.world.luck(shared(1), normal(draws)));
            if right < chance {
                problem.answer.clone()
            } else {
                wrong_by(&problem.answer, slip)
            }
        } else {
            // The first draw decides right or wrong, so that a small change
            // of the action moves the chance, not the draw (as with a real
            // sampler).
            let u = draws.unit();
            let wrong = wrong_answer(&problem.answer, draws);
            if u < chance {
                problem.answer.clone()
            } else {
                wrong
            }
        };
        // Debate: other agents' answers in the prompt sway it.
        if let Some(majority) = majority(shown)
            && draws.unit() < self.world.config.debate_adoption
        {
            value = majority;
        }
        let ramble = (f64::from(request.temperature) * 3.0).round() as usize;
        let mut text = String::from("Following the strategy, I work through the problem.\n");
        // With coupled executors (the hard worlds) the text depends only on
        // the answer and on how much the executor rambles, so texts repeat
        // and a real sentence encoder sees each once.
        let fixed = self.world.config.coupling > 0.0;
        let question = text_hash(&problem.question);
        for i in 0..ramble {
            let pick = if fixed {
                rng::derive(&[question, i as u64]) % FILLER.len() as u64
            } else {
                draws.below(FILLER.len() as u64)
            };
            text.push_str(FILLER[pick as usize]);
            text.push('\n');
        }
        text.push_str(&format!("The result is {value}.\n\\boxed{{{value}}}"));
        text
    }

    /// The coordinator's commitment: the executors' majority, a minority
    /// answer with probability `coordinator_error` when they disagree.
    fn commit(&self, shown: &[String], draws: &mut SplitMix64) -> String {
        let counts = tally(shown);
        let top = counts.iter().map(|(_, c)| *c).max().unwrap_or(0);
        let leaders: Vec<&String> = counts
            .iter()
            .filter(|(_, c)| *c == top)
            .map(|(a, _)| a)
            .collect();
        let mut value = leaders[draws.below(leaders.len() as u64) as usize].clone();
        let others: Vec<&String> = counts
            .iter()
            .map(|(a, _)| a)
            .filter(|a| **a != value)
            .collect();
        if !others.is_empty() && draws.unit() < self.world.config.coordinator_error {
            value = others[draws.below(others.len() as u64) as usize].clone();
        }
        let agree = counts.len() == 1;
        let confidence = top as f64 / shown.len() as f64;
        serde_json::json!({
            "final_value": value,
            "reasoning": if agree { "All executors agree." } else { "Most executors agree." },
            "confidence": (confidence * 100.0).round() / 100.0,
            "checklist": {"all_agree": agree, "arithmetic_verified": true, "units_correct": true},
        })
        .to_string()
    }
}

impl LlmClient for SimClient {
    fn model(&self) -> &str {
        &self.model
    }

    fn chat<'a>(&'a self, request: &'a ChatRequest) -> BoxFuture<'a, Result<Completion>> {
        Box::pin(async move {
            let t0 = Instant::now();
            let mut text = self.answer(request)?;
            // A strategy longer than its token budget is cut, as a server would.
            let budget = request.max_tokens as usize * 4;
            if text.len() > budget {
                let cut = (0..=budget)
                    .rev()
                    .find(|&i| text.is_char_boundary(i))
                    .unwrap_or(0);
                text.truncate(cut);
            }
            let completion_tokens = estimate_tokens(&text).min(request.max_tokens);
            Ok(Completion {
                prompt_tokens: estimate_prompt_tokens(&request.messages),
                completion_tokens,
                usage_estimated: true,
                latency: t0.elapsed().max(Duration::from_nanos(1)),
                text,
            })
        })
    }
}

impl SimClient {
    /// The coordinator's strategy: steps without numbers (it never gives the
    /// answer away), opened, where the world's kinds have phrases, by a
    /// sentence that names the problem's kind — in words of the test pool
    /// for a test problem, of the validation pool for a validation problem.
    /// One pick per question.
    fn strategy(&self, problem: &Known) -> String {
        let h = text_hash(&problem.question);
        let kind = &self.world.config.kinds[problem.kind];
        let held_out_pool = match problem.held_out {
            None => &kind.strategy_phrases,
            Some(HeldOut::Test) => &kind.test_strategy_phrases,
            Some(HeldOut::Validation) => &kind.validation_strategy_phrases,
        };
        let pool = if held_out_pool.is_empty() {
            &kind.strategy_phrases
        } else {
            held_out_pool
        };
        if pool.is_empty() {
            return STRATEGIES[(h % STRATEGIES.len() as u64) as usize].to_string();
        }
        let phrase = &pool[(rng::derive(&[h, 1]) % pool.len() as u64) as usize];
        let steps = SHORT_STEPS[(rng::derive(&[h, 2]) % SHORT_STEPS.len() as u64) as usize];
        format!("{phrase}\n{steps}")
    }
}

/// Steps short enough to follow a kind's sentence within a 50-token strategy.
const SHORT_STEPS: [&str; 3] = [
    "1. Find the quantities.\n2. Compute step by step.\n3. Check the result.",
    "1. Read what is asked.\n2. Work it out.\n3. Verify the value.",
    "1. List the known values.\n2. Apply the operation.\n3. Re-check it.",
];

const OFFSETS: [i64; 8] = [-10, -3, -2, -1, 1, 2, 3, 10];

/// A plausible wrong answer: the reference off by a small amount (or with a
/// slip in the last digit for answers that are not integers).
fn wrong_answer(answer: &str, draws: &mut SplitMix64) -> String {
    let offset = OFFSETS[draws.below(OFFSETS.len() as u64) as usize];
    with_offset(answer, offset)
}

/// The wrong answer a slip `u` in [0, 1) picks: executors with the same
/// slip give the same wrong answer.
fn wrong_by(answer: &str, u: f64) -> String {
    let i = ((u * OFFSETS.len() as f64) as usize).min(OFFSETS.len() - 1);
    with_offset(answer, OFFSETS[i])
}

fn with_offset(answer: &str, offset: i64) -> String {
    match answer.trim().parse::<i64>() {
        Ok(a) => (a + offset).to_string(),
        Err(_) => format!("{}{}", answer.trim(), offset.unsigned_abs()),
    }
}

/// The contents of every `\boxed{...}` in a text that holds a value (not
/// an empty box or a "..." placeholder of the instructions).
pub fn boxed_answers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("\\boxed{") {
        rest = &rest[at + "\\boxed{".len()..];
        let mut depth = 1;
        let mut end = None;
        for (i, c) in rest.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else { break };
        let value = rest[..end].trim();
        if !value.is_empty() && !value.contains("...") {
            out.push(value.to_string());
        }
        rest = &rest[end..];
    }
    out
}

/// Distinct answers with their counts, in first-seen order.
fn tally(answers: &[String]) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for a in answers {
        match counts.iter_mut().find(|(x, _)| x == a) {
            Some((_, c)) => *c += 1,
            None => counts.push((a.clone(), 1)),
        }
    }
    counts
}

/// The most frequent answer (the first seen on a tie).
fn majority(answers: &[String]) -> Option<String> {
    let counts = tally(answers);
    let top = counts.iter().map(|(_, c)| *c).max()?;
    counts.into_iter().find(|(_, c)| *c == top).map(|(a, _)| a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::Message;
    use crate::plugins::dataset_adapter::Problem;
    use crate::sim::SimConfig;

    fn world() -> Arc<World> {
        let problems = [
            (
                "a",
                "The accountant's ledger shows 12 invoices and 30 more. How many?",
                "42",
            ),
            ("b", "Riddle: start at 5 and add 9. What number am I?", "14"),
        ]
        .map(|(id, q, a)| Problem {
            id: id.into(),
            question: q.into(),
            answer: a.into(),
            metadata: Vec::new(),
        });
        Arc::new(World::new(
            SimConfig::default(),
            &problems,
            &[],
            crate::data::HeldOut::Test,
        ))
    }

    fn request(text: &str, t: f32, p: f32, seed: Option<u32>) -> ChatRequest {
        ChatRequest {
            messages: vec![Message::new("user", text)],
            temperature: t,
            top_p: 0.9,
            repetition_penalty: p,
            max_tokens: 400,
            stop: Vec::new(),
            seed,
        }
    }

    fn ask(client: &SimClient, r: &ChatRequest) -> String {
        futures_util::FutureExt::now_or_never(client.chat(r))
            .expect("the sim answers at once")
            .unwrap()
            .text
    }

    const LEDGER: &str = "Problem:\nThe accountant's ledger shows 12 invoices and 30 more. How many?\n\nEnd with \\boxed{}.";

    #[test]
    fn same_seed_same_answer_and_seeds_make_samples() {
        let ex = SimClient::new(world(), false, "sim", 1);
        let r = request(LEDGER, 0.7, 1.1, Some(5));
        assert_eq!(ask(&ex, &r), ask(&ex, &r));
        let answers: std::collections::HashSet<String> = (0..40)
            .map(|s| boxed_answers(&ask(&ex, &request(LEDGER, 0.7, 1.1, Some(s))))[0].clone())
            .collect();
        assert!(answers.len() > 1, "{answers:?}");
    }

    #[test]
    fn the_best_action_is_right_far_more_often() {
        let ex = SimClient::new(world(), false, "sim", 1);
        let rate = |t: f32, p: f32| {
            (0..400)
                .filter(|&s| boxed_answers(&ask(&ex, &request(LEDGER, t, p, Some(s))))[0] == "42")
                .count() as f64
                / 400.0
        };
        let best = rate(0.3, 1.05);
        let hot = rate(1.1, 1.25);
        assert!(best > 0.8 && hot < 0.2, "best {best}, hot {hot}");
    }

    #[test]
    fn the_coordinator_plans_without_numbers_and_commits_to_the_majority() {
        let co = SimClient::new(world(), true, "sim", 1);
        let plan = ask(&co, &request(LEDGER, 0.3, 1.1, Some(1)));
        // Only the list markers are digits.
        let body: String = plan.lines().map(|l| &l[2..]).collect();
        assert!(!body.chars().any(|c| c.is_ascii_digit()), "{plan}");
        let commit_prompt = format!(
            "{LEDGER}\nExecutor 1: \\boxed{{42}}\nExecutor 2: \\boxed{{41}}\nExecutor 3: \\boxed{{42}}\n\
             Extract each answer from its \\boxed{{...}}."
        );
        let picks: Vec<String> = (0..200)
            .map(|s| {
                let text = ask(&co, &request(&commit_prompt, 0.1, 1.05, Some(s)));
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                v["final_value"].as_str().unwrap().to_string()
            })
            .collect();
        let majority = picks.iter().filter(|p| *p == "42").count();
        assert!((160..200).contains(&majority), "{majority} of 200");
    }

    #[test]
    fn unknown_questions_are_an_error() {
        let ex = SimClient::new(world(), false, "sim", 1);
        let r = request("Problem:\nWhat is love?", 0.7, 1.1, Some(1));
        let e = futures_util::FutureExt::now_or_never(ex.chat(&r))
            .unwrap()
            .unwrap_err();
        assert!(e.to_string().contains("none of the run's questions"), "{e}");
    }

    #[test]
    fn boxed_values_skip_placeholders() {
        assert_eq!(
            boxed_answers(
                "use \\boxed{} or \\boxed{...}; got \\boxed{\\frac{1}{2}} and \\boxed{ 7 }"
            ),
            vec!["\\frac{1}{2}".to_string(), "7".to_string()]
        );
    }
}
