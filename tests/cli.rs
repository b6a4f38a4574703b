//! The command line as a user meets it: help that explains itself and one-line errors.

mod common;

use common::*;

#[test]
fn help_lists_every_command() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    for command in ["train", "eval", "attack", "compare", "plot", "recipe", "models", "device"] {
        assert!(help.contains(command), "{command} missing from:\n{help}");
    }
    let train_help = stdout(&run(&["train", "--help"]));
    for flag in ["--device", "--set", "--resume", "--json"] {
        assert!(train_help.contains(flag), "{flag} missing from:\n{train_help}");
    }
}

#[test]
fn a_closed_output_pipe_ends_the_command_quietly() {
    let recipe = repo().join("recipes/fc100-100-10-p2.toml");
    let mut child = blindspot()
        .args(["recipe", "show", recipe.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes before the first line is written (`| head -0`)
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
    assert_ne!(out.status.code(), Some(101), "a panic's exit code");
}

#[test]
fn bad_input_is_one_line() {
    assert_one_line_error(&run(&["train", "no/such/recipe.toml"]), 2, "no/such/recipe.toml: cannot read recipe");
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\n[model]\narch = \"fc100-100-10\"\nwidth = 3\n").unwrap();
    assert_one_line_error(
        &run(&["recipe", "check", bad.to_str().unwrap()]),
        2,
        "bad.toml:4: model.width: unknown field `width`",
    );
    assert_one_line_error(&run(&["eval", "no/such/run"]), 1, "no/such/run: no such file or folder");
    assert_one_line_error(&run(&["eval", tmp.path().to_str().unwrap()]), 1, "not a checkpoint");
    let recipe = repo().join("recipes/fc10-1e-4.toml");
    assert_one_line_error(
        &run(&["train", recipe.to_str().unwrap(), "--set", "train.epochs=0"]),
        2,
        "--set train.epochs=0: must be at least 1",
    );
    let out = run(&["train", recipe.to_str().unwrap(), "--device", "tpu"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown device \"tpu\""), "{}", stderr(&out));
    if !blindspot::backend::cuda_available() {
        let out = run(&["train", recipe.to_str().unwrap(), "--device", "cuda", "--set", "output.dir=\"/nonexistent\""]);
        assert_one_line_error(&out, 1, "CUDA is not available");
    }
}

#[test]
fn recipe_check_accepts_every_shipped_recipe() {
    for entry in std::fs::read_dir(repo().join("recipes")).unwrap() {
        let path = entry.unwrap().path();
        let out = run(&["recipe", "check", path.to_str().unwrap()]);
        assert!(out.status.success(), "{}: {}", path.display(), stderr(&out));
        assert!(stdout(&out).contains(": ok ("));
    }
}

#[test]
fn models_lists_the_zoo() {
    let out = stdout(&run(&["models"]));
    for arch in ["fc10", "fc100-100-10", "fc200-200-10", "fc123-456-10", "ae400-10", "convnet", "alexnet"] {
        assert!(out.contains(arch), "{arch}");
    }
    let alex = stdout(&run(&["models", "alexnet"]));
    assert!(alex.contains("layer 6: dense 9216 -> 4096"), "{alex}");
}

#[test]
fn attack_command_reports_json_writes_the_figure_and_rejects_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let body = "[data]\nsubset = 6000\n[model]\narch = \"fc100-100-10\"\n[optimizer]\nkind = \"sgd\"\nlearning_rate = 0.5\nmomentum = 0.9\nnesterov = true\nschedule = \"one-cycle\"\n[train]\nepochs = 2\nbatch_size = 64\n";
    let recipe = quick_recipe(tmp.path(), "victim", body);
    assert!(run(&["train", recipe.to_str().unwrap()]).status.success());
    let run_dir = tmp.path().join("runs/victim");
    let ckpt = run_dir.to_str().unwrap();
    let png = tmp.path().join("figure.png");

    let out = run(&[
        "attack",
        ckpt,
        "--n",
        "6",
        "--iterations",
        "30",
        "--json",
        "--png",
        png.to_str().unwrap(),
        "--rows",
        "4",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["summary"]["examples"], 6);
    assert_eq!(report["summary"]["success_rate"], 1.0);
    let d = report["summary"]["mean_distortion"].as_f64().unwrap();
    assert!(d > 0.0 && d < 0.2, "{d}");
    // Four rows of original | adversarial | difference, with title, headings and captions.
    let (w, h, pixels) = decode_png(&png);
    assert!(w > 3 * 84 && h > 4 * 84, "{w} x {h}");
    assert!(inked(&pixels) > 0.03, "{}", inked(&pixels));

    let out = run(&["attack", ckpt, "--method", "pgd", "--epsilon", "0.2", "--layer", "1", "--n", "10", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));

    assert_one_line_error(
        &run(&["attack", ckpt, "--layer", "3"]),
        1,
        "--layer 3 is out of range: the model has layers 0 (the input) to 2",
    );
    assert_one_line_error(&run(&["attack", ckpt, "--n", "20000"]), 1, "--n 20000: the test set has only");
    // The attacks check their own settings: every front end gets the same line.
    for (method, epsilon, shown) in
        [("pgd", "-1", "-1"), ("pgd", "nan", "NaN"), ("fgsm", "-0.2", "-0.2"), ("noise", "inf", "inf")]
    {
        let out = run(&["attack", ckpt, "--method", method, "--epsilon", epsilon, "--n", "5"]);
        assert_one_line_error(&out, 2, &format!("--epsilon {shown} is not a positive finite size"));
    }
    assert_one_line_error(&run(&["attack", ckpt, "--method", "pgd", "--steps", "0"]), 2, "--steps must be at least 1");
    assert_one_line_error(&run(&["attack", ckpt, "--search-steps", "0"]), 2, "--search-steps must be at least 1");
    // An attack that breaks nothing has no distortion to report, not a NaN.
    let out = run(&["attack", ckpt, "--method", "fgsm", "--epsilon", "1e-6", "--n", "5"]);
    assert!(out.status.success() && stdout(&out).contains("no example succeeded"), "{}", stdout(&out));
    assert_one_line_error(&run(&["attack", "no/such/run"]), 1, "no/such/run: no such file or folder");
    // A checkpoint whose recipe names another architecture than its weights.
    let latest = std::fs::read_to_string(run_dir.join("latest")).unwrap();
    let recipe_file = run_dir.join(latest.trim()).join("recipe.toml");
    let text = std::fs::read_to_string(&recipe_file).unwrap();
    std::fs::write(&recipe_file, text.replace("arch = \"fc100-100-10\"", "arch = \"fc200-200-10\"")).unwrap();
    assert_one_line_error(&run(&["attack", ckpt]), 1, "the weights do not fit the model the recipe describes");
    std::fs::write(&recipe_file, text).unwrap();
    // A truncated, empty or foreign weights file is called corrupt, not a recipe mismatch.
    let weights = run_dir.join(latest.trim()).join("model.bpk");
    let bytes = std::fs::read(&weights).unwrap();
    for (what, broken) in
        [("truncated", &bytes[..bytes.len() / 2]), ("empty", &[][..]), ("foreign", &b"PK\x03\x04 not a record"[..])]
    {
        std::fs::write(&weights, broken).unwrap();
        let out = run(&["eval", ckpt]);
        assert_one_line_error(&out, 1, "unreadable or corrupt weights file");
        assert!(!stderr(&out).contains("recipe"), "{what}: {}", stderr(&out));
    }
    // Weights that are not numbers: every measuring command refuses them with one line, none reports
    // the accuracy of a model that answers NaN.
    let device = blindspot::DeviceChoice::Cpu.device().unwrap();
    let model = blindspot::model::zoo::spec("fc100-100-10", [1, 28, 28], 10).unwrap().init(&device);
    burn::module::Module::save_file(burn::module::Module::map(model, &mut Spoil), &weights).unwrap();
    for command in ["eval", "robustness", "attack"] {
        assert_one_line_error(&run(&[command, ckpt]), 1, "weights are NaN or infinite");
    }
    std::fs::write(&weights, &bytes).unwrap();
    // `latest` may only name a checkpoint folder of the run.
    for name in ["../../../../etc", "/etc", "a/b", ""] {
        std::fs::write(run_dir.join("latest"), name).unwrap();
        assert_one_line_error(&run(&["eval", ckpt]), 1, "which is not a checkpoint folder of this run");
    }
    std::fs::write(run_dir.join("latest"), &latest).unwrap();
    assert!(run(&["eval", ckpt]).status.success());
    assert_one_line_error(&run(&["attack", ckpt, "--layer", "1", "--png", "x.png"]), 2, "--png draws input images");

    // Units vs directions of the same model's second hidden layer.
    let grid = tmp.path().join("units.png");
    let out = run(&[
        "units",
        ckpt,
        "--layer",
        "2",
        "--directions",
        "5",
        "--top",
        "6",
        "--json",
        "--png",
        grid.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["width"], 100);
    for kind in ["units", "directions"] {
        let rows = report[kind].as_array().unwrap();
        assert_eq!(rows.len(), 5);
        for row in rows {
            assert_eq!(row["images"].as_array().unwrap().len(), 6);
            let purity = row["purity"].as_f64().unwrap();
            assert!((1.0 / 6.0..=1.0).contains(&purity));
        }
    }
    // A trained layer's top images are far purer than chance (10%).
    assert!(
        report["mean_unit_purity"].as_f64().unwrap() > 0.4 && report["mean_direction_purity"].as_f64().unwrap() > 0.4,
        "{report}"
    );
    // Ten labelled rows (five units, five directions) of six images.
    let (w, h, pixels) = decode_png(&grid);
    assert!(w > 6 * 56 && h > 10 * 56, "{w} x {h}");
    assert!(inked(&pixels) > 0.03, "{}", inked(&pixels));
    assert_one_line_error(
        &run(&["units", ckpt, "--layer", "0"]),
        1,
        "--layer 0: units are the outputs of hidden layers 1 to 2",
    );
}

#[test]
fn transfer_table_has_a_row_per_model_and_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    let body = |arch: &str| {
        format!(
            "[data]\nsubset = 6000\n[model]\narch = \"{arch}\"\n[optimizer]\nkind = \"sgd\"\nlearning_rate = 0.5\nmomentum = 0.9\n[train]\nepochs = 2\nbatch_size = 64\n"
        )
    };
    for (name, arch) in [("a", "fc10"), ("b", "fc100-100-10")] {
        let recipe = quick_recipe(tmp.path(), name, &body(arch));
        assert!(run(&["train", recipe.to_str().unwrap()]).status.success());
    }
    let (a, b) = (tmp.path().join("runs/a"), tmp.path().join("runs/b"));
    let out = run(&[
        "transfer",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--n",
        "20",
        "--iterations",
        "30",
        "--magnify",
        "0.1",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let t: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows = t["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2 + 2 + 2, "two models, two noise rows, two magnified rows");
    // Examples made for a model fool that model (the diagonal).
    assert_eq!(rows[0]["errors"][0], 1.0);
    assert_eq!(rows[1]["errors"][1], 1.0);
    assert_eq!(rows[2]["source"], "Gaussian noise, stddev 0.1");
    let md = stdout(&run(&[
        "transfer",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--n",
        "10",
        "--iterations",
        "20",
        "--noise",
        "0.2",
    ]));
    assert!(md.starts_with("| made for ↓ / fed to → | a | b | av. distortion |"), "{md}");
    assert_eq!(md.lines().count(), 2 + 3);
}

#[test]
fn reproduce_quick_trains_what_is_missing_and_prints_the_paper_beside_ours() {
    let tmp = tempfile::tempdir().unwrap();
    let recipes = repo().join("recipes");
    let args = [
        "reproduce",
        "table4",
        "--quick",
        "--n",
        "10",
        "--recipes",
        recipes.to_str().unwrap(),
        "--output",
        tmp.path().to_str().unwrap(),
    ];
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.contains("| fc100-100-10-p1 | 100.0% (100.0%) |"), "{table}");
    assert!(table.contains("| magnified to 0.1: fc100-100-10-p2 |"), "{table}");
    assert!(stderr(&out).contains("fc123-456-10-p1: training (3 epochs)"));
    for model in ["fc100-100-10-p1", "fc123-456-10-p1", "fc100-100-10-p2"] {
        assert!(tmp.path().join("quick").join(model).join("metrics.json").is_file(), "{model}");
    }
    // A second run reuses the trained models.
    let again = run(&args);
    assert!(again.status.success());
    assert!(stderr(&again).contains("fc100-100-10-p2: trained already"), "{}", stderr(&again));
    assert!(!stderr(&again).contains("training"));
}

#[test]
fn compare_trains_every_recipe_for_every_seed_and_reuses_finished_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let wd = repo().join("recipes/fc100-100-10-weight-decay.toml");
    let pools = repo().join("recipes/fc100-100-10-adversarial.toml");
    let output = tmp.path().join("cmp");
    let args = [
        "compare",
        wd.to_str().unwrap(),
        pools.to_str().unwrap(),
        "--seeds",
        "2",
        "--set",
        "train.epochs=2",
        "--set",
        "data.subset=4000",
        "--set",
        "train.batch_size=32",
        "--output",
        output.to_str().unwrap(),
        "--distortion-images",
        "10",
        "--robust-images",
        "100",
        "--iterations",
        "20",
        "--square-queries",
        "200",
        "--json",
    ];
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let c: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let recipes = c["recipes"].as_array().unwrap();
    assert_eq!(recipes.len(), 2);
    for r in recipes {
        let runs = r["runs"].as_array().unwrap();
        assert_eq!(runs.iter().map(|x| x["seed"].as_u64().unwrap()).collect::<Vec<_>>(), vec![1, 2]);
        for x in runs {
            assert!(x["test_error"].as_f64().unwrap() < 0.25, "{x}");
            let robust: Vec<f64> =
                x["robust_accuracy"].as_array().unwrap().iter().map(|a| a.as_f64().unwrap()).collect();
            assert!(robust.len() == 2 && robust[0] >= robust[1] && (0.0..=1.0).contains(&robust[0]), "{x}");
            assert!(x["mean_distortion"].as_f64().unwrap() > 0.0);
        }
    }
    assert!(output.join("fc100-100-10-adversarial-seed2/metrics.json").is_file());
    let again = run(&args);
    assert!(again.status.success());
    assert!(!stderr(&again).contains("training ("), "{}", stderr(&again));
    let table = stdout(&run(&args[..args.len() - 1]));
    assert!(table.starts_with("| recipe | seeds | test error |"), "{table}");
    assert!(table.contains("network Lipschitz bound"), "{table}");
    assert!(table.contains("robust accuracy (ε = 0.1) | robust accuracy (ε = 0.3)"), "{table}");
    assert_eq!(c["radii"], serde_json::json!([0.1, 0.3]), "the pool's radius and the standard one");
    // One seed has no spread to show.
    let one: Vec<&str> = args[..args.len() - 1].iter().map(|&a| if a == "2" { "1" } else { a }).collect();
    let table = stdout(&run(&one));
    assert!(table.contains("| 1 |") && !table.contains('±'), "{table}");
    // A changed recipe trains its runs again instead of reusing (or resuming) the old ones, which
    // it keeps under a new name, whole.
    let kept = std::fs::read_to_string(output.join("fc100-100-10-weight-decay-seed1/metrics.json")).unwrap();
    let changed: Vec<&str> =
        args.iter().map(|&a| if a == "train.batch_size=32" { "train.batch_size=64" } else { a }).collect();
    let out = run(&changed);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("fc100-100-10-weight-decay-seed1: the recipe changed: setting the earlier run aside"),
        "{err}"
    );
    assert!(err.contains("fc100-100-10-weight-decay-seed1.1"), "{err}");
    let aside = output.join("fc100-100-10-weight-decay-seed1.1/metrics.json");
    assert_eq!(std::fs::read_to_string(aside).unwrap(), kept);
}

#[test]
fn lipschitz_prints_the_papers_table_for_an_architecture_or_a_checkpoint_and_rejects_bad_input() {
    let out = run(&["lipschitz", "--arch", "alexnet", "--iterations", "30", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let b: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let layers = b["layers"].as_array().unwrap();
    let sizes: Vec<&str> = layers.iter().map(|l| l["size"].as_str().unwrap()).collect();
    assert_eq!(
        sizes,
        [
            "3 × 11 × 11 × 96",
            "96 × 5 × 5 × 256",
            "256 × 3 × 3 × 384",
            "384 × 3 × 3 × 384",
            "384 × 3 × 3 × 256",
            "9216 × 4096",
            "4096 × 4096",
            "4096 × 1000"
        ]
    );
    let strides: Vec<Option<u64>> = layers.iter().map(|l| l["stride"].as_u64()).collect();
    assert_eq!(strides, [Some(4), Some(1), Some(1), Some(1), Some(1), None, None, None]);
    assert!(layers.iter().all(|l| l["bound"].as_f64().unwrap() > 0.0));
    assert!(b["network"].as_f64().unwrap() > 0.0);

    let md = stdout(&run(&["lipschitz", "--arch", "fc100-100-10", "--markdown"]));
    assert!(md.starts_with("| layer | size | stride | upper bound |") && md.lines().count() == 5, "{md}");

    assert_one_line_error(&run(&["lipschitz", "--arch", "vgg"]), 2, "--arch vgg: unknown architecture");
    assert_one_line_error(
        &run(&["lipschitz", "--arch", "convnet", "--layer", "7"]),
        1,
        "--layer 7 is out of range: the model has layers 1 to 4",
    );
    assert_one_line_error(&run(&["lipschitz", "no/such/run"]), 1, "no/such/run: no such file or folder");
    assert_one_line_error(
        &run(&["lipschitz", "--arch", "convnet", "--iterations", "0"]),
        2,
        "--iterations must be at least 1",
    );
}

/// Writes CIFAR-10 batch files of `n` records each into `dir`: a random label, and every pixel of
/// every channel a brightness that grows with the label (so a model can learn it) plus noise.
fn write_cifar(dir: &std::path::Path, n: usize) {
    let mut state = 7u32;
    let mut next = move || {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (state >> 16) as u8
    };
    for name in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"] {
        let mut bytes = Vec::new();
        for _ in 0..n {
            let label = next() % 10;
            bytes.push(label);
            bytes.extend((0..3072).map(|_| label * 25 + next() % 20));
        }
        std::fs::write(dir.join(format!("{name}.bin")), bytes).unwrap();
    }
}

#[test]
fn a_cifar10_recipe_trains_a_colour_model_with_a_pool_and_evaluates() {
    let tmp = tempfile::tempdir().unwrap();
    write_cifar(tmp.path(), 60);
    let body = format!(
        "[data]\ndataset = \"cifar10\"\ndir = \"{}\"\n[model]\narch = \"convnet\"\n[optimizer]\nkind = \"adam\"\nlearning_rate = 0.002\n[train]\nepochs = 2\nbatch_size = 50\n[adversarial]\nlayers = [0]\nattackers = 0\npool_size = 100",
        tmp.path().display()
    );
    let recipe = quick_recipe(tmp.path(), "cifar", &body);
    let out = run(&["train", recipe.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["epochs"], 2);
    assert!(summary["history"][1]["pools"][0]["used"].as_u64().unwrap() > 0);
    let run_dir = tmp.path().join("runs/cifar");
    let eval = run(&["eval", run_dir.to_str().unwrap(), "--json"]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    let report: serde_json::Value = serde_json::from_str(&stdout(&eval)).unwrap();
    assert_eq!(report["test_examples"], 60);
    assert_eq!(report["test_error"], summary["test_error"]);
    // The model takes 3 × 32 × 32 inputs: its first convolution has 3 input channels.
    let table = stdout(&run(&["lipschitz", run_dir.to_str().unwrap(), "--json"]));
    let bounds: serde_json::Value = serde_json::from_str(&table).unwrap();
    assert_eq!(bounds["input"], serde_json::json!([3, 32, 32]));
    assert!(bounds["layers"][0]["size"].as_str().unwrap().starts_with("3 × 5 × 5"), "{table}");
}

/// Turns every weight into NaN.
struct Spoil;

impl burn::module::ModuleMapper for Spoil {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<burn::prelude::Tensor<D>>,
    ) -> burn::module::Param<burn::prelude::Tensor<D>> {
        param.map(|t| t.mul_scalar(f32::NAN))
    }
}
