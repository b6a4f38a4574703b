//! `blindspot plot frontier`: robustness per second of training. One point per run, its training
//! seconds (the sum of its epochs' training times) against its robust accuracy under the ensemble,
//! and the Pareto front: the runs that no other run beats on both at once.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::loaded::LoadedModel;
use super::robustness::{Event, robustness};
use crate::attack::robustness::{self as ensemble, RobustnessConfig, RobustnessReport};
use crate::model::Layered;
use crate::report::chart::{Corner, LineChart, Series};

/// One run on the frontier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrontierPoint {
    pub run: String,
    pub checkpoint: String,
    pub epochs: usize,
    /// Seconds of training over its epochs (evaluation excluded).
    pub training_seconds: f64,
    pub report: RobustnessReport,
    /// Whether it lies on the Pareto front.
    pub front: bool,
}

/// `loaded`'s point: its training seconds and its report under `config` on the first `n` test
/// images, read from the figures kept beside its weights when they were measured with the same
/// settings, else measured (and kept).
pub fn point<M: Layered>(
    loaded: &LoadedModel<M>,
    config: &RobustnessConfig,
    n: usize,
    device: &Device,
    progress: impl FnMut(Event),
) -> Result<FrontierPoint, ensemble::Error> {
    let mut run = robustness(loaded, config, &[config.epsilon], n, true, device, progress)?;
    let history = &loaded.checkpoint.state.history;
    Ok(FrontierPoint {
        run: loaded.name.clone(),
        checkpoint: run.checkpoint,
        epochs: loaded.checkpoint.state.epoch,
        training_seconds: history.iter().map(|m| m.seconds).sum(),
        report: run.radii.remove(0),
        front: false,
    })
}

/// Marks the points on the Pareto front: none other is at once faster (or as fast) and more robust
/// (or as robust), strictly better in one of the two.
pub fn mark_front(points: &mut [FrontierPoint]) {
    let key = |p: &FrontierPoint| (p.training_seconds, p.report.robust_accuracy);
    let keys: Vec<(f64, f64)> = points.iter().map(key).collect();
    for (p, &(t, r)) in points.iter_mut().zip(&keys) {
        p.front = !keys.iter().any(|&(u, s)| u <= t && s >= r && (u < t || s > r));
    }
}

/// The chart: each run a marked point (training minutes, robust accuracy in %), the front a line.
pub fn chart(points: &[FrontierPoint]) -> LineChart {
    let xy = |p: &FrontierPoint| (p.training_seconds / 60.0, 100.0 * p.report.robust_accuracy);
    let mut front: Vec<(f64, f64)> = points.iter().filter(|p| p.front).map(xy).collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut series = vec![Series { name: "Pareto front".into(), points: front }];
    series.extend(points.iter().map(|p| Series { name: p.run.clone(), points: vec![xy(p)] }));
    let epsilon = points.first().map_or(String::new(), |p| {
        let norm = match p.report.norm {
            crate::attack::Norm::Linf => "L∞",
            crate::attack::Norm::L2 => "L2",
        };
        format!(" at {norm} ε = {}", p.report.epsilon)
    });
    LineChart {
        title: format!("Robust accuracy{epsilon} against training time"),
        x_label: "training (minutes)".into(),
        y_label: "robust accuracy (%)".into(),
        series,
        log_y: false,
        y_from_zero: false,
        x_from_zero: true,
        markers: true,
        legend: Corner::LowerRight,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: f64, robust: f64) -> FrontierPoint {
        FrontierPoint {
            run: format!("{seconds}-{robust}"),
            checkpoint: String::new(),
            epochs: 1,
            training_seconds: seconds,
            report: RobustnessReport {
                norm: crate::attack::Norm::Linf,
                epsilon: 0.3,
                examples: 10,
                clean_accuracy: 1.0,
                robust_accuracy: robust,
                attacks: Vec::new(),
                warnings: Vec::new(),
                seconds: 0.0,
            },
            front: false,
        }
    }

    #[test]
    fn the_front_keeps_the_runs_no_other_beats_on_both() {
        let mut points = vec![at(100.0, 0.8), at(200.0, 0.9), at(300.0, 0.85), at(50.0, 0.5), at(200.0, 0.7)];
        mark_front(&mut points);
        let front: Vec<bool> = points.iter().map(|p| p.front).collect();
        assert_eq!(front, [true, true, false, true, false]);
    }
}
