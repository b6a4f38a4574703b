//! The adversarial pools' config: owned here, checked when the pools are built, read from a
//! recipe's `[adversarial]` section.

use serde::{Deserialize, Serialize};

use crate::attack::{LbfgsAttackConfig, PgdConfig};
use crate::config::{Invalid, at_least_one, ensure};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolSchedule {
    /// Every step draws from every pool.
    All,
    /// Step t draws from pool t mod (number of pools) only: the paper's "alternating fashion".
    Alternate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolAttack {
    Fgsm,
    Pgd,
    Lbfgs,
}

/// The goal of an L-BFGS pool's examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolTarget {
    /// A random wrong label per example (the paper's choice).
    Random,
    /// Any wrong label: the smallest perturbation that changes the answer, towards the nearest class.
    Untargeted,
}

/// The adversarial pools of section 4.2: one pool per layer (0 = the inputs, k = the output of hidden
/// layer k), filled by attacker threads from the newest model snapshot, a random part continuously
/// replaced, and mixed into every mini-batch. Examples of a layer-k pool train the layers above k.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// The layers with a pool.
    pub layers: Vec<usize>,
    /// Share of each mini-batch drawn from the pools (the rest is clean).
    #[serde(default = "defaults::ratio")]
    pub ratio: f64,
    /// Examples each pool holds.
    #[serde(default = "defaults::pool_size")]
    pub pool_size: usize,
    /// Share of each pool regenerated per model snapshot (new examples replace random entries).
    #[serde(default = "defaults::refresh")]
    pub refresh: f64,
    /// Attacker threads; 0 generates in the training thread (synchronous, reproducible).
    #[serde(default = "defaults::one")]
    pub attackers: usize,
    #[serde(default = "defaults::pool_attack")]
    pub method: PoolAttack,
    /// FGSM / PGD radius (L∞, in the layer's units): one number for every pool, or one per entry
    /// of `layers` (hidden sigmoid layers saturate, so they want smaller radii than the inputs).
    #[serde(default = "defaults::epsilon")]
    pub epsilon: Radius,
    /// PGD steps (step size 2.5·epsilon/steps: `PoolConfig::pgd`).
    #[serde(default = "defaults::pgd_steps")]
    pub steps: usize,
    /// L-BFGS: the label its minimal examples are pushed to (FGSM and PGD are always untargeted).
    #[serde(default = "defaults::pool_target")]
    pub target: PoolTarget,
    /// L-BFGS: values of c and iterations per value.
    #[serde(default = "defaults::search_steps")]
    pub search_steps: usize,
    #[serde(default = "defaults::lbfgs_iterations")]
    pub iterations: usize,
    /// Where the attacker threads run: the trainer's device when absent, or e.g. `"cpu"` beside a
    /// GPU trainer (a small model's attacks then keep off the GPU the trainer launches kernels on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attacker_device: Option<crate::backend::DeviceChoice>,
    /// Examples an attacker attacks at once.
    #[serde(default = "defaults::attack_batch")]
    pub attack_batch: usize,
    /// Publish a model snapshot to the attackers every N optimizer steps.
    #[serde(default = "defaults::snapshot_every")]
    pub snapshot_every: usize,
    /// Entries made from a snapshot more than N steps old are dropped, never used.
    #[serde(default = "defaults::max_staleness")]
    pub max_staleness: usize,
    /// Clean epochs before the pools are used.
    #[serde(default)]
    pub warmup_epochs: usize,
    #[serde(default = "defaults::pool_schedule")]
    pub schedule: PoolSchedule,
}

/// A radius for every pool, or one per pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, expecting = "expected a radius (0.1) or one radius per pool ([0.1, 0.05])")]
pub enum Radius {
    Every(f64),
    PerPool(Vec<f64>),
}

impl Radius {
    /// Every radius given.
    pub fn values(&self) -> &[f64] {
        match self {
            Radius::Every(r) => std::slice::from_ref(r),
            Radius::PerPool(radii) => radii,
        }
    }
}

