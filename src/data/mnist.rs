//! The data sets by name (MNIST, Fashion-MNIST, CIFAR-10), and the splits the paper uses: the full training set, its two
//! disjoint halves P1 and P2 (30,000 each, fixed seed), and an optional validation hold-out.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::idx::{self, Error, IMAGES_MAGIC, LABELS_MAGIC};
use super::images::Images;

/// Environment variable that overrides where datasets are read from.
pub const DATA_DIR_ENV: &str = "BLINDSPOT_DATA_DIR";
/// Seed of the permutation that splits MNIST's training set into P1 and P2. Fixed forever, so P1 and
/// P2 are the same sets on every machine and in every run.
pub const HALVES_SEED: u64 = 1312_6199;
/// Seed of the permutation that picks validation hold-out examples.
pub const VALIDATION_SEED: u64 = 2013;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    Mnist,
    FashionMnist,
    /// CIFAR-10's binary version (`data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin`).
    #[serde(rename = "cifar10")]
    Cifar10,
}

impl DatasetName {
    /// The shape of one image, `[channels, height, width]`.
    pub fn image_shape(self) -> [usize; 3] {
        match self {
            DatasetName::Mnist | DatasetName::FashionMnist => [1, 28, 28],
            DatasetName::Cifar10 => [3, 32, 32],
        }
    }

    /// The number of classes.
    pub fn classes(self) -> usize {
        10
    }

    /// The size of the published training set (what a data folder of this set holds).
    pub fn training_images(self) -> usize {
        match self {
            DatasetName::Mnist | DatasetName::FashionMnist => 60_000,
            DatasetName::Cifar10 => 50_000,
        }
    }

    /// Where the dataset lives when neither `--data-dir` nor `BLINDSPOT_DATA_DIR` says otherwise.
    pub fn default_dir(self) -> PathBuf {
        match self {
            DatasetName::Mnist => {
                let local = PathBuf::from("data/mnist");
                if local.is_dir() { local } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist") }
            }
            DatasetName::FashionMnist => PathBuf::from("/usr/share/datasets/fashion-mnist"),
            DatasetName::Cifar10 => PathBuf::from("data/cifar-10-batches-bin"),
        }
    }

    /// MD5 of the decompressed files, where known: (train images, train labels, test images, test labels).
    fn checksums(self) -> Option<[&'static str; 4]> {
        match self {
            DatasetName::Mnist => Some([
                "6bbc9ace898e44ae57da46a324031adb",
                "a25bea736e30d166cdddb491f175f624",
                "2646ac647ad5339dbf082846283269ea",
                "27ae3e4e09519cfbb04c329615203637",
            ]),
            DatasetName::FashionMnist | DatasetName::Cifar10 => None,
        }
    }
}

impl std::fmt::Display for DatasetName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
            DatasetName::Cifar10 => "cifar10",
        })
    }
}

/// Which part of the training set a run trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Split {
    /// All 60,000 training images.
    #[default]
    Full,
    /// The first disjoint half (30,000 images) of the paper's cross-training-set experiment.
    P1,
    /// The second disjoint half.
    P2,
}

impl Split {
    /// The images of a training set of `total` that this split takes.
    pub fn of(self, total: usize) -> usize {
        match self {
            Split::Full => total,
            Split::P1 => total / 2,
            Split::P2 => total - total / 2,
        }
    }
}

/// Reads an IDX image file and its label file (checksums where known) as an image set of 10 classes.
fn read_idx(images: &Path, labels: &Path, md5: Option<(&str, &str)>) -> Result<Images, Error> {
    let x = idx::read(images, IMAGES_MAGIC, md5.map(|m| m.0))?;
    let y = idx::read(labels, LABELS_MAGIC, md5.map(|m| m.1))?;
    if x.dims[0] != y.dims[0] {
        return Err(Error::LabelCountMismatch {
            labels: labels.to_path_buf(),
            label_count: y.dims[0],
            images: images.to_path_buf(),
            image_count: x.dims[0],
        });
    }
    if let Some((index, &label)) = y.data.iter().enumerate().find(|(_, l)| **l > 9) {
        return Err(Error::BadLabel { path: labels.to_path_buf(), index, label });
    }
    Ok(Images::from_bytes([1, x.dims[1], x.dims[2]], 10, &x.data, y.data))
}

/// A dataset's training and test sets.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub name: DatasetName,
    pub train: Images,
    pub test: Images,
}

/// The sets one run uses.
#[derive(Debug, Clone)]
pub struct Splits {
    pub train: Images,
    pub validation: Option<Images>,
    pub test: Images,
}

/// Finds the file `stem` in `dir`, compressed (`stem.gz`) or raw.
fn locate(dir: &Path, stem: &str) -> PathBuf {
    let gz = dir.join(format!("{stem}.gz"));
    if gz.exists() {
        gz
    } else if dir.join(stem).exists() {
        dir.join(stem)
    } else {
        gz
    }
}

impl Dataset {
    /// Reads a dataset from `dir`, or from its default place (see [`DatasetName::default_dir`] and
    /// [`DATA_DIR_ENV`]).
    pub fn load(name: DatasetName, dir: Option<&Path>) -> Result<Dataset, Error> {
        let dir = match dir {
            Some(dir) => dir.to_path_buf(),
            None => match std::env::var_os(DATA_DIR_ENV) {
                Some(dir) => PathBuf::from(dir),
                None => name.default_dir(),
            },
        };
        if name == DatasetName::Cifar10 {
            return super::cifar::load(&dir);
        }
        let sums = name.checksums();
        let train = read_idx(
            &locate(&dir, "train-images-idx3-ubyte"),
            &locate(&dir, "train-labels-idx1-ubyte"),
            sums.map(|s| (s[0], s[1])),
        )?;
        let test = read_idx(
            &locate(&dir, "t10k-images-idx3-ubyte"),
            &locate(&dir, "t10k-labels-idx1-ubyte"),
            sums.map(|s| (s[2], s[3])),
        )?;
        Ok(Dataset { name, train, test })
    }

    /// The paper's disjoint halves of the training set: (P1, P2), 30,000 images each for MNIST.
    pub fn halves(&self) -> (Images, Images) {
        let order = permutation(self.train.len(), HALVES_SEED);
        let (p1, p2) = order.split_at(Split::P1.of(self.train.len()));
        (self.train.select(p1), self.train.select(p2))
    }

    /// The training part `split`, with `validation` images held out of it (0: none), and the test set.
    pub fn splits(&self, split: Split, validation: usize) -> Splits {
        let train = match split {
            Split::Full => self.train.clone(),
            Split::P1 => self.halves().0,
            Split::P2 => self.halves().1,
        };
        if validation == 0 {
            return Splits { train, validation: None, test: self.test.clone() };
        }
        let order = permutation(train.len(), VALIDATION_SEED);
        let (keep, held) = order.split_at(train.len().saturating_sub(validation));
        Splits { train: train.select(keep), validation: Some(train.select(held)), test: self.test.clone() }
    }
}

/// A permutation of `0..n` that depends only on `seed`.
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    use rand::{SeedableRng, seq::SliceRandom};
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    order
}
