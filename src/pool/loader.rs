//! The adversarial data loader: keeps one pool per chosen layer, takes in what the attackers made
//! (or makes it itself when `attackers = 0`), drops entries older than `max_staleness` steps, and
//! for every clean mini-batch draws the pool examples that join it.

use std::sync::Arc;

use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::Error;
use super::attacker::{Attackers, Delivery, generate};
use super::config::{PoolConfig, PoolSchedule};
use super::snapshot::{PoolModel, SnapshotCell};
use super::store::Pool;
use crate::attack::{Goal, PgdConfig, Surface, descend, distortion};
use crate::data::{DeviceImages, Images};
use crate::model::{Layered, layered};

/// Pool examples of one layer for one step: activations of layer `layer` (inputs for layer 0).
pub struct LayerBatch {
    pub layer: usize,
    pub inputs: Tensor<2>,
    pub labels: Tensor<1, Int>,
    /// Staleness (steps between the snapshot an example was made from and its use) of each example.
    pub staleness: Vec<u64>,
}

/// One pool's figures over an epoch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PoolEpoch {
    pub layer: usize,
    pub fill: usize,
    pub capacity: usize,
    /// Mean of (step - version) over the entries at the epoch's end.
    pub mean_age: f64,
    /// Mean staleness of the examples used in the epoch's batches.
    pub mean_staleness: f64,
    pub max_staleness: u64,
    pub used: u64,
    /// Share of attacked examples the attack made the model get wrong.
    pub success_rate: f64,
    pub mean_distortion: f64,
    /// New entries per optimizer step.
    pub refresh_per_step: f64,
    /// Examples attacked per second of attacker time.
    pub attack_examples_per_second: f64,
    pub dropped_stale: u64,
    /// Examples renewed on the current weights before training on them (`refine_steps`).
    #[serde(default)]
    pub renewed: u64,
}

#[derive(Default, Clone)]
struct Tally {
    attempted: u64,
    succeeded: u64,
    written: u64,
    seconds: f64,
    used: u64,
    staleness_sum: u64,
    staleness_max: u64,
    dropped: u64,
    renewed: u64,
}

pub struct AdversarialLoader<M> {
    section: PoolConfig,
    pools: Vec<Pool>,
    tallies: Vec<Tally>,
    attackers: Option<Attackers>,
    snapshots: Arc<SnapshotCell<M>>,
    train: Arc<Images>,
    device: Device,
    /// Where attacks in the training thread run (`attackers = 0`): the snapshots' device.
    attack_device: Device,
    rng: StdRng,
    synced_version: Option<u64>,
    epoch_start_step: u64,
    /// Input-pool examples drawn for this step, to renew and put back (`refine_steps > 0`).
    renewal: Option<Renewal>,
}

/// Drawn input-pool examples on their way to being renewed and put back in their slots.
struct Renewal {
    pool: usize,
    slots: Vec<usize>,
    /// The training images they were made from.
    clean: Tensor<2>,
    /// Once renewed: the new rows and the step they were made at.
    renewed: Option<(Tensor<2>, u64)>,
}

impl<M: PoolModel> AdversarialLoader<M> {
    /// Pools for `section.layers` of `model` (the trainer's), fed from snapshots in `snapshots`;
    /// starts the attacker threads on `attacker_device` (the trainer's `device` when `None`).
    /// Checks the config, and its layers against the model.
    pub fn new(
        section: &PoolConfig,
        model: &M,
        train: Arc<Images>,
        snapshots: Arc<SnapshotCell<M>>,
        seed: u64,
        device: &Device,
        attacker_device: Option<&Device>,
    ) -> Result<AdversarialLoader<M>, Error> {
        section.check()?;
        let depth = model.depth();
        section.check_layers(depth)?;
        let model_device = model.devices().into_iter().next().unwrap_or_else(|| device.clone());
        let widths = section
            .layers
            .iter()
            .map(|&k| layered::width(model, k, train.pixels_per_image(), &model_device))
            .collect::<Result<Vec<_>, _>>()?;
        let attack_device = model_device.without_autodiff();
        let pools = section
            .layers
            .iter()
            .zip(widths)
            .map(|(&layer, width)| Pool::new(layer, width, section.pool_size, seed ^ (0x9001 + layer as u64)))
            .collect();
        let attackers = (section.attackers > 0)
            .then(|| Attackers::spawn(section, train.clone(), snapshots.clone(), seed, attacker_device))
            .transpose()?;
        Ok(AdversarialLoader {
            section: section.clone(),
            pools,
            tallies: vec![Tally::default(); section.layers.len()],
            attackers,
            snapshots,
            train,
            device: device.clone(),
            attack_device,
            rng: StdRng::seed_from_u64(seed ^ 0x10AD),
            synced_version: None,
            epoch_start_step: 0,
            renewal: None,
        })
    }

