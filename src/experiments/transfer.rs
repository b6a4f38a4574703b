//! The paper's cross-model tables (2 and 4): adversarial examples made for each model, fed to every
//! model; the error each makes on them, the mean distortion, and baselines (Gaussian noise, and the
//! found perturbations magnified to a given size).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::attack::Error;
use super::loaded::{ImageSet, LoadedModel};
use crate::attack::{self, Goal, LbfgsAttackConfig, Surface, TargetKind};
use crate::data::{DeviceImages, Images};
use crate::model::Layered;
use crate::report::table::{Table, percent};

#[derive(Debug, Clone)]
pub struct TransferOptions {
    pub n: usize,
    pub images: ImageSet,
    pub noise: Vec<f64>,
    /// Also feed every model's perturbations magnified to this RMS (the paper: 0.1).
    pub magnify: Option<f64>,
    pub batch_size: usize,
    pub seed: u64,
    pub lbfgs: LbfgsAttackConfig,
}

/// One row: a source of distorted images and the error every model makes on them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferRow {
    pub source: String,
    /// Error of each model (in the order of `models`) on the row's images.
    pub errors: Vec<f64>,
    pub mean_distortion: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferTable {
    pub models: Vec<String>,
    pub images: ImageSet,
    pub n: usize,
    pub rows: Vec<TransferRow>,
}

impl TransferTable {
    pub fn table(&self) -> Table {
        let mut header = vec!["made for ↓ / fed to →".to_string()];
        header.extend(self.models.iter().cloned());
        header.push("av. distortion".into());
        let rows = self
            .rows
            .iter()
            .map(|r| {
                let mut cells = vec![r.source.clone()];
                cells.extend(r.errors.iter().map(|&e| percent(e)));
                cells.push(format!("{:.3}", r.mean_distortion));
                cells
            })
            .collect();
        Table { header, rows }
    }
}

/// Errors of every model on `inputs` `[n, pixels]` with true `labels`.
fn errors<M: Layered>(models: &[LoadedModel<M>], inputs: &Tensor<2>, labels: &Tensor<1, Int>) -> Vec<f64> {
    let n = labels.dims()[0] as f64;
    models
        .iter()
        .map(|m| crate::model::wrong(m.model.forward(inputs.clone()), labels.clone()).into_scalar::<i64>() as f64 / n)
        .collect()
}

fn mean(xs: &[f32]) -> f64 {
    xs.iter().map(|&x| x as f64).sum::<f64>() / xs.len().max(1) as f64
}

/// Runs the experiment on the first `n` images of the chosen set (of the first model's dataset):
/// rows attack each of `sources`, columns are the errors of each of `models`.
/// `progress(done, total)` is called after each attacked batch.
pub fn transfer<M: Layered>(
    sources: &[LoadedModel<M>],
    models: &[LoadedModel<M>],
    options: &TransferOptions,
    device: &Device,
    mut progress: impl FnMut(usize, usize),
) -> Result<TransferTable, Error> {
    for &stddev in &options.noise {
        crate::attack::positive(stddev, "noise").map_err(attack::Error::from)?;
    }
    if let Some(size) = options.magnify {
        crate::attack::positive(size, "magnify").map_err(attack::Error::from)?;
    }
    options.lbfgs.check().map_err(attack::Error::from)?;
    let first = sources.first().ok_or(Error::NoModels)?;
    if let Some(other) = sources.iter().chain(models).find(|m| m.data != first.data) {
        return Err(Error::MixedData {
            other: other.name.to_string(),
            other_data: other.data.to_string(),
            first: first.name.to_string(),
            first_data: first.data.to_string(),
        });
    }
    let pool: &Images = first.images(options.images);
    if options.n == 0 {
        return Err(Error::Zero);
    }
    if options.n > pool.len() {
        return Err(Error::TooMany { n: options.n, available: pool.len(), set: options.images });
    }
    let images = DeviceImages::new(&pool.head(options.n), device);
    let all = images.all();
    device.seed(options.seed);
    let total = sources.len() * options.n;
    let mut rows = Vec::new();
    let mut perturbations = Vec::new();
    for (k, model) in sources.iter().enumerate() {
        let surface = Surface::new(&model.model, 0)?;
        let mut made = Vec::new();
        let mut distortion = Vec::new();
        for (b, batch) in images.in_order(options.batch_size).enumerate() {
            let goal = TargetKind::Random.goal(
                &batch.labels,
                model.model.forward(batch.inputs.clone()),
                options.seed.wrapping_add(b as u64),
            )?;
            let adv = attack::lbfgs(&surface, batch.inputs, &goal, &options.lbfgs)?;
            distortion.extend(adv.distortion.iter().copied());
            made.push(adv.adversarial);
            progress(k * options.n + made.iter().map(|t| t.dims()[0]).sum::<usize>(), total);
        }
        let made = Tensor::cat(made, 0);
        rows.push(TransferRow {
            source: model.name.to_string(),
            errors: errors(models, &made, &all.labels),
            mean_distortion: mean(&distortion),
        });
        perturbations.push((model.name.to_string(), made));
    }
    let surface = Surface::new(&first.model, 0)?;
    let untargeted = Goal { labels: all.labels.clone(), targets: None };
    for &stddev in &options.noise {
        let noisy = attack::gaussian(&surface, all.inputs.clone(), &untargeted, stddev)?;
        rows.push(TransferRow {
            source: format!("Gaussian noise, stddev {stddev}"),
            errors: errors(models, &noisy.adversarial, &all.labels),
            mean_distortion: mean(&noisy.distortion),
        });
    }
    if let Some(size) = options.magnify {
        for (name, made) in &perturbations {
            let big = attack::magnify(&surface, all.inputs.clone(), made.clone(), &untargeted, size)?;
            rows.push(TransferRow {
                source: format!("magnified to {size}: {name}"),
                errors: errors(models, &big.adversarial, &all.labels),
                mean_distortion: mean(&big.distortion),
            });
        }
    }
    Ok(TransferTable {
        models: models.iter().map(|m| m.name.to_string()).collect(),
        images: options.images,
        n: options.n,
        rows,
    })
}
