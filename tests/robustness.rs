//! `blindspot robustness` on a trained model: the report adds up, and bad input (radii, attack
//! names, image counts, norms) is a one-line error.

mod common;

use common::*;

#[test]
fn robustness_reports_per_attack_and_refuses_bad_input_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let body = "[data]\nsubset = 5000\n[model]\narch = \"fc100-100-10\"\n[optimizer]\nkind = \"sgd\"\nlearning_rate = 0.5\nmomentum = 0.9\nnesterov = true\nschedule = \"one-cycle\"\n[train]\nepochs = 2\nbatch_size = 64\n";
    let recipe = quick_recipe(tmp.path(), "measured", body);
    assert!(run(&["train", recipe.to_str().unwrap()]).status.success());
    let ckpt = tmp.path().join("runs/measured");
    let ckpt = ckpt.to_str().unwrap();

    let out = run(&["robustness", ckpt, "--epsilon", "0.01,0.3", "--n", "100", "--square-queries", "200", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let radii = report["radii"].as_array().unwrap();
    assert_eq!(radii.len(), 2);
    for r in radii {
        let (clean, robust) = (r["clean_accuracy"].as_f64().unwrap(), r["robust_accuracy"].as_f64().unwrap());
        assert!(robust <= clean, "{r}");
    }
    let (small, large) = (radii[0]["robust_accuracy"].as_f64().unwrap(), radii[1]["robust_accuracy"].as_f64().unwrap());
    assert!(small > 0.3 && large < small, "ε 0.01: {small}, ε 0.3: {large}");

    // L2: the same ensemble, Square included.
    let out = run(&[
        "robustness",
        ckpt,
        "--norm",
        "l2",
        "--epsilon",
        "1.5",
        "--n",
        "100",
        "--square-queries",
        "200",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &report["radii"][0];
    let names: Vec<&str> = r["attacks"].as_array().unwrap().iter().map(|a| a["attack"].as_str().unwrap()).collect();
    assert_eq!(names, ["apgd-ce", "apgd-t", "square"], "{r}");
    let (clean, robust) = (r["clean_accuracy"].as_f64().unwrap(), r["robust_accuracy"].as_f64().unwrap());
    assert!(robust < clean, "L2 1.5 breaks some of a 2-epoch model's answers: {r}");

    for (args, code, expected) in [
        (&["--epsilon", "0"][..], 2, "--epsilon 0"),
        (&["--epsilon", "-0.1"][..], 2, "--epsilon -0.1"),
        (&["--epsilon", "nan"][..], 2, "--epsilon NaN"),
        (&["--epsilon", "inf"][..], 2, "--epsilon inf"),
        (&["--attacks", "apgd-ce,fab"][..], 2, "fab"),
        (&["--n", "20000"][..], 2, "--n 20000"),
        (&["--n", "0"][..], 2, "--n must be at least 1"),
        (&["--norm", "l3"][..], 2, "l3"),
    ] {
        let mut all = vec!["robustness", ckpt];
        all.extend(args);
        assert_one_line_error(&run(&all), code, expected);
    }
}
