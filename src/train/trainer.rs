//! The training loop: epochs of shuffled mini-batches, cross-entropy plus the paper's weight decay
//! (and the Lipschitz penalty when the recipe has one),
//! one optimizer step per batch, hooks after every step and epoch. Written on burn's optimizers
//! rather than burn-train's Learner: the adversarial pools need to build each batch themselves and
//! to join the step's forward pass at their layer, and the Learner has no hooks (see README).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use super::checkpoint::{self, Checkpoint, RECIPE_FILE};
use super::evaluate::{error_rate, wrong};
use super::hook::{EpochMetrics, Hook, RunInfo, RunSummary, StepInfo, TrainState};
use super::publisher::SnapshotPublisher;
use super::{optimizer, pretrain};
use crate::backend::{self, CpuThreadLimit, DeviceChoice};
use crate::bounds::{self, Lanczos, LipschitzPenalty};
use crate::data::{Batch, DeviceImages, Splits, shuffled_batches};
use crate::model::{Stack, cross_entropy};
use crate::pool::{AdversarialLoader, LayerBatch, SnapshotCell};
use crate::recipe::{self, Recipe};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::Error),
    #[error("{hook} hook failed: {message}")]
    Hook { hook: String, message: String },
    #[error("{path}: cannot prepare the run folder: {reason}")]
    RunDir { path: PathBuf, reason: String },
    #[error(
        "{path}: the checkpoint was made by a different recipe ({key} differs); train without --resume to start over"
    )]
    RecipeChanged { path: PathBuf, key: String },
    #[error("the training split is empty (data.subset / data.validation leave no image)")]
    NoTrainingData,
    #[error("adversarial pools: {0}")]
    Pool(#[from] crate::pool::Error),
    #[error("model.arch: {0} does not fit {1}x{2} images")]
    Arch(String, usize, usize),
}

/// How to run a recipe.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub device: DeviceChoice,
    /// Continue from the run folder's latest checkpoint (a fresh run if it has none).
    pub resume: bool,
}

/// The run folder of `recipe`: `<output.dir>/<name>`.
pub fn run_dir(recipe: &Recipe) -> PathBuf {
    recipe.output.dir.join(&recipe.name)
}

/// A seed for epoch `epoch` of a run seeded `seed` (SplitMix64 of the pair).
pub fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    let mut z = seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn hook_error(hook: &dyn Hook) -> impl FnOnce(super::hook::HookError) -> Error + '_ {
    move |e| Error::Hook { hook: hook.name().to_string(), message: e.to_string() }
}

/// What one optimizer step gives back.
pub struct StepOutput {
    pub model: Stack,
    /// The batch's loss (cross-entropy plus weight decay), detached, without autodiff.
    pub loss: Tensor<1>,
    /// The logits the loss was computed from, detached, without autodiff.
    pub logits: Tensor<2>,
}

/// What regularises a step besides the cross-entropy: terms added to the loss, and the max-norm
/// constraint applied to the weights after the update.
#[derive(Default)]
pub struct Regularizers<'a> {
    /// The paper's weight decay `λ/N · Σ w²` (λ; 0: none).
    pub weight_decay: f64,
    /// The Lipschitz-bound penalty, if the recipe has one and it applies at this step
    /// (`LipschitzPenalty::if_due`).
    pub lipschitz: Option<&'a mut LipschitzPenalty>,
    /// Each unit's incoming weights are scaled back to this L2 norm after the update (`Stack::with_max_norm`).
    pub max_norm: Option<f64>,
}

