//! Rendering every stage through the public entry point.

use econ_plugin_sdk::prompt_template::{ChatMessage, PromptContext};
use prompts_econ::render::render;

const QUESTION: &str = "Janet's ducks lay 16 eggs per day. She eats three for breakfast \
every morning and bakes muffins for her friends every day with four. She sells the \
remainder at the farmers' market daily for $2 per fresh duck egg. How much in dollars \
does she make every day at the farmers' market?";

const STRATEGY: &str =
    "1. Find eggs used per day.\n2. Subtract from eggs laid.\n3. Multiply the rest by the price.";

fn ctx(stage: &str) -> PromptContext {
    PromptContext {
        stage: stage.into(),
        question: QUESTION.into(),
        strategy: if stage == "coordinator-strategy" {
            String::new()
        } else {
            STRATEGY.into()
        },
        agent: 1,
        n_agents: 3,
        round: 0,
        executor_outputs: vec![
            "16 - 3 - 4 = 9 eggs; 9 * 2 = 18.\n\\boxed{18}".into(),
            "She keeps 9 eggs and earns $18.\n\\boxed{18}".into(),
            "16 - 7 = 9, 9 * $2 = $16?\n\\boxed{16}".into(),
        ],
        previous_commitment: None,
        vars: vec![],
    }
}

fn user_text(messages: &[ChatMessage]) -> &str {
    let last = messages.last().expect("at least one message");
    assert_eq!(last.role, "user");
    &last.content
}

#[test]
fn every_stage_renders_one_user_message_with_the_question() {
    for stage in prompts_econ::render::STAGES {
        let messages = render(&ctx(stage)).unwrap();
        assert_eq!(messages.len(), 1, "{stage}");
        assert!(user_text(&messages).contains(QUESTION), "{stage}");
    }
}

#[test]
fn strategy_prompt_forbids_the_answer_and_limits_length() {
    let text = render(&ctx("coordinator-strategy")).unwrap()[0]
        .content
        .clone();
    assert!(text.contains("do NOT reveal the final answer or any numeric result"));
    assert!(text.contains("Do NOT compute anything"));
    assert!(text.contains("at most 50 tokens"));
    assert!(text.contains("three short, numbered, conceptual steps"));
    assert!(
        !text.contains("boxed"),
        "the strategy must not ask for a boxed answer"
    );
}

#[test]
fn executor_prompt_carries_the_strategy_and_the_box_rule() {
    let text = render(&ctx("executor")).unwrap()[0].content.clone();
    assert!(text.contains(&format!("High-Level Strategy to Follow:\n{STRATEGY}")));
    assert!(text.contains(r"on the very last line, inside \boxed{}"));
    // Nothing a small model could copy as its answer: the box is empty.
    assert!(!text.contains("your answer}") && !text.contains(r"\boxed{4"));
    assert!(text.contains("Show every calculation"));
    assert!(text.contains("one of 3 specialist executors"));
}

#[test]
fn executor_prompt_is_the_same_for_every_agent_and_round() {
    let base = render(&ctx("executor")).unwrap();
    let mut other = ctx("executor");
    other.agent = 2;
    other.round = 3;
    assert_eq!(base[0].content, render(&other).unwrap()[0].content);
}

#[test]
fn empty_strategy_falls_back_to_generic_steps() {
    let mut c = ctx("executor");
    c.strategy = "  ".into();
    let text = render(&c).unwrap()[0].content.clone();
    assert!(text.contains("High-Level Strategy to Follow:\n1. Break the problem into steps."));
}

#[test]
fn commitment_prompt_lists_every_output_and_asks_for_json_only() {
    let c = ctx("coordinator-commitment");
    let text = render(&c).unwrap()[0].content.clone();
    for (k, out) in c.executor_outputs.iter().enumerate() {
        assert!(
            text.contains(&format!("Executor {}: {out}", k + 1)),
            "executor {k}"
        );
    }
    assert!(text.contains(&format!("Strategy:\n{STRATEGY}")));
    assert!(text.contains("Output JSON only"));
    for key in [
        "\"final_value\"",
        "\"reasoning\"",
        "\"confidence\"",
        "\"checklist\"",
    ] {
        assert!(text.contains(key), "{key}");
    }
    for key in [
        "\"all_agree\"",
        "\"arithmetic_verified\"",
        "\"units_correct\"",
    ] {
        assert!(text.contains(key), "{key}");
    }
    assert!(text.contains("at most 20 words"));
    assert!(text.contains(r"no \boxed{}"));
    assert!(!text.contains("previous round"));
}

