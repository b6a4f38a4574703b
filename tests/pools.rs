//! Adversarial pools: bounded, right labels, bounded staleness, attacker threads joined on shutdown,
//! a panicking attacker reported (never a hang), synchronous generation reproducible bit for bit,
//! resume with pools. Loader tests run under a timeout.

mod common;

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use burn::prelude::*;

use blindspot::data::{Dataset, DatasetName, Images};
use blindspot::pool::PoolConfig;
use blindspot::pool::{AdversarialLoader, SnapshotCell};
use blindspot::recipe;
use blindspot::train::{EpochMetrics, Hook, HookError, RunInfo, TrainState};
use blindspot::{DeviceChoice, Existing, Layered, Stack, TrainOptions};
use common::*;

/// Runs `f` on another thread and fails the test if it takes longer than `limit`.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (send, recv) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(f());
    });
    recv.recv_timeout(limit).expect("finished in time (no deadlock)")
}

fn section(body: &str) -> PoolConfig {
    let text = format!(
        "name = \"p\"\n[model]\narch = \"fc100-100-10\"\n[optimizer]\nkind = \"sgd\"\nlearning_rate = 0.1\n[train]\nepochs = 1\nbatch_size = 64\n[adversarial]\n{body}\n"
    );
    recipe::parse(&text, "pool recipe", &[]).unwrap().adversarial.unwrap()
}

fn small_train() -> Images {
    Dataset::load(DatasetName::Mnist, None).unwrap().train.head(400)
}

/// A user-defined one-layer model that panics on a batch of more than one row.
#[derive(burn::module::Module, Debug)]
struct Fragile {
    linear: burn::nn::Linear,
}

impl Layered for Fragile {
    fn depth(&self) -> usize {
        1
    }
    fn layer(&self, _k: usize, h: Tensor<2>) -> Tensor<2> {
        assert!(h.dims()[0] == 1, "fragile model given {} rows", h.dims()[0]);
        self.linear.forward(h)
    }
    fn activation_box(&self, _k: usize) -> (f32, f32) {
        (0.0, 1.0)
    }
    fn classes(&self) -> usize {
        10
    }
}

fn fresh_model(device: &Device) -> Stack {
    blindspot::model::zoo::spec("fc100-100-10", [1, 28, 28], 10).unwrap().init(device)
}