/// One optimizer step on `batch` and the pool examples `adversarial`: the mean cross-entropy over
/// all of them (a layer-k pool example joins the pass at layer k, `Stack::forward_joined`, so it
/// trains the layers above k) plus the regularizers, backward, update. `model` must live on an
/// autodiff device. The returned logits are the clean batch's.
pub fn train_step(
    model: Stack,
    optim: &mut ModuleOptimizer,
    batch: Batch,
    adversarial: &[LayerBatch],
    learning_rate: f64,
    regularizers: Regularizers,
) -> StepOutput {
    let batch = batch.autodiff();
    let clean = batch.len();
    // The clean rows and every pool's rows (each entering at its layer) go through one pass; the
    // loss is their mean, so each example weighs the same.
    let mut entries = vec![(0, batch.inputs)];
    let mut labels = vec![batch.labels];
    let mut order: Vec<&LayerBatch> = adversarial.iter().collect();
    order.sort_by_key(|pool| pool.layer);
    for pool in order {
        entries.push((pool.layer, pool.inputs.clone().autodiff()));
        labels.push(pool.labels.clone().autodiff());
    }
    let all_logits = model.forward_joined(entries);
    let labels = if labels.len() == 1 { labels.pop().expect("one") } else { Tensor::cat(labels, 0) };
    let mut loss = cross_entropy(all_logits.clone(), labels);
    let logits = if adversarial.is_empty() { all_logits } else { all_logits.narrow(0, 0, clean) };
    if regularizers.weight_decay > 0.0 {
        loss = loss + model.weight_decay(regularizers.weight_decay);
    }
    if let Some(penalty) = regularizers.lipschitz {
        loss = loss + penalty.penalty(&model);
    }
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let mut model = optim.step(learning_rate, model, grads);
    if let Some(limit) = regularizers.max_norm {
        model = model.with_max_norm(limit);
    }
    StepOutput { model, loss: loss.detach().inner(), logits: logits.detach().inner() }
}

