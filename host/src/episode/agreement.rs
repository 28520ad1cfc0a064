//! Whether answers agree, as the BNE stop rules ask it: one round's
//! commitment against earlier rounds' (commitment unchanged, oscillation),
//! and a round's executors against its commitment (unanimity). Answers are
//! compared by the parser plugin's equivalence (18 and 18.0 are one answer).

use crate::embed::cosine;
use crate::learn::RoundRecord;
use crate::nets::config::BneConfig;
use crate::plugins::AnswerParserPlugin;

use super::bne;
use super::round::{Step, plugin};
use super::trace::RoundTrace;

/// Whether every executor of `round` gave the commitment's answer, by the
/// parser's equivalence.
pub(super) fn unanimous(parser: &AnswerParserPlugin, round: &RoundTrace) -> Step<bool> {
    let answers: Vec<Option<String>> = round.executors.iter().map(|e| e.answer.clone()).collect();
    all_agree(round.commitment_answer.as_deref(), &answers, |c, a| {
        plugin(parser.equivalent(c, a))
    })
}

/// Whether every answer is there and `equivalent` to the committed one (no
/// commitment, no executors, or an executor without an answer: no).
fn all_agree(
    committed: Option<&str>,
    answers: &[Option<String>],
    equivalent: impl FnOnce(&str, &[String]) -> Step<Vec<bool>>,
) -> Step<bool> {
    let Some(committed) = committed else {
        return Ok(false);
    };
    let Some(answers) = answers.iter().cloned().collect::<Option<Vec<String>>>() else {
        return Ok(false);
    };
    if answers.is_empty() {
        return Ok(false);
    }
    let verdicts = equivalent(committed, &answers)?;
    Ok(verdicts.len() == answers.len() && verdicts.into_iter().all(|v| v))
}

/// Whether a new round's commitment gives the same answer as each earlier
/// round's: by the parser plugin's equivalence when both have an answer,
/// else by text or embedding (`bne.commitment_match_threshold` for the round
/// just before, `bne.commitment_osc_threshold` for older ones).
pub(super) fn same_answers(
    parser: &AnswerParserPlugin,
    bne: &BneConfig,
    (round, record): (&RoundTrace, &RoundRecord),
    earlier: &[RoundTrace],
    earlier_records: &[RoundRecord],
) -> Step<Vec<bool>> {
    let answered: Vec<String> = earlier
        .iter()
        .filter_map(|r| r.commitment_answer.clone())
        .collect();
    let verdicts = match &round.commitment_answer {
        Some(answer) if !answered.is_empty() => plugin(parser.equivalent(answer, &answered))?,
        _ => Vec::new(),
    };
    let mut verdicts = verdicts.into_iter();
    Ok(earlier
        .iter()
        .zip(earlier_records)
        .enumerate()
        .map(|(j, (r, rec))| {
            let by_parser = r.commitment_answer.as_ref().map(|_| verdicts.next());
            match (&round.commitment_answer, by_parser) {
                (Some(_), Some(Some(v))) => v,
                _ => {
                    let threshold = if j + 1 == earlier.len() {
                        bne.commitment_match_threshold
                    } else {
                        bne.commitment_osc_threshold
                    };
                    bne::same_text(&r.commitment_canonical, &round.commitment_canonical)
                        || f64::from(cosine(&rec.commitment, &record.commitment)) >= threshold
                }
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Numbers equal up to a trailing ".0", as a parser plugin would judge them.
    fn numeric(c: &str, answers: &[String]) -> Step<Vec<bool>> {
        let norm = |s: &str| s.trim_end_matches(".0").to_string();
        Ok(answers.iter().map(|a| norm(a) == norm(c)).collect())
    }

    fn agree(committed: Option<&str>, answers: &[Option<String>]) -> bool {
        matches!(all_agree(committed, answers, numeric), Ok(true))
    }

    fn some(answers: &[&str]) -> Vec<Option<String>> {
        answers.iter().map(|a| Some(a.to_string())).collect()
    }

    #[test]
    fn every_executor_at_the_commitments_answer_is_unanimous() {
        assert!(agree(Some("18"), &some(&["18", "18.0", "18"])));
    }

    #[test]
    fn executors_agreeing_on_another_answer_than_the_commitment_are_not() {
        assert!(!agree(Some("19"), &some(&["18", "18", "18"])));
        assert!(!agree(Some("18"), &some(&["18", "18", "17"])));
    }

    #[test]
    fn a_missing_commitment_or_answer_is_not_unanimous() {
        assert!(!agree(None, &some(&["18", "18", "18"])));
        let mut answers = some(&["18", "18"]);
        answers.push(None);
        assert!(!agree(Some("18"), &answers));
        assert!(!agree(Some("18"), &[]));
    }

    #[test]
    fn a_parser_that_answers_for_fewer_candidates_is_not_believed() {
        let short = |_: &str, _: &[String]| -> Step<Vec<bool>> { Ok(vec![true]) };
        assert!(matches!(
            all_agree(Some("18"), &some(&["18", "18"]), short),
            Ok(false)
        ));
    }
}
