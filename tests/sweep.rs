//! Sweeps: the figures each run keeps beside its latest checkpoint (`figures.json`), `compare --jobs`, `sweep collect`, and a
//! sweep run as a job array on a real one-node Slurm cluster (Debian's slurm-wlm and munge, which
//! scripts/setup.sh installs), collected into the table `compare` makes here.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

/// A measurement on a few images, for the tests that need one to run, not to be right.
const FEW_MEASURES: [&str; 8] =
    ["--distortion-images", "5", "--robust-images", "20", "--iterations", "5", "--square-queries", "20"];

/// Two recipes × `seeds` seeds, trained briefly, measured on a few images.
fn sweep_args(output: &Path, seeds: &str) -> Vec<String> {
    let mut args: Vec<String> = ["fc100-100-10-weight-decay", "fc100-100-10-dropout"]
        .iter()
        .map(|r| repo().join(format!("recipes/{r}.toml")).display().to_string())
        .collect();
    for a in [
        "--seeds",
        seeds,
        "--set",
        "train.epochs=2",
        "--set",
        "data.subset=4000",
        "--set",
        "train.batch_size=32",
        "--distortion-images",
        "10",
        "--robust-images",
        "100",
        "--iterations",
        "10",
        "--square-queries",
        "100",
        "--json",
        "--output",
    ] {
        args.push(a.into());
    }
    args.push(output.display().to_string());
    args
}

fn json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

/// The figures without the training time, which no two runs share.
fn untimed(mut comparison: Value) -> Value {
    for recipe in comparison["recipes"].as_array_mut().unwrap() {
        for run in recipe["runs"].as_array_mut().unwrap() {
            run.as_object_mut().unwrap().remove("train_seconds");
        }
    }
    comparison
}

/// A one-node Slurm cluster for the test's lifetime; its daemons stopped (by their pids) when dropped.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let script = repo().join("scripts/slurm-cluster.sh");
        let out = Command::new("bash").arg(&script).arg("start").arg(dir).output().unwrap();
        assert!(
            out.status.success(),
            "a one-node Slurm cluster must start (scripts/setup.sh installs slurm-wlm and munge): {}",
            stderr(&out)
        );
        Cluster { dir: dir.to_path_buf(), conf: dir.join("slurm.conf") }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let script = repo().join("scripts/slurm-cluster.sh");
        let _ = Command::new("bash").arg(script).arg("stop").arg(&self.dir).status();
    }
}

#[test]
fn a_sweep_run_as_a_slurm_job_array_collects_the_table_compare_makes_here() {
    let tmp = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(&tmp.path().join("cluster"));
    let on_slurm = tmp.path().join("on-slurm");
    let mut args = vec!["sweep".to_string()];
    args.extend(sweep_args(&on_slurm, "2"));
    args.extend(["--slurm", "--cpus-per-task", "1", "--submit", "--wait"].map(String::from));
    let out = blindspot().args(&args).env("SLURM_CONF", &cluster.conf).output().unwrap();
    let collected = json(&out);
    assert_eq!(collected["unfinished"], serde_json::json!([]), "{collected}");
    let script = std::fs::read_to_string(on_slurm.join("sweep.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-3") && script.contains("sweep task"), "{script}");
    for task in 0..4 {
        let log = std::fs::read_to_string(on_slurm.join(format!("logs/task-{task}.log"))).unwrap();
        assert!(log.contains("training (2 epochs)") && log.contains("measuring robustness"), "{log}");
    }

    // The same runs made here, two at a time, give the same figures.
    let here = tmp.path().join("here");
    let mut args = vec!["compare".to_string()];
    args.extend(sweep_args(&here, "2"));
    args.extend(["--jobs", "2"].map(String::from));
    let compared = json(&blindspot().args(&args).output().unwrap());
    assert_eq!(untimed(collected["comparison"].clone()), untimed(compared.clone()));
    let runs = compared["recipes"][0]["runs"].as_array().unwrap();
    assert!(runs.iter().all(|r| r["test_error"].as_f64().unwrap() < 0.25), "{compared}");

    // Collecting again reads what the runs keep.
    let again = json(&run(&["sweep", "collect", on_slurm.to_str().unwrap(), "--json"]));
    assert_eq!(again, collected);
    let table = stdout(&run(&["sweep", "collect", on_slurm.to_str().unwrap()]));
    assert!(table.starts_with("| recipe | seeds | test error |") && table.contains("| 2 |"), "{table}");
}

/// The figures kept beside the run's latest checkpoint.
fn kept_file(run_dir: &Path) -> PathBuf {
    let latest = std::fs::read_to_string(run_dir.join("latest")).unwrap();
    run_dir.join(latest.trim()).join("figures.json")
}

/// Runs blindspot with `args`, sends it SIGTERM once its stderr shows `marker`, and returns its exit
/// status, pid and the stderr after the marker.
fn stopped_at(args: &[String], marker: &str) -> (std::process::ExitStatus, u32, String) {
    let mut child = blindspot().args(args).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let mut reader = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains(marker) {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut reader, &mut line).unwrap() == 0 {
            panic!("ended before {marker:?}: {seen}");
        }
        seen.push_str(&line);
    }
    // SAFETY: a signal to our own child, not yet waited for.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    (child.wait().unwrap(), child.id(), rest)
}

