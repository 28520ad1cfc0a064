//! reward-econ: ECON's TS / AL / CC team rewards and their weighted total,
//! broadcast to every executor as ECON does. The logic is in [`scores`] and
//! [`weights`]; this file wires it into the SDK.

pub mod scores;
pub mod weights;

use econ_plugin_sdk::reward::{AgentReward, Episode, Manifest, Options, Reward};

/// The plugin: [`score`] behind the SDK trait.
pub struct EconReward;

impl Reward for EconReward {
    fn manifest() -> Manifest {
        Manifest::new(
            "reward-econ",
            env!("CARGO_PKG_VERSION"),
            "ECON rewards: TS (commitment correct), AL and CC (embedding cosines), weighted total",
        )
        .number_option(
            "fidelity_share",
            &scores::FIDELITY_SHARE.to_string(),
            "share of CC for agreeing with the commitment; the rest rewards differing from peers",
        )
    }

    fn score(episode: Episode, options: &Options) -> Result<Vec<AgentReward>, String> {
        score(
            &episode,
            options.number("fidelity_share", scores::FIDELITY_SHARE),
        )
    }
}

/// One reward per executor, in order; every agent gets the team's scores.
pub fn score(episode: &Episode, fidelity_share: f64) -> Result<Vec<AgentReward>, String> {
    let executors: Vec<(u32, &[f32])> = episode
        .executors
        .iter()
        .map(|e| (e.agent, e.embedding.as_slice()))
        .collect();
    let team = scores::team_scores(
        episode.commitment_correct,
        &episode.commitment_embedding,
        &executors,
        fidelity_share,
    )?;
    let w = &episode.weights;
    let w = weights::Weights::normalised(w.al, w.ts, w.cc);
    let total = w.al * team.al + w.ts * team.ts + w.cc * team.cc;
    Ok(episode
        .executors
        .iter()
        .map(|e| AgentReward {
            agent: e.agent,
            ts: team.ts as f32,
            al: team.al as f32,
            cc: team.cc as f32,
            total: total as f32,
        })
        .collect())
}

econ_plugin_sdk::reward!(EconReward);

#[cfg(test)]
mod tests {
    use super::*;
    use econ_plugin_sdk::reward::{ExecutorResult, RewardWeights, Sampling};
    use scores::FIDELITY_SHARE;

    fn executor(agent: u32, embedding: Vec<f32>) -> ExecutorResult {
        ExecutorResult {
            agent,
            output: format!("... \\boxed{{{agent}}}"),
            answer: Some(agent.to_string()),
            correct: Some(false),
            embedding,
            sampling: Sampling {
                temperature: 0.7,
                repetition_penalty: 1.0,
                top_p: 0.9,
            },
        }
    }

    fn episode(correct: bool, weights: (f32, f32, f32), executors: Vec<ExecutorResult>) -> Episode {
        Episode {
            problem_id: "gsm8k-1".into(),
            question: "q".into(),
            reference: "18".into(),
            strategy: "s".into(),
            commitment: "\\boxed{18}".into(),
            commitment_answer: Some("18".into()),
            commitment_correct: correct,
            commitment_embedding: vec![1.0, 0.0],
            executors,
            weights: RewardWeights {
                al: weights.0,
                ts: weights.1,
                cc: weights.2,
            },
            rounds: 1,
        }
    }

    #[test]
    fn scores_are_broadcast_in_executor_order() {
        let ep = episode(
            true,
            (0.4, 0.4, 0.2),
            vec![executor(7, vec![1.0, 0.0]), executor(3, vec![0.0, 1.0])],
        );
        let rewards = EconReward::score(ep, &Options(&[])).unwrap();
        assert_eq!(rewards.iter().map(|r| r.agent).collect::<Vec<_>>(), [7, 3]);
        for r in &rewards {
            // TS 1, AL 0.75, CC 0.675 (see scores::tests::mixed_outputs_by_hand).
            let want_total = 0.4 * 0.75 + 0.4 * 1.0 + 0.2 * 0.675;
            assert!((r.ts - 1.0).abs() < 1e-6 && (r.al - 0.75).abs() < 1e-6);
            assert!(
                (r.cc - 0.675).abs() < 1e-6 && (r.total - want_total).abs() < 1e-6,
                "{r:?}"
            );
        }
    }

    #[test]
    fn fidelity_share_option_moves_cc() {
        let ep = || {
            episode(
                true,
                (0.4, 0.4, 0.2),
                vec![executor(0, vec![1.0, 0.0]), executor(1, vec![0.0, 1.0])],
            )
        };
        let set = [("fidelity_share".to_string(), "1".to_string())];
        let only_fidelity = EconReward::score(ep(), &Options(&set)).unwrap();
        let default = EconReward::score(ep(), &Options(&[])).unwrap();
        // Fidelity alone is 0.75 (the mean of sim(1) and sim(0)).
        assert!(
            (only_fidelity[0].cc - 0.75).abs() < 1e-6,
            "{only_fidelity:?}"
        );
        assert!((default[0].cc - 0.675).abs() < 1e-6, "{default:?}");
        let bad = [("fidelity_share".to_string(), "1.5".to_string())];
        assert!(EconReward::score(ep(), &Options(&bad)).is_err());
    }

    #[test]
    fn total_uses_renormalised_weights() {
        let twins = || vec![executor(0, vec![1.0, 0.0]), executor(1, vec![1.0, 0.0])];
        // TS 0, AL 1, CC 0.7; weights (2, 2, 1) -> (0.4, 0.4, 0.2).
        let r = &score(&episode(false, (2.0, 2.0, 1.0), twins()), FIDELITY_SHARE).unwrap()[0];
        assert!((r.total - (0.4 + 0.2 * 0.7)).abs() < 1e-6, "{r:?}");
        // TS only.
        let r = &score(&episode(false, (0.0, 5.0, 0.0), twins()), FIDELITY_SHARE).unwrap()[0];
        assert!(r.total.abs() < 1e-6, "{r:?}");
        // Broken weights: ECON's initial 0.4 / 0.4 / 0.2.
        let r = &score(&episode(false, (0.0, 0.0, 0.0), twins()), FIDELITY_SHARE).unwrap()[0];
        assert!((r.total - (0.4 + 0.2 * 0.7)).abs() < 1e-6, "{r:?}");
    }

    #[test]
    fn errors_come_back_as_data() {
        assert!(score(&episode(true, (1.0, 1.0, 1.0), vec![]), FIDELITY_SHARE).is_err());
        let bad = vec![executor(0, vec![1.0, 0.0, 0.0])];
        assert!(
            score(&episode(true, (1.0, 1.0, 1.0), bad), FIDELITY_SHARE)
                .unwrap_err()
                .contains("lengths differ")
        );
    }

    #[test]
    fn manifest_names_the_plugin() {
        assert_eq!(EconReward::manifest().name, "reward-econ");
    }
}