#[test]
fn later_rounds_mention_the_previous_commitment() {
    let mut c = ctx("coordinator-commitment");
    c.round = 1;
    c.previous_commitment = Some(r#"{"final_value": "16", "confidence": 0.6}"#.into());
    let text = render(&c).unwrap()[0].content.clone();
    assert!(text.contains("previous round was:\n{\"final_value\": \"16\""));
}

#[test]
fn commitment_without_outputs_is_an_error() {
    let mut c = ctx("coordinator-commitment");
    c.executor_outputs.clear();
    assert!(render(&c).unwrap_err().contains("no executor outputs"));
}

#[test]
fn unknown_stage_names_it_and_lists_the_known_ones() {
    let mut c = ctx("tree-of-thought");
    c.question.clear();
    let err = render(&c).unwrap_err();
    assert!(err.contains("\"tree-of-thought\""), "{err}");
    for stage in prompts_econ::render::STAGES {
        assert!(err.contains(stage), "{err}");
    }
}

#[test]
fn empty_question_is_an_error() {
    let mut c = ctx("executor");
    c.question = " \n".into();
    assert!(render(&c).unwrap_err().contains("question is empty"));
}

#[test]
fn system_var_adds_a_system_message_first() {
    let mut c = ctx("executor");
    c.vars = vec![("system".into(), "You are a careful math tutor.".into())];
    let messages = render(&c).unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].role, "system");
    assert_eq!(messages[0].content, "You are a careful math tutor.");
    assert_eq!(messages[1].role, "user");
    c.vars = vec![("system".into(), "  ".into()), ("other".into(), "x".into())];
    assert_eq!(render(&c).unwrap().len(), 1);
}

#[test]
fn no_control_characters_even_from_dirty_inputs() {
    let mut all = Vec::new();
    for stage in prompts_econ::render::STAGES {
        all.extend(render(&ctx(stage)).unwrap());
    }
    // A JSON-decoded "\boxed"/"\frac" arrives as backspace / form feed.
    let mut dirty = ctx("coordinator-commitment");
    dirty.executor_outputs = vec!["so \u{8}oxed{\u{c}rac{1}{2}}\r\nok\u{0}".into()];
    dirty.vars = vec![("system".into(), "be\u{7} brief".into())];
    let repaired = render(&dirty).unwrap();
    assert!(
        repaired[1]
            .content
            .contains("Executor 1: so \\boxed{\\frac{1}{2}}\nok")
    );
    all.extend(repaired);
    for m in &all {
        let bad = m
            .content
            .chars()
            .find(|c| c.is_control() && *c != '\n' && *c != '\t');
        assert_eq!(
            bad, None,
            "control character in {}: {:?}",
            m.role, m.content
        );
    }
}

#[test]
fn cot_and_sc_share_one_chain_of_thought_prompt() {
    let cot = render(&ctx("cot")).unwrap();
    let sc = render(&ctx("sc")).unwrap();
    assert_eq!((cot.len(), sc.len()), (1, 1));
    assert_eq!(user_text(&cot), user_text(&sc));
    let text = user_text(&cot);
    assert!(text.contains("Think step by step"));
    assert!(text.contains(r"on the very last line, inside \boxed{}"));
    // Nothing a small model could copy as its answer: the box is empty.
    assert!(!text.contains("your answer}") && !text.contains(r"\boxed{4"));
    assert!(
        !text.contains("Strategy"),
        "no coordinator in the baselines"
    );
    assert!(!text.contains("Executor 1"), "no other outputs");
}

#[test]
fn debate_round_zero_is_chain_of_thought_and_later_rounds_show_the_others() {
    let mut c = ctx("debate");
    c.round = 0;
    assert_eq!(
        user_text(&render(&c).unwrap()),
        user_text(&render(&ctx("cot")).unwrap())
    );
    c.round = 1;
    c.agent = 1;
    let text = user_text(&render(&c).unwrap()).to_string();
    let own = &c.executor_outputs[1];
    assert!(
        text.contains(&format!("Your previous solution:\n{own}")),
        "{text}"
    );
    assert!(text.contains("solutions to the problem from the other agents"));
    assert!(text.contains(&format!("Agent 1: {}", c.executor_outputs[0])));
    assert!(text.contains(&format!("Agent 3: {}", c.executor_outputs[2])));
    assert!(
        !text.contains("Agent 2:"),
        "its own answer is not listed as another's"
    );
    assert!(text.contains("updated answer"));
    c.executor_outputs[0].clear();
    let text = user_text(&render(&c).unwrap()).to_string();
    assert!(text.contains("Agent 1: (no answer)"));
}