    fn take(&mut self, d: Delivery) {
        let Some(p) = self.pools.iter().position(|p| p.layer == d.layer) else { return };
        let t = &mut self.tallies[p];
        t.attempted += d.attempted as u64;
        t.succeeded += d.succeeded as u64;
        t.written += d.entries.len() as u64;
        t.seconds += d.seconds;
        self.pools[p].insert(&d.rows, &d.entries);
    }

    /// Makes this snapshot's share of examples in the training thread (`attackers = 0`).
    fn generate_synchronously(&mut self) {
        let Some(snapshot) = self.snapshots.latest() else { return };
        if self.synced_version == Some(snapshot.version) {
            return;
        }
        self.synced_version = Some(snapshot.version);
        let per_layer = (self.section.refresh * self.section.pool_size as f64).ceil() as usize;
        for layer in self.section.layers.clone() {
            let mut left = per_layer;
            while left > 0 {
                let n = left.min(self.section.attack_batch);
                let indices: Vec<usize> =
                    (0..n).map(|_| rand::Rng::random_range(&mut self.rng, 0..self.train.len())).collect();
                let seed = rand::Rng::random(&mut self.rng);
                let d = generate(
                    &snapshot.model,
                    &self.attack_device,
                    layer,
                    &self.train,
                    &indices,
                    &self.section,
                    snapshot.version,
                    seed,
                );
                self.take(d);
                left -= n;
            }
        }
    }

