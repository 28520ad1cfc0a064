//! The prompt texts. Raw strings keep `\boxed` a backslash and a `b`: the
//! reference wrote "\boxed" in a normal string and sent a backspace.
//!
//! No instruction shows a value a model could copy as its answer: small models
//! answered `\boxed{42}` when the example held 42, and `\boxed{your answer}`
//! (parsed as "youranswer") when it held a placeholder; the box is shown empty.

pub const STRATEGY_ROLE: &str = "You are the Coordinator of a team of specialist executors \
who will solve the problem below.";

pub const STRATEGY_RULES: &str = r"Write a high-level STRATEGY for the executors: exactly three short, numbered, conceptual steps, at most 50 tokens in total.
- Say what to do, not what comes out. Do NOT compute anything, and do NOT reveal the final answer or any numeric result: the executors do every calculation.
- You may name the quantities given in the problem.
- Output only the three steps, one per line.";

/// The reference code's strategy instructions (its length limit and its
/// execution rules), for the reference arm: it does not forbid the answer.
pub const REFERENCE_STRATEGY_RULES: &str = r"Write a step-by-step STRATEGY for the executors: three numbered conceptual steps, under 80 tokens.
Execution rules for the executors: show your reasoning, and end with the final number inside \boxed{}.";

pub const EXECUTOR_RULES: &str = r"Instructions:
1. Follow the strategy's steps in order.
2. Show every calculation with explicit numbers.
3. Check your result against the problem before you finish.
4. Write your final answer on the very last line, inside \boxed{}: only the value between the braces (no units, no words).";

pub const COMMITMENT_ROLE: &str = "You are the Coordinator. Your executors solved the problem \
below following your strategy; decide the team's final answer.";

pub const COMMITMENT_RULES: &str = r#"Instructions:
1. Extract each executor's final answer from its \boxed{}.
2. If all executors agree, take the common answer. Otherwise check their work and decide which answer is correct.
3. Verify the arithmetic of the answer you choose.
4. If the problem lacks information needed for an answer, use "undetermined" as the final value.

Output JSON only, with no code fences and no text before or after it, exactly in this form:
{"final_value": "<the final answer only, as a plain string holding just the value: no \boxed{}, no units>", "reasoning": "<at most 20 words>", "confidence": <a number from 0 to 1: 1.0 if all executors agree, at most 0.2 if undetermined>, "checklist": {"all_agree": <true or false>, "arithmetic_verified": <true or false>, "units_correct": <true or false>}}"#;

pub const COT_ROLE: &str = "Solve the following math problem. Think step by step.";

pub const COT_RULES: &str = r"Instructions:
1. Show every calculation with explicit numbers.
2. Check your result against the problem before you finish.
3. Write your final answer on the very last line, inside \boxed{}: only the value between the braces (no units, no words).";

pub const DEBATE_ROLE: &str = "You are one of several agents solving the math problem below \
together. Think step by step.";

pub const DEBATE_OTHERS: &str = "These are the solutions to the problem from the other agents:";

pub const DEBATE_RULES: &str = r"Using the reasoning from the other agents as additional advice, give an updated answer.
1. Examine your solution and the other agents' solutions step by step; check each calculation.
2. Keep your answer if it is right; change it if another agent's reasoning shows it is wrong.
3. Write your final answer on the very last line, inside \boxed{}: only the value between the braces (no units, no words).";

/// ECON's stand-in when the coordinator returned no strategy.
pub const FALLBACK_STRATEGY: &str =
    "1. Break the problem into steps. 2. Compute each step. 3. Check the result.";
