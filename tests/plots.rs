//! `blindspot plot` end to end: each chart kind drawn from real short training runs (the frontier's
//! figures kept beside the runs and read back), decoded back
//! (the PNG opens, has the size asked for, carries ink and the series' colours), and bad input.

mod common;

use common::*;

const BODY: &str = "[data]\nsubset = 6000\ntest_subset = 500\n[model]\narch = \"fc100-100-10\"\n[optimizer]\nkind = \"sgd\"\nlearning_rate = 0.5\nmomentum = 0.9\nnesterov = true\nschedule = \"one-cycle\"\n[train]\nepochs = 4\nbatch_size = 64\n";

/// The first two colours of the charts' palette (Okabe and Ito's blue and vermilion).
const FIRST: [u8; 3] = [0, 114, 178];
const SECOND: [u8; 3] = [213, 94, 0];

fn has(pixels: &[[u8; 3]], colour: [u8; 3]) -> bool {
    pixels.iter().filter(|p| **p == colour).count() > 50
}

#[test]
fn every_chart_kind_is_drawn_from_real_runs_and_bad_input_is_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let a = quick_recipe(tmp.path(), "batch64", BODY);
    let b = quick_recipe(tmp.path(), "batch128", &BODY.replace("batch_size = 64", "batch_size = 128"));
    for recipe in [&a, &b] {
        let out = run(&["train", recipe.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let run_a = tmp.path().join("runs/batch64");
    let run_b = tmp.path().join("runs/batch128");
    let (ra, rb) = (run_a.to_str().unwrap(), run_b.to_str().unwrap());
    let png = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();

    // (a) test error per epoch of two runs on one chart.
    let curves = png("curves.png");
    let out = run(&["plot", "curves", ra, rb, "--png", &curves, "--width", "640", "--height", "400"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (w, h, pixels) = decode_png(curves.as_ref());
    assert_eq!((w, h), (640, 400));
    assert!(inked(&pixels) > 0.02, "a chart, not a blank page: {}", inked(&pixels));
    assert!(has(&pixels, FIRST) && has(&pixels, SECOND), "both runs' lines are drawn");

    // (b) accuracy under PGD against ε for both checkpoints.
    let robust = png("robustness.png");
    let out = run(&["plot", "robustness", ra, rb, "--epsilon", "0,0.05,0.1", "--n", "200", "--png", &robust, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let curves_json = report["curves"].as_array().unwrap();
    assert_eq!(curves_json.len(), 2);
    for c in curves_json {
        let acc: Vec<f64> = c["points"].as_array().unwrap().iter().map(|p| p[1].as_f64().unwrap()).collect();
        assert_eq!(acc.len(), 3);
        assert!(acc[0] > 0.7, "clean accuracy of a trained model: {acc:?}");
        assert!(acc[2] < acc[0], "PGD at 0.1 breaks some images: {acc:?}");
    }
    let (w, h, pixels) = decode_png(robust.as_ref());
    assert_eq!((w, h), (900, 540));
    assert!(inked(&pixels) > 0.02 && has(&pixels, FIRST) && has(&pixels, SECOND));
    // With --certified, a certified line beside each: never above PGD's, the clean accuracy at 0.
    let both = png("certified.png");
    let out = run(&[
        "plot",
        "robustness",
        ra,
        "--epsilon",
        "0,0.005,0.1",
        "--n",
        "200",
        "--certified",
        "--png",
        &both,
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let curve = &report["curves"][0];
    let value = |key: &str, k: usize| curve[key][k][1].as_f64().unwrap();
    assert_eq!(value("certified", 0), value("points", 0), "{curve}");
    assert!((1..3).all(|k| value("certified", k) <= value("points", k)), "{curve}");
    assert!(value("certified", 1) > 0.0, "some points certified at 0.005: {curve}");
    let (_, _, pixels) = decode_png(both.as_ref());
    assert!(has(&pixels, FIRST) && has(&pixels, SECOND), "the PGD and the certified lines are drawn");

    // (c) per-layer Lipschitz bounds per epoch of one run: three layers and the network.
    let bounds = png("lipschitz.png");
    let out = run(&["plot", "lipschitz", ra, "--png", &bounds]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (w, h, pixels) = decode_png(bounds.as_ref());
    assert_eq!((w, h), (900, 540));
    assert!(inked(&pixels) > 0.02 && has(&pixels, FIRST) && has(&pixels, SECOND));
    assert!(has(&pixels, [0, 158, 115]) && has(&pixels, [204, 121, 167]), "layer 3 and the network are drawn");

    // (d) robustness per second of training: both runs' points and the Pareto front, measured once.
    let front = png("frontier.png");
    let frontier = |extra: &[&str]| {
        let mut args = vec!["plot", "frontier", ra, rb, "--n", "100", "--attacks", "apgd-ce", "--iterations", "5"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--png", &front, "--json"]);
        let out = run(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()
    };
    let points = frontier(&["--epsilon", "0.1"]);
    let points = points.as_array().unwrap();
    assert_eq!(points.len(), 2);
    for p in points {
        let (seconds, robust) =
            (p["training_seconds"].as_f64().unwrap(), p["report"]["robust_accuracy"].as_f64().unwrap());
        assert!(seconds > 0.0 && (0.0..=1.0).contains(&robust), "{p}");
        assert_eq!(p["epochs"], 4);
    }
    assert!(points.iter().any(|p| p["front"] == true), "one run at least is on the front");
    let (w, h, pixels) = decode_png(front.as_ref());
    assert_eq!((w, h), (900, 540));
    assert!(inked(&pixels) > 0.02 && has(&pixels, SECOND), "the runs' points are drawn");
    // The figures were kept beside each checkpoint: the same settings read them (to the second it
    // took to measure), other settings measure anew and are kept beside them.
    assert_eq!(frontier(&["--epsilon", "0.1"]).as_array().unwrap(), points);
    let other = frontier(&["--epsilon", "0.05"]);
    assert_ne!(other[0]["report"]["epsilon"], points[0]["report"]["epsilon"]);
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_a.join("epoch-0004/figures.json")).unwrap()).unwrap();
    assert_eq!(kept["robustness"].as_array().unwrap().len(), 2);

    // Bad input: one line each.
    assert_one_line_error(
        &run(&["plot", "frontier", ra, "--epsilon", "-0.1", "--png", &png("f.png")]),
        2,
        "--epsilon -0.1 is not a positive radius",
    );
    assert_one_line_error(
        &run(&["plot", "curves", ra, "--metric", "validation-error", "--png", &png("v.png")]),
        1,
        "the run logged no validation error",
    );
    assert_one_line_error(
        &run(&["plot", "robustness", ra, "--epsilon", "0,-0.1", "--png", &png("r.png")]),
        1,
        "radius -0.1: a PGD radius must be finite and at least 0",
    );
    assert_one_line_error(&run(&["plot", "lipschitz", "no/such/run", "--png", &png("l.png")]), 1, "no/such/run");
    assert_one_line_error(
        &run(&["plot", "curves", ra, "--png", tmp.path().join("no/such/dir/c.png").to_str().unwrap()]),
        1,
        "cannot write PNG",
    );
}
