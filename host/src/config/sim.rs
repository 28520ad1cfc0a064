//! `[sim]`: the simulated world (provider "sim"): the kinds of problems, the
//! action each kind rewards, how the agents' mistakes are coupled, and how
//! the coordinator and debate behave.
//!
//! `world` picks a preset, and any key given beside it overrides the preset:
//! - `"easy"` (the default): three kinds told apart by a keyword of the
//!   question, optima inside the action range, effects of 90 % vs 5 %,
//!   independent executors. Learnable with a bag-of-words embedder.
//! - `"hard"`: the kind is hidden from the question (assigned by a hash) and
//!   named only by the coordinator's strategy, by its topic (money vs.
//!   riddles) in three sets of wording: one for training problems, one for
//!   validation problems (the wording the learner's settings were tuned on)
//!   and one for test problems, written after the tuning and never used for
//!   it. Of the words only one kind's training phrases use, a validation
//!   phrase repeats just "first" (exploratory); "question" and "treat" occur
//!   in both kinds' training phrases, "think" in the other kind's;
//!   "trick"/"tricky" and "hidden"/"hide" share a stem. The test phrases share
//!   no content word with either kind's training phrases, nor a first five
//!   letters (function words such as "out" aside). A bag of
//!   words carries little over, a sentence encoder carries the meaning. One
//!   optimum sits on the bound of the action range;
//!   executors at similar actions make the same mistakes (coupled payoffs),
//!   so a team spread around the optimum beats identical agents at it.
//! - `"realistic"`: the hard world with the effect of a real temperature
//!   change (right 75 % at the best action vs 55 % far from it).

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// `[sim]`: the kinds of problems and the rule that makes an executor right.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimFields {
    /// The preset the other keys start from: "easy", "hard" or "realistic".
    pub world: String,
    /// Kinds in matching order: with `kind_by = "keywords"` a problem is of
    /// the first kind one of whose keywords is a word of its question
    /// (case-insensitive; a kind with no keywords matches every problem);
    /// with `kind_by = "hash"` the kind is a hash of the question.
    pub kinds: Vec<KindConfig>,
    /// "keywords" or "hash".
    pub kind_by: String,
    /// Chance of a right answer at a kind's best action.
    pub peak: f64,
    /// Chance of a right answer far from it.
    pub floor: f64,
    /// Width w_T of the rule in temperature.
    pub temperature_width: f64,
    /// Width w_p of the rule in repetition penalty.
    pub penalty_width: f64,
    /// How much of an executor's luck it shares with every other executor
    /// at a similar action (0: independent executors; 1: executors at the
    /// same action are one sample).
    pub coupling: f64,
    /// Distance in temperature over which the shared luck decorrelates.
    pub coupling_temperature: f64,
    /// Distance in repetition penalty over which it decorrelates.
    pub coupling_penalty: f64,
    /// Chance that the commitment takes a minority answer when the executors
    /// disagree.
    pub coordinator_error: f64,
    /// Chance that a debate agent adopts the other agents' majority answer.
    pub debate_adoption: f64,
}

/// `[sim]` with its preset applied (see the module doc).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct SimConfig(pub SimFields);

impl std::ops::Deref for SimConfig {
    type Target = SimFields;
    fn deref(&self) -> &SimFields {
        &self.0
    }
}

impl std::ops::DerefMut for SimConfig {
    fn deref_mut(&mut self) -> &mut SimFields {
        &mut self.0
    }
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
    /// Sentences the coordinator's strategy opens with for a training
    /// problem of this kind (one per problem, by a hash); none: the
    /// strategy does not name the kind.
    #[serde(default)]
    pub strategy_phrases: Vec<String>,
    /// The same for test problems: other words for the same meaning, never
    /// seen in training (empty: `strategy_phrases`).
    #[serde(default)]
    pub test_strategy_phrases: Vec<String>,
    /// The same for validation problems (`dataset.validation_fraction`):
    /// wording to tune on, apart from the test wording (empty:
    /// `strategy_phrases`).
    #[serde(default)]
    pub validation_strategy_phrases: Vec<String>,
}

const EASY: &str = r#"
world = "easy"
kind_by = "keywords"
peak = 0.9
floor = 0.05
temperature_width = 0.2
penalty_width = 0.15
coupling = 0.0
coupling_temperature = 0.15
coupling_penalty = 0.1
coordinator_error = 0.1
debate_adoption = 0.5

