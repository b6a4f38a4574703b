//! A recipe's run: the zoo model, the data and the rooms' configs it names, put into a
//! [`Trainer`]; a resumed run must be the run its checkpoint belongs to.

use std::path::{Path, PathBuf};

use burn::prelude::*;

use super::load::{self, model_spec, to_toml};
use super::pretrain;
use super::schema::Recipe;
use crate::backend::DeviceChoice;
use crate::data::{Dataset, Images, Splits};
use crate::model::{ModelSpec, Stack};
use crate::train::checkpoint::{Checkpoint, LATEST, RECIPE_FILE};
use crate::train::{Existing, Hook, RunSummary, Trainer};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: the run was made by a different recipe ({key} differs); train without resuming to start over")]
    RecipeChanged { path: PathBuf, key: String },
    #[error("{key}: {asked} is more than the {available} images it is taken from")]
    Subset { key: &'static str, asked: usize, available: usize },
    #[error("model.arch: {arch} does not fit {}x{} images of {} channels", shape[1], shape[2], shape[0])]
    Arch { arch: String, shape: [usize; 3] },
}

/// How to run a recipe.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub device: DeviceChoice,
    /// What to do with a run folder that holds an earlier run: refuse (the default), resume it,
    /// overwrite it or set it aside.
    pub existing: Existing,
}

/// The run folder of `recipe`: `<output.dir>/<name>`.
pub fn run_dir(recipe: &Recipe) -> PathBuf {
    recipe.output.dir.join(&recipe.name)
}

/// The recipe a checkpoint was trained from (its `recipe.toml`).
pub fn saved(checkpoint: &Checkpoint) -> Result<Recipe, load::Error> {
    load::load(&checkpoint.dir.join(RECIPE_FILE), &[])
}

/// The images a recipe's run trains on, validates on and is tested on: its split of the data set,
/// the validation hold-out taken out, then `data.subset` and `data.test_subset` applied. A subset
/// larger than what it takes from is refused (it would silently be the whole set).
pub fn splits(recipe: &Recipe, dataset: &Dataset) -> Result<Splits, Error> {
    let d = &recipe.data;
    let mut splits = dataset.splits(d.split, d.validation);
    for (key, asked, set) in
        [("data.subset", d.subset, &mut splits.train), ("data.test_subset", d.test_subset, &mut splits.test)]
    {
        if asked > set.len() {
            return Err(Error::Subset { key, asked, available: set.len() });
        }
        if asked > 0 {
            *set = set.head(asked);
        }
    }
    Ok(splits)
}

/// The zoo model the recipe names, for images like `images`.
pub fn architecture(recipe: &Recipe, images: &Images) -> Result<ModelSpec, Error> {
    model_spec(recipe, images.shape, images.classes)
        .filter(|s| s.inputs() == images.pixels_per_image())
        .ok_or_else(|| Error::Arch { arch: recipe.model.arch.clone(), shape: images.shape })
}

/// Loads the recipe's data, then trains it with the default hooks followed by `extra` hooks.
pub fn run(
    recipe: &Recipe,
    options: &TrainOptions,
    extra: Vec<Box<dyn Hook<Stack>>>,
) -> Result<RunSummary, crate::Error> {
    let dataset = Dataset::load(recipe.data.dataset, recipe.data.dir.as_deref())?;
    // With several devices per step, the run is on the first.
    let device = recipe.train.devices.first().copied().unwrap_or(options.device).device()?;
    train(recipe, &splits(recipe, &dataset)?, &device, options, extra)
}

/// Trains `recipe` on `splits` on `device` with `hooks` after the built-in ones.
pub fn train(
    recipe: &Recipe,
    splits: &Splits,
    device: &Device,
    options: &TrainOptions,
    hooks: Vec<Box<dyn Hook<Stack>>>,
) -> Result<RunSummary, crate::Error> {
    let spec = architecture(recipe, &splits.train)?;
    let dir = run_dir(recipe);
    if options.existing == Existing::Resume && dir.join(LATEST).is_file() {
        check_same_recipe(&dir, recipe)?;
    }
    let ad = device.clone().autodiff();
    device.seed(recipe.seed);
    let model: Stack = spec.init(&ad);
    let data = format!("{} {:?}", recipe.data.dataset, recipe.data.split);
    let mut trainer = Trainer::new(model, splits.clone(), recipe.train.clone(), recipe.optimizer.clone())
        .name(&recipe.name)
        .seed(recipe.seed)
        .output(recipe.output.clone())
        .describe(&recipe.model.arch, data)
        .existing(options.existing)
        .keep_file(RECIPE_FILE, to_toml(recipe));
    if let Some(pools) = &recipe.adversarial {
        trainer = trainer.pools(pools.clone());
    }
    if let Some(fresh) = &recipe.fresh {
        trainer = trainer.fresh(fresh.clone());
    }
    if let Some(bank) = &recipe.bank {
        trainer = trainer.bank(bank.clone());
    }
    if let Some(certified) = &recipe.certified {
        trainer = trainer.certified(certified.clone());
    }
    if let Some(penalty) = &recipe.lipschitz {
        trainer = trainer.penalty(penalty.clone());
    }
    if let Some(p) = recipe.pretrain.clone() {
        let (config, seed) = (recipe.train.clone(), recipe.seed);
        trainer = trainer
            .prepare(Box::new(move |model, train| Ok(pretrain::pretrain(model, train, &p, &config, seed, &ad)?)));
    }
    for hook in hooks {
        trainer = trainer.hook(hook);
    }
    Ok(trainer.run()?.summary)
}

/// A resumed run must be the run its folder holds (the device may differ): the recipe the run
/// folder keeps (as every checkpoint does), so a damaged latest checkpoint does not hide it.
fn check_same_recipe(run_dir: &Path, recipe: &Recipe) -> Result<(), crate::Error> {
    let path = run_dir.join(RECIPE_FILE);
    let saved = Recipe { device: recipe.device, ..load::load(&path, &[])? };
    let saved = toml::Value::try_from(&saved).expect("recipes serialise");
    let now = toml::Value::try_from(recipe).expect("recipes serialise");
    match first_difference(&saved, &now, "") {
        None => Ok(()),
        Some(key) => Err(Error::RecipeChanged { path, key }.into()),
    }
}

fn first_difference(a: &toml::Value, b: &toml::Value, prefix: &str) -> Option<String> {
    match (a, b) {
        (toml::Value::Table(x), toml::Value::Table(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => first_difference(u, v, &key),
                    _ => Some(key),
                }
            })
        }
        _ if a == b => None,
        _ => Some(prefix.to_string()),
    }
}
