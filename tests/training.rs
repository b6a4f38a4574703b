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

/// Every figure of every epoch but the timings, as JSON text.
fn figures(history: &serde_json::Value) -> Vec<String> {
    let mut epochs = history.as_array().unwrap().clone();
    for m in &mut epochs {
        let m = m.as_object_mut().unwrap();
        m.remove("seconds");
        m.remove("examples_per_second");
    }
    epochs.iter().map(|m| m.to_string()).collect()
}

/// A short run (dropout: the device RNG matters too; the Lipschitz bounds of every epoch) that is
/// killed with SIGKILL at random moments (every third one while a checkpoint is being written) and
/// resumed each time, ends with every figure of every epoch identical to an uninterrupted run's.
#[test]
fn resume_after_kill_9_at_random_moments_matches_an_uninterrupted_run() {
    use rand::{Rng, SeedableRng};
    let tmp = tempfile::tempdir().unwrap();
    let body = FC_BODY
        .replace("epochs = 4", "epochs = 8")
        .replace("arch = \"fc100-100-10\"", "arch = \"fc100-100-10\"\ndropout = [0.1, 0.3, 0.3]");
    let whole = tmp.path().join("whole");
    let cut = tmp.path().join("cut");
    std::fs::create_dir_all(&whole).unwrap();
    std::fs::create_dir_all(&cut).unwrap();
    let recipe_whole = quick_recipe(&whole, "r", &body);
    let recipe_cut = quick_recipe(&cut, "r", &body);

    // The uninterrupted run, timed: until its first checkpoint (start-up and one epoch) and whole.
    let started = Instant::now();
    let mut child = blindspot()
        .args(["train", recipe_whole.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first_checkpoint = None;
    let status = loop {
        if first_checkpoint.is_none() && whole.join("runs/r/latest").exists() {
            first_checkpoint = Some(started.elapsed());
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_micros(500));
    };
    assert!(status.success(), "the uninterrupted run failed");
    let first_checkpoint = first_checkpoint.expect("the uninterrupted run wrote checkpoints");
    let epoch = (started.elapsed().saturating_sub(first_checkpoint)) / 7;

    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let run_dir = cut.join("runs/r");
    let (mut kills, mut in_writes) = (0, 0);
    let mut finished = false;
    // A process is killed at a random moment before the uninterrupted run's time to its second
    // checkpoint, or at once when it has completed a checkpoint of its own: one epoch at most, so
    // seven or more kills land however fast or slow the machine is. Every third process is killed
    // in its first checkpoint write instead (the first `.tmp` it sees; a deadline if it misses them).
    let latest = || std::fs::read_to_string(run_dir.join("latest")).ok();
    // Processes killed by their deadline without reaching a checkpoint in a row (a machine slower
    // now than when the uninterrupted run was timed): each such kill lengthens the next deadline.
    let mut stalled = 0u32;
    for attempt in 0..30 {
        if finished || kills == 10 {
            break;
        }
        let mut child = blindspot()
            .args(["train", recipe_cut.to_str().unwrap(), "--resume"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let during_a_write = attempt % 3 == 1;
        let share = if during_a_write { 3.0 } else { rng.random_range(0.1..1.0) };
        let deadline = Instant::now() + (first_checkpoint + epoch).mul_f64(share) * (1 + stalled);
        let resumed_from = latest();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "seed {seed}: a resumed run failed");
                finished = true;
                break;
            }
            let writing = during_a_write
                && std::fs::read_dir(&run_dir)
                    .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().ends_with(".tmp")))
                    .unwrap_or(false);
            if writing || Instant::now() >= deadline || latest() != resumed_from {
                child.kill().unwrap(); // SIGKILL
                kills += 1;
                in_writes += usize::from(writing);
                stalled = if writing || latest() != resumed_from { 0 } else { stalled + 1 };
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(600), "seed {seed}: the runs take too long");
            std::thread::sleep(Duration::from_micros(200));
        }
        child.wait().unwrap();
    }
    let reached = latest().unwrap_or_default();
    eprintln!("seed {seed}: {kills} kills, {in_writes} inside a checkpoint write, then resumed from {reached}");
    assert!(kills >= 5, "seed {seed}: only {kills} runs were killed before the run ended");
    assert!(in_writes >= 1, "seed {seed}: no kill landed inside a checkpoint write");

    // What a run killed inside a write leaves (a half-written checkpoint folder) goes when it resumes;
    // nothing else in the folder is touched.
    let stale = run_dir.join(".epoch-0099.tmp");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("model.bpk"), b"half").unwrap();
    let (notes, own) = (run_dir.join(".epoch-notes.tmp"), run_dir.join("notes.txt"));
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(&own, b"mine").unwrap();
    let out = run(&["train", recipe_cut.to_str().unwrap(), "--resume"]);
    assert!(out.status.success(), "seed {seed}: {}", stderr(&out));
    assert!(!stale.exists() && notes.is_dir() && own.is_file(), "only the stale checkpoint folder is cleared");
    let a = metrics(&whole.join("runs/r"));
    let b = metrics(&run_dir);
    assert!(a["history"][0]["lipschitz_network"].as_f64().is_some(), "the bounds are among the figures");
    assert_eq!(figures(&a["history"]), figures(&b["history"]), "seed {seed}: every epoch's figures match");
    for key in ["test_error", "train_error", "steps"] {
        assert_eq!(a[key], b[key], "seed {seed}: {key}");
    }
}