# Exact bookkeeping wants a cold executor, stories a warm one, riddles a
# hot one; the penalties differ less.
[[kinds]]
name = "ledger"
keywords = ["ledger", "invoice", "invoices", "accountant", "audit"]
best_temperature = 0.3
best_penalty = 1.05

[[kinds]]
name = "story"
keywords = ["story", "dragon", "knight", "knights", "village"]
best_temperature = 0.7
best_penalty = 1.15

[[kinds]]
name = "riddle"
keywords = ["riddle", "puzzle"]
best_temperature = 1.1
best_penalty = 1.25

# Anything else: the middle of configs/sim.toml's bounds.
[[kinds]]
name = "other"
best_temperature = 0.7
best_penalty = 1.15
"#;

/// The hard world: the kind hidden in the question, named by the strategy
/// in other words at test than in training. The cold kind's best action is
/// on the lower bounds of configs/sim-hard.toml ([0.2, 1.2] x [1.0, 1.3]).
const HARD: &str = r#"
world = "hard"
kind_by = "hash"
peak = 0.8
floor = 0.1
temperature_width = 0.3
penalty_width = 0.2
coupling = 0.8
coupling_temperature = 0.06
coupling_penalty = 0.05
coordinator_error = 0.1
debate_adoption = 0.5

# Money and bookkeeping want a cold executor (the best temperature is on the
# lower bound); riddles and puzzles a hot one. The test phrases are other
# words for the same topics (see the module's text for the few words shared).
[[kinds]]
name = "exact"
best_temperature = 0.2
best_penalty = 1.0
strategy_phrases = [
    "This is an accounting problem: add up the costs and totals exactly.",
    "A bookkeeping question about money spent and earned.",
    "Treat this as a budget calculation with prices and payments.",
    "A question about invoices, bills and the amounts owed.",
    "Compute the balance like a bank statement, line by line.",
    "This is about wages, salaries and hourly pay.",
    "A sales ledger problem: units sold times unit price.",
    "Work it out like a cashier totalling a receipt.",
]
validation_strategy_phrases = [
    "A finance question: tally the expenses and income precisely.",
    "Think of it as a payroll computation.",
    "This concerns a shop's takings and the change given back.",
    "Treat it as tax arithmetic from a spreadsheet.",
    "A household spending question about groceries and rent.",
]
# Written after the learner's settings were tuned, and never tuned on.
test_strategy_phrases = [
    "A matter of pocket change: coins, notes and what remains in the wallet.",
    "Picture a market stall tracking its revenue and outlays.",
    "Like settling a restaurant tab split among friends.",
    "Handle it as a mortgage or loan instalment sum.",
    "An allowance and savings matter: dollars in, dollars out.",
]

[[kinds]]
name = "exploratory"
best_temperature = 1.1
best_penalty = 1.2
strategy_phrases = [
    "This is a riddle: look for the trick hidden in the wording.",
    "A brain teaser; brainstorm a few interpretations first.",
    "Treat it as a puzzle with an unexpected twist.",
    "A lateral-thinking question: question the obvious reading.",
    "Think creatively, as in a logic puzzle game.",
    "An imaginative word puzzle; explore unusual angles.",
    "This is a playful conundrum that needs inventive thinking.",
    "Solve it like a mystery: try several hypotheses.",
]
validation_strategy_phrases = [
    "An enigma: the answer may hide behind a clever trap.",
    "Approach it as a quiz-show question with a catch.",
    "An artistic challenge: consider unconventional ideas.",
    "Like a detective story, weigh different theories first.",
    "A tricky trivia question that rewards original reasoning.",
]
test_strategy_phrases = [
    "Something here is not what it seems; a surprise waits in the phrasing.",
    "A paradox of sorts: entertain odd possibilities before settling.",
    "Like a magician's setup: misdirection is afoot.",
    "Let curiosity lead you through far-fetched explanations.",
    "A whimsical scenario where fanciful guesses are welcome.",
]
"#;

/// The hard world with effects of the size a real temperature change has.
const REALISTIC: &str = r#"
world = "realistic"
peak = 0.75
floor = 0.55
"#;

impl SimConfig {
    pub const WORLDS: [&str; 3] = ["easy", "hard", "realistic"];

    /// The preset of `world` as a table (the realistic world is the hard one
    /// with other effect sizes).
    fn preset(world: &str) -> Result<toml::Table> {
        let parse = |text: &str| toml::from_str::<toml::Table>(text).expect("presets parse");
        Ok(match world {
            "easy" => parse(EASY),
            "hard" => parse(HARD),
            "realistic" => {
                let mut t = parse(HARD);
                t.extend(parse(REALISTIC));
                t
            }
            other => bail!(
                "key sim.world: {other:?} is not one of {}",
                Self::WORLDS.map(|w| format!("{w:?}")).join(", ")
            ),
        })
    }

