//! How attack targets are chosen: a random wrong label (the paper's choice), a given label, the
//! least likely label, or none (untargeted: any wrong answer).

use std::str::FromStr;

use burn::prelude::*;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::Error;
use super::surface::Goal;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// A uniformly random label other than the true one, from a seed.
    Random,
    /// This label for every example.
    Label(usize),
    /// The label the model finds least likely on the clean input.
    LeastLikely,
    /// Any label but the true one.
    Untargeted,
}

impl TargetKind {
    /// The goal for examples with true `labels` whose clean logits are `logits`.
    pub fn goal(self, labels: &Tensor<1, Int>, logits: Tensor<2>, seed: u64) -> Result<Goal, Error> {
        let [batch, classes] = logits.dims();
        let device = labels.device();
        let targets = match self {
            TargetKind::Untargeted => None,
            TargetKind::LeastLikely => Some(logits.argmin(1).reshape([batch])),
            TargetKind::Label(target) => {
                if target >= classes {
                    return Err(Error::Target { target, classes });
                }
                Some(Tensor::<1, Int>::full([batch], target as i64, &device))
            }
            TargetKind::Random => {
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                let truth: Vec<i64> = labels.clone().into_data().iter::<i64>().collect();
                let wrong: Vec<i64> =
                    truth.iter().map(|&y| (y + rng.random_range(1..classes as i64)) % classes as i64).collect();
                Some(Tensor::<1, Int>::from_data(TensorData::new(wrong, [batch]), &device))
            }
        };
        Ok(Goal { labels: labels.clone(), targets })
    }
}

impl FromStr for TargetKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "random" => Ok(TargetKind::Random),
            "least-likely" => Ok(TargetKind::LeastLikely),
            "untargeted" | "none" => Ok(TargetKind::Untargeted),
            _ => s
                .parse()
                .map(TargetKind::Label)
                .map_err(|_| format!("unknown target {s:?}: expected random, least-likely, untargeted or a label 0-9")),
        }
    }
}
