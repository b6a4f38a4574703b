//! The command line as a user meets it: help that explains itself and one-line errors.

mod common;

use common::*;

#[test]
fn help_lists_every_command() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    for command in ["train", "eval", "recipe", "models", "device"] {
        assert!(help.contains(command), "{command} missing from:\n{help}");
    }
    let train_help = stdout(&run(&["train", "--help"]));
    for flag in ["--device", "--set", "--resume", "--json"] {
        assert!(train_help.contains(flag), "{flag} missing from:\n{train_help}");
    }
}

#[test]
fn bad_input_is_one_line() {
    assert_one_line_error(&run(&["train", "no/such/recipe.toml"]), 2, "no/such/recipe.toml: cannot read recipe");
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\n[model]\narch = \"fc100-100-10\"\nwidth = 3\n").unwrap();
    assert_one_line_error(&run(&["recipe", "check", bad.to_str().unwrap()]), 2, "bad.toml:4: model.width: unknown field `width`");
    assert_one_line_error(&run(&["eval", "no/such/run"]), 1, "no/such/run: no such file or folder");
    assert_one_line_error(&run(&["eval", tmp.path().to_str().unwrap()]), 1, "not a checkpoint");
    let recipe = repo().join("recipes/fc10-1e-4.toml");
    assert_one_line_error(&run(&["train", recipe.to_str().unwrap(), "--set", "train.epochs=0"]), 2, "--set train.epochs=0: must be at least 1");
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
