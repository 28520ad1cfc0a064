//! What ECON's episodes and the comparison modes share: one round of
//! executor calls and the parser's verdicts on it, the usage they count, and
//! how a failure ends an episode (a plugin's) or the run (the LLM's).

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

use super::trace::{ExecutorTrace, RoleCalls, RoleTokens, Tokens, Trace};
use crate::llm::{ChatRequest, Completion, LlmClient};
use crate::plugins::AnswerParserPlugin;

/// Why an episode stopped early. A plugin failure ends that episode only; an
/// LLM that still fails after its retries, or a broken network, ends the run.
pub(crate) enum Failure {
    Plugin(anyhow::Error),
    Fatal(anyhow::Error),
}

pub(crate) type Step<T> = std::result::Result<T, Failure>;

pub(crate) fn plugin<T>(r: Result<T>) -> Step<T> {
    r.map_err(Failure::Plugin)
}

pub(crate) fn fatal<T>(r: Result<T>) -> Step<T> {
    r.map_err(Failure::Fatal)
}

/// An episode's result: a plugin failure is recorded in the trace (the
/// episode counts as wrong, `None` comes back); a fatal one ends the run.
pub(crate) fn conclude<T>(
    mut trace: Trace,
    result: Step<T>,
    index: u64,
) -> Result<(Trace, Option<T>)> {
    match result {
        Ok(v) => Ok((trace, Some(v))),
        Err(Failure::Plugin(e)) => {
            let message = format!("{e:#}");
            tracing::warn!("episode {index} ({}): {message}", trace.id);
            trace.error = Some(message);
            trace.correct = false;
            Ok((trace, None))
        }
        Err(Failure::Fatal(e)) => Err(e.context(format!("episode {index} (problem {})", trace.id))),
    }
}

/// Time, tokens and calls of one episode's LLM calls.
#[derive(Default)]
pub(crate) struct Usage {
    pub tokens: RoleTokens,
    pub calls: RoleCalls,
    pub llm: Duration,
}

impl Usage {
    /// Tokens, calls, cost and times into the trace.
    pub fn finish(&self, trace: &mut Trace, llm: &crate::config::LlmConfig, started: Instant) {
        trace.tokens = self.tokens;
        trace.calls = self.calls;
        trace.cost_usd = crate::episode::trace::cost_usd(llm, &trace.tokens);
        trace.llm_ms = self.llm.as_millis() as u64;
        trace.wall_ms = started.elapsed().as_millis() as u64;
    }

    /// One executor call's result as (text, tokens, error), counted.
    pub fn executor_answer(
        &mut self,
        answer: Result<Completion>,
    ) -> (String, Tokens, Option<String>) {
        match answer {
            Ok(c) => {
                self.count(false, &c);
                let t = Tokens {
                    prompt: u64::from(c.prompt_tokens),
                    completion: u64::from(c.completion_tokens),
                };
                (c.text.trim().to_string(), t, None)
            }
            Err(err) => {
                // A failed request is a call too (it was sent, perhaps retried).
                self.calls.executor += 1;
                (String::new(), Tokens::default(), Some(format!("{err:#}")))
            }
        }
    }

    pub fn count(&mut self, coordinator: bool, c: &Completion) {
        if coordinator {
            self.calls.coordinator += 1;
        } else {
            self.calls.executor += 1;
        }
        let t = Tokens {
            prompt: u64::from(c.prompt_tokens),
            completion: u64::from(c.completion_tokens),
        };
        if coordinator {
            self.tokens.coordinator.add(t);
        } else {
            self.tokens.executor.add(t);
        }
        self.tokens.estimated |= c.usage_estimated;
    }
}

/// The executors of one round, asked at once: each answer (or its error) as
/// an [`ExecutorTrace`] with the sampling it was asked with. A round where
/// every request failed ends the run: the LLM is down, not one answer bad.
/// `who` names the caller in that error ("executor", "executor (sc)").
pub(crate) async fn ask_executors(
    executor: &dyn LlmClient,
    requests: &[ChatRequest],
    usage: &mut Usage,
    who: &str,
    round: u32,
) -> Step<Vec<ExecutorTrace>> {
    let t0 = Instant::now();
    let answers = executor.chat_many(requests).await;
    usage.llm += t0.elapsed();
    let mut calls = Vec::with_capacity(answers.len());
    let mut failures = Vec::new();
    for (i, (answer, request)) in answers.into_iter().zip(requests).enumerate() {
        let (output, tokens, error) = usage.executor_answer(answer);
        failures.extend(error.clone());
        calls.push(ExecutorTrace {
            agent: i as u32,
            temperature: request.temperature,
            repetition_penalty: request.repetition_penalty,
            top_p: request.top_p,
            output,
            answer: None,
            correct: false,
            tokens,
            error,
        });
    }
    if let Some(first) = failures.first()
        && failures.len() == calls.len()
    {
        return Err(Failure::Fatal(anyhow!(
            "{who}: every request of round {round} failed: {first}"
        )));
    }
    Ok(calls)
}

/// The parser's verdict on one text.
pub(crate) struct Verdict {
    pub answer: Option<String>,
    /// How it was found, for parse rates.
    pub method: String,
    /// An answer was found and it is equivalent to the reference.
    pub correct: bool,
}

/// Every text of a round through the parser at once: one `extract` and one
/// `equivalent` call against `reference`.
pub(crate) fn judge(
    parser: &AnswerParserPlugin,
    reference: &str,
    texts: &[String],
) -> Step<Vec<Verdict>> {
    let found = plugin(parser.extract(texts))?;
    let candidates: Vec<String> = found
        .iter()
        .map(|f| f.answer.clone().unwrap_or_default())
        .collect();
    let equivalent = plugin(parser.equivalent(reference, &candidates))?;
    Ok(found
        .into_iter()
        .zip(equivalent)
        .map(|(f, same)| Verdict {
            correct: f.answer.is_some() && same,
            answer: f.answer,
            method: f.method,
        })
        .collect())
}

/// The executors' parsed majority as a commitment: its text (`\boxed{answer}`,
/// empty when no executor gave an answer) and its verdict.
pub(super) fn majority_of(executors: &[ExecutorTrace]) -> (String, Verdict) {
    let answers: Vec<Option<&str>> = executors.iter().map(|e| e.answer.as_deref()).collect();
    let votes = super::comparisons::majority(&answers);
    match super::comparisons::winner(&votes) {
        Some(w) => {
            let correct = executors
                .iter()
                .find(|e| e.answer.as_deref() == Some(w))
                .is_some_and(|e| e.correct);
            (
                format!("\\boxed{{{w}}}"),
                Verdict {
                    answer: Some(w.to_string()),
                    method: "majority".into(),
                    correct,
                },
            )
        }
        None => (
            String::new(),
            Verdict {
                answer: None,
                method: "none".into(),
                correct: false,
            },
        ),
    }
}
