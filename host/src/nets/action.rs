//! An executor's sampling action e_i: what its belief network chooses and
//! the LLM is called with (top_p is fixed by the config, not chosen).

use serde::{Deserialize, Serialize};

/// e_i = (temperature, repetition penalty). Stored and sent as the pair
/// `[temperature, repetition_penalty]`, as replay buffers written before
/// this type hold it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "[f32; 2]", into = "[f32; 2]")]
pub struct Action {
    pub temperature: f32,
    pub repetition_penalty: f32,
}

impl Action {
    pub const fn new(temperature: f32, repetition_penalty: f32) -> Action {
        Action {
            temperature,
            repetition_penalty,
        }
    }

    /// The pair in the order the networks' tensors hold it.
    pub const fn to_array(self) -> [f32; 2] {
        [self.temperature, self.repetition_penalty]
    }
}

impl From<[f32; 2]> for Action {
    fn from([temperature, repetition_penalty]: [f32; 2]) -> Action {
        Action::new(temperature, repetition_penalty)
    }
}

impl From<Action> for [f32; 2] {
    fn from(a: Action) -> [f32; 2] {
        a.to_array()
    }
}

/// ‖e − e'‖_F over all agents' actions (the BNE convergence test's δ).
pub fn action_delta(a: &[Action], b: &[Action]) -> f64 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| {
            [
                (x.temperature - y.temperature) as f64,
                (x.repetition_penalty - y.repetition_penalty) as f64,
            ]
        })
        .map(|d| d * d)
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::Action;

    #[test]
    fn an_action_is_stored_as_the_pair() {
        let a = Action::new(0.7, 1.1);
        assert_eq!(serde_json::to_string(&a).unwrap(), "[0.7,1.1]");
        assert_eq!(serde_json::from_str::<Action>("[0.7,1.1]").unwrap(), a);
        assert_eq!(super::action_delta(&[a], &[Action::new(0.7, 1.1)]), 0.0);
    }
}