    /// Pool examples to train on at optimizer step `step` (steps done so far) beside a clean batch
    /// of `clean` examples; none while `use_pools` is false (warm-up), though the pools keep filling.
    pub fn draw(&mut self, step: u64, clean: usize, use_pools: bool) -> Result<Vec<LayerBatch>, Error> {
        // Renewed rows go back before anything else changes the pools' slots.
        self.put_back();
        match &self.attackers {
            Some(a) => {
                if let Ok(failure) = a.failures.try_recv() {
                    return Err(Error::Attacker(failure));
                }
                let arrived: Vec<Delivery> = a.deliveries.try_iter().collect();
                for d in arrived {
                    self.take(d);
                }
            }
            None => self.generate_synchronously(),
        }
        for (pool, tally) in self.pools.iter_mut().zip(&mut self.tallies) {
            tally.dropped += pool.drop_stale(step, self.section.max_staleness as u64) as u64;
        }
        if !use_pools {
            return Ok(Vec::new());
        }
        let ratio = self.section.ratio;
        let total = ((clean as f64) * ratio / (1.0 - ratio)).round() as usize;
        let chosen: Vec<usize> = match self.section.schedule {
            PoolSchedule::All => (0..self.pools.len()).collect(),
            PoolSchedule::Alternate => vec![(step as usize) % self.pools.len()],
        };
        let mut out = Vec::new();
        for (j, &p) in chosen.iter().enumerate() {
            let k = total / chosen.len() + usize::from(j < total % chosen.len());
            let draw = self.pools[p].draw(k);
            if draw.labels.is_empty() {
                continue;
            }
            let n = draw.labels.len();
            let width = self.pools[p].width;
            let staleness: Vec<u64> = draw.versions.iter().map(|&v| step.saturating_sub(v)).collect();
            let t = &mut self.tallies[p];
            t.used += n as u64;
            t.staleness_sum += staleness.iter().sum::<u64>();
            t.staleness_max = t.staleness_max.max(staleness.iter().copied().max().unwrap_or(0));
            let labels: Vec<i64> = draw.labels.iter().map(|&l| l as i64).collect();
            if self.pools[p].layer == 0 && self.section.refine_step().is_some() {
                let origins: Vec<usize> = draw.origins.iter().map(|&o| o as usize).collect();
                let clean = DeviceImages::new(&self.train.select(&origins), &self.device).all().inputs;
                self.renewal = Some(Renewal { pool: p, slots: draw.slots, clean, renewed: None });
            }
            out.push(LayerBatch {
                layer: self.pools[p].layer,
                inputs: Tensor::<2>::from_data(TensorData::new(draw.rows, [n, width]), &self.device),
                labels: Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), &self.device),
                staleness,
            });
        }
        out.shuffle(&mut self.rng);
        Ok(out)
    }

    /// The pool rows that join step `step` (steps done so far) of epoch `epoch` beside `clean` clean
    /// rows: none during the pools' warm-up (`warmup_epochs`; they keep filling), and the drawn
    /// input-pool examples renewed on the weights `current` makes first where the config renews.
    pub fn rows<V: Layered>(
        &mut self,
        epoch: usize,
        step: u64,
        clean: usize,
        current: impl FnOnce() -> V,
    ) -> Result<Vec<LayerBatch>, Error> {
        let mut drawn = self.draw(step, clean, epoch > self.section.warmup_epochs)?;
        self.renew(&mut drawn, current, step);
        Ok(drawn)
    }

    /// Renews the input-pool examples among `drawn` (this step's draw) with `refine_steps` signed
    /// gradient steps on the model `current` makes (the current weights, an inference copy) within
    /// the pool's radius of their training images; they go back into the pool at the next draw, made
    /// at step `step`. Does nothing, and never calls `current`, unless the config renews.
    pub fn renew<V: Layered>(&mut self, drawn: &mut [LayerBatch], current: impl FnOnce() -> V, step: u64) {
        let (Some(renewal), Some(step_size)) = (self.renewal.as_mut(), self.section.refine_step()) else { return };
        let Some(batch) = drawn.iter_mut().find(|b| b.layer == 0) else { return };
        let model = current();
        let surface = Surface::new(&model, 0).expect("every model has layer 0");
        let config = PgdConfig {
            epsilon: self.section.epsilon_of(0).expect("refine_step needs the input pool's radius"),
            step_size,
            steps: self.section.refine_steps,
            random_start: false,
            ..PgdConfig::default()
        };
        let goal = Goal { labels: batch.labels.clone(), targets: None };
        let center = surface.start(renewal.clean.clone());
        batch.inputs = descend(&surface, center, batch.inputs.clone(), &config, |logits| goal.loss(logits));
        renewal.renewed = Some((batch.inputs.clone(), step));
        self.tallies[renewal.pool].renewed += renewal.slots.len() as u64;
    }

    /// Writes the last renewal's rows back into their pool.
    fn put_back(&mut self) {
        let Some(Renewal { pool, slots, clean, renewed: Some((rows, version)) }) = self.renewal.take() else {
            return;
        };
        let distortions: Vec<f32> = distortion(rows.clone(), clean).into_data().iter::<f32>().collect();
        let rows: Vec<f32> = rows.into_data().iter::<f32>().collect();
        self.pools[pool].renew(&slots, &rows, &distortions, version);
    }

    /// Each pool's figures since the last call (the epoch), at step `step`.
    pub fn epoch_stats(&mut self, step: u64) -> Vec<PoolEpoch> {
        let steps = step.saturating_sub(self.epoch_start_step).max(1) as f64;
        self.epoch_start_step = step;
        self.pools
            .iter()
            .zip(std::mem::replace(&mut self.tallies, vec![Tally::default(); self.pools.len()]))
            .map(|(pool, t)| {
                let s = pool.stats(step);
                PoolEpoch {
                    layer: pool.layer,
                    fill: s.fill,
                    capacity: s.capacity,
                    mean_age: s.mean_age,
                    mean_staleness: t.staleness_sum as f64 / t.used.max(1) as f64,
                    max_staleness: t.staleness_max,
                    used: t.used,
                    success_rate: t.succeeded as f64 / t.attempted.max(1) as f64,
                    mean_distortion: s.mean_distortion,
                    refresh_per_step: t.written as f64 / steps,
                    attack_examples_per_second: if t.seconds > 0.0 { t.attempted as f64 / t.seconds } else { 0.0 },
                    dropped_stale: t.dropped,
                    renewed: t.renewed,
                }
            })
            .collect()
    }

    /// Up to `n` random entries of the input-layer pool (layer 0), each flat, if there is one.
    pub fn pools(&self) -> &[Pool] {
        &self.pools
    }
}

impl<M> AdversarialLoader<M> {
    /// Stops and joins the attacker threads (also done on drop).
    pub fn shutdown(&mut self) {
        if let Some(mut a) = self.attackers.take() {
            a.shutdown();
        }
    }
}

impl<M> Drop for AdversarialLoader<M> {
    fn drop(&mut self) {
        self.shutdown();
    }
}
