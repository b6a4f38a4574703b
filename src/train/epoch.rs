//! One epoch of a running trainer (its batches' steps, with fresh and pooled adversarial rows,
//! then its figures and the epoch-end hooks) and the run's end (final figures, run-end hooks).

use std::time::Instant;

use burn::optim::ModuleOptimizer;
use burn::prelude::*;

use super::average::WeightAverage;
use super::certified::CertifiedLoss;
use super::evaluate::error_rate;
use super::hook::{EpochMetrics, Hook, HookError, RunInfo, RunSummary, StepInfo, TrainState};
use super::optimizer;
use super::step::{Regularizers, train_step_split};
use super::trainer::{Error, Trained, Trainer, epoch_seed};
use crate::bounds::LipschitzPenalty;
use crate::data::{DeviceImages, shuffled_batches};
use crate::model::wrong;
use crate::pool::{AdversarialLoader, Bank, PoolModel};

/// The device sets of a run.
pub(super) struct Sets {
    pub(super) train: DeviceImages,
    pub(super) test: DeviceImages,
    pub(super) validation: Option<DeviceImages>,
}

/// What changes as a run goes on.
pub(super) struct State<M> {
    pub(super) model: M,
    pub(super) optim: ModuleOptimizer,
    pub(super) epoch: usize,
    pub(super) step: u64,
    pub(super) history: Vec<EpochMetrics>,
    /// The weights' running average (`train.ema`): what the run measures and checkpoints.
    pub(super) averaged: Option<WeightAverage<M>>,
    /// This process's epochs' training seconds.
    pub(super) train_seconds: Vec<f64>,
}

impl<M: PoolModel> State<M> {
    /// The weights the run measures: their average where it keeps one, as an inference copy.
    fn measured(&self) -> M {
        self.averaged.as_ref().map_or_else(|| self.model.valid(), |a| a.model().clone())
    }
}

/// A running trainer's fixed parts.
pub(super) struct Loop<'a, M> {
    pub(super) trainer: &'a Trainer<M>,
    pub(super) info: &'a RunInfo<'a>,
    pub(super) sets: &'a Sets,
    pub(super) hooks: &'a mut Vec<Box<dyn Hook<M>>>,
    pub(super) device: &'a Device,
    /// The devices each step's batch is split across (empty: `device` alone).
    pub(super) devices: &'a [Device],
}

