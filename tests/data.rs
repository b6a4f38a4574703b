//! The IDX reader and datasets on the real, vendored MNIST files, and every bad-data case.

use std::fs;
use std::path::Path;

use blindspot::data::{Dataset, DatasetName, Images, Split};

fn mnist() -> Dataset {
    Dataset::load(DatasetName::Mnist, Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist").as_path())).unwrap()
}

#[test]
fn mnist_loads_with_checksums_and_the_paper_splits() {
    let d = mnist();
    assert_eq!((d.train.len(), d.test.len()), (60_000, 10_000));
    assert_eq!((d.train.shape, d.train.classes), ([1, 28, 28], 10));
    assert!(d.train.pixels.iter().all(|p| (0.0..=1.0).contains(p)));
    assert_eq!(d.train.labels[..5], [5, 0, 4, 1, 9]);
    let (p1, p2) = d.halves();
    assert_eq!((p1.len(), p2.len()), (30_000, 30_000));
    // Disjoint and together the whole set: every training image lands in exactly one half
    // (compare image bytes + label as a multiset).
    let key = |imgs: &blindspot::data::Images, i: usize| {
        (imgs.image(i).iter().map(|p| p.to_bits()).collect::<Vec<u32>>(), imgs.labels[i])
    };
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

/// Writes a CIFAR-10 batch file of `labels.len()` records: label, then the red, green and blue
/// planes, pixel p of image i in plane c being `(i + 3p + c) mod 256`.
fn write_cifar_batch(path: &Path, labels: &[u8]) {
    let mut bytes = Vec::new();
    for (i, &label) in labels.iter().enumerate() {
        bytes.push(label);
        for c in 0..3 {
            bytes.extend((0..1024).map(|p| ((i + 3 * p + c) % 256) as u8));
        }
    }
    fs::write(path, bytes).unwrap();
}

#[test]
fn cifar10_batches_are_read_as_colour_images_and_bad_files_are_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for k in 1..=5 {
        write_cifar_batch(&dir.join(format!("data_batch_{k}.bin")), &[k as u8, 9, 0]);
    }
    write_cifar_batch(&dir.join("test_batch.bin"), &[3, 4]);
    let d = Dataset::load(DatasetName::Cifar10, Some(dir)).unwrap();
    assert_eq!((d.train.len(), d.test.len(), d.train.shape, d.train.classes), (15, 2, [3, 32, 32], 10));
    assert_eq!(d.train.labels[..6], [1, 9, 0, 2, 9, 0]);
    // Image 1 of the test batch: red plane first, then green, then blue, scaled to [0, 1].
    let image = d.test.image(1);
    assert_eq!(image.len(), 3072);
    for (c, p) in [(0, 0), (0, 5), (1, 0), (2, 1023)] {
        let want = ((1 + 3 * p + c) % 256) as f32 / 255.0;
        assert_eq!(image[c * 1024 + p], want, "channel {c} pixel {p}");
    }
    assert_eq!(DatasetName::Cifar10.image_shape(), [3, 32, 32]);

    let path = dir.join("data_batch_3.bin");
    let mut bytes = fs::read(&path).unwrap();
    bytes.pop();
    fs::write(&path, &bytes).unwrap();
    let msg = error_of(dir, DatasetName::Cifar10);
    assert!(msg.contains("data_batch_3.bin") && msg.contains("3073-byte records"), "{msg}");
    write_cifar_batch(&path, &[10]);
    let msg = error_of(dir, DatasetName::Cifar10);
    assert!(msg.contains("data_batch_3.bin") && msg.contains("label 10"), "{msg}");
    fs::remove_file(&path).unwrap();
    let msg = error_of(dir, DatasetName::Cifar10);
    assert!(msg.contains("data_batch_3.bin") && msg.contains("not found"), "{msg}");
}

#[test]
fn an_image_set_is_built_from_a_programs_own_values_and_checked() {
    let device = blindspot::DeviceChoice::Cpu.device().unwrap();
    let values: Vec<f32> = (0..2 * 3 * 4 * 5).map(|i| i as f32 / 119.0).collect();
    let tensor =
        burn::tensor::Tensor::<4>::from_data(burn::tensor::TensorData::new(values.clone(), [2, 3, 4, 5]), &device);
    let set = Images::from_tensor(tensor, vec![0, 2], 3).unwrap();
    assert_eq!((set.len(), set.shape, set.classes, set.pixels_per_image()), (2, [3, 4, 5], 3, 60));
    assert_eq!(set.image(1), &values[60..]);
    assert_eq!(set.select(&[1]).labels, [2]);
    let one_line = |e: blindspot::data::Error| {
        let m = e.to_string();
        assert!(!m.contains('\n'));
        m
    };
    let m = one_line(Images::new([3, 4, 5], 3, values.clone(), vec![0]).unwrap_err());
    assert!(m.contains("120 values for 1 images of 60 pixels"), "{m}");
    let m = one_line(Images::new([3, 4, 5], 2, values.clone(), vec![0, 2]).unwrap_err());
    assert!(m.contains("label 2 of image 1 is not a class 0-1"), "{m}");
    let mut bright = values;
    bright[7] = 1.5;
    let m = one_line(Images::new([3, 4, 5], 3, bright, vec![0, 1]).unwrap_err());
    assert!(m.contains("pixel 7 of the set is 1.5"), "{m}");
}
