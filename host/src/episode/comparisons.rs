//! The comparison modes beside ECON's baseline and bne, on the same problems,
//! the same executor model and the same answer parser, each producing the
//! same [`Trace`] (with its calls in `trace.baseline`):
//!
//! - `cot`: one executor call with a chain-of-thought prompt at
//!   `baselines.cot_temperature` (default 0, greedy).
//! - `sc` (self-consistency, Wang et al. 2023): `baselines.sc_samples` such
//!   calls at `baselines.sc_temperature`, majority vote over parsed answers.
//! - `debate` (Du et al. 2023): `baselines.debate_agents` agents answer
//!   independently, then for `baselines.debate_rounds - 1` more rounds each
//!   sees every agent's previous answer and updates; majority of the last round.
//!
//! Votes count parser-normalised answers; unparsed answers do not vote and a
//! tie goes to the answer seen first (in agent order). Prompts come from the
//! prompt plugin's stages "cot", "sc" and "debate".

use std::time::Instant;

use anyhow::{Result, anyhow};

use crate::config::Config;
use crate::episode::round::{ask_executors, judge};
use crate::episode::trace::{BaselineTrace, ExecutorTrace, Trace, Vote};
use crate::episode::{Failure, Mode, Outcome, Phase, Resources, Step, Usage, conclude, plugin};
use crate::llm::{ChatRequest, Message};
use crate::plugins::dataset_adapter::Problem;
use crate::plugins::prompt_template::PromptContext;
use crate::plugins::{AnswerParserPlugin, PluginRegistry, PromptTemplatePlugin};
use crate::rng::{Call, CallSite};

/// Neutral repetition penalty: the comparison modes use plain sampling.
const REPETITION_PENALTY: f32 = 1.0;

/// One test episode of a comparison mode.
pub struct Comparison<'a> {
    pub res: &'a Resources,
    pub registry: &'a PluginRegistry,
    pub problem: &'a Problem,
    pub index: u64,
    pub mode: Mode,
}

/// One round of calls: the traces and each answer's parse method.
struct Round {
    calls: Vec<ExecutorTrace>,
    methods: Vec<String>,
}

/// The answer a vote chose, with how its first sample was parsed.
pub(super) struct Decision {
    pub votes: Vec<Vote>,
    pub answer: Option<String>,
    pub correct: bool,
    pub method: String,
    pub text: String,
}

impl Comparison<'_> {
    /// Run the episode. Err only for failures that must stop the run.
    pub async fn run(&self) -> Result<Outcome> {
        let started = Instant::now();
        let mut usage = Usage::default();
        let mut trace = Trace::new(
            self.index,
            Phase::Test.as_str(),
            self.mode.as_str(),
            self.problem,
        );
        let result = self.run_mode(&mut usage, &mut trace).await;
        usage.finish(&mut trace, &self.res.config.llm, started);
        let (mut trace, done) = conclude(trace, result, self.index)?;
        if let Some((baseline, decision)) = done {
            trace.final_answer = decision.answer;
            trace.correct = decision.correct;
            trace.parse_method = decision.method;
            trace.final_commitment = decision.text;
            trace.baseline = Some(BaselineTrace {
                rounds: baseline,
                votes: decision.votes,
            });
        }
        Ok(Outcome {
            trace,
            records: Vec::new(),
            commitment_cos: None,
        })
    }

    async fn run_mode(
        &self,
        usage: &mut Usage,
        trace: &mut Trace,
    ) -> Step<(Vec<Vec<ExecutorTrace>>, Decision)> {
        let config = &self.res.config;
        let prompts = plugin(self.registry.prompt_template(&config.plugins.prompts))?;
        let parser = plugin(self.registry.answer_parser(&config.plugins.parser))?;
        let infos = [prompts.info(), parser.info()];
        trace.plugins = infos
            .iter()
            .map(|i| crate::episode::plugin_label(self.registry, i))
            .collect();
        trace.plugin_sha256 = infos.iter().map(|i| i.sha256.clone()).collect();
        trace.models = self.res.models.clone();
        let Some((stage, agents, rounds, temperature)) = shape(config, self.mode) else {
            return Err(Failure::Fatal(anyhow!(
                "mode {} is not a comparison mode",
                self.mode.as_str()
            )));
        };
        let mut done: Vec<Round> = Vec::with_capacity(rounds);
        for r in 0..rounds as u32 {
            // Debate: every agent sees all previous answers (its own is
            // `executor_outputs[agent]`); round 0 sees none.
            let previous: Vec<String> = done
                .last()
                .map(|p| p.calls.iter().map(|c| c.output.clone()).collect())
                .unwrap_or_default();
            let contexts: Vec<PromptContext> = (0..agents as u32)
                .map(|agent| PromptContext {
                    stage: stage.into(),
                    question: self.problem.question.clone(),
                    strategy: String::new(),
                    agent,
                    n_agents: agents as u32,
                    round: r,
                    executor_outputs: previous.clone(),
                    previous_commitment: None,
                    vars: Vec::new(),
                })
                .collect();
            let round = self
                .round(prompts, parser, usage, &contexts, r, temperature as f32)
                .await?;
            done.push(round);
        }
        let last = done.last().expect("at least one round");
        let decision = decide(&last.calls, &last.methods);
        Ok((done.into_iter().map(|r| r.calls).collect(), decision))
    }

    /// One round: every context's call in one batch, then one parser call
    /// for the answers and one for their verdicts.
    async fn round(
        &self,
        prompts: &PromptTemplatePlugin,
        parser: &AnswerParserPlugin,
        usage: &mut Usage,
        contexts: &[PromptContext],
        round: u32,
        temperature: f32,
    ) -> Step<Round> {
        let config = &self.res.config;
        let rendered = plugin(prompts.render(contexts))?;
        let top_p = config.nets.sampling.top_p_default as f32;
        let requests: Vec<ChatRequest> = rendered
            .iter()
            .enumerate()
            .map(|(i, msgs)| ChatRequest {
                messages: msgs
                    .iter()
                    .map(|m| Message::new(m.role.clone(), m.content.clone()))
                    .collect(),
                temperature,
                top_p,
                repetition_penalty: REPETITION_PENALTY,
                max_tokens: config.llm.executor.max_tokens,
                stop: Vec::new(),
                seed: config.llm.call_seed(
                    config.seed,
                    CallSite {
                        stream: crate::episode::seed_stream(config, Phase::Test, self.mode),
                        episode: self.index,
                        step: 0,
                        round,
                        agent: i as u32,
                        call: Call::Comparison,
                    },
                ),
            })
            .collect();
        let who = format!("executor ({})", self.mode.as_str());
        let mut calls = ask_executors(&*self.res.executor, &requests, usage, &who, round).await?;
        let texts: Vec<String> = calls.iter().map(|c| c.output.clone()).collect();
        let mut methods = Vec::with_capacity(calls.len());
        for (c, v) in calls
            .iter_mut()
            .zip(judge(parser, &self.problem.answer, &texts)?)
        {
            c.answer = v.answer;
            c.correct = v.correct;
            methods.push(v.method);
        }
        Ok(Round { calls, methods })
    }
}

