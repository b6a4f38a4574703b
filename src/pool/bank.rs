//! The perturbation bank: one stored perturbation per training image (host memory), the step it
//! was last renewed at, and its size. A batch's images take their perturbations from the bank
//! (uniform noise in the ball for an image not yet banked), renew them with signed-gradient steps on
//! the current weights, train on the renewed examples, and write them back. The bank owns its
//! schedule (the radius's ramp, resets); the trainer only hands it each batch and the step's logits.

use std::collections::VecDeque;
use std::sync::Arc;

use burn::prelude::*;
use parking_lot::RwLock;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::bank_attacker::BankAttackers;
use super::bank_config::BankConfig;
use super::snapshot::{PoolModel, SnapshotCell};
use crate::attack::{Goal, PgdConfig, Surface, descent_step};
use crate::config::Invalid;
use crate::data::{Batch, Images};
use crate::model::{Layered, wrong};

/// A slot never written, or emptied by a reset.
pub(super) const EMPTY: u64 = u64::MAX;

/// The bank's figures over one epoch: the signal that says whether the stored perturbations still
/// hurt the current weights.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BankEpoch {
    /// Images with a banked perturbation at the epoch's end, of `capacity` (the training images).
    pub fill: usize,
    pub capacity: usize,
    /// Rows trained on banked adversarial examples this epoch.
    pub used: u64,
    /// Of those, rows whose image had no perturbation yet (started from noise).
    pub started: u64,
    /// Share of the rows drawn that the current weights misclassify as the bank held them (before
    /// renewing; freshly started rows included) and as renewed (what the step trained on).
    pub wrong_before: f64,
    pub wrong_after: f64,
    /// Steps since the drawn perturbations were last renewed (banked rows only).
    pub mean_age: f64,
    pub max_age: u64,
    /// Mean over banked perturbations of `sqrt(mean(r²))`, the paper's distortion.
    pub mean_distortion: f64,
    /// Whether every perturbation started again from noise at this epoch's start (`reset_every`).
    pub reset: bool,
    /// Perturbations the attacker threads deepened on a snapshot and wrote back (those the trainer
    /// renewed meanwhile are left as the trainer made them), of those they attacked.
    #[serde(default)]
    pub deepened: u64,
    #[serde(default)]
    pub attacked: u64,
    /// Perturbations attacked per second of attacker time.
    #[serde(default)]
    pub attack_examples_per_second: f64,
}

/// Renewed rows on their way back into their slots (read back one draw later, so no step waits on
/// the device for them).
struct Pending {
    slots: Vec<usize>,
    delta: Tensor<2>,
    version: u64,
}

/// The epoch's tallies; the misclassification counts stay on the device until the epoch's end.
#[derive(Default)]
struct Tally {
    used: u64,
    started: u64,
    age_sum: u64,
    age_max: u64,
    aged: u64,
    wrong_before: Option<Tensor<1, Int>>,
    wrong_after: Option<Tensor<1, Int>>,
    reset: bool,
    attacked: u64,
    deepened: u64,
    attack_seconds: f64,
}

impl Tally {
    fn add(sum: &mut Option<Tensor<1, Int>>, count: Tensor<1, Int>) {
        *sum = Some(match sum.take() {
            Some(s) => s + count,
            None => count,
        });
    }
}

/// The banked perturbations, shared with the attacker threads that deepen them.
pub(super) struct Store {
    pub(super) width: usize,
    pub(super) rows: Vec<f32>,
    /// The step each perturbation was last renewed at, or the version of the snapshot an attacker
    /// deepened it on ([`EMPTY`]: none yet).
    pub(super) versions: Vec<u64>,
    distortions: Vec<f32>,
}

impl Store {
    pub(super) fn row(&self, i: usize) -> &[f32] {
        &self.rows[i * self.width..(i + 1) * self.width]
    }

    pub(super) fn is_banked(&self, i: usize) -> bool {
        self.versions[i] != EMPTY
    }

    /// Writes `values` (one row per slot) into `slots`, made at `version`.
    pub(super) fn write(&mut self, slots: &[usize], values: &[f32], version: u64) {
        let w = self.width;
        for (&i, row) in slots.iter().zip(values.chunks_exact(w)) {
            self.rows[i * w..(i + 1) * w].copy_from_slice(row);
            self.versions[i] = version;
            self.distortions[i] = (row.iter().map(|v| v * v).sum::<f32>() / w as f32).sqrt();
        }
    }
}

