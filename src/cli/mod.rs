//! The `blindspot` command line: each file parses one command's arguments and calls the library.

mod attack;
mod compare;
mod eval;
mod exchange;
mod lipschitz;
mod models;
mod plot;
mod progress;
mod recipe;
mod reproduce;
mod robustness;
mod train;
mod transfer;
mod units;

use std::process::ExitCode;

use clap::builder::TypedValueParser;
use clap::{Parser, Subcommand};

use blindspot::Error;

/// Train neural networks that stay correct under adversarial perturbation (Szegedy et al. 2013),
/// on LibTorch, CPU or CUDA.
#[derive(Debug, Parser)]
#[command(name = "blindspot", version, about, long_about = None, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "Examples:
  blindspot train recipes/fc100-100-10-weight-decay.toml
  blindspot train recipes/fc10-1e-4.toml --device cuda --set train.epochs=5
  blindspot train recipes/fc100-100-10-dropout.toml --resume
  blindspot eval checkpoints/fc100-100-10-weight-decay --json
  blindspot recipe check recipes/ae400-10.toml
  blindspot plot curves checkpoints/fc100-100-10-weight-decay checkpoints/fc100-100-10-dropout --png curves.png
  tensorboard --logdir checkpoints";

#[derive(Debug, Subcommand)]
enum Command {
    /// Train a recipe: progress, per-epoch errors, checkpoints, TensorBoard events, metrics.json.
    Train(train::Args),
    /// Measure a checkpoint's train, validation and test error.
    Eval(eval::Args),
    /// Make adversarial examples for a trained model and measure them.
    Attack(attack::Args),
    /// The paper's cross-model tables: examples made for each model, the error every model makes on them.
    Transfer(transfer::Args),
    /// The paper's Tables 1-4: trains what is missing, prints ours beside the paper's figures.
    Reproduce(reproduce::Args),
    /// Units vs random directions of a layer: the test images that maximise each, and how alike they are.
    Units(units::Args),
    /// Make a checkpoint from PyTorch weights (safetensors) of a paper architecture.
    Import(exchange::ImportArgs),
    /// Write a checkpoint's weights for PyTorch (safetensors, nn.Sequential naming).
    Export(exchange::ExportArgs),
    /// Upper Lipschitz bounds per layer (the paper's Table 5) of a checkpoint or an architecture.
    Lipschitz(lipschitz::Args),
    /// Train recipes for several seeds and compare test error, robustness and training time.
    Compare(compare::Args),
    /// Robust accuracy under an AutoAttack-style ensemble (APGD-CE, APGD-T, Square) at one or more radii.
    Robustness(robustness::Args),
    /// Draw line charts as PNG: per-epoch curves of runs, accuracy under PGD against ε, Lipschitz bounds.
    #[command(subcommand)]
    Plot(plot::Command),
    /// Check or show recipe files (a recipe may start from another: `base = "other.toml"`).
    #[command(subcommand)]
    Recipe(recipe::Command),
    /// List the model architectures (or show one's layers).
    Models(models::Args),
    /// Show what libtorch sees: CUDA availability, GPUs, CPU threads.
    Device,
}

