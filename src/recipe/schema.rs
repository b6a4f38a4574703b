//! What a recipe file says: every key, its type and its default. Unknown keys are errors.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::backend::DeviceChoice;
use crate::data::{DatasetName, Split};

/// A complete description of one training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// The run's name: its checkpoints, TensorBoard events and metrics go to `<output.dir>/<name>/`.
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "defaults::seed")]
    pub seed: u64,
    #[serde(default)]
    pub device: DeviceChoice,
    #[serde(default)]
    pub data: DataSection,
    pub model: ModelSection,
    pub optimizer: OptimizerSection,
    pub train: TrainSection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrain: Option<PretrainSection>,
    /// Adversarial training: per-layer pools of adversarial examples mixed into the mini-batches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adversarial: Option<AdversarialSection>,
    /// The Lipschitz-bound regularizer (section 4.3): a penalty on each layer's largest singular value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lipschitz: Option<LipschitzSection>,
    #[serde(default)]
    pub output: OutputSection,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    #[serde(default = "defaults::dataset")]
    pub dataset: DatasetName,
    /// `full`, or the paper's disjoint halves `p1` / `p2`.
    #[serde(default)]
    pub split: Split,
    /// Training images held out for validation (0: none).
    #[serde(default)]
    pub validation: usize,
    /// Train on the first N images of the split only (0: all). For quick runs and tests.
    #[serde(default)]
    pub subset: usize,
    /// Evaluate on the first N test images only (0: all).
    #[serde(default)]
    pub test_subset: usize,
    /// Where the IDX files are (default: the dataset's own place; see README).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
}

impl Default for DataSection {
    fn default() -> Self {
        DataSection {
            dataset: defaults::dataset(),
            split: Split::Full,
            validation: 0,
            subset: 0,
            test_subset: 0,
            dir: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// One of the zoo's architectures (`blindspot models` lists them).
    pub arch: String,
    /// Dropout probability on each layer's input: one number per layer, or empty for none.
    #[serde(default)]
    pub dropout: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    Sgd,
    Adam,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// The same learning rate throughout.
    Constant,
    /// Linear warm-up to `learning_rate` over `warmup` of the run, then cosine down to
    /// `learning_rate * final_fraction`.
    OneCycle,
    /// Cosine from `learning_rate` down to `learning_rate * final_fraction`.
    Cosine,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSection {
    pub kind: OptimizerKind,
    pub learning_rate: f64,
    /// SGD momentum (0: none).
    #[serde(default)]
    pub momentum: f64,
    #[serde(default)]
    pub nesterov: bool,
    #[serde(default = "defaults::schedule")]
    pub schedule: Schedule,
    /// Fraction of the run spent warming up (one-cycle).
    #[serde(default = "defaults::warmup")]
    pub warmup: f64,
    /// The last learning rate as a fraction of `learning_rate` (one-cycle, cosine).
    #[serde(default = "defaults::final_fraction")]
    pub final_fraction: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    pub epochs: usize,
    pub batch_size: usize,
    /// The paper's weight decay λ: the loss gains `λ/N · Σ w²` for each layer of N units.
    #[serde(default)]
    pub weight_decay: f64,
    /// Max-norm (Hinton et al. 2012's companion to dropout): after every step, each unit's incoming
    /// weight vector (a dense layer's column, a convolution's output-channel kernel) is scaled back to
    /// L2 norm `max_norm` if it grew longer. Absent: no constraint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_norm: Option<f64>,
}

/// Greedy pretraining of the first layer as a sparse autoencoder (the paper's AE400-10), then of the
/// softmax layer on its frozen features; `[train]` then fine-tunes everything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainSection {
    pub autoencoder_epochs: usize,
    pub classifier_epochs: usize,
    #[serde(default = "defaults::pretrain_learning_rate")]
    pub learning_rate: f64,
    /// Target mean activation ρ of the hidden units.
    #[serde(default = "defaults::sparsity_target")]
    pub sparsity_target: f64,
    /// Weight β of the KL sparsity penalty.
    #[serde(default = "defaults::sparsity_weight")]
    pub sparsity_weight: f64,
}

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
pub struct AdversarialSection {
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
    /// PGD steps (step size 2.5·epsilon/steps).
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
    /// The radius of the `position`-th pool (its place in `layers`).
    pub fn of_pool(&self, position: usize) -> f64 {
        match self {
            Radius::Every(r) => *r,
            Radius::PerPool(radii) => radii[position],
        }
    }

    /// Every radius given.
    pub fn values(&self) -> &[f64] {
        match self {
            Radius::Every(r) => std::slice::from_ref(r),
            Radius::PerPool(radii) => radii,
        }
    }
}

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

/// A penalty on the layers' upper Lipschitz bounds, added to the loss: `weight · mode(σ_1, …)`, each σ_k
/// estimated by power iteration through the layer (persistent vectors, `iterations` steps per optimizer
/// step) and differentiated through the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LipschitzSection {
    pub weight: f64,
    #[serde(default)]
    pub mode: PenaltyMode,
    /// The bound below which `hinge` does not penalise.
    #[serde(default = "defaults::lipschitz_target")]
    pub target: f64,
    /// Power-iteration steps each time the penalty is applied.
    #[serde(default = "defaults::one")]
    pub iterations: usize,
    /// Apply the penalty every N optimizer steps, weighted N× (the same mean pull, 1/N of the cost).
    #[serde(default = "defaults::one")]
    pub every: usize,
    /// The layers penalised (1 = the first); empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    /// Parent folder of the run folder.
    #[serde(default = "defaults::output_dir")]
    pub dir: PathBuf,
    /// Write TensorBoard event files into the run folder.
    #[serde(default = "defaults::yes")]
    pub tensorboard: bool,
    /// Write a checkpoint every N epochs (and always after the last).
    #[serde(default = "defaults::one")]
    pub checkpoint_every: usize,
}

impl Default for OutputSection {
    fn default() -> Self {
        OutputSection { dir: defaults::output_dir(), tensorboard: true, checkpoint_every: 1 }
    }
}

mod defaults {
    use super::*;
    pub fn seed() -> u64 {
        1
    }
    pub fn lipschitz_target() -> f64 {
        1.0
    }
    pub fn dataset() -> DatasetName {
        DatasetName::Mnist
    }
    pub fn schedule() -> Schedule {
        Schedule::Constant
    }
    pub fn warmup() -> f64 {
        0.3
    }
    pub fn final_fraction() -> f64 {
        0.0
    }
    pub fn pretrain_learning_rate() -> f64 {
        1e-3
    }
    pub fn sparsity_target() -> f64 {
        0.05
    }
    pub fn sparsity_weight() -> f64 {
        3.0
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
    pub fn output_dir() -> PathBuf {
        PathBuf::from("checkpoints")
    }
    pub fn yes() -> bool {
        true
    }
    pub fn one() -> usize {
        1
    }
}
