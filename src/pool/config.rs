//! The adversarial pools' config: owned here, checked when the pools are built; a recipe's
//! `[adversarial]` section writes it (`recipe::pool_keys`).

use serde::{Deserialize, Serialize};

use crate::config::{Invalid, at_least_one, ensure};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolSchedule {
    /// Every step draws from every pool.
    All,
    /// Step t draws from pool t mod (number of pools) only: the paper's "alternating fashion".
    Alternate,
}

/// How a pool's examples are made: each method with its own settings.
#[derive(Debug, Clone, PartialEq)]
pub enum PoolAttack {
    /// One signed-gradient step of radius `epsilon` (L∞, in the layer's units); every example is
    /// kept.
    Fgsm { epsilon: Radius },
    /// `steps` steps of 2.5·ε/steps from a random start within radius `epsilon` (L∞, Madry et al.'s
    /// step rule); every example is kept.
    Pgd { epsilon: Radius, steps: usize },
    /// The minimal perturbation that reaches `target`: box-constrained L-BFGS with `search_steps`
    /// values of c and at most `iterations` iterations per value; only examples that reach it are
    /// kept.
    Lbfgs { target: PoolTarget, search_steps: usize, iterations: usize },
}

impl PoolAttack {
    /// FGSM at radius 0.1.
    pub fn fgsm() -> PoolAttack {
        PoolAttack::Fgsm { epsilon: defaults::epsilon() }
    }

    /// The method's name as recipes write it (`method = "pgd"`).
    pub fn name(&self) -> &'static str {
        match self {
            PoolAttack::Fgsm { .. } => "fgsm",
            PoolAttack::Pgd { .. } => "pgd",
            PoolAttack::Lbfgs { .. } => "lbfgs",
        }
    }

    /// The radius (one, or one per pool) of FGSM and PGD.
    pub fn epsilon(&self) -> Option<&Radius> {
        match self {
            PoolAttack::Fgsm { epsilon } | PoolAttack::Pgd { epsilon, .. } => Some(epsilon),
            PoolAttack::Lbfgs { .. } => None,
        }
    }
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
/// (A recipe's `[adversarial]` table writes it in a flat form: `recipe::pool_keys`.)
#[derive(Debug, Clone, PartialEq)]
pub struct PoolConfig {
    /// The layers with a pool.
    pub layers: Vec<usize>,
    /// Share of each mini-batch drawn from the pools (the rest is clean).
    pub ratio: f64,
    /// Examples each pool holds.
    pub pool_size: usize,
    /// Share of each pool regenerated per model snapshot (new examples replace random entries).
    pub refresh: f64,
    /// Attacker threads, at most [`MAX_ATTACKERS`]; 0 generates in the training thread
    /// (synchronous, reproducible).
    pub attackers: usize,
    /// How the examples are made (a recipe writes `method` and the method's own keys).
    pub attack: PoolAttack,
    /// Where the attacker threads run: the trainer's device when absent, or e.g. `"cpu"` beside a
    /// GPU trainer (a small model's attacks then keep off the GPU the trainer launches kernels on).
    pub attacker_device: Option<crate::backend::DeviceChoice>,
    /// Examples an attacker attacks at once.
    pub attack_batch: usize,
    /// Publish a model snapshot to the attackers every N optimizer steps.
    pub snapshot_every: usize,
    /// Entries made from a snapshot more than N steps old are dropped, never used.
    pub max_staleness: usize,
    /// Clean epochs before the pools are used.
    pub warmup_epochs: usize,
    pub schedule: PoolSchedule,
    /// Signed-gradient steps that renew each input-pool (layer 0) example against the current
    /// weights when it is drawn, within the pool's radius of the training image it was made from;
    /// the renewed example trains the step and goes back into the pool, so an entry's perturbation
    /// builds up over its uses (0: examples are used as the attackers made them).
    pub refine_steps: usize,
    /// The length of a renewing step (default: a quarter of the radius).
    pub refine_step_size: Option<f64>,
}