/// Every row of the input-layer batch `b` lies within L∞ `epsilon` of a training image with its label.
fn assert_near_training_images(b: &blindspot::pool::LayerBatch, train: &Images, epsilon: f32) {
    let rows: Vec<f32> = b.inputs.to_data().iter::<f32>().collect();
    let labels: Vec<i64> = b.labels.to_data().iter::<i64>().collect();
    for (row, &label) in rows.chunks(784).zip(&labels) {
        let nearest = (0..train.len())
            .map(|i| (i, row.iter().zip(train.image(i)).map(|(a, p)| (a - p).abs()).fold(0.0f32, f32::max)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert!(nearest.1 <= epsilon + 1e-5, "no training image within epsilon ({})", nearest.1);
        assert_eq!(train.labels[nearest.0] as i64, label);
    }
}

#[test]
fn pools_stay_bounded_with_right_labels_and_bounded_staleness() {
    within(Duration::from_secs(120), || {
        let device = DeviceChoice::Cpu.device().unwrap();
        let train = small_train();
        let s = section(
            "layers = [0, 1]\nratio = 0.5\npool_size = 300\nrefresh = 0.5\nattackers = 2\nmethod = \"fgsm\"\nepsilon = [0.02, 0.5]\nattacker_device = \"cpu\"\nattack_batch = 50\nsnapshot_every = 5\nmax_staleness = 20",
        );
        let cell = Arc::new(SnapshotCell::default());
        let model = fresh_model(&device);
        cell.publish(&model, 0);
        let mut loader =
            AdversarialLoader::new(&s, &model, Arc::new(train.clone()), cell.clone(), 7, &device, Some(&device))
                .unwrap();
        let mut drawn = 0;
        for step in 0..200u64 {
            if step % 5 == 0 {
                cell.publish(&model, step);
            }
            let batches = loader.draw(step, 64, true).unwrap();
            for b in &batches {
                assert!(b.staleness.iter().all(|&s| s <= 20), "staleness {:?} at step {step}", b.staleness);
                if b.layer == 0 {
                    // Each input-layer example is within its pool's radius (the first of the two) of a
                    // training image with its label.
                    assert_near_training_images(b, &train, 0.02);
                }
                drawn += b.labels.dims()[0];
            }
            for pool in loader.pools() {
                assert!(pool.len() <= 300);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(drawn > 0, "the attackers delivered nothing");
        // Never drawn: a step far ahead finds every entry stale.
        assert!(loader.draw(10_000, 64, true).unwrap().is_empty());
        loader.shutdown();
    });
}

#[test]
fn renewed_examples_climb_the_loss_stay_in_the_ball_and_go_back_into_the_pool() {
    within(Duration::from_secs(120), || {
        let device = DeviceChoice::Cpu.device().unwrap();
        let train = small_train();
        let s = section(
            "layers = [0]\npool_size = 200\nrefresh = 1.0\nattackers = 0\nmethod = \"pgd\"\nepsilon = 0.1\nsteps = 1\nattack_batch = 100\nsnapshot_every = 1000\nmax_staleness = 1000\nrefine_steps = 2",
        );
        // The examples are made on one model (the snapshot) and renewed on another (the current
        // weights, as in training): against the model that made them, a PGD point already sits where
        // the gradient's sign would push it, and renewing may not move it at all.
        let snapshot = fresh_model(&device);
        let valid = fresh_model(&device).valid();
        let cell = Arc::new(SnapshotCell::default());
        cell.publish(&snapshot, 0);
        let mut loader =
            AdversarialLoader::new(&s, &snapshot, Arc::new(train.clone()), cell, 3, &device, None).unwrap();
        let loss = |x: Tensor<2>, labels: Tensor<1, Int>| {
            burn::nn::loss::CrossEntropyLossConfig::new()
                .init(&x.device())
                .forward(valid.forward(x), labels)
                .into_scalar::<f32>()
        };
        let (mut before, mut after) = (0.0, 0.0);
        for step in 1..=20u64 {
            let mut batches = loader.draw(step, 64, true).unwrap();
            assert_eq!(batches.len(), 1);
            let drawn = batches[0].inputs.clone();
            loader.renew(&mut batches, || valid.clone(), step);
            let b = &batches[0];
            before += loss(drawn, b.labels.clone());
            after += loss(b.inputs.clone(), b.labels.clone());
            // Still within 0.1 of a training image with the example's label, in the box.
            assert_near_training_images(b, &train, 0.1);
            assert!(
                b.inputs.clone().min().into_scalar::<f32>() >= 0.0
                    && b.inputs.clone().max().into_scalar::<f32>() <= 1.0
            );
        }
        assert!(after > before, "renewing lowered the loss: {before} -> {after}");
        // The renewed entries went back with the steps they were renewed at; the one snapshot is 0.
        loader.draw(21, 64, true).unwrap();
        let renewed = loader.pools()[0].entries().iter().filter(|e| e.version > 0).count();
        assert!(renewed >= 64, "only {renewed} entries renewed");
        assert_eq!(loader.epoch_stats(21)[0].renewed, 20 * 64, "each step renewed the 64 rows it drew");
    });
}

#[test]
fn a_panicking_attacker_is_reported_and_shutdown_joins() {
    within(Duration::from_secs(60), || {
        let device = DeviceChoice::Cpu.device().unwrap();
        // Layer 7 does not exist in this model: refused before any thread starts.
        let s = section("layers = [0]\nattackers = 2\npool_size = 100\nattack_batch = 10");
        let mut bad = s.clone();
        bad.layers = vec![7];
        let model = fresh_model(&device);
        let cell = Arc::new(SnapshotCell::default());
        let refused = AdversarialLoader::new(&bad, &model, Arc::new(small_train()), cell, 1, &device, None);
        let message = refused.err().expect("layer 7 is refused").to_string();
        assert!(message.contains("layer 7 is out of range"), "{message}");
        // A model that breaks on batches of more than one row: the attacker thread panics on its
        // first attack.
        let fragile = Fragile { linear: burn::nn::LinearConfig::new(784, 10).init(&device) };
        let cell = Arc::new(SnapshotCell::default());
        cell.publish(&fragile, 0);
        let mut loader = AdversarialLoader::new(&s, &fragile, Arc::new(small_train()), cell, 1, &device, None).unwrap();
        let error = loop {
            match loader.draw(0, 64, true) {
                Err(e) => break e.to_string(),
                Ok(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        assert!(error.contains("attacker") && error.contains("panicked"), "{error}");
        loader.shutdown();
        drop(loader);
    });
}

fn sync_body(epochs: usize) -> String {
    format!(
        "[data]\nsubset = 2000\ntest_subset = 500\n[model]\narch = \"fc100-100-10\"\ndropout = [0.1, 0.1, 0.1]\n[optimizer]\nkind = \"sgd\"\nlearning_rate = 0.3\nmomentum = 0.9\n[train]\nepochs = {epochs}\nbatch_size = 64\n[adversarial]\nlayers = [0, 2]\npool_size = 500\nrefresh = 0.2\nattackers = 0\nmethod = \"pgd\"\nsteps = 2\nattack_batch = 50\nsnapshot_every = 10\nmax_staleness = 40\nschedule = \"alternate\"\n"
    )
}

fn history(run_dir: &std::path::Path) -> Vec<(String, String, String)> {
    let m = metrics(run_dir);
    m["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["train_loss"].to_string(), e["test_error"].to_string(), e["pools"].to_string().replace('\n', "")))
        .collect()
}

#[test]
fn synchronous_pools_are_reproducible_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for name in ["one", "two"] {
        let recipe = quick_recipe(tmp.path(), name, &sync_body(2));
        let out = run(&["train", recipe.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        runs.push(history(&tmp.path().join("runs").join(name)));
    }
    // Everything but the attack throughput (a wall-clock figure) is identical.
    let strip = |h: &Vec<(String, String, String)>| -> Vec<(String, String)> {
        h.iter().map(|(a, b, _)| (a.clone(), b.clone())).collect()
    };
    assert_eq!(strip(&runs[0]), strip(&runs[1]));
    let m = metrics(&tmp.path().join("runs/one"));
    // TensorBoard shows each pool's figures and a tile of input-pool examples every epoch.
    let tags = read_events(&tmp.path().join("runs/one"));
    // Per-epoch tags take the epoch as their step.
    let steps = m["history"].as_array().unwrap().iter().map(|e| e["epoch"].as_u64().unwrap()).collect::<Vec<_>>();
    for tag in
        ["pool/layer0/fill", "pool/layer2/mean_staleness", "pool/layer0/success_rate", "pool/layer2/refresh_per_step"]
    {
        let logged: Vec<u64> = tags[tag]
            .as_array()
            .unwrap_or_else(|| panic!("{tag} missing"))
            .iter()
            .map(|e| e[0].as_u64().unwrap())
            .collect();
        assert_eq!(logged, steps, "{tag}");
    }
    let images = tags["__images__"]["pool/layer0/examples"].as_array().expect("pool images logged");
    assert_eq!(images.len(), 2);
    assert_eq!((images[0][1].as_u64(), images[0][2].as_u64()), (Some(112), Some(112)));
    let pools = m["history"][1]["pools"].as_array().unwrap();
    assert_eq!(pools.len(), 2);
    for p in pools {
        assert!(p["used"].as_u64().unwrap() > 0);
        assert!(p["max_staleness"].as_u64().unwrap() <= 40);
        assert!(p["fill"].as_u64().unwrap() <= 500);
    }
}

/// Fails the run right after epoch `at` (the checkpointer, an earlier hook, has saved it), and
/// records how many libtorch CPU threads the training thread had then.
struct StopAfter(usize, Arc<std::sync::atomic::AtomicUsize>);

impl Hook<Stack> for StopAfter {
    fn name(&self) -> &str {
        "stop"
    }
    fn on_epoch_end(&mut self, _run: &RunInfo, state: &TrainState<Stack>, _m: &EpochMetrics) -> Result<(), HookError> {
        self.1.store(blindspot::backend::cpu_threads(), std::sync::atomic::Ordering::SeqCst);
        if state.epoch == self.0 { Err("stopped on purpose".into()) } else { Ok(()) }
    }
}

#[test]
fn a_run_with_pools_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let path = quick_recipe(tmp.path(), "resumed", &sync_body(3).replace("attackers = 0", "attackers = 1"));
    let r = recipe::load(&path, &[]).unwrap();
    let options = TrainOptions { device: DeviceChoice::Cpu, existing: Existing::Refuse };
    let (err, before, during, after) = within(Duration::from_secs(120), {
        let (r, options) = (r.clone(), options.clone());
        move || {
            let during = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let before = blindspot::backend::cpu_threads();
            let err = recipe::run(&r, &options, vec![Box::new(StopAfter(2, during.clone()))]).unwrap_err().to_string();
            (err, before, during.load(std::sync::atomic::Ordering::SeqCst), blindspot::backend::cpu_threads())
        }
    });
    assert!(err.contains("stopped on purpose"), "{err}");
    // The CPU attacker's core is left to it while training; the thread count comes back after,
    // on the error path too.
    assert_eq!(during, (before - 1).max(1), "libtorch threads while an attacker runs");
    assert_eq!(after, before, "libtorch threads after the run");
    let resumed = within(Duration::from_secs(120), move || {
        recipe::run(&r, &TrainOptions { existing: Existing::Resume, ..options }, vec![]).unwrap()
    });
    assert_eq!(resumed.history.len(), 3);
    assert!(!resumed.history[2].pools.is_empty(), "the resumed epoch used regenerated pools");
}

#[test]
fn untargeted_lbfgs_pools_keep_the_nearest_wrong_answer_with_the_true_label() {
    use blindspot::data::DeviceImages;
    use blindspot::pool::attacker::generate;

    // A trained model: an untrained one answers one class for everything, with logits too flat for a
    // minimal attack.
    let dir = tempfile::tempdir().unwrap();
    let model = trained_model(dir.path());
    let device = DeviceChoice::Cpu.device().unwrap();
    let train = small_train();
    let predict =
        |inputs: Tensor<2>| -> Vec<i64> { model.forward(inputs).argmax(1).into_data().iter::<i64>().collect() };
    // Images the model gets right.
    let predicted = predict(DeviceImages::new(&train, &device).all().inputs);
    let right: Vec<usize> = (0..train.len()).filter(|&i| predicted[i] == train.labels[i] as i64).take(40).collect();
    assert!(right.len() >= 10, "only {} images classified right", right.len());
    let make = |target: &str| {
        let s = section(&format!(
            "layers = [0]\nmethod = \"lbfgs\"\ntarget = \"{target}\"\nsearch_steps = 4\niterations = 15\nattackers = 0"
        ));
        generate(&model, &device, 0, &train, &right, &s, 0, 5)
    };
    let mut mean_distortion = Vec::new();
    for target in ["untargeted", "random"] {
        let delivery = make(target);
        assert!(
            delivery.succeeded * 4 >= delivery.attempted * 3,
            "{target}: {} of {}",
            delivery.succeeded,
            delivery.attempted
        );
        assert_eq!(delivery.entries.len(), delivery.succeeded, "{target}: only successes are kept");
        // Kept examples carry their image's true label, which the model no longer gives them.
        let rows =
            Tensor::<2>::from_data(TensorData::new(delivery.rows.clone(), [delivery.entries.len(), 784]), &device);
        for (entry, answer) in delivery.entries.iter().zip(predict(rows)) {
            assert_ne!(entry.label as i64, answer, "{target}: an example kept its label's answer");
        }
        let n = delivery.entries.len() as f32;
        mean_distortion.push(delivery.entries.iter().map(|e| e.distortion).sum::<f32>() / n);
    }
    // The nearest wrong class is closer than a random one.
    assert!(
        mean_distortion[0] < 0.9 * mean_distortion[1],
        "untargeted {} vs random {}",
        mean_distortion[0],
        mean_distortion[1]
    );
}
