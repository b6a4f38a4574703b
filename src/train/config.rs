//! The trainer's configs: the optimizer and its schedule, the loop (epochs, batch, weight decay,
//! max-norm) and the output (checkpoints, TensorBoard). Owned here, checked when a trainer is
//! built, read from a recipe's `[optimizer]`, `[train]` and `[output]` sections.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{Invalid, at_least_one, ensure};

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
pub struct OptimizerConfig {
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
pub struct TrainConfig {
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
    /// Weight averaging: the decay of an exponential moving average of the weights over the steps
    /// (0.999 averages about the last thousand). The averaged weights are what the run measures,
    /// checkpoints as its model and hands on; the raw weights go on training. Absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ema: Option<f64>,
    /// Several devices for each step (`["cuda:0", "cuda:1"]`, the first the run's): the batch split
    /// across them, the gradients summed on the first, one optimizer step. Empty: the run's device.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<crate::backend::DeviceChoice>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
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

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig { dir: defaults::output_dir(), tensorboard: true, checkpoint_every: 1 }
    }
}

impl OptimizerConfig {
    /// `kind` at a constant `learning_rate`, without momentum.
    pub fn new(kind: OptimizerKind, learning_rate: f64) -> OptimizerConfig {
        OptimizerConfig {
            kind,
            learning_rate,
            momentum: 0.0,
            nesterov: false,
            schedule: Schedule::Constant,
            warmup: defaults::warmup(),
            final_fraction: defaults::final_fraction(),
        }
    }

    pub fn check(&self) -> Result<(), Invalid> {
        ensure(self.learning_rate.is_finite() && self.learning_rate > 0.0, "learning_rate", || {
            format!("{} is not a positive learning rate", self.learning_rate)
        })?;
        ensure((0.0..1.0).contains(&self.momentum), "momentum", || format!("{} is not in [0, 1)", self.momentum))?;
        ensure(!self.nesterov || self.momentum > 0.0, "nesterov", || "Nesterov needs momentum > 0".into())?;
        ensure((0.0..1.0).contains(&self.warmup), "warmup", || format!("{} is not a fraction in [0, 1)", self.warmup))?;
        ensure((0.0..=1.0).contains(&self.final_fraction), "final_fraction", || {
            format!("{} is not a fraction in [0, 1]", self.final_fraction)
        })
    }
}

impl TrainConfig {
    /// `epochs` of batches of `batch_size`, without weight decay or max-norm.
    pub fn new(epochs: usize, batch_size: usize) -> TrainConfig {
        TrainConfig { epochs, batch_size, weight_decay: 0.0, max_norm: None, ema: None, devices: Vec::new() }
    }

    pub fn check(&self) -> Result<(), Invalid> {
        at_least_one(self.epochs, "epochs")?;
        at_least_one(self.batch_size, "batch_size")?;
        ensure(self.weight_decay.is_finite() && self.weight_decay >= 0.0, "weight_decay", || {
            format!("{} is not a non-negative weight decay", self.weight_decay)
        })?;
        if let Some(limit) = self.max_norm {
            ensure(limit.is_finite() && limit > 0.0, "max_norm", || format!("{limit} is not a positive norm"))?;
        }
        if let Some(decay) = self.ema {
            ensure(decay > 0.0 && decay < 1.0, "ema", || format!("{decay} is not a decay in (0, 1)"))?;
        }
        ensure(self.devices.len() != 1, "devices", || {
            "one device is the run's device: name two or more, the first the run's".into()
        })
    }
}

impl OutputConfig {
    pub fn check(&self) -> Result<(), Invalid> {
        at_least_one(self.checkpoint_every, "checkpoint_every")
    }
}

mod defaults {
    use super::*;
    pub fn schedule() -> Schedule {
        Schedule::Constant
    }
    pub fn warmup() -> f64 {
        0.3
    }
    pub fn final_fraction() -> f64 {
        0.0
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
