//! End-to-end training on real MNIST with the real binary: a short run reaches a stated error,
//! `--resume` after `kill -9` ends exactly where an uninterrupted run ends, TensorBoard files read
//! back with the `tensorboard` package, `eval` agrees with `metrics.json`.

mod common;

use std::time::{Duration, Instant};

use common::*;

const FC_BODY: &str = r#"
[data]
subset = 12000
[model]
arch = "fc100-100-10"
[optimizer]
kind = "sgd"
learning_rate = 0.5
momentum = 0.9
nesterov = true
schedule = "one-cycle"
[train]
epochs = 4
batch_size = 64
weight_decay = 1e-4
"#;

#[test]
fn a_short_run_learns_and_eval_agrees() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = quick_recipe(tmp.path(), "short", FC_BODY);
    let out = run(&["train", recipe.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let test_error = summary["test_error"].as_f64().unwrap();
    // 12,000 images, 4 epochs: a working loop gets under 8% (6.7% measured; chance is 90%).
    assert!(test_error < 0.08, "test error {test_error}");
    assert_eq!(summary["history"].as_array().unwrap().len(), 4);
    let progress = stderr(&out);
    assert!(progress.contains("epoch   4/4") && progress.contains("test "), "{progress}");

    let run_dir = tmp.path().join("runs/short");
    assert_eq!(metrics(&run_dir)["test_error"], summary["test_error"]);
    assert_eq!(std::fs::read_to_string(run_dir.join("latest")).unwrap().trim(), "epoch-0004");
    for f in ["model.bpk", "optimizer.bpk", "state.json", "recipe.toml"] {
        assert!(run_dir.join("epoch-0004").join(f).is_file(), "{f}");
    }

    let out = run(&["eval", run_dir.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["test_error"], summary["test_error"]);
    assert_eq!(report["epoch"], 4);
    assert_eq!(report["test_examples"], 10000, "eval measures the whole test set");
}

fn comparable(history: &serde_json::Value) -> Vec<(u64, String, String, String)> {
    history
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["step"].as_u64().unwrap(),
                m["train_loss"].to_string(),
                m["train_error"].to_string(),
                m["test_error"].to_string(),
            )
        })
        .collect()
}