/// Trains `recipe` on `splits` on `device`, calling `hooks` in order; returns the final figures.
pub fn train(
    recipe: &Recipe,
    splits: &Splits,
    device: &Device,
    options: &TrainOptions,
    hooks: &mut [Box<dyn Hook>],
) -> Result<RunSummary, Error> {
    let run_dir = run_dir(recipe);
    let train = match recipe.data.subset {
        0 => splits.train.clone(),
        n => splits.train.head(n),
    };
    if train.is_empty() {
        return Err(Error::NoTrainingData);
    }
    let test = match recipe.data.test_subset {
        0 => splits.test.clone(),
        n => splits.test.head(n),
    };
    let spec = recipe::model_spec(recipe, [1, train.rows, train.cols], 10)
        .filter(|s| s.inputs() == train.pixels_per_image())
        .ok_or_else(|| Error::Arch(recipe.model.arch.clone(), train.rows, train.cols))?;

    let ad = device.clone().autodiff();
    device.seed(recipe.seed);
    let mut model: Stack = spec.init(&ad);
    let mut optim = optimizer::build(&recipe.optimizer);
    let train_set = DeviceImages::new(&train, device);
    let test_set = DeviceImages::new(&test, device);
    let validation_set = splits.validation.as_ref().map(|v| DeviceImages::new(v, device));

    let resumed = if options.resume { Checkpoint::latest(&run_dir)? } else { None };
    let (start_epoch, mut step, mut history) = match resumed {
        Some(ckpt) => {
            check_same_recipe(&ckpt, recipe)?;
            model = ckpt.model(&spec, &ad)?;
            optim = ckpt.optimizer(optim)?;
            (ckpt.state.epoch, ckpt.state.step, ckpt.state.history)
        }
        None => {
            start_fresh(&run_dir, recipe)?;
            if let Some(p) = &recipe.pretrain {
                model = pretrain::pretrain(model, &train_set, recipe, p, &ad);
            }
            (0, 0, Vec::new())
        }
    };

    let batch_size = recipe.train.batch_size;
    let steps_per_epoch = train.len().div_ceil(batch_size);
    let total_steps = (recipe.train.epochs * steps_per_epoch) as u64;
    let info = RunInfo { recipe, run_dir: &run_dir, device, start_epoch, steps_per_epoch, train_examples: train.len() };
    for hook in hooks.iter_mut() {
        hook.on_run_start(&info).map_err(hook_error(hook.as_ref()))?;
    }
    let inner = device.clone().without_autodiff();
    let mut train_seconds = Vec::new();
    // Adversarial pools: a snapshot of the model now, the publisher hook, the loader and its
    // attackers. Pools are not checkpointed: a resumed run regenerates them.
    let warmup = recipe.adversarial.as_ref().map_or(0, |a| a.warmup_epochs);
    // Attacker threads on the CPU take cores that this thread's libtorch (OpenMP) team would
    // otherwise spin-wait for, slowing every step several times over: keep the remaining cores.
    let _threads = recipe
        .adversarial
        .as_ref()
        .filter(|a| a.attackers > 0 && a.attacker_device.unwrap_or(options.device) == DeviceChoice::Cpu)
        .map(|a| CpuThreadLimit::new(backend::cpu_threads().saturating_sub(a.attackers)));
    let mut pools = recipe.adversarial.as_ref().map(|section| {
        let cell = Arc::new(SnapshotCell::default());
        cell.publish(&model, step);
        let widths: Vec<usize> =
            section.layers.iter().map(|&k| if k == 0 { spec.inputs() } else { spec.layers[k - 1].outputs() }).collect();
        let loader = AdversarialLoader::new(
            section,
            Arc::new(train.clone()),
            &widths,
            cell.clone(),
            epoch_seed(recipe.seed ^ 0xAD7, start_epoch),
            device,
        );
        (loader, SnapshotPublisher { cell, every: section.snapshot_every as u64 })
    });
    // The Lipschitz penalty's power-iteration vectors start afresh on a resumed run (they converge
    // within a few steps).
    let mut lipschitz = recipe.lipschitz.as_ref().map(|section| LipschitzPenalty::new(&spec, section, &inner));
    for epoch in start_epoch + 1..=recipe.train.epochs {
        for hook in hooks.iter_mut() {
            hook.on_epoch_start(&info, epoch).map_err(hook_error(hook.as_ref()))?;
        }
        let seed = epoch_seed(recipe.seed, epoch);
        device.seed(seed);
        let started = Instant::now();
        let mut loss_sum = Tensor::<1>::zeros([1], &inner);
        let mut wrong_sum = Tensor::<1, Int>::zeros([1], &inner);
        let mut learning_rate = 0.0;
        for (b, indices) in shuffled_batches(train.len(), batch_size, seed).iter().enumerate() {
            learning_rate = optimizer::learning_rate(&recipe.optimizer, step, total_steps);
            let batch = train_set.batch(indices);
            let labels = batch.labels.clone();
            let adversarial = match &mut pools {
                Some((loader, _)) => loader.draw(step, indices.len(), epoch > warmup)?,
                None => Vec::new(),
            };
            let regularizers = Regularizers {
                weight_decay: recipe.train.weight_decay,
                max_norm: recipe.train.max_norm,
                lipschitz: lipschitz.as_mut().and_then(|penalty| penalty.if_due(step)),
            };
            let out = train_step(model, &mut optim, batch, &adversarial, learning_rate, regularizers);
            model = out.model;
            step += 1;
            let loss = out.loss;
            loss_sum = loss_sum + loss.clone().mul_scalar(indices.len() as f64);
            wrong_sum = wrong_sum + wrong(out.logits, labels);
            let info_step = StepInfo { epoch, step, batch: b, examples: indices.len(), learning_rate, loss: &loss };
            for hook in hooks.iter_mut() {
                hook.on_step_end(&info, &info_step, &model).map_err(hook_error(hook.as_ref()))?;
            }
            if let Some((_, publisher)) = &mut pools {
                publisher.on_step_end(&info, &info_step, &model).map_err(hook_error(publisher))?;
            }
        }
        // Reading the sums waits for the device, so the time below is the epoch's real time.
        let train_loss = loss_sum.into_scalar::<f32>() as f64 / train.len() as f64;
        let train_error = wrong_sum.into_scalar::<i64>() as f64 / train.len() as f64;
        let seconds = started.elapsed().as_secs_f64();
        train_seconds.push(seconds);
        let valid = model.valid();
        let bounds = bounds::network_bounds(&spec, &valid, &[], &Lanczos::default());
        let metrics = EpochMetrics {
            epoch,
            step,
            train_loss,
            train_error,
            test_error: error_rate(&valid, &test_set),
            validation_error: validation_set.as_ref().map(|v| error_rate(&valid, v)),
            learning_rate,
            seconds,
            examples_per_second: train.len() as f64 / seconds,
            pools: pools.as_mut().map(|(loader, _)| loader.epoch_stats(step)).unwrap_or_default(),
            lipschitz: bounds.as_ref().map(|b| b.layers.iter().map(|l| l.bound).collect()).unwrap_or_default(),
            lipschitz_network: bounds.as_ref().ok().and_then(|b| b.network),
        };
        history.push(metrics.clone());
        let pool_images = pools.as_mut().map(|(loader, _)| loader.sample_inputs(16)).unwrap_or_default();
        let state =
            TrainState { model: &model, optimizer: &optim, epoch, step, history: &history, pool_images: &pool_images };
        for hook in hooks.iter_mut() {
            hook.on_epoch_end(&info, &state, &metrics).map_err(hook_error(hook.as_ref()))?;
        }
    }

    let valid = model.valid();
    let last = history.last();
    let summary = RunSummary {
        run: recipe.name.clone(),
        arch: recipe.model.arch.clone(),
        device: options.device.to_string(),
        epochs: recipe.train.epochs,
        steps: step,
        train_error: error_rate(&valid, &train_set),
        test_error: last.map_or_else(|| error_rate(&valid, &test_set), |m| m.test_error),
        validation_error: last.and_then(|m| m.validation_error),
        seconds_per_epoch: if train_seconds.is_empty() {
            0.0
        } else {
            train_seconds.iter().sum::<f64>() / train_seconds.len() as f64
        },
        history: history.clone(),
    };
    let state = TrainState {
        model: &model,
        optimizer: &optim,
        epoch: recipe.train.epochs,
        step,
        history: &history,
        pool_images: &[],
    };
    for hook in hooks.iter_mut() {
        hook.on_run_end(&info, &state, &summary).map_err(hook_error(hook.as_ref()))?;
    }
    Ok(summary)
}

