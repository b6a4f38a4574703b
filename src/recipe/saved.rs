//! A trained run read back: the checkpoint's recipe names the architecture and the data, so its
//! weights can be loaded and its images found.

use std::path::Path;

use burn::prelude::*;

use super::load::model_spec;
use super::run::{self, architecture, saved, splits};
use super::schema::Recipe;
use crate::data::Dataset;
use crate::experiments::LoadedModel;
use crate::model::{ModelSpec, Stack};
use crate::train::Checkpoint;

/// The recipe, architecture and weights (on `device`, with autodiff if the device has it) of
/// `checkpoint`, for images of its data set's shape.
pub fn checkpoint_model(checkpoint: &Checkpoint, device: &Device) -> Result<(Recipe, ModelSpec, Stack), crate::Error> {
    let recipe = saved(checkpoint)?;
    let (shape, classes) = (recipe.data.dataset.image_shape(), recipe.data.dataset.classes());
    let spec = model_spec(&recipe, shape, classes)
        .ok_or_else(|| run::Error::Arch { arch: recipe.model.arch.clone(), shape })?;
    let model = checkpoint.load_model(spec.init(device))?;
    Ok((recipe, spec, model))
}

/// Loads the checkpoint at `path` (run folder or checkpoint folder) onto `device` for inference,
/// with its run's images (read from `data_dir` instead of the recipe's folder if given).
pub fn open(path: &Path, device: &Device, data_dir: Option<&Path>) -> Result<LoadedModel, crate::Error> {
    let checkpoint = Checkpoint::open(path)?;
    let recipe = saved(&checkpoint)?;
    let dataset = Dataset::load(recipe.data.dataset, data_dir.or(recipe.data.dir.as_deref()))?;
    let spec = architecture(&recipe, &dataset.test)?;
    let model = checkpoint.load_model(spec.init(device))?.valid();
    let run = splits(&recipe, &dataset)?;
    Ok(LoadedModel {
        checkpoint,
        name: recipe.name,
        model,
        arch: spec.arch,
        data: dataset.name,
        train: run.train,
        validation: run.validation,
        test: dataset.test,
    })
}