pub struct Bank {
    config: BankConfig,
    width: usize,
    steps_per_epoch: usize,
    store: Arc<RwLock<Store>>,
    attackers: Option<BankAttackers>,
    rng: StdRng,
    pending: VecDeque<Pending>,
    /// The last batch's adversarial rows and their labels, until the step's logits arrive.
    last: Option<(usize, Tensor<1, Int>)>,
    epoch: usize,
    tally: Tally,
}

impl Bank {
    /// An empty bank for `examples` training images of `width` values each, in a run of `epochs`
    /// epochs of `steps_per_epoch` steps. Checks the config.
    pub fn new(
        config: &BankConfig,
        examples: usize,
        width: usize,
        epochs: usize,
        steps_per_epoch: usize,
        seed: u64,
    ) -> Result<Bank, Invalid> {
        config.check(epochs)?;
        Ok(Bank {
            config: config.clone(),
            width,
            steps_per_epoch,
            store: Arc::new(RwLock::new(Store {
                width,
                rows: vec![0.0; examples * width],
                versions: vec![EMPTY; examples],
                distortions: vec![0.0; examples],
            })),
            attackers: None,
            rng: StdRng::seed_from_u64(seed),
            pending: VecDeque::new(),
            last: None,
            epoch: 0,
            tally: Tally::default(),
        })
    }

    /// Starts the config's attacker threads: each takes the newest snapshot in `snapshots`, picks
    /// banked perturbations of `train`'s images and deepens them by PGD from where they are.
    pub fn start_attackers<M: PoolModel>(
        &mut self,
        train: Arc<Images>,
        snapshots: Arc<SnapshotCell<M>>,
        seed: u64,
    ) -> Result<(), super::Error> {
        if self.config.attackers > 0 {
            let shared = (self.store.clone(), train, snapshots);
            self.attackers = Some(BankAttackers::spawn(&self.config, self.steps_per_epoch, shared, seed)?);
        }
        Ok(())
    }

    /// What the step at `step` (steps done so far) of epoch `epoch` trains on: `batch` (the
    /// training images at `indices`) with its first `ratio` share of rows replaced by their banked
    /// perturbations renewed on the model `current` makes (an inference copy: `model.valid()`).
    /// Nothing is read back from the device but rows renewed at an earlier draw.
    pub fn batch<V: Layered>(
        &mut self,
        epoch: usize,
        step: u64,
        indices: &[usize],
        batch: Batch,
        current: impl FnOnce() -> V,
    ) -> Result<Batch, super::Error> {
        if let Some(failure) = self.attackers.as_ref().and_then(|a| a.failures.try_recv().ok()) {
            return Err(super::Error::Attacker(failure));
        }
        self.start_epoch(epoch);
        self.write_back(1);
        let n = batch.len();
        let k = ((self.config.ratio * n as f64).round() as usize).clamp(1, n);
        let slots = &indices[..k];
        let epsilon = self.config.epsilon_at(step, self.steps_per_epoch);
        let delta = self.gather(slots, epsilon, step);
        let device = batch.inputs.device();
        let model = current();
        let surface = Surface::new(&model, 0).expect("every model has layer 0");
        let attack =
            PgdConfig { epsilon, step_size: self.config.step(), steps: self.config.steps, ..PgdConfig::default() };
        let center = batch.inputs.clone().narrow(0, 0, k);
        let labels = batch.labels.clone().narrow(0, 0, k);
        let delta = Tensor::<2>::from_data(TensorData::new(delta, [k, self.width]), &device);
        let mut z = crate::attack::project(&surface, &center, center.clone() + delta, &attack);
        let goal = Goal { labels: labels.clone(), targets: None };
        for i in 0..self.config.steps {
            let (next, logits) = descent_step(&surface, &center, z, &attack, |logits| goal.loss(logits));
            if i == 0 {
                Tally::add(&mut self.tally.wrong_before, wrong(logits, labels.clone()));
            }
            z = next;
        }
        self.pending.push_back(Pending { slots: slots.to_vec(), delta: z.clone() - center, version: step });
        self.last = Some((k, labels));
        self.tally.used += k as u64;
        let inputs = if k == n { z } else { Tensor::cat(vec![z, batch.inputs.narrow(0, k, n - k)], 0) };
        Ok(Batch { inputs, labels: batch.labels })
    }

