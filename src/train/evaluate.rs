//! Error rates of a model on a set of images, in batches, with one device sync at the end.

use burn::prelude::*;

use crate::data::DeviceImages;
use crate::model::Stack;

/// Batch size of evaluation passes: large enough to keep a GPU busy, small enough for a convnet's
/// activations on a CPU.
pub const EVAL_BATCH: usize = 1000;

/// Fraction of `images` that `model` misclassifies. Pass an inference copy (`model.valid()`): with
/// autodiff on, dropout would be active.
pub fn error_rate(model: &Stack, images: &DeviceImages) -> f64 {
    if images.is_empty() {
        return 0.0;
    }
    let errors = images
        .in_order(EVAL_BATCH)
        .map(|batch| wrong(model.forward(batch.inputs), batch.labels))
        .reduce(|a, b| a + b)
        .expect("a non-empty set has a batch");
    errors.into_scalar::<i64>() as f64 / images.len() as f64
}

/// Number of misclassified examples as a device scalar (no sync).
pub fn wrong(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1, Int> {
    logits.argmax(1).flatten::<1>(0, 1).not_equal(labels).int().sum()
}

/// Error rates of a checkpoint on its run's splits.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
pub fn evaluate_checkpoint(path: &std::path::Path, device: &Device, data_dir: Option<&std::path::Path>) -> Result<EvalReport, crate::Error> {
    use crate::data::Dataset;
    let ckpt = super::Checkpoint::open(path)?;
    let recipe = &ckpt.recipe;
    let dataset = Dataset::load(recipe.data.dataset, data_dir.or(recipe.data.dir.as_deref()))?;
    let splits = dataset.splits(recipe.data.split, recipe.data.validation);
    let image = [1, dataset.test.rows, dataset.test.cols];
    let spec = crate::recipe::model_spec(recipe, image, 10)
        .ok_or_else(|| super::trainer::Error::Arch(recipe.model.arch.clone(), image[1], image[2]))?;
    let model = ckpt.model(&spec, device)?.valid();
    let train = match recipe.data.subset {
        0 => splits.train,
        n => splits.train.head(n),
    };
    let error = |images: &crate::data::Images| error_rate(&model, &DeviceImages::new(images, device));
    Ok(EvalReport {
        checkpoint: ckpt.dir.display().to_string(),
        run: recipe.name.clone(),
        arch: recipe.model.arch.clone(),
        epoch: ckpt.state.epoch,
        train_error: error(&train),
        validation_error: splits.validation.as_ref().map(error),
        test_error: error(&splits.test),
        test_examples: splits.test.len(),
    })
}
