//! Re-judging finished episodes with another answer parser or reward plugin,
//! from their traces alone: no LLM call. The final commitment (ECON) or the
//! last round's samples and their majority (comparison modes) are parsed
//! again and compared with the reference; every round of an ECON episode is
//! scored again (its texts embedded by the run's sentence encoder);
//! everything else in the trace stays.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow};

use super::comparisons::decide;
use super::round::{Failure, Verdict, judge};
use super::summary::ModeSummary;
use super::trace::{AgentRewardTrace, Trace};
use crate::plugins::dataset_adapter::Problem;
use crate::plugins::{AnswerParserPlugin, RewardPlugin};

fn plain<T>(r: std::result::Result<T, Failure>) -> Result<T> {
    r.map_err(|f| match f {
        Failure::Plugin(e) | Failure::Fatal(e) => e,
    })
}

/// `trace` judged by `parser`; a trace of a failed episode stays failed.
pub fn rescore(trace: &Trace, parser: &AnswerParserPlugin) -> Result<Trace> {
    let mut t = trace.clone();
    if t.error.is_some() {
        return Ok(t);
    }
    match &mut t.baseline {
        Some(baseline) => {
            let last = baseline
                .rounds
                .last_mut()
                .ok_or_else(|| anyhow!("episode {} has no rounds", trace.episode))?;
            let texts: Vec<String> = last.iter().map(|c| c.output.clone()).collect();
            let verdicts = plain(judge(parser, &trace.reference, &texts))?;
            let mut methods = Vec::with_capacity(verdicts.len());
            for (c, v) in last.iter_mut().zip(verdicts) {
                c.answer = v.answer;
                c.correct = v.correct;
                methods.push(v.method);
            }
            // The same vote the comparison mode ran.
            let decision = decide(last, &methods);
            baseline.votes = decision.votes;
            t.final_answer = decision.answer;
            t.correct = decision.correct;
            t.parse_method = decision.method;
        }
        None => {
            let mut texts = vec![t.final_commitment.clone()];
            let last_round = t.steps.last_mut().and_then(|s| s.rounds.last_mut());
            if let Some(round) = &last_round {
                texts.extend(round.executors.iter().map(|e| e.output.clone()));
            }
            let mut verdicts = plain(judge(parser, &trace.reference, &texts))?.into_iter();
            let Verdict {
                answer,
                method,
                correct,
            } = verdicts
                .next()
                .ok_or_else(|| anyhow!("the parser returned nothing"))?;
            if let Some(round) = last_round {
                for (e, v) in round.executors.iter_mut().zip(verdicts) {
                    e.answer = v.answer;
                    e.correct = v.correct;
                }
                round.commitment_answer = answer.clone();
                round.commitment_method = method.clone();
                round.commitment_correct = correct;
            }
            t.final_answer = answer;
            t.parse_method = method;
            t.correct = correct;
        }
    }
    Ok(t)
}

/// `trace` with every round of its ECON decision steps scored again by
/// `reward` (the trace's own alpha weights; `encoder` embeds the texts as
/// the run did). Comparison-mode traces
/// carry no rewards and a failed episode none worth scoring: both stay.
pub fn rescore_rewards(
    trace: &Trace,
    reward: &RewardPlugin,
    encoder: &dyn crate::embed::Embedder,
) -> Result<Trace> {
    let mut t = trace.clone();
    if t.error.is_some() || t.baseline.is_some() {
        return Ok(t);
    }
    let problem = Problem {
        id: t.id.clone(),
        question: t.question.clone(),
        answer: t.reference.clone(),
        metadata: Vec::new(),
    };
    for step in &mut t.steps {
        for k in 0..step.rounds.len() {
            let round = &step.rounds[k];
            let mut texts: Vec<String> = round.executors.iter().map(|e| e.output.clone()).collect();
            texts.push(round.commitment_canonical.clone());
            let mut embeddings = encoder.embed(&texts)?;
            let commitment = embeddings
                .pop()
                .ok_or_else(|| anyhow!("the encoder returned nothing"))?;
            let episode = round.reward_episode(
                &problem,
                &t.strategy,
                &embeddings,
                commitment,
                t.alpha,
                k + 1,
            );
            let rewards: Vec<AgentRewardTrace> = reward
                .score(&episode)?
                .iter()
                .map(AgentRewardTrace::from)
                .collect();
            let components = super::components_of(&rewards);
            step.rounds[k].components = Some(components);
            step.rewards = rewards;
            step.components = components;
        }
    }
    if let Some(last) = t.steps.last() {
        let n = last.rewards.len().max(1) as f32;
        t.reward = last.rewards.iter().map(|r| r.total).sum::<f32>() / n;
    }
    Ok(t)
}

/// What `econ-host rescore` writes (summary.rescored-<name>.json): the new
/// per-mode summaries and how many verdicts changed, beside the run's own
/// summary.json.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Rescored {
    /// The parser that judged again (empty: the run's verdicts kept).
    #[serde(default)]
    pub parser: String,
    /// The reward plugin that scored again, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward: Option<String>,
    pub modes: BTreeMap<String, ModeSummary>,
    /// Episodes whose verdict (correct or not) the new parser changed.
    pub changed: BTreeMap<String, u64>,
}

impl Rescored {
    /// How the report and the command name it.
    pub fn label(&self) -> String {
        match (self.parser.is_empty(), &self.reward) {
            (false, None) => self.parser.clone(),
            (true, Some(r)) => format!("reward {r}"),
            (false, Some(r)) => format!("{} + reward {r}", self.parser),
            (true, None) => "as run".to_string(),
        }
    }
}
