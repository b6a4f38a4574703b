//! How a model's answers score against the labels, kept on the device (no step waits for them).

use burn::prelude::*;

/// Number of misclassified rows of `logits` `[batch, classes]` as a device scalar (no sync).
pub fn wrong(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1, Int> {
    logits.argmax(1).flatten::<1>(0, 1).not_equal(labels).int().sum()
}