#[test]
fn tensorboard_events_read_back_with_the_tensorboard_package() {
    let tmp = tempfile::tempdir().unwrap();
    let body = FC_BODY.replace("subset = 12000", "subset = 3200").replace("epochs = 4", "epochs = 2");
    let recipe = quick_recipe(tmp.path(), "tb", &body);
    let out = run(&["train", recipe.to_str().unwrap(), "--set", "data.validation=1000"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tags = read_events(&tmp.path().join("runs/tb"));
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
fn a_loss_that_turns_non_finite_stops_the_run_in_one_line_naming_the_term() {
    let tmp = tempfile::tempdir().unwrap();
    // A learning rate that makes a ReLU network's weights overflow within a few steps (the
    // cross-entropy goes first), and a weight decay whose term overflows at the first step.
    let body = "[data]\nsubset = 500\n[model]\narch = \"convnet\"\n[optimizer]\nkind = \"sgd\"\nlearning_rate = 1e20\n[train]\nepochs = 3\nbatch_size = 50\n";
    let decay = body.replace("1e20", "0.01").replace("batch_size = 50", "batch_size = 50\nweight_decay = 1e300");
    for (name, body, term, step) in
        [("diverges", body.to_string(), "cross-entropy", ""), ("decays", decay, "weight decay", "1:")]
    {
        let recipe = quick_recipe(tmp.path(), name, &body);
        let out = run(&["train", recipe.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        let last = err.trim_end().lines().last().unwrap();
        assert!(last.starts_with(&format!("error: epoch 1, step {step}")), "{err}");
        assert!(last.contains(&format!("the training loss is not finite (its {term} term first)")), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        // Nothing of the bad epoch is kept: no checkpoint, no metrics.json claiming a result.
        let run_dir = tmp.path().join("runs").join(name);
        assert!(!run_dir.join("latest").exists() && !run_dir.join("metrics.json").exists());
    }
}

#[test]
fn a_second_trainer_of_the_same_run_folder_is_refused_and_a_dead_ones_lock_is_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    let body = "[data]\nsubset = 4000\n[model]\narch = \"fc100-100-10\"\n[optimizer]\nkind = \"sgd\"\nlearning_rate = 0.1\n[train]\nepochs = 200\nbatch_size = 32\n";
    let recipe = quick_recipe(tmp.path(), "locked", body);
    let lock = tmp.path().join("runs").join("locked.lock");
    let mut first =
        blindspot().args(["train", recipe.to_str().unwrap()]).stderr(std::process::Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    while !lock.is_file() {
        assert!(started.elapsed() < Duration::from_secs(60), "the first trainer never took the lock");
        std::thread::sleep(Duration::from_millis(50));
    }
    let second = run(&["train", recipe.to_str().unwrap(), "--set", "train.epochs=1", "--overwrite"]);
    let pid = first.id();
    assert_one_line_error(&second, 1, &format!("another process (pid {pid}) is training this run"));
    assert!(stderr(&second).contains("runs/locked"), "{}", stderr(&second));
    // Killed, the first leaves its lock behind; the next trainer takes it over and removes it when done.
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(lock.is_file());
    let third = run(&["train", recipe.to_str().unwrap(), "--set", "train.epochs=1", "--overwrite"]);
    assert!(third.status.success(), "{}", stderr(&third));
    assert!(!lock.exists());
}

/// Sends `signal` to `train RECIPE ARGS` once it has written a checkpoint; returns what the process
/// said and how it ended.
fn interrupted(
    recipe: &std::path::Path,
    args: &[&str],
    run_dir: &std::path::Path,
    signal: i32,
) -> std::process::Output {
    let latest = || std::fs::read_to_string(run_dir.join("latest")).unwrap_or_default();
    let before = latest();
    let child = blindspot()
        .args(["train", recipe.to_str().unwrap()])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while latest() == before {
        assert!(started.elapsed() < Duration::from_secs(120), "no new checkpoint");
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
    let ended = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(ended.elapsed() < Duration::from_secs(30), "the run took {:?} to stop", ended.elapsed());
    out
}

#[test]
fn sigterm_and_sigint_stop_a_run_with_pools_cleanly_and_resume_continues() {
    let tmp = tempfile::tempdir().unwrap();
    let body = "[data]\nsubset = 3000\n[model]\narch = \"fc100-100-10\"\n[optimizer]\nkind = \"sgd\"\nlearning_rate = 0.1\n\
                [train]\nepochs = 30\nbatch_size = 64\n[adversarial]\nlayers = [0]\nattackers = 1\nmethod = \"pgd\"\n\
                epsilon = 0.1\nsteps = 2\npool_size = 1000\nwarmup_epochs = 0\n";
    let recipe = quick_recipe(tmp.path(), "stopped", body);
    let run_dir = tmp.path().join("runs/stopped");
    // A fresh run stopped by SIGTERM, then its resumed run stopped by SIGINT.
    for (signal, args, code, name) in
        [(libc::SIGTERM, &[][..], 143, "SIGTERM"), (libc::SIGINT, &["--resume"][..], 130, "SIGINT")]
    {
        let out = interrupted(&recipe, args, &run_dir, signal);
        let err = stderr(&out);
        let last = err.trim_end().lines().last().unwrap_or_default().to_string();
        assert_eq!(out.status.code(), Some(code), "{name}: {err}");
        assert!(last.starts_with("error: interrupted by ") && last.contains(name), "{name}: {last}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!tmp.path().join("runs/stopped.lock").exists(), "{name}: the lock is released");
        assert!(!run_dir.join("metrics.json").exists(), "{name}: the run did not finish");
        let latest = std::fs::read_to_string(run_dir.join("latest")).unwrap();
        let state = std::fs::read_to_string(run_dir.join(latest.trim()).join("state.json")).unwrap();
        let kept: serde_json::Value = serde_json::from_str(&state).unwrap();
        assert!(kept["epoch"].as_u64().unwrap() >= 1, "{name}: a complete checkpoint is kept");
    }
    let out = run(&["train", recipe.to_str().unwrap(), "--resume"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("resuming after epoch"), "{}", stderr(&out));
    assert_eq!(metrics(&run_dir)["history"].as_array().unwrap().len(), 30);
}

#[test]
fn a_damaged_latest_checkpoint_falls_back_to_the_one_before_else_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = quick_recipe(tmp.path(), "damaged", &FC_BODY.replace("subset = 12000", "subset = 2000"));
    let run_dir = tmp.path().join("runs/damaged");
    let out = run(&["train", recipe.to_str().unwrap(), "--set", "train.epochs=3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The checkpoint before the latest is kept; older ones are not.
    let kept: Vec<String> = std::fs::read_dir(&run_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("epoch-"))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(kept, ["epoch-0002", "epoch-0003"]);

    std::fs::write(run_dir.join("epoch-0003/model.bpk"), b"not a record").unwrap();
    let out = run(&["train", recipe.to_str().unwrap(), "--set", "train.epochs=3", "--resume"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("epoch-0003/model.bpk: unreadable or corrupt") && err.contains("epoch-0002 instead"), "{err}");
    assert!(err.contains("resuming after epoch 2"), "{err}");
    assert_eq!(metrics(&run_dir)["history"].as_array().unwrap().len(), 3);

    // The epoch-3 checkpoint written anew, epoch 2's kept before it; both damaged: one line
    // naming the latest's damage.
    for epoch in ["epoch-0002", "epoch-0003"] {
        assert!(run_dir.join(epoch).is_dir(), "{epoch} kept");
        std::fs::write(run_dir.join(epoch).join("state.json"), b"{").unwrap();
    }
    let out = run(&["train", recipe.to_str().unwrap(), "--set", "train.epochs=3", "--resume"]);
    assert_one_line_error(&out, 1, "no complete checkpoint to resume from");
    assert!(stderr(&out).contains("epoch-0003/state.json"), "{}", stderr(&out));
}

#[test]
fn a_data_subset_larger_than_its_set_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = quick_recipe(tmp.path(), "subset", FC_BODY);
    let path = recipe.to_str().unwrap();
    // The training split's size is known before any image is read: a usage error.
    let out = run(&["train", path, "--set", "data.subset=100000"]);
    assert_one_line_error(&out, 2, "data.subset=100000: 100000 is more than the 60000 images it is taken from");
    let out = run(&["train", path, "--set", "data.validation=10000", "--set", "data.subset=55000"]);
    assert_one_line_error(&out, 2, "data.subset=55000: 55000 is more than the 50000 images it is taken from");
    let out = run(&["train", path, "--set", "data.test_subset=10001"]);
    assert_one_line_error(&out, 1, "data.test_subset: 10001 is more than the 10000 images it is taken from");
}

/// With `train.ema` the run measures, checkpoints and hands on the averaged weights (`model.bpk`,
/// what `eval` reads) beside the optimizer's (`training.bpk`), and a run resumed from its first
/// epoch ends with every figure of an uninterrupted run's.
#[test]
fn weight_averaging_is_what_the_run_measures_and_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let body = FC_BODY.replace("subset = 12000", "subset = 2000").replace("epochs = 4", "epochs = 2\nema = 0.99");
    let recipe = quick_recipe(tmp.path(), "averaged", &body);
    let out = run(&["train", recipe.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run_dir = tmp.path().join("runs/averaged");
    let whole = metrics(&run_dir);
    let last = run_dir.join("epoch-0002");
    let (model, training) =
        (std::fs::read(last.join("model.bpk")).unwrap(), std::fs::read(last.join("training.bpk")).unwrap());
    assert_ne!(model, training, "the average differs from the optimizer's weights");
    let out = run(&["eval", run_dir.to_str().unwrap(), "--json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["test_error"], whole["test_error"], "eval measures the averaged weights, as training did");

    // Back to the first epoch's checkpoint, then resumed.
    std::fs::remove_dir_all(&last).unwrap();
    std::fs::write(run_dir.join("latest"), "epoch-0001").unwrap();
    let out = run(&["train", recipe.to_str().unwrap(), "--resume"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(figures(&metrics(&run_dir)["history"]), figures(&whole["history"]));
}

#[test]
fn a_weight_average_decay_outside_0_1_is_refused_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    for decay in ["1.0", "0", "-0.5", "nan"] {
        let recipe =
            quick_recipe(tmp.path(), "ema", &FC_BODY.replace("epochs = 4", &format!("epochs = 4\nema = {decay}")));
        assert_one_line_error(&run(&["recipe", "check", recipe.to_str().unwrap()]), 2, "train.ema");
    }
}

/// Every file of a folder with its bytes, for "nothing changed" checks.
fn snapshot(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                files.insert(path.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[test]
fn a_run_folder_with_checkpoints_is_never_deleted_without_being_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let body = FC_BODY.replace("subset = 12000", "subset = 1000").replace("epochs = 4", "epochs = 2");
    let recipe = quick_recipe(tmp.path(), "kept", &body);
    let path = recipe.to_str().unwrap();
    let run_dir = tmp.path().join("runs/kept");
    assert!(run(&["train", path]).status.success());
    let before = snapshot(&run_dir);
    // Again without a choice: one line naming both, the run untouched.
    let out = run(&["train", path]);
    assert_one_line_error(&out, 2, "runs/kept holds a run's checkpoints (up to epoch 2)");
    assert!(stderr(&out).contains("--resume") && stderr(&out).contains("--overwrite"), "{}", stderr(&out));
    assert_eq!(snapshot(&run_dir), before);
    assert_eq!(run(&["train", path, "--resume", "--overwrite"]).status.code(), Some(2));
    assert_eq!(snapshot(&run_dir), before);
    // A bad setting is refused before the folder is touched, even with --overwrite.
    for set in ["adversarial.layers=[7]", "lipschitz.layers=[9]", "train.batch_size=5000"] {
        let out = run(&["train", path, "--overwrite", "--set", set]);
        assert!(!out.status.success(), "{set}: {}", stderr(&out));
        assert_eq!(snapshot(&run_dir), before, "{set}");
    }
    // --overwrite starts over; --resume of a finished run changes nothing it keeps.
    let out = run(&["train", path, "--overwrite", "--set", "train.epochs=1", "--set", "name=\"kept\""]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(run_dir.join("latest")).unwrap().trim(), "epoch-0001");
}

#[test]
fn the_trainer_sets_an_earlier_run_aside_when_asked_and_checks_before_anything_is_written() {
    use blindspot::data::{Dataset, DatasetName, Split};
    use blindspot::pool::PoolConfig;
    use blindspot::train::{OptimizerConfig, OptimizerKind, OutputConfig, TrainConfig};
    use blindspot::{Existing, Trainer};
    let tmp = tempfile::tempdir().unwrap();
    let mut splits = Dataset::load(DatasetName::Mnist, None).unwrap().splits(Split::Full, 0);
    (splits.train, splits.test) = (splits.train.head(500), splits.test.head(100));
    let device = blindspot::DeviceChoice::Cpu.device().unwrap().autodiff();
    let output = OutputConfig { dir: tmp.path().to_path_buf(), tensorboard: false, ..OutputConfig::default() };
    let trainer = |existing| {
        let model = blindspot::model::zoo::spec("fc100-100-10", [1, 28, 28], 10).unwrap().init(&device);
        Trainer::new(model, splits.clone(), TrainConfig::new(1, 50), OptimizerConfig::new(OptimizerKind::Sgd, 0.1))
            .name("aside")
            .output(output.clone())
            .existing(existing)
    };
    trainer(Existing::Refuse).run().unwrap();
    let first = snapshot(&tmp.path().join("aside"));
    // Refused by default; a pool on a layer the model lacks is refused before the folder is touched.
    let err = trainer(Existing::Refuse).run().err().unwrap().to_string();
    assert!(err.contains("holds a run's checkpoints"), "{err}");
    let err = trainer(Existing::Overwrite).pools(PoolConfig::new(vec![4])).run().err().unwrap().to_string();
    assert!(err.contains("layer 4"), "{err}");
    assert_eq!(snapshot(&tmp.path().join("aside")), first);
    // Set aside: the earlier run kept whole under the first free name.
    trainer(Existing::SetAside).run().unwrap();
    trainer(Existing::SetAside).run().unwrap();
    assert_eq!(snapshot(&tmp.path().join("aside.1")), first);
    assert!(tmp.path().join("aside.2/latest").is_file() && tmp.path().join("aside/latest").is_file());
}

#[test]
fn a_trainer_without_output_writes_nothing_and_gives_back_the_model_and_figures() {
    use blindspot::data::{Dataset, DatasetName, Split};
    use blindspot::train::{OptimizerConfig, OptimizerKind, OutputConfig, TrainConfig};
    use blindspot::{Existing, Trainer};
    let tmp = tempfile::tempdir().unwrap();
    let mut splits = Dataset::load(DatasetName::Mnist, None).unwrap().splits(Split::Full, 0);
    (splits.train, splits.test) = (splits.train.head(2000), splits.test.head(500));
    let device = blindspot::DeviceChoice::Cpu.device().unwrap().autodiff();
    let output = OutputConfig { dir: tmp.path().join("runs"), ..OutputConfig::default() };
    let trainer = || {
        let model = blindspot::model::zoo::spec("fc100-100-10", [1, 28, 28], 10).unwrap().init(&device);
        Trainer::new(model, splits.clone(), TrainConfig::new(2, 50), OptimizerConfig::new(OptimizerKind::Adam, 1e-3))
            .name("in-memory")
            .output(output.clone())
            .without_output()
    };
    let trained = trainer().run().unwrap();
    assert_eq!(trained.summary.history.len(), 2);
    assert!(trained.summary.test_error < 0.5, "{:?}", trained.summary);
    assert!(!tmp.path().join("runs").exists(), "a run without output wrote its folder");
    let err = trainer().existing(Existing::Resume).run().err().unwrap().to_string();
    assert!(err.contains("cannot be resumed"), "{err}");
}
