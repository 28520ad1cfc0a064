//! Stage name -> messages.

use crate::text::*;
use econ_plugin_sdk::prompt_template::{ChatMessage, Options, PromptContext, system, user};

pub const STAGES: [&str; 6] = [
    "coordinator-strategy",
    "executor",
    "coordinator-commitment",
    // The comparison modes (host/src/episode/comparisons.rs).
    "cot",
    "sc",
    "debate",
];

pub fn render(ctx: &PromptContext) -> Result<Vec<ChatMessage>, String> {
    // The stage is checked first so a wrong stage is reported as such.
    if !STAGES.contains(&ctx.stage.as_str()) {
        return Err(unknown_stage(&ctx.stage));
    }
    let question = clean(ctx.question.trim());
    if question.is_empty() {
        return Err(format!("stage \"{}\": the question is empty", ctx.stage));
    }
    let options = Options(&ctx.vars);
    let body = match ctx.stage.as_str() {
        "coordinator-strategy" => match options.get("strategy_prompt").unwrap_or("econ") {
            "econ" | "" => strategy(&question),
            "reference" => reference_strategy(&question),
            other => {
                return Err(format!(
                    "option strategy_prompt = \"{other}\": expected \"econ\" or \"reference\""
                ));
            }
        },
        "executor" => executor(&question, &clean(ctx.strategy.trim()), ctx.n_agents),
        "coordinator-commitment" => commitment(&question, ctx)?,
        // Self-consistency samples the chain-of-thought prompt: the two modes
        // differ only in sampling and voting.
        "cot" | "sc" => chain_of_thought(&question),
        "debate" => debate(&question, ctx),
        other => return Err(unknown_stage(other)),
    };
    let mut messages = Vec::with_capacity(2);
    if let Some(text) = Options(&ctx.vars)
        .get("system")
        .filter(|t| !t.trim().is_empty())
    {
        messages.push(system(clean(text.trim())));
    }
    messages.push(user(body));
    Ok(messages)
}

fn unknown_stage(stage: &str) -> String {
    format!(
        "unknown stage \"{stage}\"; known stages: {}",
        STAGES.join(", ")
    )
}

fn strategy(question: &str) -> String {
    format!("{STRATEGY_ROLE}\n\nProblem:\n{question}\n\n{STRATEGY_RULES}")
}

/// The reference code's strategy prompt, for the reference arm.
fn reference_strategy(question: &str) -> String {
    format!("{STRATEGY_ROLE}\n\nProblem:\n{question}\n\n{REFERENCE_STRATEGY_RULES}")
}

/// Same text for every executor and every BNE round, as in ECON: executors
/// differ only by their sampling action, and identical prompts share the
/// server's prefix cache. So `agent` and `round` are deliberately unused.
fn executor(question: &str, strategy: &str, n_agents: u32) -> String {
    let strategy = if strategy.is_empty() {
        FALLBACK_STRATEGY
    } else {
        strategy
    };
    let role = match n_agents {
        0 | 1 => "You are a specialist executor.".to_string(),
        n => format!("You are one of {n} specialist executors."),
    };
    format!(
        "{role} A coordinator will review your work.\n\nProblem:\n{question}\n\n\
         High-Level Strategy to Follow:\n{strategy}\n\n{EXECUTOR_RULES}"
    )
}

fn chain_of_thought(question: &str) -> String {
    format!("{COT_ROLE}\n\nProblem:\n{question}\n\n{COT_RULES}")
}

/// Debate (Du et al. 2023). Round 0: the chain-of-thought prompt. Later
/// rounds: the agent's own previous solution (`executor_outputs[agent]`)
/// and the other agents' (the rest, numbered as agents), then a request to
/// update. An empty output (a failed call) shows as "(no answer)".
fn debate(question: &str, ctx: &PromptContext) -> String {
    if ctx.round == 0 || ctx.executor_outputs.is_empty() {
        return chain_of_thought(question);
    }
    let show = |out: &str| {
        let out = clean(out.trim());
        if out.is_empty() {
            "(no answer)".to_string()
        } else {
            out
        }
    };
    let own = ctx
        .executor_outputs
        .get(ctx.agent as usize)
        .map(|o| show(o))
        .unwrap_or_else(|| "(no answer)".into());
    let others: Vec<String> = ctx
        .executor_outputs
        .iter()
        .enumerate()
        .filter(|(k, _)| *k != ctx.agent as usize)
        .map(|(k, out)| format!("Agent {}: {}", k + 1, show(out)))
        .collect();
    format!(
        "{DEBATE_ROLE}\n\nProblem:\n{question}\n\nYour previous solution:\n{own}\n\n\
         {DEBATE_OTHERS}\n\n{}\n\n{DEBATE_RULES}",
        others.join("\n\n")
    )
}

fn commitment(question: &str, ctx: &PromptContext) -> Result<String, String> {
    if ctx.executor_outputs.is_empty() {
        return Err("stage \"coordinator-commitment\": no executor outputs".into());
    }
    let strategy = clean(ctx.strategy.trim());
    let strategy = if strategy.is_empty() {
        FALLBACK_STRATEGY.to_string()
    } else {
        strategy
    };
    let outputs: Vec<String> = ctx
        .executor_outputs
        .iter()
        .enumerate()
        .map(|(k, out)| format!("Executor {}: {}", k + 1, clean(out.trim())))
        .collect();
    let previous = match ctx.previous_commitment.as_deref().map(str::trim) {
        Some(prev) if !prev.is_empty() => format!(
            "For reference, your commitment in the previous round was:\n{}\n\n",
            clean(prev)
        ),
        _ => String::new(),
    };
    Ok(format!(
        "{COMMITMENT_ROLE}\n\nProblem:\n{question}\n\nStrategy:\n{strategy}\n\n\
         Executor outputs:\n{}\n\n{previous}{COMMITMENT_RULES}",
        outputs.join("\n\n")
    ))
}

/// Model text and data can carry control characters: a `\b` or `\f` that a
/// JSON decoder turned into backspace / form feed (`\boxed`, `\frac`) gets its
/// backslash back; other controls except newline and tab are dropped.
pub fn clean(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push('\n'),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}
