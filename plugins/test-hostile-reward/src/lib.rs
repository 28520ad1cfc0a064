//! A hostile reward plugin for the host's tests: a problem whose question
//! holds `HOSTILE:<what>` makes it misbehave — `loop`, `sleep`, `panic`,
//! `oom`, `flood` (stderr), `nan` (non-finite rewards), `short` (one reward
//! too few), `print` (writes to stdout and stderr, then answers normally).
//! Every other problem gets a plain reward (TS only).
//! Only meaningful as a wasm component; empty on native builds.
#![cfg(target_arch = "wasm32")]
use econ_plugin_sdk::reward::*;

struct Hostile;

impl Reward for Hostile {
    fn manifest() -> Manifest {
        Manifest::new("test-hostile", "0.1.0", "misbehaves on HOSTILE:<what> questions")
    }

    fn score(episode: Episode) -> Result<Vec<AgentReward>, String> {
        let what = episode
            .question
            .split("HOSTILE:")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_alphabetic()).next())
            .unwrap_or("");
        let ts = if episode.commitment_correct { 1.0 } else { 0.0 };
        let mut value = ts;
        let mut count = episode.executors.len();
        match what {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "sleep" => std::thread::sleep(std::time::Duration::from_secs(3600)),
            "panic" => panic!("asked to panic on {}", episode.problem_id),
            "oom" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "flood" => loop {
                eprintln!("{}", "flood ".repeat(1000));
            },
            "nan" => value = f32::NAN,
            "short" => count -= 1,
            "print" => {
                println!("scoring {} on stdout", episode.problem_id);
                eprintln!("scoring {} on stderr", episode.problem_id);
            }
            _ => {}
        }
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
