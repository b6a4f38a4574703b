//! The perturbation bank: every banked row stays within the radius of its own training image and in
//! the box, perturbations deepen over their uses and go back with the step they were renewed at,
//! resets start them over, a run reports the bank's figures, and settings that cannot work are
//! one-line errors naming the key.

mod common;

use burn::prelude::*;

use blindspot::data::{Dataset, DatasetName, DeviceImages, Images};
use blindspot::pool::{Bank, BankConfig};
use blindspot::{DeviceChoice, Layered, Stack};
use common::*;

fn small_train() -> Images {
    Dataset::load(DatasetName::Mnist, None).unwrap().train.head(256)
}

fn model(device: &Device) -> Stack {
    blindspot::model::zoo::spec("fc100-100-10", [1, 28, 28], 10).unwrap().init(device)
}

fn loss(model: &Stack, x: Tensor<2>, labels: Tensor<1, Int>) -> f32 {
    burn::nn::loss::CrossEntropyLossConfig::new().init(&x.device()).forward(model.forward(x), labels).into_scalar()
}

#[test]
fn banked_rows_stay_near_their_own_image_deepen_over_their_uses_and_go_back_with_their_step() {
    let device = DeviceChoice::Cpu.device().unwrap();
    let train = small_train();
    let images = DeviceImages::new(&train, &device);
    let valid = model(&device).valid();
    let config = BankConfig { step_size: Some(0.02), ..BankConfig::new(0.1) };
    let mut bank = Bank::new(&config, train.len(), 784, 10, 4, 5).unwrap();
    let indices: Vec<Vec<usize>> = (0..4).map(|b| (b * 64..(b + 1) * 64).collect()).collect();
    let mut losses = Vec::new();
    for epoch in 1..=4 {
        let mut epoch_loss = 0.0;
        for (b, idx) in indices.iter().enumerate() {
            let step = ((epoch - 1) * 4 + b) as u64;
            let clean = images.batch(idx);
            let batch = bank.batch(epoch, step, idx, clean.clone(), || valid.clone()).unwrap();
            let x: Vec<f32> = batch.inputs.to_data().iter::<f32>().collect();
            let c: Vec<f32> = clean.inputs.to_data().iter::<f32>().collect();
            assert!(x.iter().zip(&c).all(|(a, p)| (a - p).abs() <= 0.1 + 1e-5 && (0.0..=1.0).contains(a)));
            assert_eq!(batch.labels.to_data(), clean.labels.to_data(), "labels stay with their rows");
            epoch_loss += loss(&valid, batch.inputs.clone(), batch.labels.clone());
            bank.trained(valid.forward(batch.inputs));
        }
        let stats = bank.epoch_stats();
        assert_eq!((stats.used, stats.fill, stats.capacity), (256, 256, 256));
        assert_eq!(stats.started, if epoch == 1 { 256 } else { 0 }, "only the first epoch starts from noise");
        assert!((0.0..=1.0).contains(&stats.wrong_before) && (0.0..=1.0).contains(&stats.wrong_after));
        assert!(stats.mean_distortion > 0.0 && stats.mean_distortion <= 0.1);
        if epoch > 1 {
            assert_eq!((stats.mean_age, stats.max_age), (4.0, 4), "each image was renewed one epoch before");
        }
        losses.push(epoch_loss);
    }
    // The same weights throughout: each use climbs their loss further.
    assert!(losses.windows(2).all(|w| w[1] > w[0]), "the loss did not climb over the uses: {losses:?}");
    // Each perturbation went back with the step it was renewed at, within the radius.
    for i in [0, 70, 255] {
        assert_eq!(bank.version(i), Some(12 + (i / 64) as u64));
        assert!(bank.perturbation(i).unwrap().iter().all(|d| d.abs() <= 0.1 + 1e-5));
    }
}

#[test]
fn a_reset_starts_every_perturbation_again_from_noise() {
    let device = DeviceChoice::Cpu.device().unwrap();
    let train = small_train();
    let images = DeviceImages::new(&train, &device);
    let valid = model(&device).valid();
    let config = BankConfig { reset_every: 2, steps: 3, ratio: 0.5, ..BankConfig::new(0.1) };
    let mut bank = Bank::new(&config, train.len(), 784, 4, 1, 5).unwrap();
    let all: Vec<usize> = (0..256).collect();
    let mut started = Vec::new();
    for epoch in 1..=4 {
        let batch = bank.batch(epoch, epoch as u64, &all, images.batch(&all), || valid.clone()).unwrap();
        // The second half of the batch stays clean.
        let tail = batch.inputs.narrow(0, 128, 128).to_data();
        assert_eq!(tail, images.batch(&all[128..]).inputs.to_data());
        let stats = bank.epoch_stats();
        assert_eq!(stats.used, 128);
        started.push((stats.started, stats.reset));
    }
    assert_eq!(started, [(128, false), (0, false), (128, true), (0, false)]);
}

