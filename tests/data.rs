//! The IDX reader and datasets on the real, vendored MNIST files, and every bad-data case.

use std::fs;
use std::path::Path;

use blindspot::data::{Dataset, DatasetName, Split};

fn mnist() -> Dataset {
    Dataset::load(DatasetName::Mnist, Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist").as_path())).unwrap()
}

#[test]
fn mnist_loads_with_checksums_and_the_paper_splits() {
    let d = mnist();
    assert_eq!((d.train.len(), d.test.len()), (60_000, 10_000));
    assert_eq!((d.train.rows, d.train.cols), (28, 28));
    assert_eq!(d.train.labels[..5], [5, 0, 4, 1, 9]);
    let (p1, p2) = d.halves();
    assert_eq!((p1.len(), p2.len()), (30_000, 30_000));
    // Disjoint and together the whole set: every training image lands in exactly one half
    // (compare image bytes + label as a multiset).
    let key = |imgs: &blindspot::data::Images, i: usize| (imgs.pixels[i * 784..(i + 1) * 784].to_vec(), imgs.labels[i]);
    let mut all: Vec<_> = (0..60_000).map(|i| key(&d.train, i)).collect();
    let mut halves: Vec<_> = (0..30_000).map(|i| key(&p1, i)).chain((0..30_000).map(|i| key(&p2, i))).collect();
    all.sort();
    halves.sort();
    assert!(all == halves);
    // Fixed seed: the same halves every time.
    assert_eq!(d.halves().0.labels, p1.labels);
    let s = d.splits(Split::P2, 5_000);
    assert_eq!((s.train.len(), s.validation.as_ref().unwrap().len(), s.test.len()), (25_000, 5_000, 10_000));
    assert!(d.splits(Split::Full, 0).validation.is_none());
}

/// Writes the four files of a tiny dataset into `dir` (raw IDX) and returns their paths.
fn write_tiny(dir: &Path, train_images: usize, train_labels: usize) {
    let images = |n: usize| {
        let mut v = 2051u32.to_be_bytes().to_vec();
        for d in [n as u32, 28, 28] {
            v.extend(d.to_be_bytes());
        }
        v.extend(std::iter::repeat_n(7u8, n * 784));
        v
    };
    let labels = |n: usize| {
        let mut v = 2049u32.to_be_bytes().to_vec();
        v.extend((n as u32).to_be_bytes());
        v.extend((0..n).map(|i| (i % 10) as u8));
        v
    };
    fs::write(dir.join("train-images-idx3-ubyte"), images(train_images)).unwrap();
    fs::write(dir.join("train-labels-idx1-ubyte"), labels(train_labels)).unwrap();
    fs::write(dir.join("t10k-images-idx3-ubyte"), images(3)).unwrap();
    fs::write(dir.join("t10k-labels-idx1-ubyte"), labels(3)).unwrap();
}

fn error_of(dir: &Path, name: DatasetName) -> String {
    let msg = Dataset::load(name, Some(dir)).unwrap_err().to_string();
    assert!(!msg.contains('\n'), "one line: {msg}");
    msg
}

#[test]
fn bad_data_is_a_one_line_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let fashion = DatasetName::FashionMnist;

    write_tiny(dir, 5, 5);
    assert_eq!(Dataset::load(fashion, Some(dir)).unwrap().train.len(), 5);

    write_tiny(dir, 5, 4);
    let msg = error_of(dir, fashion);
    assert!(msg.contains("train-labels-idx1-ubyte") && msg.contains("4 labels") && msg.contains("5 images"), "{msg}");

    write_tiny(dir, 5, 5);
    fs::remove_file(dir.join("t10k-labels-idx1-ubyte")).unwrap();
    let msg = error_of(dir, fashion);
    assert!(msg.contains("t10k-labels-idx1-ubyte") && msg.contains("not found"), "{msg}");

    write_tiny(dir, 5, 5);
    let path = dir.join("train-images-idx3-ubyte");
    let mut bytes = fs::read(&path).unwrap();
    bytes.truncate(bytes.len() - 100);
    fs::write(&path, &bytes).unwrap();
    let msg = error_of(dir, fashion);
    assert!(msg.contains("train-images-idx3-ubyte") && msg.contains("truncated"), "{msg}");

    write_tiny(dir, 5, 5);
    fs::copy(dir.join("train-labels-idx1-ubyte"), dir.join("train-images-idx3-ubyte")).unwrap();
    let msg = error_of(dir, fashion);
    assert!(msg.contains("train-images-idx3-ubyte") && msg.contains("wrong magic"), "{msg}");

    // MNIST's files are checked against their known checksums: one flipped label is caught.
    let mnist_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    for f in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"] {
        fs::copy(mnist_dir.join(f), dir.join(f)).unwrap();
    }
    for f in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    {
        let _ = fs::remove_file(dir.join(f));
    }
    let mut labels = blindspot::data::idx::read_bytes(&mnist_dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    labels[8] = (labels[8] + 1) % 10;
    fs::write(dir.join("t10k-labels-idx1-ubyte"), labels).unwrap();
    let msg = error_of(dir, DatasetName::Mnist);
    assert!(msg.contains("t10k-labels-idx1-ubyte") && msg.contains("checksum mismatch"), "{msg}");
}
