//! Several devices in one run (`train.devices`, `train --devices`): each step's batch split across
//! them, the gradients summed on the first. Two handles of the CPU stand for two GPUs: the same
//! batches must give the same training as one device, up to the order of float sums.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

fn train(recipe: &str, output: &Path, sets: &[&str], devices: Option<&str>) -> Value {
    let recipe = repo().join(format!("recipes/{recipe}.toml"));
    let mut cmd = blindspot();
    cmd.args(["train", recipe.to_str().unwrap(), "--json"]);
    cmd.args(["--set", &format!("output.dir=\"{}\"", output.display())]);
    cmd.args(["--set", "output.tensorboard=false"]);
    for set in sets {
        cmd.args(["--set", set]);
    }
    if let Some(devices) = devices {
        cmd.args(["--devices", devices]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

#[test]
fn a_batch_split_across_two_device_handles_trains_as_one_device_does() {
    let tmp = tempfile::tempdir().unwrap();
    // Weight decay and the Lipschitz penalty (counted once, on the first device); TRADES' rows
    // (split with their clean rows). Batches of 33 split 17 + 16; the last batch is smaller.
    let runs: [(&str, &[&str]); 2] = [
        ("fc100-100-10-lipschitz", &["train.epochs=2", "data.subset=3000", "train.batch_size=33"]),
        (
            "convnet-linf-0.3-trades",
            &["train.epochs=1", "data.subset=500", "train.batch_size=33", "fresh.steps=2", "fresh.ramp_epochs=1"],
        ),
    ];
    for (recipe, sets) in runs {
        let one = train(recipe, &tmp.path().join("one"), sets, None);
        let two = train(recipe, &tmp.path().join("two"), sets, Some("cpu,cpu"));
        let (h1, h2) = (one["history"].as_array().unwrap(), two["history"].as_array().unwrap());
        assert_eq!(h1.len(), h2.len());
        for (a, b) in h1.iter().zip(h2) {
            let (la, lb) = (a["train_loss"].as_f64().unwrap(), b["train_loss"].as_f64().unwrap());
            assert!((la - lb).abs() <= 1e-4 * la.abs().max(1.0), "{recipe}: loss {la} on one device, {lb} on two");
            let (ea, eb) = (a["test_error"].as_f64().unwrap(), b["test_error"].as_f64().unwrap());
            assert!((ea - eb).abs() <= 0.002, "{recipe}: test error {ea} on one device, {eb} on two");
        }
        assert!(one["test_error"].as_f64().unwrap() < 0.85, "{recipe} learns: {one}");
    }
}

#[test]
fn bad_device_lists_are_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = repo().join("recipes/fc100-100-10-weight-decay.toml");
    let recipe = recipe.to_str().unwrap();
    let output = format!("output.dir=\"{}\"", tmp.path().display());
    let out = run(&["train", recipe, "--set", &output, "--set", "train.devices=[\"cpu\"]"]);
    assert_one_line_error(&out, 2, "train.devices=[\"cpu\"]: one device is the run's device");
    let out = run(&["train", recipe, "--device", "cpu", "--devices", "cpu,cpu"]);
    assert_one_line_error(&out, 2, "--devices");
    let certified = repo().join("recipes/ibp-small-linf-0.3-certified.toml");
    let out = run(&["train", certified.to_str().unwrap(), "--set", &output, "--devices", "cpu,cpu"]);
    assert_one_line_error(&out, 2, "train.devices: training for certificates runs on one device");
    assert!(std::fs::read_dir(tmp.path()).unwrap().next().is_none(), "nothing written before the checks");
}
