//! `blindspot reproduce`: the paper's Tables 1–4 from the shipped recipes, training whatever is
//! missing (resuming what a killed run left), our figures printed beside the paper's
//! (`data/paper.toml`). `quick` trains shortened copies into their own folder and attacks fewer
//! images: a few minutes on a CPU.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::runs::{Progress, trained};
use crate::attack::{LbfgsAttackConfig, PgdConfig, TargetKind};
use crate::backend::DeviceChoice;
use crate::experiments::attack::{AttackMethod, AttackOptions, run_attack};
use crate::experiments::loaded::{ImageSet, LoadedModel};
use crate::experiments::transfer::{TransferOptions, TransferTable, transfer};
use crate::recipe;
use crate::report::table::{Table, percent};
use crate::train::{self, RunSummary};

/// The paper's figures we compare against.
#[derive(Debug, Clone, Deserialize)]
pub struct PaperFigures {
    pub table1: PaperTable1,
    pub table2: PaperCross,
    pub table4: PaperCross,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaperTable1 {
    pub models: BTreeMap<String, PaperModel>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaperModel {
    pub train_error: f64,
    pub test_error: f64,
    pub distortion: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaperCross {
    pub columns: Vec<String>,
    pub rows: Vec<PaperRow>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaperRow {
    pub source: String,
    pub errors: Vec<f64>,
    pub distortion: Option<f64>,
}

/// The figures in `data/paper.toml` (compiled in).
pub fn paper() -> PaperFigures {
    toml::from_str(include_str!("../../data/paper.toml")).expect("data/paper.toml is valid")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Experiment {
    /// MNIST models: train / test error and mean minimal distortion on training images.
    Table1,
    /// Cross-model generalisation of adversarial examples.
    Table2,
    /// The P1 / P2 models: train / test error and mean minimal distortion on test images.
    Table3,
    /// Cross-training-set generalisation, with noise and magnified rows.
    Table4,
}

pub const TABLE1_MODELS: &[&str] =
    &["fc10-1e-4", "fc10-1e-2", "fc10-1", "fc100-100-10-weight-decay", "fc200-200-10", "ae400-10"];
pub const TABLE2_ROWS: &[&str] = &["fc10-1e-4", "fc10-1e-2", "fc10-1", "fc100-100-10-weight-decay", "fc200-200-10"];
pub const TABLE2_COLUMNS: &[&str] = &["fc10-1e-4", "fc100-100-10-weight-decay", "ae400-10"];
pub const TABLE4_MODELS: &[&str] = &["fc100-100-10-p1", "fc123-456-10-p1", "fc100-100-10-p2"];

pub struct ReproduceOptions {
    pub experiment: Experiment,
    pub quick: bool,
    pub device: DeviceChoice,
    /// Where the shipped recipes are.
    pub recipes: PathBuf,
    /// Parent of the run folders (quick runs go to `<output>/quick`).
    pub output: PathBuf,
    /// Images attacked per model (default: 100, quick: 20).
    pub n: Option<usize>,
}

/// One model's row of Table 1 or 3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRow {
    pub model: String,
    pub train_error: f64,
    pub test_error: f64,
    pub mean_distortion: f64,
    pub success_rate: f64,
}

/// What a reproduction measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Reproduction {
    Models { experiment: Experiment, images: ImageSet, n: usize, rows: Vec<ModelRow> },
    Transfer { experiment: Experiment, table: TransferTable },
}

fn n_images(options: &ReproduceOptions) -> usize {
    options.n.unwrap_or(if options.quick { 20 } else { 100 })
}

fn lbfgs(options: &ReproduceOptions) -> LbfgsAttackConfig {
    if options.quick { LbfgsAttackConfig::new(8, 30) } else { LbfgsAttackConfig::default() }
}

/// The run folder of recipe `name`, trained first if it has no finished run there.
fn ensure_trained(
    name: &str,
    options: &ReproduceOptions,
    progress: &mut dyn Progress,
) -> Result<PathBuf, crate::Error> {
    let output = if options.quick { options.output.join("quick") } else { options.output.clone() };
    let mut sets = vec![format!("output.dir={:?}", output.display().to_string())];
    let path = options.recipes.join(format!("{name}.toml"));
    if options.quick {
        sets.push("train.epochs=3".into());
        if recipe::load(&path, &[])?.pretrain.is_some() {
            sets.push("pretrain.autoencoder_epochs=2".into());
            sets.push("pretrain.classifier_epochs=1".into());
        }
    }
    let mut r = recipe::load(&path, &sets)?;
    r.device = options.device;
    trained(&r, progress)
}

fn load_all(
    names: &[&str],
    options: &ReproduceOptions,
    device: &Device,
    progress: &mut dyn Progress,
) -> Result<Vec<LoadedModel>, crate::Error> {
    names
        .iter()
        .map(|name| {
            let dir = ensure_trained(name, options, progress)?;
            recipe::open(&dir, device, None)
        })
        .collect()
}

fn model_rows(
    names: &[&str],
    images: ImageSet,
    options: &ReproduceOptions,
    device: &Device,
    progress: &mut dyn Progress,
) -> Result<Vec<ModelRow>, crate::Error> {
    let n = n_images(options);
    let models = load_all(names, options, device, progress)?;
    let mut rows = Vec::new();
    for model in &models {
        progress.message(&format!("{}: attacking {n} {images} images", model.name));
        let summary: RunSummary =
            train::metrics::read_metrics(model.checkpoint.dir.parent().unwrap_or(Path::new(".")))?;
        let attack = AttackOptions {
            method: AttackMethod::Lbfgs,
            layer: 0,
            images,
            n,
            target: TargetKind::Random,
            batch_size: 100,
            seed: 1,
            lbfgs: lbfgs(options),
            pgd: PgdConfig::default(),
        };
        let run = run_attack(model, &attack, device, |done| progress.attacked(done, n))?;
        rows.push(ModelRow {
            model: model.name.to_string(),
            train_error: summary.train_error,
            test_error: summary.test_error,
            mean_distortion: run.summary.mean_distortion,
            success_rate: run.summary.success_rate,
        });
    }
    Ok(rows)
}

/// Runs the experiment.
pub fn reproduce(options: &ReproduceOptions, progress: &mut dyn Progress) -> Result<Reproduction, crate::Error> {
    let device = options.device.device()?;
    let transfer_options = |noise: Vec<f64>, magnify: Option<f64>| TransferOptions {
        n: n_images(options),
        images: ImageSet::Test,
        noise,
        magnify,
        batch_size: 100,
        seed: 1,
        lbfgs: lbfgs(options),
    };
    Ok(match options.experiment {
        Experiment::Table1 => Reproduction::Models {
            experiment: options.experiment,
            images: ImageSet::Train,
            n: n_images(options),
            rows: model_rows(TABLE1_MODELS, ImageSet::Train, options, &device, progress)?,
        },
        Experiment::Table3 => Reproduction::Models {
            experiment: options.experiment,
            images: ImageSet::Test,
            n: n_images(options),
            rows: model_rows(TABLE4_MODELS, ImageSet::Test, options, &device, progress)?,
        },
        Experiment::Table2 => {
            let sources = load_all(TABLE2_ROWS, options, &device, progress)?;
            let columns = load_all(TABLE2_COLUMNS, options, &device, progress)?;
            let table = transfer(&sources, &columns, &transfer_options(vec![0.1, 0.3], None), &device, |d, t| {
                progress.attacked(d, t)
            })?;
            Reproduction::Transfer { experiment: options.experiment, table }
        }
        Experiment::Table4 => {
            let models = load_all(TABLE4_MODELS, options, &device, progress)?;
            let table = transfer(&models, &models, &transfer_options(vec![0.06, 0.1], Some(0.1)), &device, |d, t| {
                progress.attacked(d, t)
            })?;
            Reproduction::Transfer { experiment: options.experiment, table }
        }
    })
}

/// Our figure beside the paper's: "ours (paper)".
fn beside(ours: String, paper: Option<String>) -> String {
    match paper {
        Some(p) => format!("{ours} ({p})"),
        None => ours,
    }
}

impl Reproduction {
    /// The table with the paper's figures in parentheses.
    pub fn table(&self, paper: &PaperFigures) -> Table {
        match self {
            Reproduction::Models { experiment, rows, .. } => {
                let header = ["model", "train error", "test error", "mean min. distortion", "success"]
                    .map(String::from)
                    .to_vec();
                let rows = rows
                    .iter()
                    .map(|r| {
                        let p =
                            (*experiment == Experiment::Table1).then(|| paper.table1.models.get(&r.model)).flatten();
                        vec![
                            r.model.clone(),
                            beside(percent(r.train_error), p.map(|p| percent(p.train_error))),
                            beside(
                                format!("{:.2}%", 100.0 * r.test_error),
                                p.map(|p| format!("{:.2}%", 100.0 * p.test_error)),
                            ),
                            beside(format!("{:.3}", r.mean_distortion), p.map(|p| format!("{:.3}", p.distortion))),
                            percent(r.success_rate),
                        ]
                    })
                    .collect();
                Table { header, rows }
            }
            Reproduction::Transfer { experiment, table } => {
                let cross = match experiment {
                    Experiment::Table2 => Some(&paper.table2),
                    Experiment::Table4 => Some(&paper.table4),
                    _ => None,
                };
                let mut t = table.table();
                for (row, ours) in t.rows.iter_mut().zip(&table.rows) {
                    let p = cross.and_then(|c| c.rows.iter().find(|p| p.source == ours.source).map(|p| (c, p)));
                    for (j, model) in table.models.iter().enumerate() {
                        let theirs = p
                            .and_then(|(c, p)| c.columns.iter().position(|m| m == model).map(|k| percent(p.errors[k])));
                        row[j + 1] = beside(percent(ours.errors[j]), theirs);
                    }
                    let last = row.len() - 1;
                    row[last] = beside(
                        format!("{:.3}", ours.mean_distortion),
                        p.and_then(|(_, p)| p.distortion.map(|d| format!("{d:.3}"))),
                    );
                }
                t
            }
        }
    }
}
