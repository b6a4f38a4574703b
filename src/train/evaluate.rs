//! Error rates of a model on a set of images, in batches, with one device sync at the end.

use crate::data::DeviceImages;
use crate::model::{Layered, wrong};

/// Batch size of evaluation passes: large enough to keep a GPU busy, small enough for a convnet's
/// activations on a CPU.
pub const EVAL_BATCH: usize = 1000;

/// Fraction of `images` that `model` misclassifies. Pass an inference copy (`model.valid()`): with
/// autodiff on, dropout would be active.
pub fn error_rate(model: &dyn Layered, images: &DeviceImages) -> f64 {
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
