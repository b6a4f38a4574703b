//! Helpers shared by the end-to-end tests: run the real binary, write recipes into temp folders.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

pub fn metrics(run_dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run_dir.join("metrics.json")).expect("metrics.json written");
    serde_json::from_str(&text).unwrap()
}
