//! The evaluator's throughput beside torchattacks 3.5.1 on the same CPU, weights and images, in one
//! run: blindspot's ensemble (APGD-CE, APGD-T with 9 targets, Square with 5,000 queries), then
//! torchattacks' standard AutoAttack (which adds FAB-T) and the same three attacks in torchattacks
//! (`tests/pytorch_robustness.py ... same`). Robust accuracies are printed beside the seconds, since
//! a ratio means something only at equal robust accuracy.
//!
//! By default the model is FC100-100-10 trained for 4 epochs with an input pool (PGD-3, ε = 0.1),
//! in the set-up, measured at ε = 0.1 on the first 500 test images. `BENCH_RUN=<run folder>`,
//! `BENCH_EPSILON` and `BENCH_N` measure another run (a zoo architecture, MNIST), e.g. a convnet at
//! ε = 0.3.

use std::path::{Path, PathBuf};
use std::time::Instant;

use blindspot::attack::Norm;
use blindspot::attack::robustness::RobustnessConfig;
use blindspot::experiments::robustness::robustness;
use blindspot::recipe;
use blindspot::{DeviceChoice, Existing, TrainOptions};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The default model: the input-pool recipe for 4 epochs, trained into `dir`.
fn pooled_model(dir: &Path) -> PathBuf {
    let sets = [
        "name=\"bench\"".to_string(),
        "train.epochs=4".into(),
        format!("output.dir=\"{}\"", dir.display()),
        "output.tensorboard=false".into(),
    ];
    let r = recipe::load("recipes/fc100-100-10-adversarial.toml".as_ref(), &sets).unwrap();
    recipe::run(&r, &TrainOptions { device: DeviceChoice::Cpu, existing: Existing::Refuse }, vec![]).unwrap();
    recipe::run_dir(&r)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that names another bench skips this one.
    if std::env::args().skip(1).any(|a| !a.starts_with('-') && !"robustness".contains(a.as_str())) {
        return;
    }
    blindspot::backend::keep_freed_memory();
    let tmp = tempfile::tempdir().unwrap();
    let run = std::env::var("BENCH_RUN").map(PathBuf::from).unwrap_or_else(|_| pooled_model(tmp.path()));
    let (epsilon, n): (f64, usize) = (env("BENCH_EPSILON", 0.1), env("BENCH_N", 500));
    let device = DeviceChoice::Cpu.device().unwrap();
    let loaded = recipe::open(&run, &device, None).unwrap();
    let arch = loaded.arch.clone();

    let started = Instant::now();
    let ours =
        robustness(&loaded, &RobustnessConfig::standard(Norm::Linf, epsilon), &[epsilon], n, false, &device, |_| ())
            .unwrap();
    let ours_seconds = started.elapsed().as_secs_f64();
    let report = &ours.radii[0];

    let file = tmp.path().join("weights.safetensors");
    recipe::exchange::export(&run, &file, &device).unwrap();
    let out = std::process::Command::new(".venv/bin/python")
        .args(["tests/pytorch_robustness.py", &arch, file.to_str().unwrap(), &n.to_string(), &epsilon.to_string()])
        .arg("same")
        .output()
        .expect("the set-up's Python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let theirs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let figure = |key: &str| theirs[key].as_f64().unwrap();

    println!("{arch}, L∞ ε = {epsilon}, first {n} test images, LibTorch / PyTorch CPU");
    println!("| evaluator | robust accuracy | seconds | blindspot's throughput, × |");
    println!("| --- | --- | --- | --- |");
    let breakdown: Vec<String> = report.attacks.iter().map(|a| format!("{} {:.1} s", a.attack, a.seconds)).collect();
    println!(
        "| blindspot (APGD-CE, APGD-T, Square; {}) | {:.1}% | {ours_seconds:.1} | 1.0 |",
        breakdown.join(", "),
        100.0 * report.robust_accuracy
    );
    for (name, accuracy, seconds) in [
        ("torchattacks AutoAttack standard (adds FAB-T)", "autoattack", "autoattack_seconds"),
        ("torchattacks APGD-CE, APGD-T, Square", "same", "same_seconds"),
    ] {
        let (accuracy, seconds) = (figure(accuracy), figure(seconds));
        println!("| {name} | {:.1}% | {seconds:.1} | {:.2} |", 100.0 * accuracy, seconds / ours_seconds);
    }
}
