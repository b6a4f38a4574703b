//! Models cross to and from PyTorch: `export` writes weights PyTorch's own nn.Sequential loads with
//! identical logits; `import` makes a checkpoint from PyTorch weights; a round trip keeps them.

mod common;

use blindspot::data::{Dataset, DatasetName, DeviceImages};
use blindspot::{DeviceChoice, Layered};
use common::*;

fn python(args: &[&str]) -> String {
    let out = std::process::Command::new(repo().join(".venv/bin/python"))
        .arg(repo().join("tests/pytorch_logits.py"))
        .args(args)
        .output()
        .expect("the set-up's Python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Our logits for the first `n` test images from the run folder `run`.
fn our_logits(run: &std::path::Path, n: usize) -> Vec<f32> {
    let device = DeviceChoice::Cpu.device().unwrap();
    let loaded = blindspot::recipe::open(run, &device, None).unwrap();
    let data = Dataset::load(DatasetName::Mnist, None).unwrap();
    let x = DeviceImages::new(&data.test.head(n), &device).all().inputs;
    loaded.model.forward(x).into_data().iter::<f32>().collect()
}

fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs() / x.abs().max(1.0)).fold(0.0, f32::max)
}

fn pytorch_logits(arch: &str, file: &std::path::Path, n: usize) -> Vec<f32> {
    let json: Vec<Vec<f32>> =
        serde_json::from_str(&python(&["logits", arch, file.to_str().unwrap(), &n.to_string()])).unwrap();
    json.into_iter().flatten().collect()
}

#[test]
fn exported_models_give_pytorch_the_same_logits() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, arch, subset) in [("fc", "fc100-100-10", 3000), ("conv", "convnet", 1000)] {
        let body = format!(
            "[data]\nsubset = {subset}\n[model]\narch = \"{arch}\"\n[optimizer]\nkind = \"sgd\"\nlearning_rate = 0.05\nmomentum = 0.9\n[train]\nepochs = 1\nbatch_size = 64\n"
        );
        let recipe = quick_recipe(tmp.path(), name, &body);
        assert!(run(&["train", recipe.to_str().unwrap()]).status.success());
        let run_dir = tmp.path().join("runs").join(name);
        let file = tmp.path().join(format!("{name}.safetensors"));
        let out = run(&["export", run_dir.to_str().unwrap(), file.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        let diff = largest_difference(&our_logits(&run_dir, 64), &pytorch_logits(arch, &file, 64));
        assert!(diff <= 1e-5, "{arch}: logits differ by {diff}");
    }
}

#[test]
fn imported_pytorch_weights_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let original = tmp.path().join("torch.safetensors");
    python(&["init", "convnet", original.to_str().unwrap(), "3"]);
    let out = run(&[
        "import",
        original.to_str().unwrap(),
        "--arch",
        "convnet",
        "--name",
        "from-torch",
        "--output",
        tmp.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run_dir = tmp.path().join("from-torch");
    let diff = largest_difference(&our_logits(&run_dir, 32), &pytorch_logits("convnet", &original, 32));
    assert!(diff <= 1e-5, "imported logits differ by {diff}");
    // Export again: the same tensors PyTorch wrote.
    let again = tmp.path().join("again.safetensors");
    assert!(run(&["export", run_dir.to_str().unwrap(), again.to_str().unwrap()]).status.success());
    assert_eq!(pytorch_logits("convnet", &again, 8), pytorch_logits("convnet", &original, 8));
    // The imported checkpoint is an ordinary one.
    let out = run(&["eval", run_dir.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Weights of another architecture are refused with one line.
    assert_one_line_error(
        &run(&[
            "import",
            original.to_str().unwrap(),
            "--arch",
            "fc100-100-10",
            "--output",
            tmp.path().to_str().unwrap(),
        ]),
        1,
        "does not hold a fc100-100-10",
    );
    // Weights that are not numbers are refused where they enter.
    let spoiled = tmp.path().join("nan.safetensors");
    python(&["nan", original.to_str().unwrap(), spoiled.to_str().unwrap()]);
    let args = ["import", spoiled.to_str().unwrap(), "--arch", "convnet", "--output", tmp.path().to_str().unwrap()];
    assert_one_line_error(&run(&args), 1, "nan.safetensors: 1 weights are NaN or infinite: refused");
    assert!(!tmp.path().join("nan").exists(), "nothing written");
    assert_one_line_error(
        &run(&["import", "no/such.safetensors", "--arch", "convnet"]),
        1,
        "no/such.safetensors: cannot read safetensors: no such file",
    );
    assert_one_line_error(
        &run(&["import", original.to_str().unwrap(), "--arch", "resnet"]),
        2,
        "--arch resnet: unknown architecture",
    );
}

/// torchattacks' robust accuracies (`tests/pytorch_robustness.py`) of exported weights.
fn torchattacks(file: &std::path::Path, n: usize, epsilon: f64) -> serde_json::Value {
    let out = std::process::Command::new(repo().join(".venv/bin/python"))
        .arg(repo().join("tests/pytorch_robustness.py"))
        .args(["fc100-100-10", file.to_str().unwrap(), &n.to_string(), &epsilon.to_string()])
        .output()
        .expect("the set-up's Python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn robust_accuracy_agrees_with_torchattacks_autoattack() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 200;
    // A plain model and one trained with an input pool, each at two radii.
    let plain = "[data]\nsubset = 5000\n[model]\narch = \"fc100-100-10\"\n[optimizer]\nkind = \"sgd\"\nlearning_rate = 0.1\nmomentum = 0.9\n[train]\nepochs = 2\nbatch_size = 64\n";
    let pooled = format!(
        "{plain}[adversarial]\nlayers = [0]\nmethod = \"pgd\"\nepsilon = 0.1\nsteps = 3\nattackers = 0\npool_size = 2000\nsnapshot_every = 20\n"
    );
    for (name, body, radii) in [("plain", plain.to_string(), [0.03, 0.08]), ("pooled", pooled, [0.05, 0.1])] {
        let recipe = quick_recipe(tmp.path(), name, &body);
        assert!(run(&["train", recipe.to_str().unwrap()]).status.success());
        let run_dir = tmp.path().join("runs").join(name);
        let file = tmp.path().join(format!("{name}.safetensors"));
        assert!(run(&["export", run_dir.to_str().unwrap(), file.to_str().unwrap()]).status.success());
        let epsilon = format!("{},{}", radii[0], radii[1]);
        let out =
            run(&["robustness", run_dir.to_str().unwrap(), "--epsilon", &epsilon, "--n", &n.to_string(), "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let ours: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for (k, epsilon) in radii.into_iter().enumerate() {
            let report = &ours["radii"][k];
            let theirs = torchattacks(&file, n, epsilon);
            let (clean, robust) =
                (report["clean_accuracy"].as_f64().unwrap(), report["robust_accuracy"].as_f64().unwrap());
            assert!((clean - theirs["clean"].as_f64().unwrap()).abs() < 1e-6, "{name}: clean {clean} vs {theirs}");
            let autoattack = theirs["autoattack"].as_f64().unwrap();
            assert!((robust - autoattack).abs() <= 0.01, "{name} at {epsilon}: ours {robust}, AutoAttack {autoattack}");
            assert!(robust > 0.05 && robust < clean - 0.05, "{name} at {epsilon}: {robust} is no test of the attacks");
        }
    }
}
