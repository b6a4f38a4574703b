//! Robust accuracy as AutoAttack measures it: an ensemble in which each attack runs only on the
//! examples every earlier attack failed on, so an example counts as robust when no attack broke it.
//! Before attacking, the model is checked for what makes gradient attacks unreliable (randomness,
//! outputs that are probabilities, zero gradients), and what is found is reported as warnings.

use std::time::Instant;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::apgd::{ApgdConfig, ApgdLoss, apgd};
use super::gradient::Norm;
use super::square::{SquareConfig, square};
use super::surface::Surface;
use crate::config::{Invalid, at_least_one, ensure};
use crate::data::{DeviceImages, Images};
use crate::model::Layered;

/// An attack of the ensemble.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnsembleAttack {
    /// APGD on the cross-entropy.
    ApgdCe,
    /// APGD on the targeted DLR loss, towards each of the `target_classes` most likely wrong
    /// classes in turn.
    ApgdT,
    /// The score-based Square attack (`square_queries` queries): no gradients.
    Square,
}

impl EnsembleAttack {
    pub fn name(self) -> &'static str {
        match self {
            EnsembleAttack::ApgdCe => "apgd-ce",
            EnsembleAttack::ApgdT => "apgd-t",
            EnsembleAttack::Square => "square",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RobustnessConfig {
    pub norm: Norm,
    pub epsilon: f64,
    /// In order; each runs on what the earlier ones left robust.
    pub attacks: Vec<EnsembleAttack>,
    /// APGD iterations per run (AutoAttack: 100).
    pub iterations: usize,
    /// APGD-T's targets: the 2nd to (1 + this)-th most likely classes (AutoAttack: 9).
    pub target_classes: usize,
    /// Square's queries per example (AutoAttack: 5,000).
    pub square_queries: usize,
    /// Examples attacked at once.
    pub batch: usize,
    /// Seeds the random starts.
    pub seed: u64,
}

impl RobustnessConfig {
    /// AutoAttack's standard ensemble at radius `epsilon`, without FAB-T: APGD-CE, APGD-T (9
    /// targets), 100 iterations each, then Square with 5,000 queries.
    pub fn standard(norm: Norm, epsilon: f64) -> RobustnessConfig {
        RobustnessConfig {
            norm,
            epsilon,
            attacks: vec![EnsembleAttack::ApgdCe, EnsembleAttack::ApgdT, EnsembleAttack::Square],
            iterations: 100,
            target_classes: 9,
            square_queries: 5000,
            batch: 500,
            seed: 0,
        }
    }

    pub fn check(&self) -> Result<(), Invalid> {
        ensure(self.epsilon.is_finite() && self.epsilon > 0.0, "epsilon", || {
            format!("{} is not a positive radius", self.epsilon)
        })?;
        ensure(!self.attacks.is_empty(), "attacks", || "name at least one attack".into())?;
        at_least_one(self.iterations, "iterations")?;
        at_least_one(self.target_classes, "target_classes")?;
        at_least_one(self.square_queries, "square_queries")?;
        at_least_one(self.batch, "batch")
    }
}

/// What one attack of the ensemble did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackBreakdown {
    pub attack: String,
    /// Examples this attack broke that every earlier one had not.
    pub broken: usize,
    /// Examples still robust after it.
    pub robust: usize,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustnessReport {
    pub norm: Norm,
    pub epsilon: f64,
    pub examples: usize,
    pub clean_accuracy: f64,
    /// Share of all examples that are classified right and that no attack broke.
    pub robust_accuracy: f64,
    pub attacks: Vec<AttackBreakdown>,
    pub warnings: Vec<String>,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] Invalid),
    #[error("apgd-t needs at least 4 classes (the DLR loss's scale uses the 3rd and 4th); the model has {0}")]
    TooFewClasses(usize),
    #[error("no images to attack")]
    NoImages,
    #[error("{asked} images asked for, but the test set has {available}")]
    TooMany { asked: usize, available: usize },
    #[error(transparent)]
    NonFinite(#[from] crate::model::NonFinite),
    #[error(transparent)]
    Attack(#[from] super::Error),
}

/// How far the ensemble has come at one radius, told after each batch of each pass (APGD-T makes
/// one pass per target class), for progress displays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Advance {
    pub epsilon: f64,
    pub attack: EnsembleAttack,
    /// This pass of the attack (from 1) and how many it makes.
    pub pass: usize,
    pub passes: usize,
    /// Examples this pass has attacked, of how many.
    pub attacked: usize,
    pub of: usize,
    /// Examples still robust (those this pass has not reached yet count as robust), of all.
    pub robust: usize,
    pub examples: usize,
    /// Since the radius began.
    pub seconds: f64,
}

/// The ensemble's robust accuracy of `model` (an inference copy) on `images` at the config's radius;
/// `progress` hears of each batch attacked.
pub fn robustness(
    model: &dyn Layered,
    images: &Images,
    config: &RobustnessConfig,
    device: &Device,
    progress: &mut dyn FnMut(&Advance),
) -> Result<RobustnessReport, Error> {
    config.check()?;
    let classes = model.classes();
    if config.attacks.contains(&EnsembleAttack::ApgdT) && classes < 4 {
        return Err(Error::TooFewClasses(classes));
    }
    if images.is_empty() {
        return Err(Error::NoImages);
    }
    let started = Instant::now();
    let set = DeviceImages::new(images, device);
    let surface = Surface::new(model, 0).expect("every model has layer 0");
    let all: Vec<usize> = (0..images.len()).collect();
    let mut robust = Vec::new();
    for chunk in all.chunks(config.batch) {
        let batch = set.batch(chunk);
        let logits = crate::model::finite(model.forward(batch.inputs))?;
        let predicted: Vec<i64> = logits.argmax(1).into_data().iter::<i64>().collect();
        robust.extend(chunk.iter().zip(predicted).filter(|(i, p)| *p == images.labels[**i] as i64).map(|(i, _)| *i));
    }
    let clean = robust.len();
    let mut warnings = warnings(&surface, &set, &robust, config);
    device.seed(config.seed);
    let mut attacks = Vec::new();
    for &attack in &config.attacks {
        let begun = Instant::now();
        let before = robust.len();
        let runs = match attack {
            EnsembleAttack::ApgdCe => vec![Run::CrossEntropy],
            EnsembleAttack::ApgdT => (2..=(config.target_classes + 1).min(classes)).map(Run::Targeted).collect(),
            EnsembleAttack::Square => vec![Run::Square(images.shape)],
        };
        let passes = runs.len();
        for (pass, run) in runs.into_iter().enumerate() {
            let of = robust.len();
            robust = survivors(&surface, &set, &robust, config, run, &mut |attacked, broken| {
                progress(&Advance {
                    epsilon: config.epsilon,
                    attack,
                    pass: pass + 1,
                    passes,
                    attacked,
                    of,
                    robust: of - broken,
                    examples: images.len(),
                    seconds: started.elapsed().as_secs_f64(),
                })
            })?;
        }
        let (seconds, broken) = (begun.elapsed().as_secs_f64(), before - robust.len());
        if attack == EnsembleAttack::Square && broken > 0 && !attacks.is_empty() {
            warnings.push(format!(
                "square broke {broken} examples the gradient attacks did not: a sign of gradient masking (the \
                 gradient attacks alone would overstate robustness)"
            ));
        }
        attacks.push(AttackBreakdown { attack: attack.name().into(), broken, robust: robust.len(), seconds });
    }
    let n = images.len() as f64;
    Ok(RobustnessReport {
        norm: config.norm,
        epsilon: config.epsilon,
        examples: images.len(),
        clean_accuracy: clean as f64 / n,
        robust_accuracy: robust.len() as f64 / n,
        attacks,
        warnings,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// One run over the examples still robust.
#[derive(Clone, Copy)]
enum Run {
    /// APGD on the cross-entropy.
    CrossEntropy,
    /// APGD on the targeted DLR loss towards each example's `rank`-th most likely class.
    Targeted(usize),
    /// Square on images of this `[C, H, W]` shape.
    Square([usize; 3]),
}

/// The examples of `robust` that `run` leaves classified right; `attacked(done, broken)` before the
/// first batch and after each.
fn survivors(
    surface: &Surface,
    set: &DeviceImages,
    robust: &[usize],
    config: &RobustnessConfig,
    run: Run,
    attacked: &mut dyn FnMut(usize, usize),
) -> Result<Vec<usize>, super::Error> {
    let apgd_config = ApgdConfig { iterations: config.iterations, ..ApgdConfig::new(config.norm, config.epsilon) };
    let square_config = SquareConfig {
        queries: config.square_queries,
        seed: config.seed,
        ..SquareConfig::new(config.norm, config.epsilon)
    };
    let (mut left, mut done) = (Vec::new(), 0);
    attacked(0, 0);
    for chunk in robust.chunks(config.batch) {
        let batch = set.batch(chunk);
        let made = match run {
            Run::CrossEntropy => apgd(surface, batch.inputs, &batch.labels, &ApgdLoss::CrossEntropy, &apgd_config)?,
            Run::Targeted(rank) => {
                let order = surface.logits(batch.inputs.clone()).argsort_descending(1);
                let loss = ApgdLoss::TargetedDlr(order.narrow(1, rank - 1, 1).reshape([chunk.len()]));
                apgd(surface, batch.inputs, &batch.labels, &loss, &apgd_config)?
            }
            Run::Square(shape) => square(surface, batch.inputs, &batch.labels, shape, &square_config)?,
        };
        left.extend(chunk.iter().zip(&made.success).filter(|(_, broken)| !**broken).map(|(i, _)| *i));
        done += chunk.len();
        attacked(done, done - left.len());
    }
    Ok(left)
}

/// AutoAttack's checks of the model on the examples it classifies right.
fn warnings(surface: &Surface, set: &DeviceImages, robust: &[usize], config: &RobustnessConfig) -> Vec<String> {
    let mut found = Vec::new();
    let Some(chunk) = robust.chunks(config.batch).next() else { return found };
    let batch = set.batch(chunk);
    let (once, twice) = (surface.logits(batch.inputs.clone()), surface.logits(batch.inputs.clone()));
    let differ = (once.clone() - twice).abs().max().into_scalar::<f32>();
    if differ > 1e-5 {
        found.push(format!(
            "the model is randomized (two forward passes differ by up to {differ:.2e}): gradient attacks without \
             expectation over the randomness overestimate its robustness"
        ));
    }
    let rows = once.clone().sum_dim(1);
    let probabilities =
        once.clone().min().into_scalar::<f32>() >= 0.0 && (rows - 1.0).abs().max().into_scalar::<f32>() < 1e-4;
    if probabilities {
        found.push(
            "the outputs look like probabilities (non-negative, rows sum to 1): attacks want logits, and softmax \
             outputs saturate their gradients"
                .into(),
        );
    }
    let goal = |logits| ApgdLoss::CrossEntropy.per_example(logits, &batch.labels);
    let (_, grad) = surface.value_and_grad(batch.inputs.clone(), |_, logits| goal(logits));
    let zero: usize = grad.abs().max_dim(1).into_data().iter::<f32>().filter(|g| *g == 0.0).count();
    if zero > 0 {
        found.push(format!(
            "{zero} of {} examples have a zero gradient of the cross-entropy: gradient attacks cannot move them, so \
             their robustness may be gradient masking",
            chunk.len()
        ));
    }
    found
}
