//! The project's one small deterministic generator, and the per-call seeds
//! derived from it.
//!
//! SplitMix64 (Steele, Lea, Flood 2014): output fixed by its seed on every
//! machine. It decides the dataset order (data/), the replay sampling (the
//! learner) and every LLM call's seed, so its output must never change.

/// SplitMix64 generator; its whole state is one u64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The state, to save and restore with [`SplitMix64::new`].
    pub fn state(&self) -> u64 {
        self.0
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in 0..n (n > 0), without modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        unit(self.next_u64())
    }
}

/// SplitMix64's output function: a bijective avalanche of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The top 53 bits of `x` as a number in [0, 1).
pub fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// A hash of a sequence of numbers: equal sequences give equal values,
/// sequences that differ anywhere (including in length) give unrelated ones.
pub fn derive(parts: &[u64]) -> u64 {
    let mut h = mix(0x6A09_E667_F3BC_C908 ^ parts.len() as u64);
    for &p in parts {
        h = mix(h.wrapping_add(0x9E37_79B9_7F4A_7C15) ^ mix(p));
    }
    h
}

/// Which LLM call of an episode a seed is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Strategy,
    Executor,
    Commitment,
    /// A comparison mode's sample (cot, sc, debate).
    Comparison,
}

/// Where in a run an LLM call happens: (phase and mode, episode, decision
/// step, BNE or debate round, agent or sample).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallSite {
    /// The phase and mode the call belongs to (`episode::seed_stream`): the
    /// training episode k and the test episode k, or the same test problem
    /// in two modes, are not the same samples.
    pub stream: u64,
    pub episode: u64,
    pub step: u32,
    pub round: u32,
    pub agent: u32,
    pub call: Call,
}

/// The seed of one LLM call, from the run seed and where the call happens.
/// Every call of a run gets its own: executors of one round with one prompt
/// are independent samples, a BNE round is not a replay of the one before,
/// and a rerun of the same run sends the same seeds.
pub fn call_seed(run_seed: u64, site: CallSite) -> u32 {
    let call = match site.call {
        Call::Strategy => 1,
        Call::Executor => 2,
        Call::Commitment => 3,
        Call::Comparison => 4,
    };
    let h = derive(&[
        run_seed,
        site.stream,
        site.episode,
        u64::from(site.step),
        u64::from(site.round),
        u64::from(site.agent),
        call,
    ]);
    // Servers read the seed as a 32-bit (often signed) integer: keep it below 2^31.
    (h >> 33) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_values_never_change() {
        // SplitMix64 seeded with 1234567 (the published reference sequence).
        let mut r = SplitMix64::new(1_234_567);
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn below_stays_in_range_and_unit_in_zero_one() {
        let mut r = SplitMix64::new(7);
        for n in [1u64, 2, 3, 10, 1 << 40] {
            for _ in 0..100 {
                assert!(r.below(n) < n);
            }
        }
        for _ in 0..1000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
        }
    }

    #[test]
    fn every_call_of_an_episode_gets_its_own_seed() {
        let site = |step, round, agent, call| CallSite {
            stream: 1,
            episode: 3,
            step,
            round,
            agent,
            call,
        };
        let mut seen = std::collections::HashSet::new();
        for round in 0..4 {
            for agent in 0..8 {
                assert!(seen.insert(call_seed(42, site(0, round, agent, Call::Executor))));
            }
            assert!(seen.insert(call_seed(42, site(0, round, 0, Call::Commitment))));
        }
        assert!(seen.insert(call_seed(42, site(0, 0, 0, Call::Strategy))));
        assert!(seen.insert(call_seed(42, site(1, 0, 0, Call::Executor))));
        assert!(seen.insert(call_seed(43, site(0, 0, 0, Call::Executor))));
        let other_stream = CallSite {
            stream: 2,
            ..site(0, 0, 0, Call::Executor)
        };
        assert!(seen.insert(call_seed(42, other_stream)));
        // Same place, same seed: reruns repeat.
        assert_eq!(
            call_seed(42, site(0, 2, 1, Call::Executor)),
            call_seed(42, site(0, 2, 1, Call::Executor))
        );
        assert!(seen.iter().all(|&s| s < 1 << 31));
    }

    #[test]
    fn derive_tells_lengths_apart() {
        assert_ne!(derive(&[1, 0]), derive(&[1]));
        assert_ne!(derive(&[1, 2]), derive(&[2, 1]));
    }
}
