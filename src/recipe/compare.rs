//! `blindspot compare`: trains each recipe for each seed and puts clean test error, robustness
//! (mean minimal L-BFGS distortion on fixed test images, robust accuracy under the attack ensemble
//! at each radius), the network's upper Lipschitz bound and training time side by side: how users
//! compare weight decay, dropout, adversarial pools and the Lipschitz penalty.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::runs::{Progress, trained};
use crate::attack::{LbfgsAttackConfig, Norm, PgdConfig, RobustnessConfig, TargetKind};
use crate::backend::DeviceChoice;
use crate::bounds::{Lanczos, network_bounds};
use crate::certify::CertifyConfig;
use crate::experiments::attack::{AttackMethod, AttackOptions, run_attack};
use crate::experiments::certify::certify;
use crate::experiments::loaded::ImageSet;
use crate::experiments::robustness::{Event, robustness};
use crate::recipe;
use crate::report::table::Table;
use crate::train::metrics::read_metrics;

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
    /// Test images for the L-BFGS distortion (the first N each model classifies correctly).
    pub distortion_images: usize,
    /// Test images for the robust accuracy (the first N).
    pub robust_images: usize,
    /// L∞ radii of the robust accuracy; empty: the radii the recipes train at (input pools, fresh
    /// examples) and the standard MNIST radius 0.3.
    pub radii: Vec<f64>,
    /// The ensemble (its radius is set per column).
    pub ensemble: RobustnessConfig,
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

/// Trains what is missing and measures every run.
pub fn compare(options: &CompareOptions, progress: &mut dyn Progress) -> Result<Comparison, crate::Error> {
    if options.seeds == 0 {
        return Err(crate::Error::Usage("compare needs at least one seed".into()));
    }
    let device = options.device.device()?;
    let bases = options.recipes.iter().map(|path| recipe::load(path, &options.sets)).collect::<Result<Vec<_>, _>>()?;
    let radii = if options.radii.is_empty() { default_radii(&bases) } else { options.radii.clone() };
    // Every measuring setting is checked before the first run trains.
    if options.distortion_images == 0 {
        return Err(crate::experiments::attack::Error::Zero.into());
    }
    if options.robust_images == 0 {
        return Err(crate::attack::robustness::Error::NoImages.into());
    }
    for &epsilon in &radii {
        RobustnessConfig { epsilon, ..options.ensemble.clone() }
            .check()
            .map_err(crate::attack::robustness::Error::from)?;
    }
    let mut recipes = Vec::new();
    for base in bases {
        let mut runs = Vec::new();
        for seed in 1..=options.seeds {
            let mut r = base.clone();
            r.seed = seed;
            r.name = format!("{}-seed{seed}", base.name);
            r.output.dir = options.output.clone();
            r.device = options.device;
            let run_dir = trained(&r, progress)?;
            let summary = read_metrics(&run_dir)?;
            let loaded = recipe::open(&run_dir, &device, None)?;
            progress.message(&format!("{}: measuring robustness", r.name));
            let lbfgs = AttackOptions {
                method: AttackMethod::Lbfgs,
                layer: 0,
                images: ImageSet::Test,
                n: options.distortion_images,
                target: TargetKind::Random,
                batch_size: 100,
                seed: 1,
                lbfgs: LbfgsAttackConfig::default(),
                pgd: PgdConfig::default(),
            };
            let attacked =
                run_attack(&loaded, &lbfgs, &device, |done| progress.attacked(done, options.distortion_images))?;
            runs.push(RunFigures {
                seed,
                test_error: summary.test_error,
                mean_distortion: attacked.summary.mean_distortion,
                robust_accuracy: robustness(
                    &loaded,
                    &options.ensemble,
                    &radii,
                    options.robust_images,
                    true,
                    &device,
                    |event| {
                        if let Event::Advance(advance) = event {
                            progress.ensemble(advance)
                        }
                    },
                )?
                .radii
                .iter()
                .map(|r| r.robust_accuracy)
                .collect(),
                lipschitz_bound: network_bounds(&loaded.model, &[], &Lanczos::default())?.network.unwrap_or(f64::NAN),
                train_seconds: summary.history.iter().map(|m| m.seconds).sum(),
                certified: match &r.certified {
                    Some(trained_for) => {
                        let (norm, radii) = match trained_for.norm {
                            Norm::Linf => (Norm::Linf, radii.clone()),
                            Norm::L2 => (Norm::L2, vec![trained_for.epsilon]),
                        };
                        let run = certify(&loaded, &CertifyConfig::new(norm, radii), options.robust_images, &device)?;
                        let c = run.certification;
                        c.radii
                            .iter()
                            .map(|r| CertifiedFigure { norm, epsilon: r.epsilon, accuracy: r.certified_accuracy })
                            .collect()
                    }
                    None => Vec::new(),
                },
            });
        }
        recipes.push(RecipeFigures { recipe: base.name, runs });
    }
    Ok(Comparison {
        radii,
        distortion_images: options.distortion_images,
        robust_images: options.robust_images,
        recipes,
    })
}

/// The radii `recipes` train at (their input pools' (FGSM, PGD), fresh examples' and banks'), and the
/// standard 0.3, in increasing order.
fn default_radii(recipes: &[recipe::Recipe]) -> Vec<f64> {
    let pools = recipes.iter().filter_map(|r| r.adversarial.as_ref()?.epsilon_of(0));
    let fresh = recipes.iter().filter_map(|r| Some(r.fresh.as_ref()?.epsilon));
    let bank = recipes.iter().filter_map(|r| Some(r.bank.as_ref()?.epsilon));
    let mut radii: Vec<f64> = pools.chain(fresh).chain(bank).chain([STANDARD_EPSILON]).collect();
    radii.sort_by(f64::total_cmp);
    radii.dedup();
    radii
}

impl Comparison {
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
