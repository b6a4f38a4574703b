//! A trained model with its run's images, for the experiments that measure it.

use crate::data::{DatasetName, Images};
use crate::model::Stack;
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

/// A trained model with the images of its run, ready for inference: `recipe::open` reads a zoo
/// model from a checkpoint; a model of your own (a `Whole`, a `Layered` of yours) is put together
/// from its checkpoint and images. Every measurement in `experiments` takes one.
pub struct LoadedModel<M = Stack> {
    pub checkpoint: Checkpoint,
    /// The run's name.
    pub name: String,
    /// The inference copy (no autodiff, dropout off).
    pub model: M,
    /// The model's architecture, in words (a recipe's `model.arch`).
    pub arch: String,
    pub data: DatasetName,
    /// The run's own training images: its split, without the validation hold-out, its subset.
    pub train: Images,
    /// The run's validation hold-out, if it kept one.
    pub validation: Option<Images>,
    /// The whole test set.
    pub test: Images,
}

impl<M> LoadedModel<M> {
    /// The images of `set`: the run's own training images or the whole test set.
    pub fn images(&self, set: ImageSet) -> &Images {
        match set {
            ImageSet::Test => &self.test,
            ImageSet::Train => &self.train,
        }
    }
}
