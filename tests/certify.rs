//! Certificates are sound: no point `certify` certifies at ε is broken by the attack ensemble at
//! ε (L2 and L∞, a sigmoid MLP and a ReLU convnet), while a large radius does break some, so the
//! check can fail; interval bounds equal an independent PyTorch IBP on exported weights; bad input
//! is a one-line error.

mod common;

use burn::prelude::*;

use blindspot::attack::{Norm, RobustnessConfig, robustness};
use blindspot::certify::{CertifyConfig, certified_linf, certify};
use blindspot::data::{Dataset, DatasetName, DeviceImages, Images};
use blindspot::{DeviceChoice, Layered, Stack, Whole};
use common::*;

fn cpu() -> Device {
    DeviceChoice::Cpu.device().unwrap()
}

fn test_images(n: usize) -> Images {
    Dataset::load(DatasetName::Mnist, None).unwrap().test.head(n)
}

/// A convnet trained for one epoch on 2,000 images in `dir`, as an inference copy.
fn trained_convnet(dir: &std::path::Path) -> (Stack, std::path::PathBuf) {
    let body = "[data]\nsubset = 2000\ntest_subset = 200\n[model]\narch = \"convnet\"\n[optimizer]\nkind = \"sgd\"\nlearning_rate = 0.05\nmomentum = 0.9\n[train]\nepochs = 1\nbatch_size = 64\n";
    let recipe = quick_recipe(dir, "conv", body);
    let out = run(&["train", recipe.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run_dir = dir.join("runs").join("conv");
    (blindspot::recipe::open(&run_dir, &cpu(), None).unwrap().model, run_dir)
}

/// A smaller ensemble than the standard one (the check is of the certificate, not the attack).
fn ensemble(norm: Norm, epsilon: f64) -> RobustnessConfig {
    RobustnessConfig {
        iterations: 30,
        target_classes: 3,
        square_queries: 300,
        ..RobustnessConfig::standard(norm, epsilon)
    }
}

/// At the largest radius of `ladder` that certifies at least 10 points, every certified point (up to
/// 100 of them) survives the ensemble; at radius `breaking` the ensemble breaks some of them.
fn certificates_hold(model: &dyn Layered, images: &Images, norm: Norm, ladder: &[f64], breaking: f64) {
    let device = cpu();
    let c = certify(model, images, &CertifyConfig::new(norm, ladder.to_vec()), &device).unwrap();
    let shares: Vec<f64> = c.radii.iter().map(|r| r.certified_accuracy).collect();
    assert!(shares.windows(2).all(|w| w[0] >= w[1]), "{norm:?}: certified accuracy grows with ε: {shares:?}");
    assert!(shares[0] <= c.clean_accuracy, "{norm:?}: certified {shares:?} above clean {}", c.clean_accuracy);
    let chosen = c.radii.iter().rev().find(|r| r.certified.len() >= 10).unwrap_or_else(|| {
        panic!("{norm:?}: no radius of {ladder:?} certifies 10 of {} points: {shares:?}", images.len())
    });
    let points: Vec<usize> = chosen.certified.iter().copied().take(100).collect();
    let subset = images.select(&points);
    let attacked = robustness(model, &subset, &ensemble(norm, chosen.epsilon), &device, &mut |_| {}).unwrap();
    assert_eq!(
        attacked.robust_accuracy, 1.0,
        "{norm:?} ε = {}: the ensemble broke certified points: {:?}",
        chosen.epsilon, attacked.attacks
    );
    let larger = robustness(model, &subset, &ensemble(norm, breaking), &device, &mut |_| {}).unwrap();
    assert!(larger.robust_accuracy < 1.0, "{norm:?}: nothing broken even at ε = {breaking}");
}

#[test]
fn certified_points_survive_the_ensemble_on_a_sigmoid_mlp_and_a_relu_convnet() {
    let tmp = tempfile::tempdir().unwrap();
    let images = test_images(300);
    let mlp = trained_model(tmp.path());
    certificates_hold(&mlp, &images, Norm::Linf, &[0.002, 0.005, 0.01, 0.02, 0.05], 0.2);
    certificates_hold(&mlp, &images, Norm::L2, &[0.05, 0.1, 0.2, 0.5, 1.0], 3.0);
    let (convnet, _) = trained_convnet(tmp.path());
    certificates_hold(&convnet, &images, Norm::Linf, &[0.002, 0.005, 0.01, 0.02, 0.05], 0.2);
    certificates_hold(&convnet, &images, Norm::L2, &[0.01, 0.02, 0.05, 0.1, 0.2], 3.0);
}

/// Our interval bounds on the logits (every layer propagated, none folded into margins).
fn our_logit_bounds(model: &Stack, x: Tensor<2>, epsilon: f64) -> (Vec<f32>, Vec<f32>) {
    let (mut lower, mut upper) = (x.clone().sub_scalar(epsilon).clamp(0.0, 1.0), x.add_scalar(epsilon).clamp(0.0, 1.0));
    for k in 1..=model.depth() {
        (lower, upper) = model.layer_interval(k, lower, upper).unwrap();
    }
    (lower.into_data().iter::<f32>().collect(), upper.into_data().iter::<f32>().collect())
}

#[test]
fn interval_bounds_equal_an_independent_pytorch_ibp() {
    let tmp = tempfile::tempdir().unwrap();
    let (convnet, run_dir) = trained_convnet(tmp.path());
    let file = tmp.path().join("conv.safetensors");
    let out = run(&["export", run_dir.to_str().unwrap(), file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let n = 32;
    let x = DeviceImages::new(&test_images(n), &cpu()).all().inputs;
    for epsilon in [0.01, 0.1] {
        let (lower, upper) = our_logit_bounds(&convnet, x.clone(), epsilon);
        let python = std::process::Command::new(repo().join(".venv/bin/python"))
            .arg(repo().join("tests/pytorch_logits.py"))
            .args(["ibp", "convnet", file.to_str().unwrap(), &n.to_string(), &epsilon.to_string()])
            .output()
            .unwrap();
        assert!(python.status.success(), "{}", String::from_utf8_lossy(&python.stderr));
        let theirs: [Vec<Vec<f32>>; 2] = serde_json::from_slice(&python.stdout).unwrap();
        for (ours, theirs, side) in [(&lower, &theirs[0], "lower"), (&upper, &theirs[1], "upper")] {
            let theirs: Vec<f32> = theirs.iter().flatten().copied().collect();
            assert_eq!(ours.len(), theirs.len());
            let gap = ours.iter().zip(&theirs).map(|(a, b)| (a - b).abs() / a.abs().max(1.0)).fold(0.0, f32::max);
            assert!(gap <= 1e-4, "ε = {epsilon}: {side} bounds differ from PyTorch's by {gap}");
        }
        // Folding the last layer into the margins certifies at least what the logits' own bounds do.
        let labels = test_images(n).labels;
        let folded = certified_linf(&convnet, x.clone(), &labels, epsilon).unwrap();
        for (i, &y) in labels.iter().enumerate() {
            let row = |v: &[f32]| v[i * 10..(i + 1) * 10].to_vec();
            let (lo, hi) = (row(&lower), row(&upper));
            let plain = (0..10).all(|j| j == y as usize || lo[y as usize] > hi[j]);
            assert!(folded[i] || !plain, "ε = {epsilon}, point {i}: the plain bounds certify, the margins do not");
        }
    }
}

#[test]
fn a_model_without_affine_maps_or_interval_bounds_is_a_one_line_error() {
    let tmp = tempfile::tempdir().unwrap();
    let forward: fn(&Stack, Tensor<4>) -> Tensor<2> = |m, x| {
        let [n, ..] = x.dims();
        m.forward(x.reshape([n, 784]))
    };
    let whole = Whole::new(trained_model(tmp.path()), forward, [1, 28, 28]).unwrap();
    let images = test_images(20);
    let l2 = certify(&whole, &images, &CertifyConfig::new(Norm::L2, vec![0.5]), &cpu()).unwrap_err().to_string();
    assert!(l2.contains("affine maps") && !l2.contains('\n'), "{l2}");
    let linf = certify(&whole, &images, &CertifyConfig::new(Norm::Linf, vec![0.1]), &cpu()).unwrap_err().to_string();
    assert!(linf.contains("layer 1 offers no interval bounds"), "{linf}");
}

#[test]
fn bad_certify_input_is_a_one_line_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let _ = trained_model(tmp.path());
    let run_dir = tmp.path().join("runs").join("attacked");
    let dir = run_dir.to_str().unwrap();
    assert_one_line_error(&run(&["certify", dir, "--epsilon", "0"]), 2, "--epsilon 0 is not a positive radius");
    assert_one_line_error(&run(&["certify", dir, "--epsilon", "-1"]), 2, "--epsilon -1 is not a positive radius");
    assert_one_line_error(&run(&["certify", dir, "--epsilon", "nan"]), 2, "--epsilon NaN is not a positive radius");
    assert_one_line_error(&run(&["certify", dir, "--n", "0"]), 2, "--n must be at least 1");
    assert_one_line_error(&run(&["certify", dir, "--n", "10001"]), 2, "--n 10001 is more than the 10000 test images");
    assert_one_line_error(&run(&["certify", dir, "--norm", "l1"]), 2, "l1");
    assert_one_line_error(&run(&["certify", dir, "--batch", "0"]), 2, "--batch must be at least 1");
    let out = run(&["certify", dir, "--norm", "l2", "--epsilon", "0.1,0.3", "--n", "100", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["norm"], "l2");
    assert_eq!(json["examples"], 100);
    assert!(json["lipschitz"].as_f64().unwrap() > 0.0);
    let radii = json["radii"].as_array().unwrap();
    assert_eq!(radii.len(), 2);
    let shares: Vec<f64> = radii.iter().map(|r| r["certified_accuracy"].as_f64().unwrap()).collect();
    assert!(shares[0] >= shares[1] && shares[0] <= json["clean_accuracy"].as_f64().unwrap(), "{shares:?}");
    let listed = radii[0]["certified"].as_array().unwrap().len();
    assert_eq!(listed as f64, (shares[0] * 100.0).round());
}

/// `arch` on 3,000 images for 4 epochs, with `extra` appended to the recipe.
fn trained_briefly(dir: &std::path::Path, arch: &str, name: &str, extra: &str) -> Stack {
    let body = format!(
        "[data]\nsubset = 3000\ntest_subset = 200\n[model]\narch = \"{arch}\"\n[optimizer]\nkind = \"adam\"\nlearning_rate = 0.001\n[train]\nepochs = 4\nbatch_size = 50\n{extra}"
    );
    let recipe = quick_recipe(dir, name, &body);
    let out = run(&["train", recipe.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    blindspot::recipe::open(&dir.join("runs").join(name), &cpu(), None).unwrap().model
}

#[test]
fn training_for_certificates_certifies_what_clean_training_cannot() {
    let tmp = tempfile::tempdir().unwrap();
    let images = test_images(300);
    let share = |model: &Stack, config: &CertifyConfig| {
        certify(model, &images, config, &cpu()).unwrap().radii[0].certified_accuracy
    };
    // L∞ by IBP's loss.
    let linf = CertifyConfig::new(Norm::Linf, vec![0.1]);
    let clean = trained_briefly(tmp.path(), "ibp-small", "clean", "");
    let ibp = trained_briefly(
        tmp.path(),
        "ibp-small",
        "ibp",
        "[certified]\nepsilon = 0.15\nwarmup_epochs = 1\nramp_epochs = 2\nkappa = 0.5\n",
    );
    let (plain, trained) = (share(&clean, &linf), share(&ibp, &linf));
    assert!(
        trained >= 0.3 && trained > plain + 0.2,
        "certified at L∞ 0.1: IBP-trained {trained}, clean-trained {plain}"
    );
    // L2 by GloRo's, on MinMax layers.
    let l2 = CertifyConfig::new(Norm::L2, vec![0.3]);
    let clean = trained_briefly(tmp.path(), "gloro-2c2f", "clean-minmax", "");
    let gloro = trained_briefly(
        tmp.path(),
        "gloro-2c2f",
        "gloro",
        "[certified]\nnorm = \"l2\"\nepsilon = 0.5\nwarmup_epochs = 1\nramp_epochs = 2\nkappa = 0.0\n",
    );
    let (plain, trained) = (share(&clean, &l2), share(&gloro, &l2));
    assert!(
        trained >= 0.3 && trained > plain + 0.2,
        "certified at L2 0.3: GloRo-trained {trained}, clean-trained {plain}"
    );
    let metrics = metrics(&tmp.path().join("runs").join("gloro"));
    assert_eq!(metrics["epochs"], 4, "{metrics}");
}

#[test]
fn certified_settings_that_cannot_work_are_one_line_errors_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let base = "[model]\narch = \"ibp-small\"\n[optimizer]\nkind = \"adam\"\nlearning_rate = 0.001\n[train]\nepochs = 4\nbatch_size = 50\n";
    for (section, key) in [
        ("[certified]\nepsilon = 0.3\nkappa = 2.0\n", "certified.kappa"),
        ("[certified]\nepsilon = 0.0\n", "certified.epsilon"),
        ("[certified]\nepsilon = 0.3\nnorm = \"l1\"\n", "certified.norm"),
        ("[certified]\nepsilon = 1.58\n", "certified.epsilon"),
        ("[certified]\nepsilon = 0.3\nwarmup_epochs = 2\nramp_epochs = 3\n", "certified.ramp_epochs"),
        ("[certified]\nepsilon = 0.3\nramp = 3\n", "ramp"),
    ] {
        let recipe = quick_recipe(tmp.path(), "bad", &format!("{base}{section}"));
        assert_one_line_error(&run(&["recipe", "check", recipe.to_str().unwrap()]), 2, key);
        let out = run(&["train", recipe.to_str().unwrap()]);
        assert_one_line_error(&out, 2, key);
        assert!(!tmp.path().join("runs").join("bad").exists(), "{key}: the run folder was made");
    }
}

#[test]
fn compare_puts_certified_accuracy_beside_robust_accuracy_for_a_recipe_that_trains_for_it() {
    let tmp = tempfile::tempdir().unwrap();
    let body = "[data]\nsubset = 1000\ntest_subset = 100\n[model]\narch = \"ibp-small\"\n[optimizer]\nkind = \"adam\"\nlearning_rate = 0.001\n[train]\nepochs = 2\nbatch_size = 50\n[certified]\nepsilon = 0.1\nramp_epochs = 1\n";
    let recipe = quick_recipe(tmp.path(), "ibp", body);
    let output = tmp.path().join("compared");
    let args = [
        "compare",
        recipe.to_str().unwrap(),
        "--seeds",
        "1",
        "--output",
        output.to_str().unwrap(),
        "--epsilon",
        "0.05",
        "--robust-images",
        "100",
        "--distortion-images",
        "5",
        "--iterations",
        "10",
        "--target-classes",
        "2",
        "--square-queries",
        "100",
    ];
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("certified accuracy") && stdout(&out).contains("L∞ 0.05: "), "{}", stdout(&out));
    let out = run(&[&args[..], &["--json"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let figures = &json["recipes"][0]["runs"][0];
    let certified = figures["certified"][0]["accuracy"].as_f64().unwrap();
    let robust = figures["robust_accuracy"][0].as_f64().unwrap();
    assert_eq!(figures["certified"][0]["norm"], "linf");
    assert!(certified > 0.0 && certified <= robust, "certified {certified}, robust {robust}");
}