    /// `[sim]` as written: the keys given override the preset of `world`.
    pub fn from_table(mut given: toml::Table) -> Result<Self> {
        let world = match given.get("world") {
            None => "easy".to_string(),
            Some(toml::Value::String(w)) => w.clone(),
            Some(other) => bail!("key sim.world: expected a string, found {other}"),
        };
        let mut table = Self::preset(&world)?;
        table.extend(std::mem::take(&mut given));
        let fields: SimFields = table.try_into().context("section [sim]")?;
        Ok(SimConfig(fields))
    }

    /// The kind a question's position in `kinds` names by hash.
    pub fn hashed_kind(&self, question_hash: u64) -> usize {
        (crate::rng::derive(&[0x5EED_C1A5, question_hash]) % self.kinds.len() as u64) as usize
    }
}

impl<'de> Deserialize<'de> for SimConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let table = toml::Table::deserialize(d)?;
        SimConfig::from_table(table).map_err(|e| serde::de::Error::custom(format!("{e:#}")))
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig::from_table(toml::Table::new()).expect("the easy preset parses")
    }
}

impl SimFields {
    // `!(a < b)` on purpose: a NaN must fail these checks.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    pub fn validate(&self) -> Result<()> {
        if self.kinds.is_empty() {
            bail!("key sim.kinds: needs at least one kind");
        }
        if !["keywords", "hash"].contains(&self.kind_by.as_str()) {
            bail!(
                "key sim.kind_by: {:?} is not \"keywords\" or \"hash\"",
                self.kind_by
            );
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
            for (key, pool) in [
                ("test_strategy_phrases", &k.test_strategy_phrases),
                (
                    "validation_strategy_phrases",
                    &k.validation_strategy_phrases,
                ),
            ] {
                if k.strategy_phrases.is_empty() && !pool.is_empty() {
                    bail!(
                        "key sim.kinds[{i}].{key} ({}): needs strategy_phrases too",
                        k.name
                    );
                }
            }
        }
        for (key, v) in [
            ("peak", self.peak),
            ("floor", self.floor),
            ("coupling", self.coupling),
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
            ("coupling_temperature", self.coupling_temperature),
            ("coupling_penalty", self.coupling_penalty),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                bail!("key sim.{key}: {v} must be > 0");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::SimConfig;

    /// Lower-case words of three letters or more, function words left out.
    fn content_words(phrases: &[String]) -> Vec<String> {
        const FUNCTION_WORDS: [&str; 24] = [
            "the", "this", "its", "and", "for", "with", "may", "are", "what", "where", "here",
            "not", "like", "you", "your", "let", "before", "out", "through", "about", "from",
            "that", "some", "sorts",
        ];
        phrases
            .iter()
            .flat_map(|p| p.split(|c: char| !c.is_ascii_alphabetic()))
            .map(str::to_lowercase)
            .filter(|w| w.len() >= 3 && !FUNCTION_WORDS.contains(&w.as_str()))
            .collect()
    }

    /// The hard world's claim that its test wording was never seen in
    /// training: no content word of a test phrase is, contains, or is
    /// contained in a training word of either kind, and none shares its
    /// first five letters with one ("tracking" vs "accounting" would pass,
    /// "counting" would not).
    #[test]
    fn the_hard_worlds_test_wording_shares_no_word_or_stem_with_training() {
        let world: SimConfig = toml::from_str("world = \"hard\"").unwrap();
        let training: Vec<String> = world
            .kinds
            .iter()
            .flat_map(|k| content_words(&k.strategy_phrases))
            .collect();
        assert!(world.kinds.len() >= 2 && !training.is_empty());
        for kind in &world.kinds {
            assert!(kind.test_strategy_phrases.len() >= 5, "{}", kind.name);
            assert!(kind.validation_strategy_phrases.len() >= 5, "{}", kind.name);
            for w in content_words(&kind.test_strategy_phrases) {
                for v in &training {
                    let stem = |x: &str| x.chars().take(5).collect::<String>();
                    assert!(
                        !(w.contains(v.as_str()) || v.contains(w.as_str()) || stem(&w) == stem(v)),
                        "test word {w:?} of kind {} shares a stem with training word {v:?}",
                        kind.name
                    );
                }
            }
        }
    }
}
