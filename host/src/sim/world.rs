//! The hidden rule of the simulated world and the problems it knows.

use std::collections::HashMap;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::plugins::dataset_adapter::Problem;

/// `[sim]`: the kinds of problems and the rule that makes an executor right.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// Kinds in matching order: a problem is of the first kind one of whose
    /// keywords is a word of its question (case-insensitive); a kind with no
    /// keywords matches every problem.
    #[serde(default = "default_kinds")]
    pub kinds: Vec<KindConfig>,
    /// Chance of a right answer at a kind's best action.
    #[serde(default = "d_peak")]
    pub peak: f64,
    /// Chance of a right answer far from it.
    #[serde(default = "d_floor")]
    pub floor: f64,
    /// Width w_T of the rule in temperature.
    #[serde(default = "d_temperature_width")]
    pub temperature_width: f64,
    /// Width w_p of the rule in repetition penalty.
    #[serde(default = "d_penalty_width")]
    pub penalty_width: f64,
    /// Chance that the commitment takes a minority answer when the executors
    /// disagree.
    #[serde(default = "d_coordinator_error")]
    pub coordinator_error: f64,
    /// Chance that a debate agent adopts the other agents' majority answer.
    #[serde(default = "d_debate_adoption")]
    pub debate_adoption: f64,
}

/// One kind of problem and its best executor action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindConfig {
    pub name: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    pub best_temperature: f64,
    pub best_penalty: f64,
}

fn kind(name: &str, keywords: &[&str], t: f64, p: f64) -> KindConfig {
    KindConfig {
        name: name.into(),
        keywords: keywords.iter().map(|k| k.to_string()).collect(),
        best_temperature: t,
        best_penalty: p,
    }
}

/// The kinds of `econ-host sim problems`: exact bookkeeping wants a cold
/// executor, stories a warm one, riddles a hot one; the penalties differ less.
fn default_kinds() -> Vec<KindConfig> {
    vec![
        kind(
            "ledger",
            &["ledger", "invoice", "invoices", "accountant", "audit"],
            0.3,
            1.05,
        ),
        kind(
            "story",
            &["story", "dragon", "knight", "knights", "village"],
            0.7,
            1.15,
        ),
        kind("riddle", &["riddle", "puzzle"], 1.1, 1.25),
        // Anything else: the middle of configs/sim.toml's bounds.
        kind("other", &[], 0.7, 1.15),
    ]
}
fn d_peak() -> f64 {
    0.9
}
fn d_floor() -> f64 {
    0.05
}
fn d_temperature_width() -> f64 {
    0.2
}
fn d_penalty_width() -> f64 {
    0.15
}
fn d_coordinator_error() -> f64 {
    0.1
}
fn d_debate_adoption() -> f64 {
    0.5
}

impl Default for SimConfig {
    fn default() -> Self {
        toml::from_str("").expect("an empty [sim] parses")
    }
}

impl SimConfig {
    // `!(a < b)` on purpose: a NaN must fail these checks.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    pub fn validate(&self) -> Result<()> {
        if self.kinds.is_empty() {
            bail!("key sim.kinds: needs at least one kind");
        }
        for (i, k) in self.kinds.iter().enumerate() {
            if k.name.trim().is_empty() {
                bail!("key sim.kinds[{i}].name: must not be empty");
            }
            if !(k.best_temperature.is_finite() && k.best_penalty.is_finite()) {
                bail!(
                    "key sim.kinds[{i}] ({}): best_temperature and best_penalty must be numbers",
                    k.name
                );
            }
        }
        for (key, v) in [
            ("peak", self.peak),
            ("floor", self.floor),
            ("coordinator_error", self.coordinator_error),
            ("debate_adoption", self.debate_adoption),
        ] {
            if !(0.0..=1.0).contains(&v) {
                bail!("key sim.{key}: {v} is outside [0, 1]");
            }
        }
        if !(self.floor <= self.peak) {
            bail!(
                "keys sim.floor/sim.peak: floor {} is above peak {}",
                self.floor,
                self.peak
            );
        }
        for (key, v) in [
            ("temperature_width", self.temperature_width),
            ("penalty_width", self.penalty_width),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                bail!("key sim.{key}: {v} must be > 0");
            }
        }
        Ok(())
    }
}

/// A problem the world knows: its reference answer and its kind.
#[derive(Clone, Debug)]
pub struct Known {
    pub question: String,
    pub answer: String,
    pub kind: usize,
}

/// The rule plus every problem of the run, found again in prompts by the
/// first line of their question.
pub struct World {
    pub config: SimConfig,
    problems: Vec<Known>,
    by_first_line: HashMap<String, Vec<usize>>,
}

