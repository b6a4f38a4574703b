//! A trained model with its recipe and data, loaded from a checkpoint for inference.

use std::path::Path;

use burn::prelude::*;

use crate::data::{Dataset, Images, Split};
use crate::model::{ModelSpec, Stack};
use crate::train::Checkpoint;

/// Which images an experiment uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
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

/// The architecture `checkpoint`'s recipe names, for images of `image` shape.
pub fn architecture(checkpoint: &Checkpoint, image: [usize; 3]) -> Result<ModelSpec, crate::Error> {
    let recipe = &checkpoint.recipe;
    crate::recipe::model_spec(recipe, image, 10)
        .ok_or_else(|| crate::train::trainer::Error::Arch(recipe.model.arch.clone(), image[1], image[2]).into())
}

pub struct LoadedModel {
    pub checkpoint: Checkpoint,
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
        let recipe = &checkpoint.recipe;
        let dataset = Dataset::load(recipe.data.dataset, data_dir.or(recipe.data.dir.as_deref()))?;
        let spec = architecture(&checkpoint, [1, dataset.test.rows, dataset.test.cols])?;
        let model = checkpoint.model(&spec, device)?.valid();
        Ok(LoadedModel { checkpoint, model, spec, dataset })
    }

    pub fn name(&self) -> &str {
        &self.checkpoint.recipe.name
    }

    /// The images of `set` as the model's recipe defines them.
    pub fn images(&self, set: ImageSet) -> Images {
        match set {
            ImageSet::Test => self.dataset.test.clone(),
            ImageSet::Train => {
                let r = &self.checkpoint.recipe;
                match r.data.split {
                    Split::Full => self.dataset.train.clone(),
                    Split::P1 => self.dataset.halves().0,
                    Split::P2 => self.dataset.halves().1,
                }
            }
        }
    }
}
