//! ECON's team rewards (the root docs/method.md, step 6), from cosine similarities of
//! sentence embeddings:
//!
//! - TS = 1 if the commitment is correct, else 0;
//! - AL = clip01(sim(mean_i cos(e_i, e_c))), sim(x) = (x + 1) / 2;
//! - CC = clip01(0.7 * mean_i sim(cos(e_i, e_c)) + 0.3 * mean_i novelty_i),
//!   novelty_i = 1 - clip01(sim(mean_{j != i} cos(e_i, e_j))).
//!
//! A missing (empty) embedding has cosine 0 with everything, i.e. the neutral
//! similarity 0.5, as ECON scores missing inputs as 0. A lone executor has no
//! peers, so its mean peer cosine is that same 0 and its novelty is 0.5:
//! neither rewarded nor punished for a diversity it cannot show.

use econ_plugin_sdk::cosine;

/// Share of CC that rewards agreeing with the commitment; the rest rewards
/// differing from the peers (the plugin's option `fidelity_share`).
pub const FIDELITY_SHARE: f64 = 0.7;

/// One episode's team scores, the same for every agent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Team {
    pub ts: f64,
    pub al: f64,
    pub cc: f64,
}

/// `executors` pairs each agent's id (for messages) with its embedding.
/// `fidelity_share` is CC's weight on fidelity (see [`FIDELITY_SHARE`]).
pub fn team_scores(
    commitment_correct: bool,
    commitment: &[f32],
    executors: &[(u32, &[f32])],
    fidelity_share: f64,
) -> Result<Team, String> {
    validate(commitment, executors)?;
    if !(0.0..=1.0).contains(&fidelity_share) {
        return Err(format!(
            "option fidelity_share = {fidelity_share} is outside [0, 1]"
        ));
    }
    let n = executors.len() as f64;
    let cos = |a: &[f32], b: &[f32]| f64::from(cosine(a, b));

    let to_commitment: Vec<f64> = executors.iter().map(|(_, e)| cos(e, commitment)).collect();
    let mean_to_commitment = to_commitment.iter().sum::<f64>() / n;
    let fidelity = to_commitment.iter().map(|&c| sim(c)).sum::<f64>() / n;

    let novelty = executors
        .iter()
        .enumerate()
        .map(|(i, (_, ei))| {
            let peers = executors.len() - 1;
            let sum: f64 = executors
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, (_, ej))| cos(ei, ej))
                .sum();
            let mean_peer = if peers == 0 { 0.0 } else { sum / peers as f64 };
            1.0 - clip01(sim(mean_peer))
        })
        .sum::<f64>()
        / n;

    Ok(Team {
        ts: if commitment_correct { 1.0 } else { 0.0 },
        al: clip01(sim(mean_to_commitment)),
        cc: clip01(fidelity_share * fidelity + (1.0 - fidelity_share) * novelty),
    })
}

/// Cosine in [-1, 1] to similarity in [0, 1].
fn sim(cos: f64) -> f64 {
    0.5 * (cos + 1.0)
}

fn clip01(x: f64) -> f64 {
    x.clamp(0.0, 1.0)
}

/// Whether every value is finite, looked at in steps of 16 without an early
/// exit: one loop header per step (cheaper in the sandbox, where each loop
/// header checks the call's deadline and fuel).
fn all_finite(e: &[f32]) -> bool {
    let chunks = e.chunks_exact(16);
    let rest = chunks.remainder().iter().all(|x| x.is_finite());
    chunks.fold(rest, |ok, c| {
        ok & c.iter().fold(true, |ok, x| ok & x.is_finite())
    })
}