/// The most attacker threads a config may ask for (one per core is usually the most that helps).
pub const MAX_ATTACKERS: usize = 64;

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
            attack: PoolAttack::fgsm(),
            attacker_device: None,
            attack_batch: defaults::attack_batch(),
            snapshot_every: defaults::snapshot_every(),
            max_staleness: defaults::max_staleness(),
            warmup_epochs: 0,
            schedule: defaults::pool_schedule(),
            refine_steps: 0,
            refine_step_size: None,
        }
    }

    /// The FGSM / PGD radius of the pool at layer `layer`, if the config has one there.
    pub fn epsilon_of(&self, layer: usize) -> Option<f64> {
        let position = self.layers.iter().position(|&k| k == layer)?;
        match self.attack.epsilon()? {
            Radius::Every(r) => Some(*r),
            Radius::PerPool(radii) => radii.get(position).copied(),
        }
    }

    /// Checks that every pool's layer is one a model `depth` layers deep has for pools: the input
    /// (0) to its last hidden layer.
    pub fn check_layers(&self, depth: usize) -> Result<(), crate::model::layered::Error> {
        self.layers.iter().try_for_each(|&k| crate::model::layered::attackable(k, depth))
    }

    /// Checks every field that does not depend on the model (its layers are checked against the
    /// model by `check_layers`).
    pub fn check(&self) -> Result<(), Invalid> {
        ensure(!self.layers.is_empty(), "layers", || "name at least one layer (0: the inputs)".into())?;
        if let Some((i, k)) = self.layers.iter().enumerate().find(|(i, k)| self.layers[..*i].contains(k)) {
            return Err(Invalid { field: "layers", message: format!("layer {k} is named twice (entry {})", i + 1) });
        }
        ensure(self.attackers <= MAX_ATTACKERS, "attackers", || {
            format!("{} is more than {MAX_ATTACKERS} threads (this machine has {} cores)", self.attackers, cores())
        })?;
        ensure(self.ratio > 0.0 && self.ratio < 1.0, "ratio", || format!("{} is not a share in (0, 1)", self.ratio))?;
        at_least_one(self.pool_size, "pool_size")?;
        ensure(self.refresh > 0.0 && self.refresh <= 1.0, "refresh", || {
            format!("{} is not a share in (0, 1]", self.refresh)
        })?;
        match &self.attack {
            PoolAttack::Fgsm { epsilon } => self.check_radius(epsilon)?,
            PoolAttack::Pgd { epsilon, steps } => {
                self.check_radius(epsilon)?;
                at_least_one(*steps, "steps")?;
            }
            PoolAttack::Lbfgs { search_steps, iterations, .. } => {
                at_least_one(*search_steps, "search_steps")?;
                at_least_one(*iterations, "iterations")?;
            }
        }
        for (field, value) in [
            ("attack_batch", self.attack_batch),
            ("snapshot_every", self.snapshot_every),
            ("max_staleness", self.max_staleness),
        ] {
            at_least_one(value, field)?;
        }
        ensure(self.max_staleness >= self.snapshot_every, "max_staleness", || {
            format!(
                "{} is below snapshot_every = {}: between snapshots the pools would empty and go unused",
                self.max_staleness, self.snapshot_every
            )
        })?;
        self.check_refine()
    }

    /// The length of a renewing step in the input pool (`None`: no renewing).
    pub fn refine_step(&self) -> Option<f64> {
        let epsilon = self.epsilon_of(0).filter(|_| self.refine_steps > 0)?;
        Some(self.refine_step_size.unwrap_or(0.25 * epsilon))
    }

    fn check_refine(&self) -> Result<(), Invalid> {
        if let Some(size) = self.refine_step_size {
            ensure(self.refine_steps > 0, "refine_step_size", || "it needs refine_steps > 0".into())?;
            ensure(size.is_finite() && size > 0.0, "refine_step_size", || format!("{size} is not a positive step"))?;
        }
        if self.refine_steps == 0 {
            return Ok(());
        }
        ensure(self.layers.contains(&0), "refine_steps", || {
            "renewing works on the input pool: add layer 0 to layers".into()
        })?;
        ensure(self.attack.epsilon().is_some(), "refine_steps", || {
            format!("method = \"{}\" has no radius to renew within: use fgsm or pgd", self.attack.name())
        })
    }

    fn check_radius(&self, epsilon: &Radius) -> Result<(), Invalid> {
        if let Radius::PerPool(radii) = epsilon {
            let (given, pools) = (radii.len(), self.layers.len());
            ensure(given == pools, "epsilon", || {
                format!("{given} radii given for {pools} pools: give one, or one per layer")
            })?;
        }
        match epsilon.values().iter().find(|r| !(r.is_finite() && **r > 0.0)) {
            Some(r) => Err(Invalid { field: "epsilon", message: format!("{r} is not a positive radius") }),
            // Activations of hidden layers have no upper bound; the input pool's pixels do.
            None => self.epsilon_of(0).map_or(Ok(()), |r| crate::config::pixel_radius(r, "epsilon")),
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The defaults of every setting, which a recipe's flat form shares.
pub(crate) mod defaults {
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
