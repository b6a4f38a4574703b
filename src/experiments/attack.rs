//! `blindspot attack`: one attack on N images of a trained model, at any layer, with its figures.

use std::time::Instant;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::loaded::{ImageSet, LoadedModel};
use crate::attack::{self, Adversarials, AttackSummary, Goal, LbfgsAttackConfig, PgdConfig, Surface, TargetKind};
use crate::data::{DeviceImages, Images};
use crate::model::Layered;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttackMethod {
    /// The paper's minimal perturbations: box-constrained L-BFGS with a search over c.
    Lbfgs,
    /// One signed-gradient step of size ε.
    Fgsm,
    /// Projected gradient descent in an L∞ ball of radius ε.
    Pgd,
    /// Gaussian noise of standard deviation ε (baseline).
    Noise,
}

#[derive(Debug, Clone)]
pub struct AttackOptions {
    pub method: AttackMethod,
    pub layer: usize,
    pub images: ImageSet,
    /// How many images (the first N that the model classifies correctly are attacked).
    pub n: usize,
    pub target: TargetKind,
    pub batch_size: usize,
    pub seed: u64,
    pub lbfgs: LbfgsAttackConfig,
    pub pgd: PgdConfig,
}

/// Results of an attack run: per-batch adversarials, the images and labels attacked, figures.
pub struct AttackRun {
    pub batches: Vec<Adversarials>,
    pub images: Images,
    pub summary: AttackSummary,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{n} images asked for: the {set} set has only {available} correctly classified images")]
    TooMany { n: usize, available: usize, set: ImageSet },
    #[error("attack at least 1 image")]
    Zero,
    #[error("no models to attack")]
    NoModels,
    #[error("{other} is a {other_data} model but {first} is a {first_data} model")]
    MixedData { other: String, other_data: String, first: String, first_data: String },
    #[error(transparent)]
    Attack(#[from] attack::Error),
}

/// Attacks the first `n` images of `options.images` that `loaded` classifies correctly.
/// `progress` is called with the number of examples done after each batch.
pub fn run_attack<M: Layered>(
    loaded: &LoadedModel<M>,
    options: &AttackOptions,
    device: &Device,
    mut progress: impl FnMut(usize),
) -> Result<AttackRun, Error> {
    if options.n == 0 {
        return Err(Error::Zero);
    }
    let surface = Surface::new(&loaded.model, options.layer)?;
    let pool = loaded.images(options.images);
    let chosen = correctly_classified(loaded, pool, options.n, device)?;
    if chosen.len() < options.n {
        return Err(Error::TooMany { n: options.n, available: chosen.len(), set: options.images });
    }
    let images = pool.select(&chosen);
    let set = DeviceImages::new(&images, device);
    device.seed(options.seed);
    let started = Instant::now();
    let mut batches = Vec::new();
    for (b, batch) in set.in_order(options.batch_size).enumerate() {
        let start = surface.start(batch.inputs);
        let goal =
            options.target.goal(&batch.labels, surface.logits(start.clone()), options.seed.wrapping_add(b as u64))?;
        let result = attack_batch(&surface, start, &goal, options)?;
        batches.push(result);
        progress(batches.iter().map(Adversarials::len).sum());
    }
    let seconds = started.elapsed().as_secs_f64();
    let summary = AttackSummary::of(&batches.iter().collect::<Vec<_>>(), seconds);
    Ok(AttackRun { batches, images, summary })
}

/// One attack on one batch of starting activations.
pub fn attack_batch(
    surface: &Surface,
    start: Tensor<2>,
    goal: &Goal,
    options: &AttackOptions,
) -> Result<Adversarials, attack::Error> {
    match options.method {
        AttackMethod::Lbfgs => attack::lbfgs(surface, start, goal, &options.lbfgs),
        AttackMethod::Fgsm => attack::fgsm(surface, start, goal, options.pgd.epsilon),
        AttackMethod::Pgd => attack::pgd(surface, start, goal, &options.pgd),
        AttackMethod::Noise => attack::gaussian(surface, start, goal, options.pgd.epsilon),
    }
}

/// Indices of the first `n` images of `images` that the model classifies correctly.
fn correctly_classified<M: Layered>(
    loaded: &LoadedModel<M>,
    images: &Images,
    n: usize,
    device: &Device,
) -> Result<Vec<usize>, attack::Error> {
    let set = DeviceImages::new(images, device);
    let mut chosen = Vec::with_capacity(n);
    let mut offset = 0;
    for batch in set.in_order(1000) {
        let len = batch.len();
        let logits = crate::model::finite(loaded.model.forward(batch.inputs))?;
        let right = logits.argmax(1).flatten::<1>(0, 1).equal(batch.labels);
        for (i, ok) in right.into_data().iter::<bool>().enumerate() {
            if ok && chosen.len() < n {
                chosen.push(offset + i);
            }
        }
        offset += len;
        if chosen.len() >= n {
            break;
        }
    }
    Ok(chosen)
}

/// The paper's figure for the first `rows` attacked images: original (caption: its label) |
/// adversarial (caption: label → the model's answer) | the difference magnified (caption: the
/// magnification). Only for input-layer attacks.
pub fn figure(run: &AttackRun, title: String, rows: usize) -> crate::report::grid::Figure {
    use crate::report::grid::{Cell, Figure};
    let shape = run.images.shape;
    let m = run.images.pixels_per_image();
    let mut out = Vec::new();
    let mut offset = 0;
    for adv in &run.batches {
        let start: Vec<f32> = adv.start.to_data().iter::<f32>().collect();
        let perturbed: Vec<f32> = adv.adversarial.to_data().iter::<f32>().collect();
        for i in 0..adv.len() {
            if out.len() == rows {
                break;
            }
            let label = run.images.labels[offset + i];
            let x = &start[i * m..(i + 1) * m];
            let z = &perturbed[i * m..(i + 1) * m];
            let r: Vec<f32> = z.iter().zip(x).map(|(a, b)| a - b).collect();
            let peak = r.iter().fold(1e-12f32, |p, v| p.max(v.abs()));
            out.push(vec![
                Cell::image(shape, x, format!("label {label}")),
                Cell::image(shape, z, format!("{label} \u{2192} {}", adv.predicted[i])),
                Cell::difference(shape, &r, format!("\u{d7}{:.0}", 0.5 / peak)),
            ]);
        }
        offset += adv.len();
    }
    let columns = vec!["original".into(), "adversarial".into(), "difference".into()];
    Figure { title, columns, row_labels: Vec::new(), rows: out, scale: 3 }
}

/// Accuracy of `loaded` under untargeted PGD (L∞ `epsilon`, `steps` steps of 2.5·ε/steps, random
/// start, device seed 1) on the first `n` test images: the share the attack did not break
/// (misclassified clean images count as broken).
pub fn pgd_accuracy<M: Layered>(
    loaded: &LoadedModel<M>,
    n: usize,
    epsilon: f64,
    steps: usize,
    device: &Device,
) -> Result<f64, Error> {
    let images = DeviceImages::new(&loaded.images(ImageSet::Test).head(n), device);
    let surface = Surface::new(&loaded.model, 0)?;
    let config = PgdConfig::linf(epsilon, steps);
    device.seed(1);
    let mut right = 0usize;
    for batch in images.in_order(500) {
        let logits = crate::model::finite(loaded.model.forward(batch.inputs.clone()))
            .map_err(|e| Error::Attack(attack::Error::from(e)))?;
        // At radius 0 there is nothing to attack: the clean accuracy.
        if epsilon == 0.0 {
            let wrong = crate::model::wrong(logits, batch.labels).into_scalar::<i64>() as usize;
            right += batch.inputs.dims()[0] - wrong;
            continue;
        }
        let goal = TargetKind::Untargeted.goal(&batch.labels, logits, 0)?;
        let adv = crate::attack::pgd(&surface, batch.inputs, &goal, &config)?;
        right += adv.success.iter().filter(|&&s| !s).count();
    }
    Ok(right as f64 / images.len().max(1) as f64)
}
