//! The hidden rule of the simulated world and the problems it knows.

use std::collections::HashMap;

use crate::config::SimConfig;
use crate::data::{HeldOut, Splits};
use crate::plugins::dataset_adapter::Problem;
use crate::rng::SplitMix64;

/// A problem the world knows: its reference answer, its kind, and the set
/// it belongs to (whose strategy wording it gets).
#[derive(Clone, Debug)]
pub struct Known {
    pub question: String,
    pub answer: String,
    pub kind: usize,
    /// None: a training problem.
    pub held_out: Option<HeldOut>,
}

/// The rule plus every problem of the run, found again in prompts by the
/// first line of their question.
pub struct World {
    pub config: SimConfig,
    problems: Vec<Known>,
    by_first_line: HashMap<String, Vec<usize>>,
}

impl World {
    /// The world of a run's training and held-out problems.
    pub fn of_splits(config: SimConfig, splits: &Splits) -> Self {
        Self::new(config, &splits.train, &splits.test, splits.held_out)
    }

    /// The world of training problems and held-out problems of one set.
    pub fn new(config: SimConfig, train: &[Problem], held: &[Problem], set: HeldOut) -> Self {
        let mut world = World {
            config,
            problems: Vec::new(),
            by_first_line: HashMap::new(),
        };
        let split = train.iter().map(|p| (p, None));
        for (p, held_out) in split.chain(held.iter().map(|p| (p, Some(set)))) {
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
                held_out,
            });
        }
        world
    }

    /// The kind a question belongs to (index into `config.kinds`): by its
    /// words, where a question matching no kind gets the last one, or by a
    /// hash of it (`sim.kind_by`).
    pub fn kind_of(&self, question: &str) -> usize {
        if self.config.kind_by == "hash" {
            return self.config.hashed_kind(text_hash(question.trim()));
        }
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

    /// The luck shared by every executor asked the same prompt, at action
    /// (T, p): a standard normal value that varies smoothly with the action
    /// (a random function with length scales `sim.coupling_temperature` and
    /// `sim.coupling_penalty`, drawn from `seed`), so executors at nearby
    /// actions share it and executors far apart do not.
    pub fn shared_luck(&self, seed: u64, temperature: f64, penalty: f64) -> f64 {
        // Random Fourier features of a Gaussian kernel: a sum of cosines with
        // normal frequencies is close to a Gaussian process with unit variance.
        const FEATURES: usize = 64;
        let mut r = SplitMix64::new(seed);
        let (lt, lp) = (
            self.config.coupling_temperature,
            self.config.coupling_penalty,
        );
        let sum: f64 = (0..FEATURES)
            .map(|_| {
                let wt = normal(&mut r) / lt;
                let wp = normal(&mut r) / lp;
                let phase = std::f64::consts::TAU * r.unit();
                (wt * temperature + wp * penalty + phase).cos()
            })
            .sum();
        sum * (2.0 / FEATURES as f64).sqrt()
    }

    /// An executor's luck: `sim.coupling` of it shared (see
    /// [`World::shared_luck`]), the rest its own (`own`, standard normal).
    /// Standard normal either way.
    pub fn luck(&self, shared: f64, own: f64) -> f64 {
        let c = self.config.coupling;
        c.sqrt() * shared + (1.0 - c).sqrt() * own
    }

    /// The best action of a kind: (T*, p*).
    pub fn best_action(&self, kind: usize) -> crate::nets::Action {
        let k = &self.config.kinds[kind];
        crate::nets::Action::new(k.best_temperature as f32, k.best_penalty as f32)
    }

    pub fn kind_name(&self, kind: usize) -> &str {
        &self.config.kinds[kind].name
    }
}

/// A standard normal draw (Box-Muller).
pub fn normal(r: &mut SplitMix64) -> f64 {
    let u = 1.0 - r.unit(); // (0, 1]
    let v = r.unit();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// The standard normal distribution function Φ (Abramowitz and Stegun
/// 7.1.26: absolute error below 1.5e-7).
pub fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// FNV-1a of a text: stable across runs and machines (std's hasher is not).
pub fn text_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
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
        let w = World::new(SimConfig::default(), &[], &[], HeldOut::Test);
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
        let w = World::new(SimConfig::default(), &[], &[], HeldOut::Test);
        for kind in 0..3 {
            let [t, p] = w.best_action(kind).to_array();
            let best = w.p_correct(kind, t as f64, p as f64);
            assert!((best - 0.9).abs() < 1e-9);
            assert!(w.p_correct(kind, t as f64 + 0.3, p as f64) < best - 0.3);
        }
        // The best action of one kind is poor for another.
        let [t, p] = w.best_action(0).to_array();
        assert!(w.p_correct(2, t as f64, p as f64) < 0.1);
    }

    #[test]
    fn problems_are_found_in_prompts() {
        let ps = [
            problem("a", "Riddle: add 2 and 3.\nWhat do you get?", "5"),
            problem("b", "Riddle: add 2 and 3.\nWhat is twice that?", "10"),
            problem("c", "In the story, a knight has 4 swords.", "4"),
        ];
        let w = World::new(SimConfig::default(), &ps, &[], HeldOut::Test);
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
