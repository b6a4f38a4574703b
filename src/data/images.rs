//! An image set in memory: images `[N, C, H, W]` with values in [0, 1], their labels and the
//! number of classes. The readers (IDX, CIFAR-10) make one; so can a program from its own
//! tensors or files (`Images::new`, `Images::from_tensor`).

use burn::prelude::*;

use super::idx::Error;

/// Images with labels: `pixels` holds `len() · C · H · W` values in [0, 1], image after image, each
/// `[channels, height, width]` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Images {
    /// One image's `[channels, height, width]`.
    pub shape: [usize; 3],
    /// The number of classes the labels come from (0 to `classes - 1`).
    pub classes: usize,
    pub pixels: Vec<f32>,
    pub labels: Vec<u8>,
}

impl Images {
    /// An image set, checked: one label per image, pixels finite and in [0, 1], labels below
    /// `classes` (at most 256).
    pub fn new(shape: [usize; 3], classes: usize, pixels: Vec<f32>, labels: Vec<u8>) -> Result<Images, Error> {
        let bad = |reason: String| Err(Error::BadSet(reason));
        let per_image: usize = shape.iter().product();
        if per_image == 0 {
            return bad(format!("an image of shape {shape:?} has no pixels"));
        }
        if !(1..=256).contains(&classes) {
            return bad(format!("{classes} classes: give 1 to 256"));
        }
        if pixels.len() != labels.len() * per_image {
            return bad(format!(
                "{} values for {} images of {per_image} pixels ({shape:?})",
                pixels.len(),
                labels.len()
            ));
        }
        if let Some(i) = pixels.iter().position(|p| !(0.0..=1.0).contains(p)) {
            return bad(format!("pixel {i} of the set is {}, not in [0, 1]", pixels[i]));
        }
        if let Some(i) = labels.iter().position(|&l| l as usize >= classes) {
            return bad(format!("label {} of image {i} is not a class 0-{}", labels[i], classes - 1));
        }
        Ok(Images { shape, classes, pixels, labels })
    }

    /// An image set from a tensor `[N, C, H, W]` of values in [0, 1] and one label per image.
    pub fn from_tensor(images: Tensor<4>, labels: Vec<u8>, classes: usize) -> Result<Images, Error> {
        let [_, c, h, w] = images.dims();
        let pixels =
            images.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| Error::BadSet(format!("{e:?}")))?;
        Images::new([c, h, w], classes, pixels, labels)
    }

    /// Bytes 0–255 scaled to [0, 1] (what the readers store), unchecked: the readers check labels.
    pub(crate) fn from_bytes(shape: [usize; 3], classes: usize, bytes: &[u8], labels: Vec<u8>) -> Images {
        Images { shape, classes, pixels: bytes.iter().map(|&p| p as f32 / 255.0).collect(), labels }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per image: channels × height × width.
    pub fn pixels_per_image(&self) -> usize {
        self.shape.iter().product()
    }

    /// Image `i`'s values, `[channels, height, width]` row-major.
    pub fn image(&self, i: usize) -> &[f32] {
        let m = self.pixels_per_image();
        &self.pixels[i * m..(i + 1) * m]
    }

    /// The images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Images {
        let mut pixels = Vec::with_capacity(indices.len() * self.pixels_per_image());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        let labels = indices.iter().map(|&i| self.labels[i]).collect();
        Images { shape: self.shape, classes: self.classes, pixels, labels }
    }

    /// The first `n` images (all of them if `n` is larger).
    pub fn head(&self, n: usize) -> Images {
        let n = n.min(self.len());
        self.select(&(0..n).collect::<Vec<_>>())
    }
}
