//! The charts `blindspot plot` draws: a per-epoch figure of several runs on one chart, accuracy
//! under PGD against ε for several checkpoints, and each layer's Lipschitz bound per epoch of a run.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::attack::pgd_accuracy;
use super::loaded::LoadedModel;
use crate::attack::Norm;
use crate::certify::CertifyConfig;
use crate::model::Layered;
use crate::report::chart::{Corner, LineChart, Series};
use crate::train::{Checkpoint, EpochMetrics};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}: the run has no finished epoch yet")]
    NoEpochs(PathBuf),
    #[error("{0}: the run logged no Lipschitz bounds (its model has no layer whose bound is known)")]
    NoBounds(PathBuf),
    #[error("{0}: the run logged no validation error (its recipe holds no images out: data.validation = 0)")]
    NoValidation(PathBuf),
    #[error("radius {0}: a PGD radius must be finite and at least 0")]
    Radius(f64),
    #[error("no radii given")]
    NoRadii,
    #[error(transparent)]
    Checkpoint(#[from] crate::train::checkpoint::Error),
}

/// A figure logged once per epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    TestError,
    TrainError,
    ValidationError,
    TrainLoss,
    LearningRate,
}

impl Metric {
    fn title(self) -> &'static str {
        match self {
            Metric::TestError => "Test error per epoch",
            Metric::TrainError => "Training error per epoch",
            Metric::ValidationError => "Validation error per epoch",
            Metric::TrainLoss => "Training loss per epoch",
            Metric::LearningRate => "Learning rate per epoch",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Metric::TestError => "test error (%)",
            Metric::TrainError => "training error on the batches trained (%)",
            Metric::ValidationError => "validation error (%)",
            Metric::TrainLoss => "training loss",
            Metric::LearningRate => "learning rate",
        }
    }

    fn value(self, m: &EpochMetrics) -> Option<f64> {
        match self {
            Metric::TestError => Some(100.0 * m.test_error),
            Metric::TrainError => Some(100.0 * m.train_error),
            Metric::ValidationError => m.validation_error.map(|v| 100.0 * v),
            Metric::TrainLoss => Some(m.train_loss),
            Metric::LearningRate => Some(m.learning_rate),
        }
    }
}

/// A run's name and its per-epoch figures, read from its newest checkpoint (so an unfinished run
/// plots as far as it got).
#[derive(Debug, Clone, PartialEq)]
pub struct RunHistory {
    pub dir: PathBuf,
    pub name: String,
    pub history: Vec<EpochMetrics>,
}

impl RunHistory {
    pub fn open(run: &Path) -> Result<RunHistory, Error> {
        let checkpoint = Checkpoint::open(run)?;
        if checkpoint.state.history.is_empty() {
            return Err(Error::NoEpochs(run.to_path_buf()));
        }
        Ok(RunHistory { dir: run.to_path_buf(), name: checkpoint.name(), history: checkpoint.state.history })
    }
}

/// `metric` per epoch, one line per run.
pub fn curves(runs: &[RunHistory], metric: Metric) -> Result<LineChart, Error> {
    let mut series = Vec::new();
    for run in runs {
        let points: Vec<(f64, f64)> =
            run.history.iter().filter_map(|m| metric.value(m).map(|v| (m.epoch as f64, v))).collect();
        if points.is_empty() {
            return Err(Error::NoValidation(run.dir.clone()));
        }
        series.push(Series { name: run.name.clone(), points });
    }
    // Errors fall by orders of magnitude early on; a log axis keeps the end of training readable.
    let log_y = matches!(metric, Metric::TestError | Metric::TrainError | Metric::ValidationError | Metric::TrainLoss);
    Ok(LineChart {
        title: metric.title().into(),
        x_label: "epoch".into(),
        y_label: metric.label().into(),
        series,
        log_y,
        y_from_zero: true,
        x_from_zero: false,
        markers: false,
        legend: Corner::UpperRight,
    })
}