fn kept(run_dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(kept_file(run_dir)).unwrap()).unwrap()
}

#[test]
fn kept_figures_are_read_back_and_a_changed_setting_measures_only_what_it_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let output = tmp.path().join("cmp");
    let mut args: Vec<String> = vec!["compare".into()];
    args.extend(sweep_args(&output, "1"));
    args.remove(1); // the dropout recipe alone
    let first = json(&blindspot().args(&args).output().unwrap());
    let run_dir = output.join("fc100-100-10-dropout-seed1");
    let figures = kept(&run_dir);
    let kinds: Vec<&str> =
        figures["values"].as_array().unwrap().iter().map(|f| f["measure"]["figure"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["distortion", "lipschitz_bound"], "{figures}");
    assert_eq!(figures["robustness"].as_array().unwrap().len(), 1, "{figures}");

    // A figure the run keeps is read back, not measured again (a planted value shows it).
    let mut planted = kept(&run_dir);
    planted["values"][0]["value"] = serde_json::json!(12.5);
    std::fs::write(kept_file(&run_dir), planted.to_string()).unwrap();
    let out = blindspot().args(&args).output().unwrap();
    assert!(!stderr(&out).contains("measuring"), "{}", stderr(&out));
    let second = json(&out);
    assert_eq!(second["recipes"][0]["runs"][0]["mean_distortion"], 12.5);
    assert_eq!(second["recipes"][0]["runs"][0]["robust_accuracy"], first["recipes"][0]["runs"][0]["robust_accuracy"]);

    // A new radius measures that radius only.
    args.extend(["--epsilon", "0.1,0.3"].map(String::from));
    let out = blindspot().args(&args).output().unwrap();
    assert!(stderr(&out).contains("measuring robustness"), "{}", stderr(&out));
    let third = json(&out);
    let run = &third["recipes"][0]["runs"][0];
    assert_eq!(run["mean_distortion"], 12.5, "the distortion was measured again");
    assert_eq!(run["robust_accuracy"][1], first["recipes"][0]["runs"][0]["robust_accuracy"][0]);
    assert_eq!(kept(&run_dir)["robustness"].as_array().unwrap().len(), 2);
}

#[test]
fn a_sweep_not_yet_run_or_failed_shows_no_number() {
    let tmp = tempfile::tempdir().unwrap();
    // Written for Slurm, not submitted: every task pending.
    let written = tmp.path().join("written");
    let mut args = vec!["sweep".to_string()];
    args.extend(sweep_args(&written, "2"));
    args.push("--slurm".into());
    let out = blindspot().args(&args).output().unwrap();
    assert!(out.status.success() && stderr(&out).contains("sbatch "), "{}", stderr(&out));
    let out = run(&["sweep", "collect", written.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.contains("| fc100-100-10-dropout | 0 | – |") && !table.contains('%'), "{table}");
    assert_eq!(stderr(&out).matches(": pending").count(), 4, "{}", stderr(&out));

    // A task that fails is named with its run; the others still run.
    let failing = tmp.path().join("failing");
    let good = repo().join("recipes/fc100-100-10-weight-decay.toml");
    let base = format!("base = {:?}\n[data]\ndir = \"/nonexistent/mnist\"", good.display().to_string());
    let bad = quick_recipe(tmp.path(), "missing-data", &base);
    let mut args = vec![
        "sweep",
        bad.to_str().unwrap(),
        good.to_str().unwrap(),
        "--seeds",
        "1",
        "--set",
        "train.epochs=1",
        "--set",
        "data.subset=1000",
        "--output",
        failing.to_str().unwrap(),
    ];
    args.extend(FEW_MEASURES);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(1));
    let last = stderr(&out).trim_end().lines().last().unwrap_or_default().to_string();
    assert!(last.starts_with("error: 1 of 2 tasks failed: task 0 (missing-data-seed1): failed: "), "{last}");
    assert!(last.contains("/nonexistent/mnist"), "{last}");
    assert!(stdout(&out).contains("| fc100-100-10-weight-decay | 1 |"), "{}", stdout(&out));
    let collected = run(&["sweep", "collect", failing.to_str().unwrap(), "--json"]);
    assert_eq!(collected.status.code(), Some(1));
    let c: Value = serde_json::from_str(&stdout(&collected)).unwrap();
    assert_eq!(c["unfinished"][0]["state"], "failed", "{c}");
}

