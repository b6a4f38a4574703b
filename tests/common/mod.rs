//! Helpers shared by the end-to-end tests: run the real binary, write recipes into temp folders,
//! train a small model to attack.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use burn::prelude::*;

use blindspot::train;
use blindspot::{DeviceChoice, Existing, Stack, TrainOptions, recipe};

pub fn blindspot() -> Command {
    Command::new(env!("CARGO_BIN_EXE_blindspot"))
}

pub fn run(args: &[&str]) -> Output {
    blindspot().args(args).output().expect("the blindspot binary runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts the command failed with `code` and one line of error that contains `needle`.
pub fn assert_one_line_error(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("error: ") && err.contains(needle), "{err:?} should contain {needle:?}");
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "{err}");
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Writes a recipe for a short real run into `dir`, its run folder under `dir` too.
pub fn quick_recipe(dir: &Path, name: &str, body: &str) -> PathBuf {
    let text = format!("name = \"{name}\"\nseed = 3\n{body}\n[output]\ndir = \"{}\"\n", dir.join("runs").display());
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// A run folder's TensorBoard event files as the `tensorboard` package reads them (tests/read_events.py):
/// `{tag: [[step, value], ...]}`.
pub fn read_events(run_dir: &Path) -> serde_json::Value {
    let read = Command::new(repo().join(".venv/bin/python"))
        .arg(repo().join("tests/read_events.py"))
        .arg(run_dir)
        .output()
        .expect("the set-up's Python reads event files");
    assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
    serde_json::from_slice(&read.stdout).unwrap()
}

pub fn metrics(run_dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run_dir.join("metrics.json")).expect("metrics.json written");
    serde_json::from_str(&text).unwrap()
}

/// A FC100-100-10 trained for a few seconds in `dir` (about 4% test error), as an inference copy on
/// the CPU.
pub fn trained_model(dir: &Path) -> Stack {
    trained_model_with(dir, "attacked", "")
}

/// `trained_model` with `train_keys` added to its `[train]` section, run as `name`.
pub fn trained_model_with(dir: &Path, name: &str, train_keys: &str) -> Stack {
    let body = format!(
        "[data]\nsubset = 12000\ntest_subset = 500\n[model]\narch = \"fc100-100-10\"\n[optimizer]\nkind = \"sgd\"\nlearning_rate = 0.5\nmomentum = 0.9\nnesterov = true\nschedule = \"one-cycle\"\n[train]\nepochs = 4\nbatch_size = 64\n{train_keys}"
    );
    let mut r = recipe::load(&quick_recipe(dir, name, &body), &[]).unwrap();
    r.output.tensorboard = false;
    recipe::run(&r, &TrainOptions { device: DeviceChoice::Cpu, existing: Existing::Refuse }, vec![]).unwrap();
    let ckpt = train::Checkpoint::open(&recipe::run_dir(&r)).unwrap();
    let device = DeviceChoice::Cpu.device().unwrap();
    ckpt.load_model(recipe::model_spec(&r, [1, 28, 28], 10).unwrap().init(&device)).unwrap().valid()
}

/// A PNG file decoded to 8-bit RGB: (width, height, pixels).
pub fn decode_png(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file)).read_info().expect("a PNG file");
    let mut buf = vec![0; reader.output_buffer_size().expect("an image size")];
    let info = reader.next_frame(&mut buf).expect("one frame");
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Grayscale => 1,
        other => panic!("unexpected colour type {other:?}"),
    };
    let pixels = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|p| if channels == 3 { [p[0], p[1], p[2]] } else { [p[0]; 3] })
        .collect();
    (info.width, info.height, pixels)
}

/// Share of pixels that are not white.
pub fn inked(pixels: &[[u8; 3]]) -> f64 {
    pixels.iter().filter(|p| **p != [255, 255, 255]).count() as f64 / pixels.len().max(1) as f64
}