impl World {
    pub fn new(config: SimConfig, problems: &[Problem]) -> Self {
        let mut world = World {
            config,
            problems: Vec::new(),
            by_first_line: HashMap::new(),
        };
        for p in problems {
            let question = p.question.trim().to_string();
            let kind = world.kind_of(&question);
            let key = first_line(&question);
            world
                .by_first_line
                .entry(key)
                .or_default()
                .push(world.problems.len());
            world.problems.push(Known {
                question,
                answer: p.answer.clone(),
                kind,
            });
        }
        world
    }

    /// The kind a question belongs to (index into `config.kinds`); a question
    /// matching no kind gets the last one.
    pub fn kind_of(&self, question: &str) -> usize {
        let words: Vec<String> = question
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        self.config
            .kinds
            .iter()
            .position(|k| {
                k.keywords.is_empty()
                    || k.keywords
                        .iter()
                        .any(|kw| words.iter().any(|w| *w == kw.to_lowercase()))
            })
            .unwrap_or(self.config.kinds.len() - 1)
    }

    /// The problem whose question a prompt contains (the first found, line
    /// by line).
    pub fn find(&self, prompt: &str) -> Option<&Known> {
        for line in prompt.lines() {
            let Some(candidates) = self.by_first_line.get(line.trim()) else {
                continue;
            };
            if let Some(&i) = candidates
                .iter()
                .find(|&&i| prompt.contains(self.problems[i].question.as_str()))
            {
                return Some(&self.problems[i]);
            }
        }
        None
    }

    /// Chance that an executor sampled at (temperature, penalty) answers a
    /// problem of `kind` right.
    pub fn p_correct(&self, kind: usize, temperature: f64, penalty: f64) -> f64 {
        let c = &self.config;
        let k = &c.kinds[kind];
        let zt = (temperature - k.best_temperature) / c.temperature_width;
        let zp = (penalty - k.best_penalty) / c.penalty_width;
        c.floor + (c.peak - c.floor) * (-0.5 * (zt * zt + zp * zp)).exp()
    }

    /// The best action of a kind: (T*, p*).
    pub fn best_action(&self, kind: usize) -> [f32; 2] {
        let k = &self.config.kinds[kind];
        [k.best_temperature as f32, k.best_penalty as f32]
    }

    pub fn kind_name(&self, kind: usize) -> &str {
        &self.config.kinds[kind].name
    }
}

fn first_line(question: &str) -> String {
    question.lines().next().unwrap_or("").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(id: &str, q: &str, a: &str) -> Problem {
        Problem {
            id: id.into(),
            question: q.into(),
            answer: a.into(),
            metadata: Vec::new(),
        }
    }

    #[test]
    fn kinds_follow_keywords_and_fall_back_to_the_catch_all() {
        let w = World::new(SimConfig::default(), &[]);
        assert_eq!(
            w.kind_name(w.kind_of("The accountant's LEDGER shows 4.")),
            "ledger"
        );
        assert_eq!(w.kind_name(w.kind_of("In the story, a dragon...")), "story");
        assert_eq!(w.kind_name(w.kind_of("Riddle: add 2 and 3.")), "riddle");
        assert_eq!(w.kind_name(w.kind_of("What is 2 + 2?")), "other");
        // Whole words only: "storyteller" is not "story".
        assert_eq!(w.kind_name(w.kind_of("A storyteller counts 3.")), "other");
    }

    #[test]
    fn the_rule_peaks_at_each_kinds_best_action() {
        let w = World::new(SimConfig::default(), &[]);
        for kind in 0..3 {
            let [t, p] = w.best_action(kind);
            let best = w.p_correct(kind, t as f64, p as f64);
            assert!((best - 0.9).abs() < 1e-9);
            assert!(w.p_correct(kind, t as f64 + 0.3, p as f64) < best - 0.3);
        }
        // The best action of one kind is poor for another.
        let [t, p] = w.best_action(0);
        assert!(w.p_correct(2, t as f64, p as f64) < 0.1);
    }

    #[test]
    fn problems_are_found_in_prompts() {
        let ps = [
            problem("a", "Riddle: add 2 and 3.\nWhat do you get?", "5"),
            problem("b", "Riddle: add 2 and 3.\nWhat is twice that?", "10"),
            problem("c", "In the story, a knight has 4 swords.", "4"),
        ];
        let w = World::new(SimConfig::default(), &ps);
        let prompt = "Solve it.\n\nProblem:\nRiddle: add 2 and 3.\nWhat is twice that?\n\nGo.";
        assert_eq!(w.find(prompt).unwrap().answer, "10");
        assert_eq!(
            w.find("Problem:\nIn the story, a knight has 4 swords.\n")
                .unwrap()
                .answer,
            "4"
        );
        assert!(w.find("Problem:\nsomething else\n").is_none());
    }

    #[test]
    fn bad_settings_name_their_key() {
        let c: SimConfig = toml::from_str("peak = 1.5").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("sim.peak"));
        let c: SimConfig = toml::from_str("kinds = []").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("sim.kinds"));
        assert!(toml::from_str::<SimConfig>("peek = 0.5").is_err());
    }
}