/// Each layer's upper Lipschitz bound per epoch, and the network's (their product with the
/// nonlinearities' constants), on a log axis.
pub fn lipschitz(run: &RunHistory) -> Result<LineChart, Error> {
    let layers = run.history.iter().map(|m| m.lipschitz.len()).max().unwrap_or(0);
    if layers == 0 {
        return Err(Error::NoBounds(run.dir.clone()));
    }
    let mut series: Vec<Series> = (0..layers)
        .map(|k| Series {
            name: format!("layer {}", k + 1),
            points: run.history.iter().filter_map(|m| m.lipschitz.get(k).map(|&b| (m.epoch as f64, b))).collect(),
        })
        .collect();
    let network: Vec<(f64, f64)> =
        run.history.iter().filter_map(|m| m.lipschitz_network.map(|b| (m.epoch as f64, b))).collect();
    if !network.is_empty() {
        series.push(Series { name: "network".into(), points: network });
    }
    Ok(LineChart {
        title: format!("{}: upper Lipschitz bounds per epoch", run.name),
        x_label: "epoch".into(),
        y_label: "upper Lipschitz bound".into(),
        series,
        log_y: true,
        y_from_zero: false,
        x_from_zero: false,
        markers: false,
        legend: Corner::LowerRight,
    })
}

/// A model's accuracy under PGD at each radius.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustnessCurve {
    pub model: String,
    pub checkpoint: PathBuf,
    /// (ε, accuracy in [0, 1]) in the order of the radii given.
    pub points: Vec<(f64, f64)>,
    /// (ε, certified accuracy in [0, 1]) by interval bound propagation, when asked for (ε = 0: the
    /// clean accuracy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certified: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustnessOptions {
    /// L∞ radii; 0 gives the clean accuracy.
    pub radii: Vec<f64>,
    /// The first `n` test images.
    pub n: usize,
    pub steps: usize,
    /// Also certified accuracy (L∞, interval bound propagation) at each radius.
    #[serde(default)]
    pub certified: bool,
}

impl RobustnessOptions {
    pub fn check(&self) -> Result<(), Error> {
        if self.radii.is_empty() {
            return Err(Error::NoRadii);
        }
        match self.radii.iter().find(|e| !e.is_finite() || **e < 0.0) {
            Some(&bad) => Err(Error::Radius(bad)),
            None => Ok(()),
        }
    }
}

/// PGD accuracy of `loaded` at every radius of `options`; `done` is told each radius finished.
pub fn robustness<M: Layered>(
    loaded: &LoadedModel<M>,
    checkpoint: &Path,
    options: &RobustnessOptions,
    device: &Device,
    mut done: impl FnMut(usize),
) -> Result<RobustnessCurve, crate::Error> {
    options.check()?;
    let mut points = Vec::new();
    for (k, &epsilon) in options.radii.iter().enumerate() {
        points.push((epsilon, pgd_accuracy(loaded, options.n, epsilon, options.steps, device)?));
        done(k + 1);
    }
    let certified = if options.certified { certified_points(loaded, options, device)? } else { Vec::new() };
    Ok(RobustnessCurve { model: loaded.name.to_string(), checkpoint: checkpoint.to_path_buf(), points, certified })
}

/// Certified accuracy (L∞) at each radius of `options`; at ε = 0, the clean accuracy.
fn certified_points<M: Layered>(
    loaded: &LoadedModel<M>,
    options: &RobustnessOptions,
    device: &Device,
) -> Result<Vec<(f64, f64)>, crate::Error> {
    let positive: Vec<f64> = options.radii.iter().copied().filter(|&e| e > 0.0).collect();
    let config = CertifyConfig::new(Norm::Linf, if positive.is_empty() { vec![1.0] } else { positive });
    let c = crate::certify::certify(&loaded.model, &loaded.test.head(options.n), &config, device)?;
    let at =
        |epsilon: f64| c.radii.iter().find(|r| r.epsilon == epsilon).map_or(c.clean_accuracy, |r| r.certified_accuracy);
    Ok(options.radii.iter().map(|&e| (e, at(e))).collect())
}

/// Accuracy (%) against ε, one line per model.
pub fn robustness_chart(curves: &[RobustnessCurve], options: &RobustnessOptions) -> LineChart {
    LineChart {
        title: format!(
            "Accuracy under PGD-{}{} (L\u{221e}), first {} test images",
            options.steps,
            if options.certified { " and certified" } else { "" },
            options.n
        ),
        x_label: "\u{3b5} (L\u{221e} radius, pixels in [0, 1])".into(),
        y_label: "accuracy (%)".into(),
        series: curves
            .iter()
            .flat_map(|c| {
                let percent = |points: &[(f64, f64)]| points.iter().map(|&(e, a)| (e, 100.0 * a)).collect();
                let certified = (!c.certified.is_empty())
                    .then(|| Series { name: format!("{} (certified)", c.model), points: percent(&c.certified) });
                std::iter::once(Series { name: c.model.clone(), points: percent(&c.points) }).chain(certified)
            })
            .collect(),
        log_y: false,
        y_from_zero: true,
        x_from_zero: false,
        markers: true,
        legend: Corner::LowerLeft,
    }
}
