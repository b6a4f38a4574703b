//! The IDX file format of MNIST and Fashion-MNIST: a big-endian header (magic, then one u32 per
//! dimension) followed by unsigned bytes. Files may be gzip-compressed; the checksum, when one is
//! known, is the MD5 of the decompressed content.

use std::io::Read;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

/// Magic number of an IDX file of unsigned bytes with 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Magic number of an IDX file of unsigned bytes with 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: file not found")]
    Missing { path: PathBuf },
    #[error("{path}: cannot read: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("{path}: wrong magic number {found:#010x}, expected {expected:#010x} ({what})")]
    WrongMagic { path: PathBuf, found: u32, expected: u32, what: &'static str },
    #[error("{path}: truncated: header promises {expected} bytes of data, file has {found}")]
    Truncated { path: PathBuf, expected: usize, found: usize },
    #[error("{path}: {found} bytes after the data, expected none")]
    TrailingBytes { path: PathBuf, found: usize },
    #[error("{path}: checksum mismatch: MD5 of the decompressed content is {found}, expected {expected}")]
    Checksum { path: PathBuf, found: String, expected: String },
    #[error("{labels}: {label_count} labels but {images} has {image_count} images")]
    LabelCountMismatch { labels: PathBuf, label_count: usize, images: PathBuf, image_count: usize },
    #[error("{path}: label {label} at index {index} is not a class 0-9")]
    BadLabel { path: PathBuf, index: usize, label: u8 },
    #[error("{path}: {size} bytes is not a whole number of {record}-byte records")]
    RecordSize { path: PathBuf, size: usize, record: usize },
    #[error("image set: {0}")]
    BadSet(String),
}

/// An IDX array: its dimensions and its bytes, row-major.
#[derive(Debug, Clone)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads the decompressed bytes of `path` (gzip is recognised by its magic bytes, not its name).
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, Error> {
    let raw = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Missing { path: path.to_path_buf() },
        _ => Error::Unreadable { path: path.to_path_buf(), reason: e.to_string() },
    })?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| Error::Unreadable { path: path.to_path_buf(), reason: format!("bad gzip stream ({e})") })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// MD5 of `bytes` as lowercase hex.
pub fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses an IDX file of unsigned bytes, checking its magic (and so its number of dimensions), its
/// length, and (when given) the MD5 of its decompressed content.
pub fn read(path: &Path, magic: u32, md5: Option<&str>) -> Result<IdxArray, Error> {
    let bytes = read_bytes(path)?;
    let what = if magic == IMAGES_MAGIC { "images" } else { "labels" };
    let header =
        |i: usize| -> Option<u32> { bytes.get(4 * i..4 * i + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])) };
    let found =
        header(0).ok_or_else(|| Error::Truncated { path: path.to_path_buf(), expected: 4, found: bytes.len() })?;
    if found != magic {
        return Err(Error::WrongMagic { path: path.to_path_buf(), found, expected: magic, what });
    }
    let rank = (magic & 0xff) as usize;
    let dims: Vec<usize> = (1..=rank)
        .map(|i| header(i).map(|d| d as usize))
        .collect::<Option<_>>()
        .ok_or_else(|| Error::Truncated { path: path.to_path_buf(), expected: 4 * (rank + 1), found: bytes.len() })?;
    let offset = 4 * (rank + 1);
    let expected = dims.iter().product::<usize>();
    let found = bytes.len() - offset;
    if found < expected {
        return Err(Error::Truncated { path: path.to_path_buf(), expected, found });
    }
    if found > expected {
        return Err(Error::TrailingBytes { path: path.to_path_buf(), found: found - expected });
    }
    if let Some(expected) = md5 {
        let found = md5_hex(&bytes);
        if found != expected {
            return Err(Error::Checksum { path: path.to_path_buf(), found, expected: expected.to_string() });
        }
    }
    let data = bytes[offset..].to_vec();
    Ok(IdxArray { dims, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut out = magic.to_be_bytes().to_vec();
        for d in dims {
            out.extend(d.to_be_bytes());
        }
        out.extend(data);
        out
    }

    #[test]
    fn reads_raw_and_gzip_alike() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = idx(IMAGES_MAGIC, &[2, 2, 2], &[0, 1, 2, 3, 4, 5, 6, 7]);
        let raw = dir.path().join("raw");
        std::fs::write(&raw, &bytes).unwrap();
        let gz = dir.path().join("gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, &bytes).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        for path in [raw, gz] {
            let a = read(&path, IMAGES_MAGIC, Some(&md5_hex(&bytes))).unwrap();
            assert_eq!(a.dims, vec![2, 2, 2]);
            assert_eq!(a.data, vec![0, 1, 2, 3, 4, 5, 6, 7]);
        }
    }

    #[test]
    fn every_bad_file_is_a_one_line_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (idx(LABELS_MAGIC, &[3], &[1, 2, 3]), "wrong magic"),
            (idx(IMAGES_MAGIC, &[2, 2, 2], &[0; 7]), "truncated"),
            (idx(IMAGES_MAGIC, &[2], &[]), "truncated"),
            (vec![0, 0], "truncated"),
            (idx(IMAGES_MAGIC, &[1, 1, 1], &[0, 0]), "after the data"),
            (vec![0x1f, 0x8b, 1, 2, 3], "bad gzip"),
        ];
        for (bytes, expected) in cases {
            std::fs::write(&path, &bytes).unwrap();
            let msg = read(&path, IMAGES_MAGIC, None).unwrap_err().to_string();
            assert!(msg.contains(expected), "{msg:?} should say {expected:?}");
            assert!(msg.starts_with(&path.display().to_string()) && !msg.contains('\n'), "{msg}");
        }
        std::fs::write(&path, idx(IMAGES_MAGIC, &[1, 1, 1], &[9])).unwrap();
        let msg = read(&path, IMAGES_MAGIC, Some("00")).unwrap_err().to_string();
        assert!(msg.contains("checksum mismatch"), "{msg}");
        let missing = dir.path().join("nope");
        let msg = read(&missing, IMAGES_MAGIC, None).unwrap_err().to_string();
        assert!(msg.contains("nope: file not found"), "{msg}");
    }
}