impl PoolConfig {
    /// Pools at `layers` with every other field at its default (FGSM at radius 0.1, one attacker).
    pub fn new(layers: Vec<usize>) -> PoolConfig {
        PoolConfig {
            layers,
            ratio: defaults::ratio(),
            pool_size: defaults::pool_size(),
            refresh: defaults::refresh(),
            attackers: 1,
            method: defaults::pool_attack(),
            epsilon: defaults::epsilon(),
            steps: defaults::pgd_steps(),
            target: defaults::pool_target(),
            search_steps: defaults::search_steps(),
            iterations: defaults::lbfgs_iterations(),
            attacker_device: None,
            attack_batch: defaults::attack_batch(),
            snapshot_every: defaults::snapshot_every(),
            max_staleness: defaults::max_staleness(),
            warmup_epochs: 0,
            schedule: defaults::pool_schedule(),
        }
    }

    /// The radius of the pool at layer `layer`, if the config has one there.
    pub fn epsilon_of(&self, layer: usize) -> Option<f64> {
        let position = self.layers.iter().position(|&k| k == layer)?;
        match &self.epsilon {
            Radius::Every(r) => Some(*r),
            Radius::PerPool(radii) => radii.get(position).copied(),
        }
    }

    /// The PGD a pool at radius `epsilon` runs: L∞, `steps` steps of 2.5·ε/steps from a random
    /// start (Madry et al.'s step rule).
    pub fn pgd(&self, epsilon: f64) -> PgdConfig {
        PgdConfig::linf(epsilon, self.steps)
    }

    /// The L-BFGS search an L-BFGS pool runs.
    pub fn lbfgs(&self) -> LbfgsAttackConfig {
        LbfgsAttackConfig::new(self.search_steps, self.iterations)
    }

    /// Checks every field that does not depend on the model (its layers are checked against the
    /// model when the pools are built).
    pub fn check(&self) -> Result<(), Invalid> {
        ensure(!self.layers.is_empty(), "layers", || "name at least one layer (0: the inputs)".into())?;
        if let Some((i, k)) = self.layers.iter().enumerate().find(|(i, k)| self.layers[..*i].contains(k)) {
            return Err(Invalid { field: "layers", message: format!("layer {k} is named twice (entry {})", i + 1) });
        }
        ensure(self.ratio > 0.0 && self.ratio < 1.0, "ratio", || format!("{} is not a share in (0, 1)", self.ratio))?;
        at_least_one(self.pool_size, "pool_size")?;
        ensure(self.refresh > 0.0 && self.refresh <= 1.0, "refresh", || {
            format!("{} is not a share in (0, 1]", self.refresh)
        })?;
        if let Radius::PerPool(radii) = &self.epsilon {
            let (given, pools) = (radii.len(), self.layers.len());
            ensure(given == pools, "epsilon", || {
                format!("{given} radii given for {pools} pools: give one, or one per layer")
            })?;
        }
        if let Some(r) = self.epsilon.values().iter().find(|r| !(r.is_finite() && **r > 0.0)) {
            return Err(Invalid { field: "epsilon", message: format!("{r} is not a positive radius") });
        }
        for (field, value) in [
            ("steps", self.steps),
            ("search_steps", self.search_steps),
            ("iterations", self.iterations),
            ("attack_batch", self.attack_batch),
            ("snapshot_every", self.snapshot_every),
            ("max_staleness", self.max_staleness),
        ] {
            at_least_one(value, field)?;
        }
        Ok(())
    }
}

mod defaults {
    use super::*;
    pub fn one() -> usize {
        1
    }
    pub fn ratio() -> f64 {
        0.5
    }
    pub fn pool_size() -> usize {
        10_000
    }
    pub fn refresh() -> f64 {
        0.1
    }
    pub fn pool_attack() -> PoolAttack {
        PoolAttack::Fgsm
    }
    pub fn epsilon() -> Radius {
        Radius::Every(0.1)
    }
    pub fn pgd_steps() -> usize {
        5
    }
    pub fn search_steps() -> usize {
        6
    }
    pub fn lbfgs_iterations() -> usize {
        20
    }
    pub fn attack_batch() -> usize {
        128
    }
    pub fn snapshot_every() -> usize {
        50
    }
    pub fn max_staleness() -> usize {
        1000
    }
    pub fn pool_target() -> PoolTarget {
        PoolTarget::Random
    }
    pub fn pool_schedule() -> PoolSchedule {
        PoolSchedule::All
    }
}
