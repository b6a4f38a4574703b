//! Every number a user types is checked where it is used. Each numeric recipe key (found by walking
//! every shipped recipe as `recipe show` writes it, every default filled in) and each flag of every
//! command that takes a value (found in the commands' `--help`, so a new key or flag joins the table
//! by itself) is sent 0, -1, NaN, +inf, -inf and a huge value. Each case must end, within its time
//! bound, in a one-line error that names the key or flag, or, where the value is legal, in a command
//! that finishes with finite figures: no panic, no backtrace, no NaN printed as a result.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{blindspot, repo};

const VALUES: [&str; 6] = ["0", "-1", "nan", "inf", "-inf", "1e12"];

/// Keys whose 0 means "all of them" (the whole training or test set).
const ALL_AT_ZERO: [&str; 2] = ["data.subset", "data.test_subset"];

/// What one command did.
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    timed_out: bool,
}

fn run_bounded(args: &[String], dir: &Path, bound: Duration) -> Outcome {
    let mut child = blindspot()
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the blindspot binary runs");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).ok();
        s
    });
    let started = Instant::now();
    let (code, timed_out) = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break (status.code(), false);
        }
        if started.elapsed() > bound {
            child.kill().ok();
            child.wait().ok();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Outcome { code, stdout: reader.join().unwrap(), stderr: err_reader.join().unwrap(), timed_out }
}

/// Why `o` breaks the rules for a case about `name` (a recipe key or a flag); `None` when it keeps them.
/// An error names the key, or its last part where another key's rule speaks of it (`nesterov` of
/// `momentum`).
fn judge(o: &Outcome, name: &str) -> Option<String> {
    let all = format!("{}{}", o.stdout, o.stderr);
    if o.timed_out {
        return Some("ran past its time bound".into());
    }
    if all.contains("panicked") || all.contains("RUST_BACKTRACE") || all.contains("Exception raised from") {
        return Some(format!("panicked: {}", o.stderr.trim()));
    }
    match o.code {
        Some(0) => {
            let shown = |w: &str| all.split(|c: char| !c.is_ascii_alphanumeric()).any(|t| t == w);
            ["NaN", "nan", "inf", "Infinity"].iter().find(|w| shown(w)).map(|w| format!("printed {w}: {all}"))
        }
        Some(1 | 2) => {
            let lines: Vec<&str> = o.stderr.trim_end().lines().collect();
            let last = lines.last().copied().unwrap_or_default();
            if !last.starts_with("error: ") {
                Some(format!("no error line: {:?}", o.stderr))
            } else if o.code == Some(2) && lines.len() != 1 {
                Some(format!("not one line: {:?}", o.stderr))
            } else if o.code == Some(2)
                && !last.contains(name)
                && !last.contains(name.rsplit('.').next().unwrap_or(name))
            {
                Some(format!("does not name {name}: {last}"))
            } else {
                None
            }
        }
        code => Some(format!("exit {code:?}: {}", o.stderr.trim())),
    }
}

/// Runs `cases` (the name each is about, its arguments) two at a time: each one's exit code and,
/// where it breaks the rules, why.
fn run_all(cases: &[(String, Vec<String>)], dir: &Path, bound: Duration) -> Vec<(Option<i32>, Option<String>)> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(vec![(None, None); cases.len()]);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((name, args)) = cases.get(i) else { break };
                    let o = run_bounded(args, dir, bound);
                    let why = judge(&o, name).map(|why| format!("blindspot {}: {why}", args.join(" ")));
                    results.lock().unwrap()[i] = (o.code, why);
                }
            });
        }
    });
    results.into_inner().unwrap()
}

/// The failures of `results`, one per line.
fn failures(results: &[(Option<i32>, Option<String>)]) -> Vec<String> {
    results.iter().filter_map(|(_, why)| why.clone()).collect()
}

/// The numeric keys of a recipe as `recipe show` writes it (dotted paths), arrays left out.
fn numeric_keys(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in table {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Integer(_) | toml::Value::Float(_) => out.push(key),
            toml::Value::Table(t) => numeric_keys(t, &key, out),
            _ => {}
        }
    }
}

