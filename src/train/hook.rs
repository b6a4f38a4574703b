//! Training-loop hooks: the checkpointer, the TensorBoard logger, the metrics file and the CLI's
//! progress display are all hooks, and so can be a user's own (README shows one).

use std::path::Path;

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::Stack;
use crate::recipe::Recipe;

/// What a hook may return on failure; the trainer stops and reports it with the hook's name.
pub type HookError = Box<dyn std::error::Error + Send + Sync>;

/// Facts about the run that do not change while it goes on.
pub struct RunInfo<'a> {
    pub recipe: &'a Recipe,
    pub run_dir: &'a Path,
    pub device: &'a Device,
    /// Epoch the run starts after (0 for a new run; the checkpoint's epoch when resuming).
    pub start_epoch: usize,
    pub steps_per_epoch: usize,
    pub train_examples: usize,
}

/// One optimizer step, just taken.
pub struct StepInfo<'a> {
    pub epoch: usize,
    /// Global step count, 1 for the first step of the run.
    pub step: u64,
    /// Index of the batch within the epoch, from 0.
    pub batch: usize,
    pub examples: usize,
    pub learning_rate: f64,
    /// The step's training loss (a device scalar: reading it waits for the device).
    pub loss: &'a Tensor<1>,
}

/// Figures of one finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    /// Global step count at the end of the epoch.
    pub step: u64,
    /// Mean training loss over the epoch's batches (with dropout, as trained).
    pub train_loss: f64,
    /// Error on the epoch's training batches as they were trained on (with dropout).
    pub train_error: f64,
    pub test_error: f64,
    pub validation_error: Option<f64>,
    /// Learning rate of the epoch's last step.
    pub learning_rate: f64,
    pub seconds: f64,
    pub examples_per_second: f64,
    /// Each adversarial pool's figures over the epoch (empty without pools).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<crate::pool::PoolEpoch>,
    /// Each layer's upper Lipschitz bound (its affine map's largest singular value) at the epoch's end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lipschitz: Vec<f64>,
    /// The network's bound: the product of the layers' bounds and their nonlinearities' and pooling's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lipschitz_network: Option<f64>,
}

/// The trainer's state at an epoch's end: what a checkpoint holds.
pub struct TrainState<'a> {
    pub model: &'a Stack,
    pub optimizer: &'a ModuleOptimizer,
    pub epoch: usize,
    pub step: u64,
    pub history: &'a [EpochMetrics],
    /// A few examples of the input-layer adversarial pool, each flat pixels in [0, 1] (empty without one).
    pub pool_images: &'a [Vec<f32>],
}

/// Called by the training loop at run start and end, epoch start and end, and after each optimizer
/// step. Every method has an empty default, so a hook implements only what it needs.
pub trait Hook {
    /// A short name used when the hook fails.
    fn name(&self) -> &str;

    fn on_run_start(&mut self, _run: &RunInfo) -> Result<(), HookError> {
        Ok(())
    }

    fn on_epoch_start(&mut self, _run: &RunInfo, _epoch: usize) -> Result<(), HookError> {
        Ok(())
    }

    fn on_step_end(&mut self, _run: &RunInfo, _step: &StepInfo, _model: &Stack) -> Result<(), HookError> {
        Ok(())
    }

    fn on_epoch_end(&mut self, _run: &RunInfo, _state: &TrainState, _metrics: &EpochMetrics) -> Result<(), HookError> {
        Ok(())
    }

    /// After the last epoch; `summary` holds the final figures.
    fn on_run_end(&mut self, _run: &RunInfo, _state: &TrainState, _summary: &RunSummary) -> Result<(), HookError> {
        Ok(())
    }
}

/// Final figures of a run (what `metrics.json` holds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run: String,
    pub arch: String,
    pub device: String,
    pub epochs: usize,
    pub steps: u64,
    /// Error on the whole training split, evaluated without dropout after the last epoch.
    pub train_error: f64,
    pub test_error: f64,
    pub validation_error: Option<f64>,
    /// Mean seconds per training epoch (this process's epochs only; evaluation excluded).
    pub seconds_per_epoch: f64,
    pub history: Vec<EpochMetrics>,
}
