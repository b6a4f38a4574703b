//! Datasets: the IDX reader, MNIST / Fashion-MNIST with the paper's splits, and device batches.

pub mod batcher;
pub mod idx;
pub mod mnist;

pub use batcher::{Batch, DeviceImages, shuffled_batches};
pub use idx::Error;
pub use mnist::{DATA_DIR_ENV, Dataset, DatasetName, Images, Split, Splits};