#[test]
fn bad_sweeps_are_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = repo().join("recipes/fc100-100-10-weight-decay.toml");
    let recipe = recipe.to_str().unwrap();
    let output = tmp.path().join("s");
    let output = output.to_str().unwrap();
    assert_one_line_error(&run(&["sweep", "--seeds", "1"]), 2, "RECIPES");
    assert_one_line_error(&run(&["sweep", recipe, "--seeds", "0"]), 2, "--seeds");
    assert_one_line_error(&run(&["sweep", recipe, "--set", "train.epochs=0", "--output", output]), 2, "train.epochs");
    assert_one_line_error(&run(&["compare", recipe, "--jobs", "999", "--output", output]), 2, "--jobs 999");
    assert_one_line_error(&run(&["sweep", recipe, "--wait", "--output", output]), 2, "--submit");
    assert_one_line_error(&run(&["sweep", "collect", "/nonexistent/sweep"]), 2, "/nonexistent/sweep/sweep.json");
    let out = blindspot()
        .args(["sweep", recipe, "--seeds", "1", "--output", output, "--slurm", "--submit"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_one_line_error(&out, 1, "sbatch: ");
    let manifest = Path::new(output).join("sweep.json");
    assert_one_line_error(
        &run(&["sweep", "task", manifest.to_str().unwrap(), "--index", "3"]),
        2,
        "task 3: the sweep has 1 tasks (0 to 0)",
    );
}

#[test]
fn a_killed_task_is_shown_as_such_and_resumes_its_run_when_run_again() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("s");
    let recipe = repo().join("recipes/fc100-100-10-weight-decay.toml");
    let mut args = vec![
        "sweep",
        recipe.to_str().unwrap(),
        "--seeds",
        "1",
        "--set",
        "train.epochs=30",
        "--set",
        "data.subset=20000",
        "--output",
        folder.to_str().unwrap(),
        "--slurm",
    ];
    args.extend(FEW_MEASURES);
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let manifest = folder.join("sweep.json");
    let task = ["sweep", "task", manifest.to_str().unwrap(), "--index", "0"];
    let mut child = blindspot().args(task).stderr(std::process::Stdio::null()).spawn().unwrap();
    let latest = folder.join("fc100-100-10-weight-decay-seed1/latest");
    let start = std::time::Instant::now();
    while !latest.is_file() && start.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL: the task cannot record anything
    child.wait().unwrap();
    let out = run(&["sweep", "collect", folder.to_str().unwrap()]);
    assert!(
        stderr(&out).contains("task 0 (fc100-100-10-weight-decay-seed1): running or killed, epoch "),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("| fc100-100-10-weight-decay | 0 | – |"), "{}", stdout(&out));

    let out = run(&task);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("fc100-100-10-weight-decay-seed1: resuming (30 epochs)"), "{}", stderr(&out));
    let out = run(&["sweep", "collect", folder.to_str().unwrap(), "--json"]);
    let c: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(c["unfinished"], serde_json::json!([]), "{c}");
    assert_eq!(c["comparison"]["recipes"][0]["runs"].as_array().unwrap().len(), 1);
}

#[test]
fn sigterm_while_measuring_stops_between_figures_and_keeps_those_measured() {
    let tmp = tempfile::tempdir().unwrap();
    let output = tmp.path().join("cmp");
    let mut args: Vec<String> = vec!["compare".into()];
    args.extend(sweep_args(&output, "1"));
    args.remove(1); // the dropout recipe alone, trained first
    assert!(blindspot().args(&args).output().unwrap().status.success());
    // Four radii, each a long pass of the ensemble.
    for (flag, value) in [("--robust-images", "1000"), ("--iterations", "100")] {
        let at = args.iter().position(|a| a == flag).unwrap() + 1;
        args[at] = value.into();
    }
    args.extend(["--epsilon", "0.05,0.1,0.2,0.3"].map(String::from));
    let (status, _, rest) = stopped_at(&args, "measuring robustness");
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{rest}");
    assert!(rest.contains("stopped by SIGTERM while measuring; the figures measured so far are kept"), "{rest}");
    let kept = kept(&output.join("fc100-100-10-dropout-seed1"))["robustness"].as_array().unwrap().len();
    assert!((1..5).contains(&kept), "{kept} reports kept (the first compare's and those measured before the stop)");
}

#[test]
fn sigterm_to_compare_with_jobs_stops_its_tasks_and_the_next_call_resumes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let output = tmp.path().join("cmp");
    let mut args: Vec<String> = vec!["compare".into()];
    args.extend(sweep_args(&output, "2"));
    args.remove(1); // the dropout recipe alone, two seeds at once
    args.extend(["--set", "train.epochs=40", "--set", "data.subset=20000", "--jobs", "2"].map(String::from));
    let (status, pid, rest) = stopped_at(&args, " 2/40 ");
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{rest}");
    assert!(
        rest.trim_end().ends_with(
            "error: stopped by SIGTERM: the tasks under way stopped too; run the same command again to go on"
        ),
        "{rest}"
    );
    // The tasks stopped at a step, their runs kept for resuming (no process is left training them).
    std::thread::sleep(std::time::Duration::from_millis(500));
    let latest = |seed: u32| output.join(format!("fc100-100-10-dropout-seed{seed}/latest"));
    let before = std::fs::read_to_string(latest(1)).unwrap_or_default();
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(std::fs::read_to_string(latest(1)).unwrap_or_default(), before, "a task still trains");
    assert!(!output.join(format!(".compare-{pid}")).exists(), "the call's task folder is removed");
    let again = blindspot().args(&args).output().unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stderr(&again).contains("resuming (40 epochs)"), "{}", stderr(&again));
}