    /// The logits the step computed for the batch [`Bank::batch`] gave (its rows in order): counts
    /// the renewed rows the weights got wrong.
    pub fn trained(&mut self, logits: Tensor<2>) {
        if let Some((k, labels)) = self.last.take() {
            Tally::add(&mut self.tally.wrong_after, wrong(logits.narrow(0, 0, k), labels));
        }
    }

    /// The figures of the epoch since the last call; writes every renewed row back first.
    pub fn epoch_stats(&mut self) -> BankEpoch {
        self.write_back(0);
        let t = std::mem::take(&mut self.tally);
        let share =
            |sum: Option<Tensor<1, Int>>| sum.map_or(0.0, |s| s.into_scalar::<i64>() as f64) / t.used.max(1) as f64;
        let store = self.store.read();
        let banked: Vec<usize> = (0..store.versions.len()).filter(|&i| store.is_banked(i)).collect();
        BankEpoch {
            fill: banked.len(),
            capacity: store.versions.len(),
            used: t.used,
            started: t.started,
            wrong_before: share(t.wrong_before),
            wrong_after: share(t.wrong_after),
            mean_age: t.age_sum as f64 / t.aged.max(1) as f64,
            max_age: t.age_max,
            mean_distortion: banked.iter().map(|&i| store.distortions[i] as f64).sum::<f64>()
                / banked.len().max(1) as f64,
            reset: t.reset,
            deepened: t.deepened,
            attacked: t.attacked,
            attack_examples_per_second: if t.attack_seconds > 0.0 { t.attacked as f64 / t.attack_seconds } else { 0.0 },
        }
    }

    /// The banked perturbation of training image `i` (`None`: not banked yet).
    pub fn perturbation(&self, i: usize) -> Option<Vec<f32>> {
        let store = self.store.read();
        store.is_banked(i).then(|| store.row(i).to_vec())
    }

    /// The step training image `i`'s perturbation was last renewed at (or the snapshot version an
    /// attacker deepened it on).
    pub fn version(&self, i: usize) -> Option<u64> {
        let store = self.store.read();
        store.is_banked(i).then(|| store.versions[i])
    }

    /// At a new epoch: empties the bank when a reset is due.
    fn start_epoch(&mut self, epoch: usize) {
        if epoch == self.epoch {
            return;
        }
        self.epoch = epoch;
        let every = self.config.reset_every;
        if every > 0 && epoch > 1 && (epoch - 1).is_multiple_of(every) {
            self.write_back(0);
            self.store.write().versions.fill(EMPTY);
            self.tally.reset = true;
        }
    }

    /// The perturbations of `slots` (`slots.len() * width` values): banked ones as stored, the
    /// others uniform noise in the ball of radius `epsilon`.
    fn gather(&mut self, slots: &[usize], epsilon: f64, step: u64) -> Vec<f32> {
        let w = self.width;
        let mut out = Vec::with_capacity(slots.len() * w);
        let store = self.store.read();
        for &i in slots {
            match store.versions[i] {
                EMPTY => {
                    self.tally.started += 1;
                    let e = epsilon as f32;
                    out.extend((0..w).map(|_| self.rng.random_range(-e..=e)));
                }
                version => {
                    let age = step.saturating_sub(version);
                    (self.tally.age_sum, self.tally.aged) = (self.tally.age_sum + age, self.tally.aged + 1);
                    self.tally.age_max = self.tally.age_max.max(age);
                    out.extend_from_slice(store.row(i));
                }
            }
        }
        out
    }

    /// Writes renewed rows back into their slots, keeping the newest `keep` batches pending; then
    /// what the attackers deepened, where the trainer has not renewed it since they read it.
    fn write_back(&mut self, keep: usize) {
        while self.pending.len() > keep {
            let Pending { slots, delta, version } = self.pending.pop_front().expect("longer than keep");
            let values: Vec<f32> = delta.into_data().iter::<f32>().collect();
            self.store.write().write(&slots, &values, version);
        }
        let Some(attackers) = &self.attackers else { return };
        for d in attackers.deliveries.try_iter() {
            self.tally.attacked += d.slots.len() as u64;
            self.tally.attack_seconds += d.seconds;
            let mut store = self.store.write();
            let w = self.width;
            let (mut slots, mut values) = (Vec::new(), Vec::new());
            for ((&i, &read), row) in d.slots.iter().zip(&d.read_versions).zip(d.rows.chunks_exact(w)) {
                if store.versions[i] == read {
                    slots.push(i);
                    values.extend_from_slice(row);
                }
            }
            store.write(&slots, &values, d.version);
            self.tally.deepened += slots.len() as u64;
        }
    }
}
