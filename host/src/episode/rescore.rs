//! Re-judging finished episodes with another answer parser, from their
//! traces alone: no LLM call. The final commitment (ECON) or the last round's
//! samples and their majority (comparison modes) are parsed again and
//! compared with the reference; everything else in the trace stays.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow};

use super::comparisons::decide;
use super::round::{Failure, Verdict, judge};
use super::summary::ModeSummary;
use super::trace::Trace;
use crate::plugins::AnswerParserPlugin;

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

/// What `econ-host rescore` writes (summary.rescored-<parser>.json): the new per-mode summaries and how many verdicts
/// changed, beside the run's own summary.json.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Rescored {
    pub parser: String,
    pub modes: BTreeMap<String, ModeSummary>,
    /// Episodes whose verdict (correct or not) the new parser changed.
    pub changed: BTreeMap<String, u64>,
}