/// A certified recipe's warm-up and ramp, shrunk to fit the short run's three epochs (a real
/// schedule ramps its bound over tens of epochs).
fn fitted(recipe: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(recipe).unwrap();
    let keys = if text.contains("[certified]") {
        ["certified.warmup_epochs=0", "certified.ramp_epochs=2"].as_slice()
    } else {
        &[]
    };
    keys.iter().flat_map(|k| ["--set".to_string(), k.to_string()]).collect()
}

/// A short run of every recipe: few images, few epochs (ramps and warm-ups fit in three).
fn short(output: &Path) -> Vec<String> {
    ["data.subset=512", "data.test_subset=100", "train.batch_size=64", "train.epochs=3"]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("output.dir=\"{}\"", output.display())])
        .flat_map(|s| ["--set".to_string(), s])
        .collect()
}

#[test]
fn every_numeric_recipe_key_refuses_what_cannot_work_and_runs_what_can() {
    let tmp = tempfile::tempdir().unwrap();
    let mut recipes: Vec<PathBuf> = std::fs::read_dir(repo().join("recipes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    recipes.sort();
    // Each key with the first recipe (in name order) that has it.
    let mut keys: BTreeMap<String, PathBuf> = BTreeMap::new();
    for recipe in &recipes {
        let shown = common::run(&["recipe", "show", recipe.to_str().unwrap()]);
        assert!(shown.status.success(), "{}", common::stderr(&shown));
        let table: toml::Table = common::stdout(&shown).parse().unwrap();
        let mut found = Vec::new();
        numeric_keys(&table, "", &mut found);
        for key in found {
            keys.entry(key).or_insert_with(|| recipe.clone());
        }
    }
    for section in ["train.epochs", "optimizer.learning_rate", "bank.steps", "fresh.epsilon", "adversarial.ratio"] {
        assert!(keys.contains_key(section), "{section} found in the shipped recipes");
    }
    let short = short(&tmp.path().join("runs"));
    let check = |recipe: &Path, set: &[String]| -> Vec<String> {
        let mut args = vec!["recipe".to_string(), "check".into(), recipe.display().to_string()];
        args.extend(short.iter().cloned());
        args.extend(fitted(recipe));
        args.extend(set.iter().cloned());
        args
    };
    // The short runs themselves are fine for every recipe a key is taken from.
    let used: std::collections::BTreeSet<&PathBuf> = keys.values().collect();
    for recipe in &used {
        let o = run_bounded(&check(recipe, &[]), tmp.path(), Duration::from_secs(30));
        assert_eq!(o.code, Some(0), "{}: {}", recipe.display(), o.stderr);
    }
    let cases: Vec<(String, Vec<String>)> = keys
        .iter()
        .flat_map(|(key, recipe)| {
            let check = &check;
            VALUES.iter().map(move |v| (key.clone(), check(recipe, &["--set".into(), format!("{key}={v}")])))
        })
        .collect();
    let results = run_all(&cases, tmp.path(), Duration::from_secs(30));
    let failed = failures(&results);
    assert!(failed.is_empty(), "{} cases:\n{}", failed.len(), failed.join("\n"));
    // What `recipe check` accepts, a short run trains through with finite figures (or stops with one
    // line saying it diverged), each in a folder of its own.
    let runs: Vec<(String, Vec<String>)> = cases
        .into_iter()
        .zip(&results)
        .filter(|(_, (code, _))| *code == Some(0))
        // 0 images of a subset means the whole set: legal, and a full run, too long for a test.
        .filter(|((key, args), _)| {
            !(ALL_AT_ZERO.contains(&key.as_str()) && args.last().is_some_and(|a| a.ends_with("=0")))
        })
        .enumerate()
        .map(|(i, ((key, mut args), _))| {
            args.splice(0..2, ["train".to_string()]);
            let output = tmp.path().join(format!("accepted/{i}"));
            args.extend(["--set".to_string(), format!("output.dir=\"{}\"", output.display())]);
            (key, args)
        })
        .collect();
    eprintln!("{} accepted values train", runs.len());
    let failed = failures(&run_all(&runs, tmp.path(), Duration::from_secs(240)));
    assert!(failed.is_empty(), "{} cases:\n{}", failed.len(), failed.join("\n"));
}

/// The commands (`train`, `plot curves`, ...) as `--help` lists them.
fn commands() -> Vec<String> {
    let listed = |prefix: &[&str]| -> Vec<String> {
        let mut args: Vec<&str> = prefix.to_vec();
        args.push("--help");
        let help = common::stdout(&common::run(&args));
        let section = help.split("Commands:").nth(1).unwrap_or_default().split("\n\n").next().unwrap_or_default();
        section.lines().filter_map(|l| l.split_whitespace().next()).filter(|c| *c != "help").map(String::from).collect()
    };
    let mut all = Vec::new();
    for command in listed(&[]) {
        let sub = listed(&[&command]);
        // A command with subcommands may take arguments of its own too (`sweep RECIPE...`).
        let own = common::stdout(&common::run(&[&command, "--help"])).contains("Arguments:");
        if sub.is_empty() || own {
            all.push(command.clone());
        }
        all.extend(sub.iter().map(|s| format!("{command} {s}")));
    }
    all
}

/// The flags of `command` that take a value, with their value's name (`--epsilon <EPSILON>`).
fn flags(command: &str) -> Vec<(String, String)> {
    let mut args: Vec<&str> = command.split(' ').collect();
    args.push("--help");
    let help = common::stdout(&common::run(&args));
    help.lines()
        .filter_map(|line| {
            let at = line.find("--")?;
            if !line[..at].trim().trim_end_matches(',').trim_start_matches('-').chars().all(|c| c.is_ascii_alphabetic())
            {
                return None;
            }
            let mut words = line[at + 2..].split_whitespace();
            let flag = words.next()?.to_string();
            let value = words.next()?.strip_prefix('<')?.split('>').next()?.to_string();
            Some((flag, value))
        })
        .collect()
}

/// Values that name files, folders, runs or recipe keys: not numbers.
const PATHS: [&str; 8] = ["FILE", "DIR", "OUTPUT", "RECIPES", "DATA_DIR", "PNG", "KEY=VALUE", "NAME"];

#[test]
fn every_numeric_flag_of_every_command_refuses_what_cannot_work_and_runs_what_can() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let recipe = common::quick_recipe(
        dir,
        "tiny",
        "[data]\nsubset = 2000\ntest_subset = 200\n[model]\narch = \"fc100-100-10\"\n[optimizer]\nkind = \"sgd\"\nlearning_rate = 0.1\nmomentum = 0.9\n[train]\nepochs = 2\nbatch_size = 32\n",
    );
    let out = common::run(&["train", recipe.to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let run = dir.join("runs/tiny");
    let weights = dir.join("tiny.safetensors");
    assert!(common::run(&["export", run.to_str().unwrap(), weights.to_str().unwrap()]).status.success());
    let (run, recipe, weights) =
        (run.display().to_string(), recipe.display().to_string(), weights.display().to_string());
    let at = |name: &str| dir.join(name).display().to_string();
    let recipes = repo().join("recipes").display().to_string();
    let ensemble = ["--n", "10", "--iterations", "5", "--square-queries", "20"];
    let measures = ["--distortion-images", "3", "--robust-images", "10", "--iterations", "5", "--square-queries", "20"];
    // A finished sweep for `sweep task` and `sweep collect` to read (run here first: its cases run
    // side by side and would otherwise train the same run at once).
    let swept = at("swept");
    let sweep_args: Vec<&str> =
        ["sweep", recipe.as_str(), "--seeds", "1", "--output", swept.as_str()].into_iter().chain(measures).collect();
    let out = common::run(&sweep_args);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let manifest = dir.join("swept/sweep.json").display().to_string();
    let base: BTreeMap<&str, Vec<String>> = [
        // Trains into a folder of its own (runs/tiny holds the run the other commands read).
        ("train", vec![recipe.clone(), "--set".into(), format!("output.dir=\"{}\"", at("retrained"))]),
        ("eval", vec![run.clone()]),
        (
            "attack",
            [&run, "--n", "5", "--steps", "2", "--search-steps", "2", "--iterations", "5"].map(String::from).to_vec(),
        ),
        ("transfer", [&run, "--n", "5", "--search-steps", "2", "--iterations", "5"].map(String::from).to_vec()),
        (
            "reproduce",
            ["table4", "--quick", "--n", "5", "--recipes", &recipes, "--output", &at("reproduce")]
                .map(String::from)
                .to_vec(),
        ),
        ("units", [&run, "--layer", "1", "--top", "3", "--directions", "2"].map(String::from).to_vec()),
        ("import", [&weights, "--arch", "fc100-100-10", "--output", &at("imported")].map(String::from).to_vec()),
        ("export", vec![run.clone(), at("again.safetensors")]),
        ("lipschitz", vec![run.clone()]),
        (
            "compare",
            [
                &recipe,
                "--seeds",
                "1",
                "--output",
                &at("compare"),
                "--distortion-images",
                "3",
                "--robust-images",
                "10",
                "--iterations",
                "5",
                "--square-queries",
                "20",
            ]
            .map(String::from)
            .to_vec(),
        ),
        (
            "sweep",
            [&recipe, "--seeds", "1", "--output", &at("sweep"), "--slurm"]
                .iter()
                .chain(&measures)
                .map(|s| s.to_string())
                .collect(),
        ),
        ("sweep task", [&manifest, "--index", "0"].map(String::from).to_vec()),
        ("sweep collect", vec![at("swept")]),
        ("robustness", [run.as_str()].iter().chain(&ensemble).map(|s| s.to_string()).collect()),
        ("certify", [&run, "--n", "20", "--epsilon", "0.1"].map(String::from).to_vec()),
        ("models", vec![]),
        ("recipe check", vec![recipe.clone()]),
        ("recipe show", vec![recipe.clone()]),
        ("plot curves", vec![run.clone(), "--png".into(), at("curves.png")]),
        (
            "plot robustness",
            [&run, "--png", &at("robustness.png"), "--n", "10", "--steps", "3"].map(String::from).to_vec(),
        ),
        ("plot lipschitz", vec![run.clone(), "--png".into(), at("lipschitz.png")]),
        (
            "plot frontier",
            [run.as_str(), "--png", &at("frontier.png")].iter().chain(&ensemble).map(|s| s.to_string()).collect(),
        ),
        ("device", vec![]),
    ]
    .into_iter()
    .collect();
    let mut cases = Vec::new();
    for command in commands() {
        let words: Vec<String> = command.split(' ').map(String::from).collect();
        let base =
            base.get(command.as_str()).unwrap_or_else(|| panic!("`{command}` needs a short invocation in this table"));
        cases.push(("".to_string(), words.iter().chain(base).cloned().collect::<Vec<_>>()));
        for (flag, value) in flags(&command) {
            if PATHS.contains(&value.as_str()) {
                continue;
            }
            let option = format!("--{flag}");
            let mut kept = base.clone();
            if let Some(i) = kept.iter().position(|a| *a == option) {
                kept.drain(i..i + 2);
            }
            for v in VALUES {
                let args = words.iter().chain(&kept).cloned().chain([format!("{option}={v}")]).collect();
                cases.push((option.clone(), args));
            }
        }
    }
    assert!(cases.len() > 200, "{} cases: the flags were found", cases.len());
    let results = run_all(&cases, dir, Duration::from_secs(180));
    let failed = failures(&results);
    let bases_failed: Vec<String> = cases
        .iter()
        .zip(&results)
        .filter(|((name, _), (code, _))| name.is_empty() && *code != Some(0))
        .map(|((_, args), _)| args.join(" "))
        .collect();
    assert!(
        bases_failed.is_empty() && failed.is_empty(),
        "the short invocations that fail:\n{}\n{} of {} cases:\n{}",
        bases_failed.join("\n"),
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}
