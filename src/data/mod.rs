//! Datasets: image sets in memory (`Images`, from the readers or a program's own tensors), the IDX
//! reader (MNIST, Fashion-MNIST), the CIFAR-10 binary reader, the paper's splits, device batches.

pub mod batcher;
pub mod cifar;
pub mod idx;
pub mod images;
pub mod mnist;

pub use batcher::{Batch, DeviceImages, shuffled_batches};
pub use idx::Error;
pub use images::Images;
pub use mnist::{DATA_DIR_ENV, Dataset, DatasetName, Split, Splits};