#[test]
fn attacker_threads_deepen_banked_perturbations_on_the_snapshot_within_the_ball() {
    let device = DeviceChoice::Cpu.device().unwrap();
    let train = small_train();
    let images = DeviceImages::new(&train, &device);
    let snapshot = model(&device);
    let valid = snapshot.valid();
    let cell = std::sync::Arc::new(blindspot::pool::SnapshotCell::default());
    cell.publish(&snapshot, 7);
    let config = BankConfig { attackers: 1, attack_batch: 64, ..BankConfig::new(0.1) };
    let mut bank = Bank::new(&config, train.len(), 784, 10, 4, 5).unwrap();
    bank.start_attackers(std::sync::Arc::new(train.clone()), cell, 9).unwrap();
    let all: Vec<usize> = (0..256).collect();
    // One epoch banks every image; the attacker then deepens some while the trainer waits.
    bank.batch(1, 0, &all, images.batch(&all), || valid.clone()).unwrap();
    bank.epoch_stats();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut deepened = 0;
    while deepened == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
        // A draw of nothing new writes back what the attacker sent.
        bank.batch(2, 1, &all[..1], images.batch(&all[..1]), || valid.clone()).unwrap();
        let stats = bank.epoch_stats();
        assert!(stats.attacked >= stats.deepened);
        deepened += stats.deepened;
    }
    assert!(deepened > 0, "the attacker deepened nothing in a minute");
    // Deepened slots carry the snapshot's version and stay within the radius.
    let from_snapshot: Vec<usize> = (1..256).filter(|&i| bank.version(i) == Some(7)).collect();
    assert!(!from_snapshot.is_empty());
    for i in from_snapshot {
        assert!(bank.perturbation(i).unwrap().iter().all(|d| d.abs() <= 0.1 + 1e-5));
    }
}

fn bank_recipe(dir: &std::path::Path, bank: &str, extra: &str) -> std::path::PathBuf {
    quick_recipe(
        dir,
        "banked",
        &format!(
            "[data]\nsubset = 1000\ntest_subset = 200\n[model]\narch = \"fc100-100-10\"\n[optimizer]\nkind = \"sgd\"\nlearning_rate = 0.1\nmomentum = 0.9\n[train]\nepochs = 2\nbatch_size = 100\n[bank]\n{bank}\n{extra}"
        ),
    )
}

#[test]
fn a_run_with_a_bank_reports_its_figures_each_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = bank_recipe(dir.path(), "epsilon = 0.1\nstep_size = 0.05\nramp_epochs = 1", "");
    let out = run(&["train", recipe.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out).matches("    bank: 1000/1000 images banked, 1000 rows trained").count(), 2);
    let m = metrics(&dir.path().join("runs/banked"));
    let epochs = m["history"].as_array().unwrap();
    let (first, second) = (&epochs[0]["bank"], &epochs[1]["bank"]);
    assert_eq!((first["started"].as_u64(), second["started"].as_u64()), (Some(1000), Some(0)));
    // Each image was renewed in the epoch before, somewhere in its 10 steps.
    assert!((1..=19).contains(&second["max_age"].as_u64().unwrap()));
    for b in [first, second] {
        for key in ["wrong_before", "wrong_after"] {
            let share = b[key].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&share), "{key} {share}");
        }
    }
    // TensorBoard has the same figures, read back by the tensorboard package.
    let tags = read_events(&dir.path().join("runs/banked"));
    for (tag, key) in [
        ("bank/wrong_before", "wrong_before"),
        ("bank/wrong_after", "wrong_after"),
        ("bank/distortion", "mean_distortion"),
    ] {
        let logged = &tags[tag];
        assert_eq!(logged.as_array().map(Vec::len), Some(2), "{tag}: {tags}");
        let (value, want) = (logged[1][1].as_f64().unwrap(), second[key].as_f64().unwrap());
        assert!((value - want).abs() < 1e-6, "{tag} {value} vs {want}");
    }
}

#[test]
fn bank_settings_that_cannot_work_are_one_line_errors_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (bank, extra, key) in [
        ("epsilon = 3.0", "", "bank.epsilon"),
        ("epsilon = -0.1", "", "bank.epsilon"),
        ("epsilon = 0.3\nsteps = 0", "", "bank.steps"),
        ("epsilon = 0.3\nstep_size = nan", "", "bank.step_size"),
        ("epsilon = 0.3\nstep_size = 0.01", "", "bank.step_size"),
        ("epsilon = 0.3\nratio = 0", "", "bank.ratio"),
        ("epsilon = 0.3\nramp_epochs = 5", "", "bank.ramp_epochs"),
        ("epsilon = 0.3\nreset_every = 1", "", "bank.steps"),
        ("epsilon = 0.3", "[fresh]\nmethod = \"pgd\"\nepsilon = 0.3", "bank"),
        ("epsilon = 0.3\nrefine_steps = 1", "", "refine_steps"),
        ("epsilon = 0.3\nattackers = 65", "", "bank.attackers"),
        ("epsilon = 0.3\nattack_steps = 0", "", "bank.attack_steps"),
        ("epsilon = 0.3\nsnapshot_every = 0", "", "bank.snapshot_every"),
    ] {
        let recipe = bank_recipe(dir.path(), bank, extra);
        for command in ["check", "train"] {
            let args = if command == "check" {
                vec!["recipe", "check", recipe.to_str().unwrap()]
            } else {
                vec!["train", recipe.to_str().unwrap()]
            };
            let out = run(&args);
            assert_one_line_error(&out, 2, key);
        }
        assert!(!dir.path().join("runs/banked").exists(), "{bank}: nothing written before the check");
    }
}
