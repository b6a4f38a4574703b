//! The Lipschitz penalty's config: owned here, checked when used, read from a recipe's
//! `[lipschitz]` section.

use serde::{Deserialize, Serialize};

use crate::config::{Invalid, at_least_one, ensure};

/// How the Lipschitz penalty combines the layers' bounds σ_k.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PenaltyMode {
    /// Σ σ_k.
    #[default]
    Sum,
    /// Σ log σ_k: the log of the network's bound.
    LogProduct,
    /// Σ max(0, σ_k − target)²: only bounds above `target` cost.
    Hinge,
}

/// A penalty on the layers' upper Lipschitz bounds, added to the loss: `weight · mode(σ_1, …)`, each
/// σ_k estimated by power iteration through the layer (persistent vectors, `iterations` steps per
/// optimizer step) and differentiated through the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PenaltyConfig {
    pub weight: f64,
    #[serde(default)]
    pub mode: PenaltyMode,
    /// The bound below which `hinge` does not penalise.
    #[serde(default = "one_f64")]
    pub target: f64,
    /// Power-iteration steps each time the penalty is applied.
    #[serde(default = "one")]
    pub iterations: usize,
    /// Apply the penalty every N optimizer steps, weighted N× (the same mean pull, 1/N of the cost).
    #[serde(default = "one")]
    pub every: usize,
    /// The layers penalised (1 = the first); empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<usize>,
}

fn one() -> usize {
    1
}

fn one_f64() -> f64 {
    1.0
}

impl PenaltyConfig {
    /// A sum penalty of `weight` on every layer, one power-iteration step per optimizer step.
    pub fn new(weight: f64) -> PenaltyConfig {
        PenaltyConfig { weight, mode: PenaltyMode::Sum, target: 1.0, iterations: 1, every: 1, layers: Vec::new() }
    }

    /// Checks that every penalised layer is a layer with weights of a model `depth` layers deep.
    pub fn check_layers(&self, depth: usize) -> Result<(), crate::model::layered::Error> {
        self.layers.iter().try_for_each(|&k| crate::model::layered::weighted(k, depth))
    }

    /// Checks every field that does not depend on the model (its layers are checked against the
    /// model by `check_layers`).
    pub fn check(&self) -> Result<(), Invalid> {
        ensure(self.weight.is_finite() && self.weight >= 0.0, "weight", || {
            format!("{} is not a non-negative weight", self.weight)
        })?;
        ensure(self.target.is_finite() && self.target > 0.0, "target", || {
            format!("{} is not a positive bound", self.target)
        })?;
        at_least_one(self.iterations, "iterations")?;
        at_least_one(self.every, "every")
    }
}
