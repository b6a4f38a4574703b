//! Training-loop hooks: the checkpointer, the TensorBoard logger, the metrics file, the Lipschitz
//! bounds, the pools' snapshot publisher and the CLI's progress display are all hooks, and so can
//! be a user's own (README shows one).

use std::path::Path;

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// What a hook may return on failure; the trainer stops and reports it with the hook's name.
pub type HookError = Box<dyn std::error::Error + Send + Sync>;

/// Facts about the run that do not change while it goes on.
pub struct RunInfo<'a> {
    /// The run's name (its folder's).
    pub name: &'a str,
    /// What model and data it trains, in words (the recipe's architecture; the data set and split).
    pub arch: &'a str,
    pub data: &'a str,
    pub run_dir: &'a Path,
    pub device: &'a Device,
    /// The device's name as a user writes it (`cpu`, `cuda:0`).
    pub device_name: &'a str,
    pub seed: u64,
    /// The run's last epoch.
    pub epochs: usize,
    /// Write a checkpoint every N epochs (and after the last).
    pub checkpoint_every: usize,
    /// Files every checkpoint keeps besides the weights (name, text): a recipe run's `recipe.toml`.
    pub files: &'a [(String, String)],
    /// Epoch the run starts after (0 for a new run; the checkpoint's epoch when resuming).
    pub start_epoch: usize,
    pub steps_per_epoch: usize,
    pub train_examples: usize,
    /// What the start did that a user should be told: a damaged checkpoint skipped when
    /// resuming, an earlier run kept under another name.
    pub notices: &'a [String],
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
    /// The perturbation bank's figures over the epoch (absent without a bank).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<crate::pool::BankEpoch>,
    /// Each layer's upper Lipschitz bound (its affine map's largest singular value) at the epoch's end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lipschitz: Vec<f64>,
    /// The network's bound: the product of the layers' bounds and their nonlinearities' and pooling's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lipschitz_network: Option<f64>,
}

/// The trainer's state at an epoch's end: what a checkpoint holds.
pub struct TrainState<'a, M> {
    /// The weights the optimizer moves.
    pub model: &'a M,
    /// Their running average (`train.ema`), an inference copy: what the run measures and checkpoints
    /// as its model.
    pub averaged: Option<&'a M>,
    pub optimizer: &'a ModuleOptimizer,
    pub epoch: usize,
    pub step: u64,
    pub history: &'a [EpochMetrics],
    /// The adversarial pools (empty without them).
    pub pools: &'a [crate::pool::Pool],
}

/// Called by the training loop at run start and end, epoch start and end, and after each optimizer
/// step, for a model of type `M`. Every method has an empty default, so a hook implements only what
/// it needs; a hook that does not look at the model implements `Hook<M>` for every `M`.
pub trait Hook<M> {
    /// A short name used when the hook fails.
    fn name(&self) -> &str;

    fn on_run_start(&mut self, _run: &RunInfo) -> Result<(), HookError> {
        Ok(())
    }

    fn on_epoch_start(&mut self, _run: &RunInfo, _epoch: usize) -> Result<(), HookError> {
        Ok(())
    }

    fn on_step_end(&mut self, _run: &RunInfo, _step: &StepInfo, _model: &M) -> Result<(), HookError> {
        Ok(())
    }

    /// After an epoch's figures are measured, before the other hooks see them: a hook that
    /// measures something of its own (the Lipschitz bounds) adds it to `metrics` here. `model` is
    /// the inference copy.
    fn measure(&mut self, _run: &RunInfo, _model: &M, _metrics: &mut EpochMetrics) -> Result<(), HookError> {
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        _run: &RunInfo,
        _state: &TrainState<M>,
        _metrics: &EpochMetrics,
    ) -> Result<(), HookError> {
        Ok(())
    }

    /// After the last epoch; `summary` holds the final figures.
    fn on_run_end(&mut self, _run: &RunInfo, _state: &TrainState<M>, _summary: &RunSummary) -> Result<(), HookError> {
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
