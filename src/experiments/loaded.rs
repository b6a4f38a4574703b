//! A trained model with its recipe and data, loaded from a checkpoint for inference.

use std::path::Path;

use burn::prelude::*;

use crate::data::{Dataset, Images};
use crate::model::{ModelSpec, Stack};
use crate::recipe::{self, Recipe};
use crate::train::Checkpoint;

/// Which images an experiment uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageSet {
    /// The model's own training split (Table 1 attacks training images).
    Train,
    /// The test set (Tables 3 and 4).
    Test,
}

impl std::fmt::Display for ImageSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ImageSet::Train => "training",
            ImageSet::Test => "test",
        })
    }
}

/// The recipe, architecture and weights (on `device`, with autodiff if the device has it) of
/// `checkpoint`, for images of its data set's shape.
pub fn checkpoint_model(checkpoint: &Checkpoint, device: &Device) -> Result<(Recipe, ModelSpec, Stack), crate::Error> {
    let recipe = recipe::saved(checkpoint)?;
    let (shape, classes) = (recipe.data.dataset.image_shape(), recipe.data.dataset.classes());
    let spec = recipe::model_spec(&recipe, shape, classes)
        .ok_or_else(|| recipe::run::Error::Arch { arch: recipe.model.arch.clone(), shape })?;
    let model = checkpoint.load_model(spec.init(device))?;
    Ok((recipe, spec, model))
}

pub struct LoadedModel {
    pub checkpoint: Checkpoint,
    /// The recipe the checkpoint was trained from.
    pub recipe: Recipe,
    /// The inference copy (no autodiff, dropout off).
    pub model: Stack,
    /// The model's architecture (layers, input shape), as its recipe defines it.
    pub spec: ModelSpec,
    pub dataset: Dataset,
}

impl LoadedModel {
    /// Loads the checkpoint at `path` (run folder or checkpoint folder) onto `device`.
    pub fn open(path: &Path, device: &Device, data_dir: Option<&Path>) -> Result<LoadedModel, crate::Error> {
        let checkpoint = Checkpoint::open(path)?;
        let recipe = recipe::saved(&checkpoint)?;
        let dataset = Dataset::load(recipe.data.dataset, data_dir.or(recipe.data.dir.as_deref()))?;
        let spec = recipe::architecture(&recipe, &dataset.test)?;
        let model = checkpoint.load_model(spec.init(device))?.valid();
        Ok(LoadedModel { checkpoint, recipe, model, spec, dataset })
    }

    pub fn name(&self) -> &str {
        &self.recipe.name
    }

    /// The images of `set` as the model's recipe defines them: the run's own training images
    /// (`recipe::splits`: its split, without the validation hold-out, `data.subset` applied) or
    /// the whole test set.
    pub fn images(&self, set: ImageSet) -> Images {
        match set {
            ImageSet::Test => self.dataset.test.clone(),
            ImageSet::Train => recipe::splits(&self.recipe, &self.dataset).train,
        }
    }
}