impl<M: PoolModel> Loop<'_, M> {
    /// One epoch: its batches' steps, then its figures and the epoch-end hooks.
    pub(super) fn epoch(
        &mut self,
        mut state: State<M>,
        epoch: usize,
        mut loader: Option<&mut AdversarialLoader<M>>,
        mut bank: Option<&mut Bank>,
        mut penalty: Option<&mut LipschitzPenalty>,
        mut certified: Option<&mut CertifiedLoss>,
    ) -> Result<State<M>, Error> {
        let (info, t) = (self.info, self.trainer);
        for hook in self.hooks.iter_mut() {
            hook.on_epoch_start(info, epoch).map_err(hook_error(hook.as_ref()))?;
        }
        let seed = epoch_seed(t.seed, epoch);
        self.device.seed(seed);
        let started = Instant::now();
        let mut loss_sum = Tensor::<1>::zeros([1], self.device);
        let mut wrong_sum = Tensor::<1, Int>::zeros([1], self.device);
        let mut watch = NonFiniteWatch::new(self.device);
        let mut learning_rate = 0.0;
        let total_steps = (t.train.epochs * info.steps_per_epoch) as u64;
        for (b, indices) in shuffled_batches(info.train_examples, t.train.batch_size, seed).iter().enumerate() {
            learning_rate = optimizer::learning_rate(&t.optimizer, state.step, total_steps);
            let mut batch = self.sets.train.batch(indices);
            let mut trades = None;
            if let Some(fresh) = &t.fresh {
                let epsilon = fresh.epsilon_at(state.step, info.steps_per_epoch);
                (batch, trades) = fresh.apply(&state.model.valid(), batch, epsilon)?;
            }
            if let Some(bank) = bank.as_deref_mut() {
                batch = bank.batch(epoch, state.step, indices, batch, || state.model.valid())?;
            }
            let labels = batch.labels.clone();
            let adversarial = match loader.as_deref_mut() {
                Some(loader) => loader.rows(epoch, state.step, indices.len(), || state.model.valid())?,
                None => Vec::new(),
            };
            let regularizers = Regularizers {
                weight_decay: t.train.weight_decay,
                max_norm: t.train.max_norm,
                lipschitz: penalty.as_deref_mut().and_then(|p| p.if_due(state.step)),
                trades,
                certified: certified.as_deref_mut().and_then(|c| c.at(state.step)),
            };
            let out = train_step_split(
                state.model,
                &mut state.optim,
                batch,
                &adversarial,
                learning_rate,
                regularizers,
                self.devices,
            )?;
            state.model = out.model;
            state.step += 1;
            if let Some(average) = state.averaged.as_mut() {
                average.update(&state.model.valid());
            }
            if let Some(bank) = bank.as_deref_mut() {
                bank.trained(out.logits.clone());
            }
            watch.record(state.step, &out.loss, out.terms);
            loss_sum = loss_sum + out.loss.clone().mul_scalar(indices.len() as f64);
            wrong_sum = wrong_sum + wrong(out.logits, labels);
            let step =
                StepInfo { epoch, step: state.step, batch: b, examples: indices.len(), learning_rate, loss: &out.loss };
            for hook in self.hooks.iter_mut() {
                hook.on_step_end(info, &step, &state.model).map_err(hook_error(hook.as_ref()))?;
            }
            if let Some(signal) = super::interrupt::pending() {
                return Err(Error::Interrupted { signal, epoch, step: state.step });
            }
        }
        // Reading the sums waits for the device, so the time below is the epoch's real time.
        let n = info.train_examples as f64;
        if let Some((step, term)) = watch.first() {
            return Err(Error::NotFinite { epoch, step, term });
        }
        let (train_loss, train_error) =
            (loss_sum.into_scalar::<f32>() as f64 / n, wrong_sum.into_scalar::<i64>() as f64 / n);
        let seconds = started.elapsed().as_secs_f64();
        state.train_seconds.push(seconds);
        let valid = state.measured();
        let mut metrics = EpochMetrics {
            epoch,
            step: state.step,
            train_loss,
            train_error,
            test_error: error_rate(&valid, &self.sets.test),
            validation_error: self.sets.validation.as_ref().map(|v| error_rate(&valid, v)),
            learning_rate,
            seconds,
            examples_per_second: n / seconds,
            pools: loader.as_deref_mut().map(|l| l.epoch_stats(state.step)).unwrap_or_default(),
            bank: bank.map(Bank::epoch_stats),
            lipschitz: Vec::new(),
            lipschitz_network: None,
        };
        for hook in self.hooks.iter_mut() {
            hook.measure(info, &valid, &mut metrics).map_err(hook_error(hook.as_ref()))?;
        }
        state.history.push(metrics.clone());
        state.epoch = epoch;
        let view = TrainState {
            model: &state.model,
            optimizer: &state.optim,
            epoch,
            step: state.step,
            history: &state.history,
            pools: loader.map_or(&[], |l| l.pools()),
            averaged: state.averaged.as_ref().map(WeightAverage::model),
        };
        for hook in self.hooks.iter_mut() {
            hook.on_epoch_end(info, &view, &metrics).map_err(hook_error(hook.as_ref()))?;
        }
        Ok(state)
    }

    /// The run's final figures, and the run-end hooks.
    pub(super) fn finish(self, state: State<M>) -> Result<Trained<M>, Error> {
        let (t, info) = (self.trainer, self.info);
        let valid = state.measured();
        let last = state.history.last();
        let seconds = &state.train_seconds;
        let summary = RunSummary {
            run: t.name.clone(),
            arch: t.arch.clone(),
            device: info.device_name.to_string(),
            epochs: t.train.epochs,
            steps: state.step,
            train_error: error_rate(&valid, &self.sets.train),
            test_error: last.map_or_else(|| error_rate(&valid, &self.sets.test), |m| m.test_error),
            validation_error: last.and_then(|m| m.validation_error),
            seconds_per_epoch: if seconds.is_empty() {
                0.0
            } else {
                seconds.iter().sum::<f64>() / seconds.len() as f64
            },
            history: state.history.clone(),
        };
        let view = TrainState {
            model: &state.model,
            optimizer: &state.optim,
            epoch: t.train.epochs,
            step: state.step,
            history: &state.history,
            pools: &[],
            averaged: state.averaged.as_ref().map(WeightAverage::model),
        };
        for hook in self.hooks.iter_mut() {
            hook.on_run_end(info, &view, &summary).map_err(hook_error(hook.as_ref()))?;
        }
        Ok(Trained { model: state.model, averaged: state.averaged.map(WeightAverage::into_model), summary })
    }
}

/// The first step of an epoch whose loss is not finite, and its first such term, kept on the
/// device so that no step waits for it.
struct NonFiniteWatch {
    /// The step (0: none yet).
    first: Tensor<1>,
    /// Each term's value at that step (one term alone needs no record).
    terms: Vec<(&'static str, Tensor<1>)>,
    device: Device,
}

impl NonFiniteWatch {
    fn new(device: &Device) -> NonFiniteWatch {
        NonFiniteWatch { first: Tensor::zeros([1], device), terms: Vec::new(), device: device.clone() }
    }

    /// Step `step`'s loss and its named terms.
    fn record(&mut self, step: u64, loss: &Tensor<1>, terms: Vec<(&'static str, Tensor<1>)>) {
        let bad = loss.clone().is_finite().bool_not().bool_and(self.first.clone().equal_elem(0.0));
        self.first = self.first.clone().mask_fill(bad.clone(), step as f64);
        if terms.len() > 1 {
            self.terms.resize_with(terms.len(), || ("", Tensor::zeros([1], &self.device)));
            for ((name, kept), (term, value)) in self.terms.iter_mut().zip(terms) {
                *kept = kept.clone().mask_where(bad.clone(), value);
                *name = term;
            }
        }
    }

    /// The first non-finite step and its first non-finite term (the cross-entropy when the loss
    /// had no other); reading it waits for the device.
    fn first(self) -> Option<(u64, &'static str)> {
        let step = self.first.into_scalar::<f32>() as u64;
        (step > 0).then(|| {
            let term = self.terms.into_iter().find(|(_, value)| !value.clone().into_scalar::<f32>().is_finite());
            (step, term.map_or("cross-entropy", |(name, _)| name))
        })
    }
}

pub(super) fn hook_error<M>(hook: &dyn Hook<M>) -> impl FnOnce(HookError) -> Error + '_ {
    move |source| Error::Hook { hook: hook.name().to_string(), source }
}
