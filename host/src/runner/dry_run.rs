//! `--dry-run`: what a job would ask of its LLMs, said before it asks. Calls
//! are counted from the config (rounds, agents, samples) and the episodes;
//! prompt tokens from the real prompts rendered by the prompt plugin for
//! the real problems, with the text the models would write (strategy,
//! executor outputs) at its token budget; completion tokens and cost as
//! their upper bound (every call writing its max_tokens). Nothing is
//! written and no model is loaded; `--calibrate` sends each server role one
//! request (1 completion token) to learn how that server counts tokens.

use anyhow::Result;
use serde::Serialize;

use crate::config::Config;
use crate::episode::comparisons;
use crate::episode::{Mode, Phase, refinements};
use crate::llm::{Message, estimate_prompt_tokens};
use crate::plugins::PromptTemplatePlugin;
use crate::plugins::dataset_adapter::Problem;
use crate::plugins::prompt_template::PromptContext;

/// One phase and mode of the job.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PlanRow {
    pub phase: String,
    pub mode: String,
    pub episodes: u64,
    /// LLM calls if every BNE round runs (convergence stops sooner).
    pub calls_max: u64,
    /// Prompt tokens of those calls (estimated as the client does, from
    /// the rendered prompts).
    pub prompt_tokens: u64,
    /// Every call writing its max_tokens.
    pub completion_tokens_max: u64,
    /// At the roles' prices, when set.
    pub cost_usd_max: Option<f64>,
}

/// Counts for one call: (coordinator?, prompt tokens, completion bound).
struct Call(bool, u64, u64);

fn tokens(prompts: &PromptTemplatePlugin, ctx: PromptContext) -> Result<u64> {
    Ok(u64::from(estimate_prompt_tokens(&messages(prompts, ctx)?)))
}

fn messages(prompts: &PromptTemplatePlugin, ctx: PromptContext) -> Result<Vec<Message>> {
    let rendered = prompts.render(&[ctx])?;
    Ok(rendered[0]
        .iter()
        .map(|m| Message::new(m.role.clone(), m.content.clone()))
        .collect())
}

/// How a server role counts prompt tokens against the estimate: its
/// `usage.prompt_tokens` for `problem`'s strategy prompt (the same text for
/// either role: it holds no stand-in for model text, which would count
/// differently from prose) over the estimate. 1 for a server that reports no
/// usage. One request, 1 completion token.
pub async fn calibrate(
    client: &dyn crate::llm::LlmClient,
    config: &Config,
    prompts: &PromptTemplatePlugin,
    problem: &Problem,
) -> Result<f64> {
    let n = config.nets.n_agents as u32;
    let ctx = context("coordinator-strategy", problem, 0, n, 0);
    let messages = messages(prompts, ctx)?;
    let estimate = f64::from(estimate_prompt_tokens(&messages).max(1));
    let request = crate::llm::ChatRequest {
        messages,
        temperature: 0.0,
        repetition_penalty: 1.0,
        top_p: 1.0,
        max_tokens: 1,
        stop: Vec::new(),
        seed: Some(0),
    };
    let done = client.chat(&request).await?;
    Ok(if done.usage_estimated {
        1.0
    } else {
        f64::from(done.prompt_tokens) / estimate
    })
}

/// Text of about `n` tokens (the estimate counts 4 characters a token).
fn filler(n: u32) -> String {
    "text".repeat(n as usize)
}

fn context(stage: &str, problem: &Problem, agent: u32, n: u32, round: u32) -> PromptContext {
    PromptContext {
        stage: stage.into(),
        question: problem.question.clone(),
        strategy: String::new(),
        agent,
        n_agents: n,
        round,
        executor_outputs: Vec::new(),
        previous_commitment: None,
        vars: Vec::new(),
    }
}

/// The calls of one episode of `mode` (`train`: a training episode).
fn episode(
    config: &Config,
    prompts: &PromptTemplatePlugin,
    problem: &Problem,
    mode: Mode,
    train: bool,
) -> Result<Vec<Call>> {
    let n = config.nets.n_agents as u32;
    let (exec_max, coord_max) = (
        config.llm.executor.max_tokens,
        config.llm.coordinator.max_tokens,
    );
    let mut calls = Vec::new();
    if let Some((stage, agents, rounds, _)) = comparisons::shape(config, mode) {
        for r in 0..rounds as u32 {
            for a in 0..agents as u32 {
                let mut ctx = context(stage, problem, a, agents as u32, r);
                if r > 0 {
                    ctx.executor_outputs = vec![filler(exec_max); agents];
                }
                calls.push(Call(false, tokens(prompts, ctx)?, u64::from(exec_max)));
            }
        }
        return Ok(calls);
    }
    let phase = if train { Phase::Train } else { Phase::Test };
    let refinements = refinements(&config.nets.bne, phase, mode);
    let strategy_max = config.env.strategy_max_tokens;
    for _step in 0..config.env.max_rounds.max(1) {
        let ctx = context("coordinator-strategy", problem, 0, n, 0);
        calls.push(Call(true, tokens(prompts, ctx)?, u64::from(strategy_max)));
        for k in 0..=refinements as u32 {
            for i in 0..n {
                let ctx = PromptContext {
                    strategy: filler(strategy_max),
                    ..context("executor", problem, i, n, k)
                };
                calls.push(Call(false, tokens(prompts, ctx)?, u64::from(exec_max)));
            }
            // The majority control makes no commitment call.
            if !mode.commits() {
                continue;
            }
            let ctx = PromptContext {
                strategy: filler(strategy_max),
                executor_outputs: vec![filler(exec_max); n as usize],
                ..context("coordinator-commitment", problem, 0, n, k)
            };
            calls.push(Call(true, tokens(prompts, ctx)?, u64::from(coord_max)));
        }
    }
    Ok(calls)
}

/// One row: `problems` in `mode`; prompt tokens scaled by `scale`
/// (coordinator, executor): 1 without calibration.
pub fn plan_row(
    config: &Config,
    prompts: &PromptTemplatePlugin,
    problems: &[&Problem],
    mode: Mode,
    train: bool,
    scale: [f64; 2],
) -> Result<PlanRow> {
    let llm = &config.llm;
    let priced = llm.coordinator.priced() || llm.executor.priced();
    let mut row = PlanRow {
        phase: if train { "train" } else { "test" }.into(),
        mode: mode.as_str().into(),
        episodes: problems.len() as u64,
        ..Default::default()
    };
    let mut cost = 0.0;
    for problem in problems {
        for Call(coordinator, prompt, completion) in episode(config, prompts, problem, mode, train)?
        {
            let factor = if coordinator { scale[0] } else { scale[1] };
            let prompt = (prompt as f64 * factor).round() as u64;
            row.calls_max += 1;
            row.prompt_tokens += prompt;
            row.completion_tokens_max += completion;
            let role = if coordinator {
                &llm.coordinator
            } else {
                &llm.executor
            };
            cost += role.cost(prompt, completion);
        }
    }
    row.cost_usd_max = priced.then_some(cost);
    Ok(row)
}
