//! A sweep's runs: every recipe for every seed, each run a task (recipe-major, seeds 1..=K), and the
//! manifest that lets a task run elsewhere: `<output>/sweep.json` and each run's whole recipe in
//! `<output>/recipes/<run>.toml`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Error;
use super::compare::default_radii;
use super::measure::Measures;
use crate::backend::DeviceChoice;
use crate::recipe::{self, Recipe};
use crate::train::checkpoint::write_atomic;

pub const MANIFEST_FILE: &str = "sweep.json";
const RECIPES_DIR: &str = "recipes";

/// One (recipe, seed) run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The recipe's own name (the run's is `<name>-seed<k>`): the runs of one group are its seeds.
    pub group: String,
    /// The run's recipe: its seed, name and output folder set.
    pub recipe: Recipe,
}

impl Run {
    pub fn name(&self) -> &str {
        &self.recipe.name
    }

    pub fn dir(&self) -> PathBuf {
        recipe::run_dir(&self.recipe)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// The parent folder of the runs.
    pub output: PathBuf,
    /// The sweep's own folder: its manifest, the runs' recipes, the tasks' states and logs (the
    /// output folder, unless set otherwise).
    pub folder: PathBuf,
    pub device: DeviceChoice,
    pub measures: Measures,
    pub runs: Vec<Run>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    blindspot: String,
    /// The runs' parent folder, relative to the manifest's (`.` when they share it).
    output: PathBuf,
    device: DeviceChoice,
    measures: Measures,
    runs: Vec<ManifestRun>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestRun {
    group: String,
    /// The run's recipe file, relative to the sweep's folder.
    recipe: PathBuf,
}

impl Sweep {
    /// Every recipe (loaded with `sets` applied) for seeds 1..=`seeds`, in `output`. Empty
    /// `measures.radii` stand for the radii the recipes train at and the standard 0.3. Everything is
    /// checked here, before a run trains.
    pub fn plan(
        recipes: &[PathBuf],
        seeds: u64,
        sets: &[String],
        output: &Path,
        device: DeviceChoice,
        mut measures: Measures,
    ) -> Result<Sweep, crate::Error> {
        if recipes.is_empty() {
            return Err(Error::NoRecipes.into());
        }
        if seeds == 0 {
            return Err(Error::NoSeeds.into());
        }
        let bases = recipes.iter().map(|path| recipe::load(path, sets)).collect::<Result<Vec<_>, _>>()?;
        if measures.radii.is_empty() {
            measures.radii = default_radii(&bases);
        }
        measures.check()?;
        let runs = bases
            .iter()
            .flat_map(|base| {
                (1..=seeds).map(move |seed| {
                    let mut r = base.clone();
                    r.seed = seed;
                    r.name = format!("{}-seed{seed}", base.name);
                    r.output.dir = output.to_path_buf();
                    r.device = device;
                    Run { group: base.name.clone(), recipe: r }
                })
            })
            .collect();
        Ok(Sweep { output: output.to_path_buf(), folder: output.to_path_buf(), device, measures, runs })
    }

    pub fn manifest(&self) -> PathBuf {
        self.folder.join(MANIFEST_FILE)
    }

    /// Writes the manifest and the runs' recipes; returns the manifest's path.
    pub fn write(&self) -> Result<PathBuf, Error> {
        let recipes = self.folder.join(RECIPES_DIR);
        std::fs::create_dir_all(&recipes).map_err(|e| Error::io(&recipes, e))?;
        let mut runs = Vec::new();
        for run in &self.runs {
            let file = Path::new(RECIPES_DIR).join(format!("{}.toml", run.name()));
            let path = self.folder.join(&file);
            write_atomic(&path, recipe::to_toml(&run.recipe).as_bytes()).map_err(|e| Error::io(&path, e))?;
            runs.push(ManifestRun { group: run.group.clone(), recipe: file });
        }
        let manifest = Manifest {
            blindspot: env!("CARGO_PKG_VERSION").into(),
            output: if self.output == self.folder {
                PathBuf::from(".")
            } else {
                std::path::absolute(&self.output).map_err(|e| Error::io(&self.output, e))?
            },
            device: self.device,
            measures: self.measures.clone(),
            runs,
        };
        let path = self.manifest();
        let json = serde_json::to_string_pretty(&manifest).map_err(|e| Error::io(&path, e))?;
        write_atomic(&path, json.as_bytes()).map_err(|e| Error::io(&path, e))?;
        Ok(path)
    }

    /// The sweep whose manifest is `path` (a sweep's folder or its `sweep.json`). Runs beside the
    /// manifest are found wherever the folder has moved.
    pub fn read(path: &Path) -> Result<Sweep, crate::Error> {
        let is_manifest = path.extension().is_some_and(|e| e == "json") && !path.is_dir();
        let file = if is_manifest { path.to_path_buf() } else { path.join(MANIFEST_FILE) };
        let folder = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let bad = |reason: String| Error::Manifest { path: file.clone(), reason };
        let text = std::fs::read_to_string(&file).map_err(|e| bad(format!("{e} (is it a sweep's folder?)")))?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let output = if manifest.output == Path::new(".") { folder.clone() } else { folder.join(&manifest.output) };
        let runs = manifest
            .runs
            .into_iter()
            .map(|run| {
                let mut recipe = recipe::load(&folder.join(&run.recipe), &[])?;
                recipe.output.dir = output.clone();
                Ok(Run { group: run.group, recipe })
            })
            .collect::<Result<Vec<_>, crate::Error>>()?;
        if runs.is_empty() {
            return Err(bad("no runs".into()).into());
        }
        Ok(Sweep { output, folder, device: manifest.device, measures: manifest.measures, runs })
    }

    /// The run of task `index`.
    pub fn run(&self, index: usize) -> Result<&Run, Error> {
        self.runs.get(index).ok_or(Error::NoTask { index, tasks: self.runs.len() })
    }

    /// Where task `index` logs (a Slurm task's output).
    pub fn log(&self, index: usize) -> PathBuf {
        self.folder.join("logs").join(format!("task-{index}.log"))
    }
}
