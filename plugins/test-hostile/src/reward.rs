use econ_plugin_sdk::reward::*;

struct Hostile;

impl Reward for Hostile {
    fn manifest() -> Manifest {
        Manifest::new(
            "test-hostile-reward",
            "0.1.0",
            "misbehaves on HOSTILE:<what> questions",
        )
    }

    fn score(episode: Episode, _: &Options) -> Result<Vec<AgentReward>, String> {
        let what = crate::what(&episode.question);
        crate::act(what, &episode.problem_id);
        let ts = if episode.commitment_correct { 1.0 } else { 0.0 };
        let value = if what == "nan" { f32::NAN } else { ts };
        let count = episode.executors.len() - usize::from(what == "short");
        Ok(episode
            .executors
            .iter()
            .take(count)
            .map(|e| AgentReward {
                agent: e.agent,
                ts: value,
                al: 0.5,
                cc: 0.5,
                total: value,
            })
            .collect())
    }
}

econ_plugin_sdk::reward!(Hostile);