/// What a comparison mode runs: its prompt stage, agents (samples) per
/// round, rounds, and sampling temperature; `None` for ECON's modes.
pub(crate) fn shape(config: &Config, mode: Mode) -> Option<(&'static str, usize, usize, f64)> {
    let b = &config.baselines;
    let n_agents = config.nets.n_agents;
    Some(match mode {
        Mode::Cot => ("cot", 1, 1, b.cot_temperature),
        Mode::Sc => ("sc", b.sc_samples(n_agents), 1, b.sc_temperature),
        Mode::Debate => (
            "debate",
            b.debate_agents(n_agents),
            b.debate_rounds,
            b.debate_temperature,
        ),
        _ => return None,
    })
}

/// Majority over the parsed answers of a round's calls (`methods`: how
/// each was parsed).
pub(super) fn decide(calls: &[ExecutorTrace], methods: &[String]) -> Decision {
    let answers: Vec<Option<&str>> = calls.iter().map(|c| c.answer.as_deref()).collect();
    let votes = majority(&answers);
    let winner = winner(&votes).map(str::to_string);
    let first = winner
        .as_deref()
        .and_then(|w| calls.iter().position(|c| c.answer.as_deref() == Some(w)));
    match first {
        Some(i) => Decision {
            votes,
            answer: winner,
            correct: calls[i].correct,
            method: methods[i].clone(),
            text: calls[i].output.clone(),
        },
        None => Decision {
            votes,
            answer: None,
            correct: false,
            method: "none".into(),
            text: calls.first().map(|c| c.output.clone()).unwrap_or_default(),
        },
    }
}

/// Votes per answer in first-seen order; `None` (unparsed) does not vote.
pub fn majority(answers: &[Option<&str>]) -> Vec<Vote> {
    let mut votes: Vec<Vote> = Vec::new();
    for answer in answers.iter().flatten() {
        match votes.iter_mut().find(|v| v.answer == *answer) {
            Some(v) => v.count += 1,
            None => votes.push(Vote {
                answer: (*answer).to_string(),
                count: 1,
            }),
        }
    }
    votes
}

/// The winning answer of `votes`: most votes, the first seen on a tie.
pub fn winner(votes: &[Vote]) -> Option<&str> {
    let mut best: Option<&Vote> = None;
    for v in votes {
        if best.is_none_or(|b| v.count > b.count) {
            best = Some(v);
        }
    }
    best.map(|v| v.answer.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unparsed_answers_do_not_vote_and_ties_go_to_the_first_seen() {
        let votes = majority(&[None, Some("7"), Some("8"), None, Some("8"), Some("7")]);
        assert_eq!(
            votes,
            vec![
                Vote {
                    answer: "7".into(),
                    count: 2
                },
                Vote {
                    answer: "8".into(),
                    count: 2
                }
            ]
        );
        assert_eq!(winner(&votes), Some("7"));
        let votes = majority(&[Some("1"), Some("2"), Some("2")]);
        assert_eq!(winner(&votes), Some("2"));
        assert_eq!(winner(&majority(&[None, None])), None);
    }
}