#[test]
fn resume_after_kill_9_matches_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    // Dropout makes the device RNG matter too; the full training set makes epochs long enough to
    // kill one in the middle.
    let body = FC_BODY
        .replace("subset = 12000\n", "")
        .replace("epochs = 4", "epochs = 5")
        .replace("arch = \"fc100-100-10\"", "arch = \"fc100-100-10\"\ndropout = [0.1, 0.3, 0.3]");
    let whole = tmp.path().join("whole");
    let cut = tmp.path().join("cut");
    std::fs::create_dir_all(&whole).unwrap();
    std::fs::create_dir_all(&cut).unwrap();
    let recipe_whole = quick_recipe(&whole, "r", &body);
    let recipe_cut = quick_recipe(&cut, "r", &body);

    let out = run(&["train", recipe_whole.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));

    let run_dir = cut.join("runs/r");
    let mut child =
        blindspot().args(["train", recipe_cut.to_str().unwrap()]).stderr(std::process::Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    loop {
        let latest = std::fs::read_to_string(run_dir.join("latest")).unwrap_or_default();
        if latest.trim() == "epoch-0002" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "no checkpoint of epoch 2");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!run_dir.join("metrics.json").exists(), "the run was killed before its end");

    let out = run(&["train", recipe_cut.to_str().unwrap(), "--resume"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let resumed_from = stderr(&out);
    assert!(
        resumed_from.contains("resuming after epoch 2") || resumed_from.contains("resuming after epoch 3"),
        "{resumed_from}"
    );

    let a = metrics(&whole.join("runs/r"));
    let b = metrics(&run_dir);
    assert_eq!(comparable(&a["history"]), comparable(&b["history"]), "every epoch's figures match");
    assert_eq!(a["test_error"], b["test_error"]);
    assert_eq!(a["train_error"], b["train_error"]);
}

#[test]
fn tensorboard_events_read_back_with_the_tensorboard_package() {
    let tmp = tempfile::tempdir().unwrap();
    let body = FC_BODY.replace("subset = 12000", "subset = 3200").replace("epochs = 4", "epochs = 2");
    let recipe = quick_recipe(tmp.path(), "tb", &body);
    let out = run(&["train", recipe.to_str().unwrap(), "--set", "data.validation=1000"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let python = repo().join(".venv/bin/python");
    let read = std::process::Command::new(python)
        .arg(repo().join("tests/read_events.py"))
        .arg(tmp.path().join("runs/tb"))
        .output()
        .expect("the set-up's Python reads event files");
    assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
    let tags: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
    let steps = |tag: &str| -> Vec<u64> {
        tags[tag]
            .as_array()
            .unwrap_or_else(|| panic!("tag {tag} missing: {tags}"))
            .iter()
            .map(|e| e[0].as_u64().unwrap())
            .collect()
    };
    // 3,200 images at batch 64 = 50 steps an epoch; the step loss every 10 steps.
    assert_eq!(steps("train/loss"), (1..=10).map(|i| i * 10).collect::<Vec<_>>());
    for tag in [
        "epoch/train_loss",
        "epoch/train_error",
        "epoch/test_error",
        "epoch/validation_error",
        "epoch/examples_per_second",
        "epoch/learning_rate",
        "lipschitz/layer1",
        "lipschitz/layer3",
        "lipschitz/network",
    ] {
        // Per-epoch tags take the epoch as their step, so runs of any batch size line up.
        assert_eq!(steps(tag), vec![1, 2], "{tag}");
    }
    let m = metrics(&tmp.path().join("runs/tb"));
    let last_test = tags["epoch/test_error"][1][1].as_f64().unwrap();
    assert!((last_test - m["test_error"].as_f64().unwrap()).abs() < 1e-6);
    let network = tags["lipschitz/network"][1][1].as_f64().unwrap();
    let logged = m["history"][1]["lipschitz_network"].as_f64().unwrap();
    assert!((network - logged).abs() < 1e-4 * logged, "{network} vs {logged}");
}

#[test]
fn the_lipschitz_penalty_lowers_the_bounds_it_penalises_and_they_reach_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let body = FC_BODY.replace("epochs = 4", "epochs = 2");
    let plain = quick_recipe(tmp.path(), "plain", &body);
    let penalised =
        quick_recipe(tmp.path(), "penalised", &format!("{body}\n[lipschitz]\nweight = 0.05\nmode = \"sum\"\n"));
    // The same mean pull applied every 4th step at 4× weight (not at 4× weight every step).
    let every4 =
        quick_recipe(tmp.path(), "every4", &format!("{body}\n[lipschitz]\nweight = 0.05\nmode = \"sum\"\nevery = 4\n"));
    let stronger =
        quick_recipe(tmp.path(), "stronger", &format!("{body}\n[lipschitz]\nweight = 0.2\nmode = \"sum\"\n"));
    let mut network = Vec::new();
    for recipe in [&plain, &penalised, &every4, &stronger] {
        let out = run(&["train", recipe.to_str().unwrap(), "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let last = summary["history"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["lipschitz"].as_array().unwrap().len(), 3, "{last}");
        assert!(summary["test_error"].as_f64().unwrap() < 0.15, "{summary}");
        network.push(last["lipschitz_network"].as_f64().unwrap());
    }
    // The network's bound (product of the layers') falls by more than half under the penalty.
    assert!(network[1] < 0.5 * network[0], "bounds {network:?}");
    // Every 4th step at 4× weight pulls like every step at 1× (here 7.5 vs 5.3), not like 4× weight
    // every step (1.9): its bound is nearer the every-step run's on a log scale.
    let distance = |a: f64, b: f64| (a / b).ln().abs();
    assert!(network[2] < 0.5 * network[0], "bounds {network:?}");
    assert!(distance(network[2], network[1]) < distance(network[2], network[3]), "bounds {network:?}");
    let table = run(&["lipschitz", tmp.path().join("runs/penalised").to_str().unwrap(), "--json"]);
    let b: serde_json::Value = serde_json::from_str(&stdout(&table)).unwrap();
    let relative = (b["network"].as_f64().unwrap() - network[1]).abs() / network[1];
    assert!(relative < 1e-3, "lipschitz command {b} vs metrics {}", network[1]);
}

#[test]
fn max_norm_caps_every_units_incoming_weights() {
    let tmp = tempfile::tempdir().unwrap();
    // The largest L2 norm of one unit's incoming weights, per layer.
    let largest_unit_norms = |model: &blindspot::Stack| -> Vec<f32> {
        model.layers.iter().map(|layer| layer.unit_norms().max().into_scalar::<f32>()).collect()
    };
    let free = largest_unit_norms(&trained_model_with(tmp.path(), "free", ""));
    let capped = largest_unit_norms(&trained_model_with(tmp.path(), "capped", "max_norm = 1.0\n"));
    // Unconstrained, units grow past the cap (so the check below can fail); capped, none is longer.
    assert!(free.iter().all(|&n| n > 1.2), "unconstrained norms {free:?}");
    assert!(capped.iter().all(|&n| n <= 1.0 + 1e-4), "capped norms {capped:?}");
    assert!(capped.iter().any(|&n| n > 0.99), "the cap binds: {capped:?}");
}

#[test]
fn a_loss_that_turns_non_finite_stops_the_run_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    // A learning rate that makes a ReLU network's weights overflow within a few steps.
    let body = "[data]\nsubset = 500\n[model]\narch = \"convnet\"\n[optimizer]\nkind = \"sgd\"\nlearning_rate = 1e20\n[train]\nepochs = 3\nbatch_size = 50\n";
    let recipe = quick_recipe(tmp.path(), "diverges", body);
    let out = run(&["train", recipe.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let last = err.trim_end().lines().last().unwrap();
    assert!(last.starts_with("error: epoch 1, step "), "{err}");
    assert!(last.contains("the training loss (cross-entropy plus regularizers) is not finite"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // Nothing of the bad epoch is kept: no checkpoint, no metrics.json claiming a result.
    let run_dir = tmp.path().join("runs").join("diverges");
    assert!(!run_dir.join("latest").exists() && !run_dir.join("metrics.json").exists());
}
