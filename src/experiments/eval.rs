//! `blindspot eval`: a checkpoint's error rates on its run's splits.

use std::path::Path;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::loaded::LoadedModel;
use crate::data::{DeviceImages, Images};
use crate::train::error_rate;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub checkpoint: String,
    pub run: String,
    pub arch: String,
    pub epoch: usize,
    /// The run's training split (after `data.subset`), without dropout.
    pub train_error: f64,
    pub validation_error: Option<f64>,
    pub test_error: f64,
    pub test_examples: usize,
}

/// Loads the checkpoint at `path` (a run folder or a checkpoint folder) and measures its errors.
/// `data_dir` overrides where the dataset is read from.
pub fn evaluate(path: &Path, device: &Device, data_dir: Option<&Path>) -> Result<EvalReport, crate::Error> {
    let loaded = LoadedModel::open(path, device, data_dir)?;
    let recipe = &loaded.recipe;
    let splits = crate::recipe::splits(recipe, &loaded.dataset);
    let test = &loaded.dataset.test;
    let error = |images: &Images| error_rate(&loaded.model, &DeviceImages::new(images, device));
    Ok(EvalReport {
        checkpoint: loaded.checkpoint.dir.display().to_string(),
        run: recipe.name.clone(),
        arch: recipe.model.arch.clone(),
        epoch: loaded.checkpoint.state.epoch,
        train_error: error(&splits.train),
        validation_error: splits.validation.as_ref().map(error),
        test_error: error(test),
        test_examples: test.len(),
    })
}
