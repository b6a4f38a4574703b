//! `blindspot compare`: trains each recipe for each seed (a sweep run here) and puts clean test error, robustness
//! (mean minimal L-BFGS distortion on fixed test images, robust accuracy under the attack ensemble
//! at each radius), the network's upper Lipschitz bound and training time side by side: how users
//! compare weight decay, dropout, adversarial pools and the Lipschitz penalty.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::measure::Measures;
use super::measure::kept_figures;
use super::plan::{Run, Sweep};
use super::{local, task};
use crate::attack::Norm;
use crate::backend::DeviceChoice;
use crate::recipe;
use crate::recipe::runs::Progress;
use crate::report::table::Table;

#[derive(Debug, Clone)]
pub struct CompareOptions {
    pub recipes: Vec<PathBuf>,
    /// Seeds 1..=seeds for every recipe.
    pub seeds: u64,
    /// Overrides applied to every recipe (`train.epochs=5`, ...).
    pub sets: Vec<String>,
    /// Parent folder of the runs (`<output>/<name>-seed<k>`).
    pub output: PathBuf,
    pub device: DeviceChoice,
    /// What is measured on every run (empty radii: the radii the recipes train at (input pools,
    /// fresh examples, banks) and the standard MNIST radius 0.3).
    pub measures: Measures,
    /// Runs trained and measured at once: more than one run as processes of `program` (each with its
    /// share of LibTorch's CPU threads).
    pub jobs: usize,
    /// blindspot's executable (`sweep task`), for `jobs` above one; the CLI passes its own.
    pub program: PathBuf,
}

/// MNIST's standard L∞ radius.
pub const STANDARD_EPSILON: f64 = 0.3;

/// One trained run's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFigures {
    pub seed: u64,
    pub test_error: f64,
    pub mean_distortion: f64,
    /// Robust accuracy at each of the comparison's radii.
    pub robust_accuracy: Vec<f64>,
    /// The network's upper Lipschitz bound (product over layers; see `blindspot lipschitz`).
    pub lipschitz_bound: f64,
    pub train_seconds: f64,
    /// For a recipe that trains for certificates (`[certified]`): certified accuracy on the robust
    /// accuracy's images, L∞ at each of the comparison's radii, L2 at the recipe's radius.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certified: Vec<CertifiedFigure>,
}

/// Certified accuracy at one radius.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertifiedFigure {
    pub norm: Norm,
    pub epsilon: f64,
    pub accuracy: f64,
}

/// A recipe's figures over its seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecipeFigures {
    pub recipe: String,
    pub runs: Vec<RunFigures>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The radii of `robust_accuracy`.
    pub radii: Vec<f64>,
    pub distortion_images: usize,
    pub robust_images: usize,
    pub recipes: Vec<RecipeFigures>,
}

