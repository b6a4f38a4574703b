//! Images on the device, once: a whole set lives there as one `[n, pixels]` tensor in [0, 1] and one
//! label tensor, and a batch is an index selection. No copy from the host per step, which is what
//! keeps a GPU busy on MNIST-sized models.

use burn::prelude::*;

use super::images::Images;
use super::mnist::permutation;

/// A batch: flattened inputs `[batch, pixels]` in [0, 1] and their labels `[batch]`.
#[derive(Debug, Clone)]
pub struct Batch {
    pub inputs: Tensor<2>,
    pub labels: Tensor<1, Int>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.labels.dims()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The same batch on the autodiff side of its device (a no-op when it is there already).
    pub fn autodiff(self) -> Batch {
        Batch { inputs: self.inputs.autodiff(), labels: self.labels.autodiff() }
    }
}

/// A set of images held on a device.
#[derive(Debug, Clone)]
pub struct DeviceImages {
    inputs: Tensor<2>,
    labels: Tensor<1, Int>,
    len: usize,
}

impl DeviceImages {
    /// Copies `images` to `device` (without autodiff: batches are constants of the graph).
    pub fn new(images: &Images, device: &Device) -> DeviceImages {
        let device = device.clone().without_autodiff();
        let n = images.len();
        let m = images.pixels_per_image();
        let inputs = Tensor::<2>::from_data(TensorData::new(images.pixels.clone(), [n, m]), &device);
        let labels: Vec<i64> = images.labels.iter().map(|&l| l as i64).collect();
        let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), &device);
        DeviceImages { inputs, labels, len: n }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// All images at once.
    pub fn all(&self) -> Batch {
        Batch { inputs: self.inputs.clone(), labels: self.labels.clone() }
    }

    /// The images at `indices`, in that order.
    pub fn batch(&self, indices: &[usize]) -> Batch {
        let device = self.inputs.device();
        let idx: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [indices.len()]), &device);
        Batch { inputs: self.inputs.clone().select(0, idx.clone()), labels: self.labels.clone().select(0, idx) }
    }

    /// Consecutive batches of at most `batch_size` images, in order.
    pub fn in_order(&self, batch_size: usize) -> impl Iterator<Item = Batch> + '_ {
        (0..self.len).step_by(batch_size.max(1)).map(move |start| {
            let end = (start + batch_size).min(self.len);
            Batch { inputs: self.inputs.clone().slice(start..end), labels: self.labels.clone().slice(start..end) }
        })
    }
}

/// One epoch's batches of indices into a set of `n`: a permutation fixed by `seed`, cut into batches
/// of `batch_size` (the last one may be smaller).
pub fn shuffled_batches(n: usize, batch_size: usize, seed: u64) -> Vec<Vec<usize>> {
    permutation(n, seed).chunks(batch_size.max(1)).map(<[usize]>::to_vec).collect()
}
