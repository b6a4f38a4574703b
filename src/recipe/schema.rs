//! What a recipe file says: every key, its type and its default. Unknown keys are errors.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::pretrain::PretrainConfig;
use crate::backend::DeviceChoice;
use crate::bounds::PenaltyConfig;
use crate::data::{DatasetName, Split};
use crate::pool::{BankConfig, PoolConfig};
use crate::train::{CertifiedConfig, FreshConfig, OptimizerConfig, OutputConfig, TrainConfig};

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
    pub optimizer: OptimizerConfig,
    pub train: TrainConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrain: Option<PretrainConfig>,
    /// Adversarial training: per-layer pools of adversarial examples mixed into the mini-batches.
    #[serde(default, with = "super::pool_keys", skip_serializing_if = "Option::is_none")]
    pub adversarial: Option<PoolConfig>,
    /// Adversarial training with examples made fresh from the current weights in every step (PGD,
    /// fast FGSM): the standard way, beside the pools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh: Option<FreshConfig>,
    /// Adversarial training on a perturbation bank: one perturbation per training image, renewed on
    /// the current weights each time its image is drawn and kept for the next epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<BankConfig>,
    /// Training for certificates: interval bound propagation's loss (L∞).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certified: Option<CertifiedConfig>,
    /// The Lipschitz-bound regularizer (section 4.3): a penalty on each layer's largest singular value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lipschitz: Option<PenaltyConfig>,
    #[serde(default)]
    pub output: OutputConfig,
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

mod defaults {
    use super::*;
    pub fn seed() -> u64 {
        1
    }
    pub fn dataset() -> DatasetName {
        DatasetName::Mnist
    }
}
