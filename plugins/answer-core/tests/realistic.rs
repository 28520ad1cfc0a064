//! Whole model outputs, as executors and coordinators actually write them.

use answer_core::{equivalent, extract};

fn check(text: &str, answer: Option<&str>, method: &str) {
    let found = extract(text);
    assert_eq!(found.answer.as_deref(), answer, "answer of:\n{text}");
    assert_eq!(found.method.as_str(), method, "method of:\n{text}");
}

#[test]
fn chain_of_thought_ending_in_a_box() {
    let text = "\
Step 1: Janet's ducks lay 16 eggs per day. She eats 3 for breakfast and bakes \
muffins with 4, so she uses 3 + 4 = 7 eggs.

Step 2: The remaining eggs are 16 - 7 = 9 eggs, which she sells at $2 each.

Step 3: Her daily earnings are 9 * 2 = 18 dollars.

Check: 7 + 9 = 16 eggs, consistent with the problem.

\\boxed{18}";
    check(text, Some("18"), "boxed");
}

#[test]
fn several_boxes_last_one_wins() {
    let text = "\
First I guessed \\boxed{20}, but that double-counts the breakfast eggs.
Recomputing: 16 - 3 - 4 = 9 eggs, and 9 \\times \\$2 = \\$18.
\\boxed{18}
";
    check(text, Some("18"), "boxed");
}

#[test]
fn nested_boxes_and_fractions() {
    check(
        "So the probability is $\\boxed{\\boxed{\\frac{1}{2}}}$.",
        Some("0.5"),
        "boxed",
    );
    let text = "The slope is rise over run:\n$$m = \\dfrac{3}{4}$$\nFinal: \\boxed{\\dfrac{3}{4}}";
    check(text, Some("0.75"), "boxed");
    check(
        "\\boxed{\\frac{\\sqrt{3}}{2}}",
        Some("\\frac{\\sqrt{3}}{2}"),
        "boxed",
    );
    check("Thus $x = \\boxed{-\\frac{7}{2}}$", Some("-3.5"), "boxed");
}

#[test]
fn money_with_separators_and_cents() {
    let text = "The house now is worth 80,000 * 2.5 = $200,000.\n\
        Profit = 200,000 - 130,000 = $70,000.\n\n\\boxed{\\$70,000.00}";
    check(text, Some("70000"), "boxed");
    check("Total cost: \\boxed{$1,234.00}", Some("1234"), "boxed");
}

#[test]
fn negative_and_decimal_answers() {
    check(
        "The temperature dropped to \\boxed{-12} degrees.",
        Some("-12"),
        "boxed",
    );
    check(
        "Each share is 7 / 4 = 1.75.\n\\boxed{1.75}",
        Some("1.75"),
        "boxed",
    );
    check(
        "Average speed = 150 / 4 = 37.50 mph\n\\boxed{37.50 \\text{ mph}}",
        Some("37.5"),
        "boxed",
    );
}

#[test]
fn no_box_falls_back_in_order() {
    let gsm8k = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n\
        Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72";
    check(gsm8k, Some("72"), "hash");

    let phrase = "Weng earns 12/60 = $0.2 per minute.\n\
        Working 50 minutes, she earned 0.2 x 50 = $10.\n\
        The answer is $10. I hope this helps with 2 more questions.";
    check(phrase, Some("10"), "answer-phrase");

    let bare = "She has 5 apples and buys 3 more bags of 4, so 5 + 12 = 17";
    check(bare, Some("17"), "last-number");

    let truncated = "Let me think step by step about the trains. The first train";
    check(truncated, None, "none");
}

#[test]
fn unclosed_box_from_a_truncated_output_is_ignored() {
    check(
        "so 3 + 4 = 7 and the result is \\boxed{7",
        Some("7"),
        "last-number",
    );
    check("\\boxed{5} ... wait, actually \\boxed{", Some("5"), "boxed");
}

#[test]
fn coordinator_commitment_json() {
    let text = r#"{"final_value": "18", "reasoning": "All three executors computed 16-7=9 eggs at $2.", "confidence": 1.0, "checklist": {"all_agree": true, "arithmetic_verified": true, "units_correct": true}}"#;
    check(text, Some("18"), "json");
}

#[test]
fn extracted_answers_match_gsm8k_references() {
    let cases = [
        ("18", "Her earnings: \\boxed{\\$18.00}"),
        ("1234", "**Final Answer:** 1,234 apples"),
        ("0.5", "\\boxed{\\tfrac{1}{2}}"),
        ("-4", "x = -4"),
    ];
    for (reference, text) in cases {
        let answer = extract(text).answer.unwrap_or_default();
        assert!(
            equivalent(reference, &answer),
            "{reference} vs {answer} from {text}"
        );
    }
}