pub fn main() -> ExitCode {
    stop_quietly_when_the_reader_goes();
    quiet_attacker_panics();
    blindspot::backend::keep_freed_memory();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            eprintln!("{}", one_line(&e.render().to_string()));
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    if matches!(cli.command, Command::Train(_) | Command::Compare(_) | Command::Reproduce(_))
        && let Err(e) = blindspot::train::interrupt::catch_signals()
    {
        eprintln!("error: cannot catch SIGINT and SIGTERM: {e}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Lipschitz(args) => lipschitz::run(args),
        Command::Attack(args) => attack::run(args),
        Command::Transfer(args) => transfer::run(args),
        Command::Reproduce(args) => reproduce::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Robustness(args) => robustness::run(args),
        Command::Units(args) => units::run(args),
        Command::Import(args) => exchange::import(args),
        Command::Export(args) => exchange::export(args),
        Command::Plot(command) => plot::run(command),
        Command::Recipe(command) => recipe::run(command),
        Command::Models(args) => models::run(args),
        Command::Device => {
            device();
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            ExitCode::from(exit_code(&e))
        }
    }
}

/// A usage error of clap's as one line: its message and hints (possible values, a tip), without
/// the usage block and the pointer to `--help`.
fn one_line(text: &str) -> String {
    let mut line = String::new();
    for part in text.lines().map(str::trim) {
        if part.is_empty() || part.starts_with("Usage:") || part.starts_with("For more information") {
            continue;
        }
        if !line.is_empty() {
            line.push_str(if line.ends_with(':') { " " } else { "; " });
        }
        line.push_str(part);
    }
    line
}

/// The one line a user sees: the library's message, naming the flag whose value it speaks of.
fn message(e: &Error) -> String {
    use blindspot::attack::robustness;
    use blindspot::config::Invalid;
    use blindspot::experiments::{attack as attacks, units};
    use blindspot::{attack, recipe};
    match e {
        Error::Attack(attacks::Error::TooMany { n, available, set }) => {
            format!("--n {n}: the {set} set has only {available} correctly classified images")
        }
        Error::Attack(attacks::Error::Zero) => "--n must be at least 1".into(),
        Error::Attack(attacks::Error::Attack(attack::Error::Layer { layer, depth })) => {
            format!("--layer {layer} is out of range: the model has layers 0 (the input) to {}", depth - 1)
        }
        // `attack --method noise` takes its standard deviation as --epsilon.
        Error::Attack(attacks::Error::Attack(attack::Error::Config(Invalid { field, message }))) => {
            format!("--{} {message}", if *field == "stddev" { "epsilon".into() } else { field.replace('_', "-") })
        }
        Error::Units(units::Error::Layer { layer, depth }) => {
            format!("--layer {layer}: units are the outputs of hidden layers 1 to {}", depth - 1)
        }
        Error::Units(units::Error::Top { top, available }) => {
            format!("--top {top} is larger than the {available} test images")
        }
        Error::Robustness(robustness::Error::Config(Invalid { field, message })) => {
            let flag = match *field {
                "batch" => "attack-batch".to_string(),
                "seed" => "attack-seed".to_string(),
                field => field.replace('_', "-"),
            };
            format!("--{flag} {message}")
        }
        Error::Robustness(robustness::Error::NoImages) => "--n must be at least 1".into(),
        Error::Robustness(robustness::Error::TooMany { asked, available }) => {
            format!("--n {asked} is more than the {available} test images")
        }
        Error::Recipe(recipe::Error::Set { assignment, message }) => format!("--set {assignment}: {message}"),
        Error::UnknownArch { name } => {
            format!("--arch {name}: unknown architecture, expected one of {}", blindspot::model::zoo::names())
        }
        e => e.to_string(),
    }
}

/// The exit code: 2 for a usage error (a bad flag or recipe), 128 + the signal for a run stopped
/// by SIGINT or SIGTERM (130, 143), 1 for a failure.
fn exit_code(e: &Error) -> u8 {
    use blindspot::attack::{self, robustness};
    use blindspot::experiments::attack as attacks;
    use blindspot::train::trainer::Error as Train;
    match e {
        Error::Usage(_) | Error::Recipe(_) | Error::UnknownArch { .. } => 2,
        Error::Robustness(
            robustness::Error::Config(_) | robustness::Error::NoImages | robustness::Error::TooMany { .. },
        ) => 2,
        Error::Attack(attacks::Error::Attack(attack::Error::Config(_))) => 2,
        Error::Train(Train::Interrupted { signal, .. }) => u8::try_from(128 + signal).unwrap_or(1),
        _ => 1,
    }
}

fn device() {
    let cuda = blindspot::backend::cuda_available();
    println!("libtorch CPU threads: {}", blindspot::backend::cpu_threads());
    println!("CUDA available: {cuda}");
    if cuda {
        println!("CUDA devices: {}", tch::Cuda::device_count());
    }
}

/// Options every command that makes L-BFGS adversarial examples shares.
#[derive(Debug, clap::Args)]
struct LbfgsArgs {
    /// L-BFGS: values of c tried per example.
    #[arg(long, default_value_t = 10)]
    search_steps: usize,
    /// L-BFGS: iterations per value of c.
    #[arg(long, default_value_t = 100)]
    iterations: usize,
    /// Examples attacked together.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Seed of the random targets (and of PGD's random start and the noise).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// The attack ensemble's settings, as `robustness` and `compare` take them.
#[derive(Debug, clap::Args)]
struct EnsembleArgs {
    /// The ensemble, in order, comma-separated: apgd-ce (APGD on the cross-entropy), apgd-t (APGD on
    /// the targeted DLR loss, towards each of the most likely wrong classes), square (score-based,
    /// no gradients: the check against gradient masking). Default: all three.
    #[arg(long, value_delimiter = ',', value_parser = named::<blindspot::attack::EnsembleAttack>(ENSEMBLE))]
    attacks: Option<Vec<blindspot::attack::EnsembleAttack>>,
    /// APGD iterations per run.
    #[arg(long, default_value_t = 100)]
    iterations: usize,
    /// APGD-T: how many of the most likely wrong classes to target in turn.
    #[arg(long, default_value_t = 9)]
    target_classes: usize,
    /// Square: queries per example.
    #[arg(long, default_value_t = 5000)]
    square_queries: usize,
    /// Examples attacked at once.
    #[arg(long, default_value_t = 500)]
    attack_batch: usize,
    /// Seed of the random starts and Square's search.
    #[arg(long, default_value_t = 0)]
    attack_seed: u64,
}

impl EnsembleArgs {
    /// The ensemble for `norm` (its radius is set per run).
    fn config(&self, norm: blindspot::attack::Norm) -> blindspot::attack::RobustnessConfig {
        let standard = blindspot::attack::RobustnessConfig::standard(norm, 0.0);
        blindspot::attack::RobustnessConfig {
            attacks: self.attacks.clone().unwrap_or(standard.attacks.clone()),
            iterations: self.iterations,
            target_classes: self.target_classes,
            square_queries: self.square_queries,
            batch: self.attack_batch,
            seed: self.attack_seed,
            ..standard
        }
    }
}

/// Where a command that loads checkpoints runs, and where it reads their data.
#[derive(Debug, clap::Args)]
struct ModelArgs {
    /// Where to run: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: blindspot::DeviceChoice,
    /// Read the dataset from this folder instead of the recipe's.
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
}

impl ModelArgs {
    /// The checkpoint at `path` (run folder or checkpoint folder) on `device` (this choice's device).
    fn open(
        &self,
        path: &std::path::Path,
        device: &burn::prelude::Device,
    ) -> Result<blindspot::experiments::LoadedModel, Error> {
        blindspot::recipe::open(path, device, self.data_dir.as_deref())
    }
}

impl LbfgsArgs {
    fn config(&self) -> blindspot::attack::LbfgsAttackConfig {
        blindspot::attack::LbfgsAttackConfig::new(self.search_steps, self.iterations)
    }
}

/// The names of the library's attacks and image sets, as `--method` and `--images` take them.
const METHODS: &[&str] = &["lbfgs", "fgsm", "pgd", "noise"];
const IMAGE_SETS: &[&str] = &["train", "test"];
const NORMS: &[&str] = &["linf", "l2"];
const ENSEMBLE: &[&str] = &["apgd-ce", "apgd-t", "square"];

/// A clap parser for one of the library's kebab-case enums, by its serde names (the library knows
/// nothing of clap); `--help` lists `names`.
fn named<T>(names: &'static [&'static str]) -> impl TypedValueParser<Value = T>
where
    T: serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
{
    clap::builder::PossibleValuesParser::new(names).map(|name: String| {
        serde_json::from_value(serde_json::Value::String(name)).expect("every listed name is a variant")
    })
}

/// Prints `value` as pretty JSON on stdout.
fn print_json<T: serde::Serialize>(value: &T) -> Result<(), Error> {
    println!("{}", serde_json::to_string_pretty(value).map_err(|e| Error::Usage(e.to_string()))?);
    Ok(())
}

/// Formats a fraction as a percentage with two decimals.
fn percent(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// `blindspot recipe show FILE | head`: when the reader closes the pipe, end as other Unix tools do
/// (killed by SIGPIPE, silently). Rust ignores SIGPIPE, so `print!` would panic on the closed pipe.
fn stop_quietly_when_the_reader_goes() {
    // SAFETY: sets one signal's disposition back to the default, before any other thread starts.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// An attacker thread's panic comes back to the trainer as a one-line error; the default hook would
/// print it first (with a backtrace where RUST_BACKTRACE is set). Other threads keep the default.
fn quiet_attacker_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !std::thread::current().name().is_some_and(|n| n.starts_with("attacker-")) {
            default(info);
        }
    }));
}

#[cfg(test)]
mod tests {
    use blindspot::experiments::{AttackMethod, loaded::ImageSet};
    use blindspot::recipe::reproduce::Experiment;

    fn parses<T: serde::de::DeserializeOwned>(names: &[&str]) -> bool {
        names.iter().all(|n| serde_json::from_value::<T>(serde_json::Value::String(n.to_string())).is_ok())
    }

    #[test]
    fn every_listed_name_is_a_variant_of_the_librarys_enum() {
        assert!(parses::<AttackMethod>(super::METHODS));
        assert!(parses::<ImageSet>(super::IMAGE_SETS));
        assert!(parses::<blindspot::attack::Norm>(super::NORMS));
        assert!(parses::<blindspot::attack::EnsembleAttack>(super::ENSEMBLE));
        assert!(parses::<Experiment>(&["table1", "table2", "table3", "table4"]));
    }
}