/// Empties the run folder of an earlier run of the same name and writes the resolved recipe.
fn start_fresh(run_dir: &Path, recipe: &Recipe) -> Result<(), Error> {
    let fail = |e: std::io::Error| Error::RunDir { path: run_dir.to_path_buf(), reason: e.to_string() };
    if run_dir.exists() {
        std::fs::remove_dir_all(run_dir).map_err(fail)?;
    }
    std::fs::create_dir_all(run_dir).map_err(fail)?;
    checkpoint::write_atomic(&run_dir.join(RECIPE_FILE), recipe::to_toml(recipe).as_bytes())?;
    Ok(())
}

/// A resumed run must be the run the checkpoint belongs to (the device may differ).
fn check_same_recipe(ckpt: &Checkpoint, recipe: &Recipe) -> Result<(), Error> {
    let saved =
        toml::Value::try_from(&Recipe { device: recipe.device, ..ckpt.recipe.clone() }).expect("recipes serialise");
    let now = toml::Value::try_from(recipe).expect("recipes serialise");
    match first_difference(&saved, &now, "") {
        None => Ok(()),
        Some(key) => Err(Error::RecipeChanged { path: ckpt.dir.clone(), key }),
    }
}

fn first_difference(a: &toml::Value, b: &toml::Value, prefix: &str) -> Option<String> {
    match (a, b) {
        (toml::Value::Table(x), toml::Value::Table(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => first_difference(u, v, &key),
                    _ => Some(key),
                }
            })
        }
        _ if a == b => None,
        _ => Some(prefix.to_string()),
    }
}