/// At least one executor; every present embedding finite and of one length
/// (the SDK's cosine would quietly score a length mismatch as 0).
fn validate(commitment: &[f32], executors: &[(u32, &[f32])]) -> Result<(), String> {
    if executors.is_empty() {
        return Err("episode has no executors".into());
    }
    // Names are built only for an error: formatting one per executor on
    // every call costs more than the checks.
    let name = |who: Option<u32>| match who {
        None => "commitment".to_string(),
        Some(agent) => format!("executor {agent}"),
    };
    let all = std::iter::once((None, commitment))
        .chain(executors.iter().map(|(agent, e)| (Some(*agent), *e)));
    let mut first: Option<(Option<u32>, usize)> = None;
    for (who, e) in all.filter(|(_, e)| !e.is_empty()) {
        if !all_finite(e) {
            return Err(format!("{} embedding has a non-finite value", name(who)));
        }
        match first {
            None => first = Some((who, e.len())),
            Some((first_who, len)) if len != e.len() => {
                return Err(format!(
                    "embedding lengths differ: {} has {len}, {} has {}",
                    name(first_who),
                    name(who),
                    e.len()
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-6;

    fn assert_team(t: Team, ts: f64, al: f64, cc: f64) {
        let ok = (t.ts - ts).abs() < EPS && (t.al - al).abs() < EPS && (t.cc - cc).abs() < EPS;
        assert!(ok, "got {t:?}, want ts={ts} al={al} cc={cc}");
    }

    fn team(correct: bool, c: &[f32], es: &[&[f32]]) -> Result<Team, String> {
        let named: Vec<(u32, &[f32])> =
            es.iter().enumerate().map(|(i, e)| (i as u32, *e)).collect();
        team_scores(correct, c, &named, FIDELITY_SHARE)
    }

    #[test]
    fn identical_outputs_align_fully_but_add_nothing_new() {
        let e: &[f32] = &[0.6, 0.8];
        // AL = sim(1) = 1; novelty = 1 - sim(1) = 0; CC = 0.7 * 1 + 0.3 * 0.
        assert_team(team(true, e, &[e, e, e]).unwrap(), 1.0, 1.0, 0.7);
    }

    #[test]
    fn orthogonal_outputs_are_neutral() {
        let c: &[f32] = &[1.0, 0.0, 0.0, 0.0];
        let es: [&[f32]; 3] = [
            &[0.0, 1.0, 0.0, 0.0],
            &[0.0, 0.0, 1.0, 0.0],
            &[0.0, 0.0, 0.0, 2.0],
        ];
        // Every cosine 0: AL = 0.5, fidelity 0.5, novelty 0.5, CC = 0.5.
        assert_team(team(false, c, &es).unwrap(), 0.0, 0.5, 0.5);
    }

    #[test]
    fn opposite_outputs_score_zero() {
        let c: &[f32] = &[1.0, 0.0];
        let e: &[f32] = &[-1.0, 0.0];
        // cos(e, c) = -1: AL = 0; peers identical: novelty 0; CC = 0.
        assert_team(team(false, c, &[e, e]).unwrap(), 0.0, 0.0, 0.0);
    }

    #[test]
    fn mixed_outputs_by_hand() {
        let c: &[f32] = &[1.0, 0.0];
        // cos = 1 and 0: AL = sim(0.5) = 0.75; fidelity (1 + 0.5) / 2 = 0.75;
        // peers orthogonal: novelty 0.5 each; CC = 0.7 * 0.75 + 0.3 * 0.5 = 0.675.
        assert_team(
            team(true, c, &[&[1.0, 0.0], &[0.0, 3.0]]).unwrap(),
            1.0,
            0.75,
            0.675,
        );
    }

    #[test]
    fn a_lone_executor_gets_neutral_novelty() {
        let e: &[f32] = &[1.0, 2.0];
        // AL = 1; novelty = 1 - sim(0) = 0.5; CC = 0.7 + 0.15.
        assert_team(team(true, e, &[e]).unwrap(), 1.0, 1.0, 0.85);
    }

    #[test]
    fn missing_embeddings_count_as_cosine_zero() {
        let e: &[f32] = &[1.0, 0.0];
        // No commitment embedding: every fidelity 0.5; twins: novelty 0.
        assert_team(team(false, &[], &[e, e]).unwrap(), 0.0, 0.5, 0.35);
        // One executor without embedding: same numbers as mixed_outputs_by_hand.
        assert_team(team(false, e, &[&[], e]).unwrap(), 0.0, 0.75, 0.675);
        // Nothing at all: everything neutral.
        assert_team(team(false, &[], &[&[], &[]]).unwrap(), 0.0, 0.5, 0.5);
    }

    #[test]
    fn zero_vectors_are_neutral_too() {
        let z: &[f32] = &[0.0, 0.0];
        assert_team(team(false, z, &[z, z]).unwrap(), 0.0, 0.5, 0.5);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert_eq!(
            team(true, &[1.0], &[]).unwrap_err(),
            "episode has no executors"
        );
        let err = team(true, &[1.0, 0.0], &[&[1.0, 0.0, 0.0]]).unwrap_err();
        assert_eq!(
            err,
            "embedding lengths differ: commitment has 2, executor 0 has 3"
        );
        let err = team(true, &[], &[&[1.0], &[1.0, 0.0]]).unwrap_err();
        assert_eq!(
            err,
            "embedding lengths differ: executor 0 has 1, executor 1 has 2"
        );
        let err = team(true, &[1.0], &[&[f32::NAN]]).unwrap_err();
        assert_eq!(err, "executor 0 embedding has a non-finite value");
    }

    #[test]
    fn a_non_finite_value_is_found_in_a_step_and_in_the_remainder() {
        // 40 values: two steps of 16 and a remainder of 8.
        for at in [0, 5, 15, 16, 31, 32, 39] {
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                let mut e = vec![0.5f32; 40];
                e[at] = bad;
                let err = team(true, &e, &[&[0.5; 40], &[0.5; 40]]).unwrap_err();
                assert_eq!(err, "commitment embedding has a non-finite value", "{at}");
                let err = team(true, &[0.5; 40], &[&[0.5; 40], &e]).unwrap_err();
                assert_eq!(err, "executor 1 embedding has a non-finite value", "{at}");
            }
        }
        assert!(team(true, &[0.5; 40], &[&[f32::MAX; 40]]).is_ok());
    }
}