/// Mean and sample standard deviation.
pub fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n.max(1.0);
    let var = if xs.len() > 1 { xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

/// Trains what is missing and measures every run (`jobs` runs at once), keeping each run's figures
/// beside it.
pub fn compare(options: &CompareOptions, progress: &mut dyn Progress) -> Result<Comparison, crate::Error> {
    let o = options;
    let sweep = Sweep::plan(&o.recipes, o.seeds, &o.sets, &o.output, o.device, o.measures.clone())?;
    let figures = if o.jobs == 1 {
        sweep.runs.iter().map(|run| task::perform(run, &sweep.measures, progress)).collect::<Result<Vec<_>, _>>()?
    } else {
        // The tasks' manifest and states in a folder of this call's own, removed after.
        let sweep = Sweep { folder: o.output.join(format!(".compare-{}", std::process::id())), ..sweep.clone() };
        sweep.write()?;
        let ran = local::processes(&sweep, o.jobs, &o.program, true, progress);
        let _ = std::fs::remove_dir_all(&sweep.folder);
        ran?;
        let kept = |run: &Run| kept_figures(&run.dir(), &run.recipe, &sweep.measures);
        sweep
            .runs
            .iter()
            .map(|run| {
                kept(run).ok_or_else(|| super::Error::Io { path: run.dir(), reason: "its task kept no figures".into() })
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    Ok(Comparison::of(&sweep, figures.into_iter().map(Some)))
}

/// The radii `recipes` train at (their input pools' (FGSM, PGD), fresh examples' and banks'), and the
/// standard 0.3, in increasing order.
pub(super) fn default_radii(recipes: &[recipe::Recipe]) -> Vec<f64> {
    let pools = recipes.iter().filter_map(|r| r.adversarial.as_ref()?.epsilon_of(0));
    let fresh = recipes.iter().filter_map(|r| Some(r.fresh.as_ref()?.epsilon));
    let bank = recipes.iter().filter_map(|r| Some(r.bank.as_ref()?.epsilon));
    let mut radii: Vec<f64> = pools.chain(fresh).chain(bank).chain([STANDARD_EPSILON]).collect();
    radii.sort_by(f64::total_cmp);
    radii.dedup();
    radii
}

impl Comparison {
    /// The figures of `sweep`'s runs (in task order; `None`: a run without figures yet), grouped by
    /// recipe: every recipe has its row, with the runs that have figures.
    pub fn of(sweep: &Sweep, figures: impl IntoIterator<Item = Option<RunFigures>>) -> Comparison {
        let mut recipes: Vec<RecipeFigures> = Vec::new();
        for (run, figures) in sweep.runs.iter().zip(figures) {
            if recipes.last().is_none_or(|r| r.recipe != run.group) {
                recipes.push(RecipeFigures { recipe: run.group.clone(), runs: Vec::new() });
            }
            let group = recipes.last_mut().expect("pushed above");
            group.runs.extend(figures);
        }
        let m = &sweep.measures;
        Comparison {
            radii: m.radii.clone(),
            distortion_images: m.distortion_images,
            robust_images: m.robust_images,
            recipes,
        }
    }

    pub fn table(&self) -> Table {
        let mut header =
            vec!["recipe".to_string(), "seeds".into(), "test error".into(), "mean min. L-BFGS distortion".into()];
        header.extend(self.radii.iter().map(|e| format!("robust accuracy (ε = {e})")));
        let certifies = self.recipes.iter().any(|r| r.runs.iter().any(|x| !x.certified.is_empty()));
        if certifies {
            header.push("certified accuracy".into());
        }
        header.extend(["network Lipschitz bound".to_string(), "training time (s)".into()]);
        let rows = self
            .recipes
            .iter()
            .map(|r| {
                if r.runs.is_empty() {
                    // No finished run (a sweep still going): no number to show.
                    let mut row = vec![r.recipe.clone(), "0".into()];
                    row.resize(header.len(), "–".into());
                    return row;
                }
                let col = |f: &dyn Fn(&RunFigures) -> f64| mean_sd(&r.runs.iter().map(f).collect::<Vec<_>>());
                // With one seed there is no spread to show.
                let spread = |sd: f64, digits: usize| {
                    if r.runs.len() > 1 { format!(" ± {sd:.digits$}") } else { String::new() }
                };
                let (e, e_sd) = col(&|x| x.test_error);
                let (d, d_sd) = col(&|x| x.mean_distortion);
                let (l, _) = col(&|x| x.lipschitz_bound);
                let (t, _) = col(&|x| x.train_seconds);
                let mut row = vec![
                    r.recipe.clone(),
                    r.runs.len().to_string(),
                    format!("{:.2}%{}", 100.0 * e, spread(100.0 * e_sd, 2)),
                    format!("{d:.4}{}", spread(d_sd, 4)),
                ];
                for k in 0..self.radii.len() {
                    let (p, p_sd) = col(&|x| x.robust_accuracy[k]);
                    row.push(format!("{:.1}%{}", 100.0 * p, spread(100.0 * p_sd, 1)));
                }
                if certifies {
                    row.push(certified_cell(&r.runs));
                }
                row.extend([format!("{l:.3}"), format!("{t:.0}")]);
                row
            })
            .collect();
        Table { header, rows }
    }
}

/// The certified accuracies of a recipe's runs, mean over its seeds per radius (`–` for a recipe
/// that does not train for certificates).
fn certified_cell(runs: &[RunFigures]) -> String {
    let Some(first) = runs.first().filter(|r| !r.certified.is_empty()) else { return "–".into() };
    first
        .certified
        .iter()
        .enumerate()
        .map(|(k, figure)| {
            let (mean, _) = mean_sd(&runs.iter().map(|r| r.certified[k].accuracy).collect::<Vec<_>>());
            let norm = match figure.norm {
                Norm::Linf => "L∞",
                Norm::L2 => "L2",
            };
            format!("{norm} {}: {:.1}%", figure.epsilon, 100.0 * mean)
        })
        .collect::<Vec<_>>()
        .join(", ")
}
