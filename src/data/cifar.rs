//! CIFAR-10's binary version: `data_batch_1.bin` … `data_batch_5.bin` (training) and
//! `test_batch.bin`, each a sequence of records of one label byte (0–9) and 3,072 pixel bytes
//! (the 32 × 32 red plane, then green, then blue). Users bring the files (not downloaded here).

use std::path::Path;

use super::idx::Error;
use super::images::Images;
use super::mnist::{Dataset, DatasetName};

/// One image's `[channels, height, width]`.
pub const SHAPE: [usize; 3] = [3, 32, 32];
const RECORD: usize = 1 + 3 * 32 * 32;

/// Reads the training batches and the test batch from `dir`.
pub fn load(dir: &Path) -> Result<Dataset, Error> {
    let mut train = read_batch(&dir.join("data_batch_1.bin"))?;
    for k in 2..=5 {
        let batch = read_batch(&dir.join(format!("data_batch_{k}.bin")))?;
        train.pixels.extend(batch.pixels);
        train.labels.extend(batch.labels);
    }
    let test = read_batch(&dir.join("test_batch.bin"))?;
    Ok(Dataset { name: DatasetName::Cifar10, train, test })
}

/// Reads one batch file.
pub fn read_batch(path: &Path) -> Result<Images, Error> {
    if !path.is_file() {
        return Err(Error::Missing { path: path.to_path_buf() });
    }
    let bytes =
        std::fs::read(path).map_err(|e| Error::Unreadable { path: path.to_path_buf(), reason: e.to_string() })?;
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(Error::RecordSize { path: path.to_path_buf(), size: bytes.len(), record: RECORD });
    }
    let mut labels = Vec::with_capacity(bytes.len() / RECORD);
    let mut pixels = Vec::with_capacity(bytes.len() / RECORD * (RECORD - 1));
    for (index, record) in bytes.chunks(RECORD).enumerate() {
        if record[0] > 9 {
            return Err(Error::BadLabel { path: path.to_path_buf(), index, label: record[0] });
        }
        labels.push(record[0]);
        pixels.extend_from_slice(&record[1..]);
    }
    Ok(Images::from_bytes(SHAPE, 10, &pixels, labels))
}
