//! The `blindspot` command line: the commands and their dispatch; each command's file parses its
//! arguments and calls the library, `shared` holds what several share, `failure` how errors are shown.

mod attack;
mod certify;
mod compare;
mod eval;
mod exchange;
mod failure;
mod lipschitz;
mod models;
mod plot;
mod progress;
mod recipe;
mod reproduce;
mod robustness;
mod shared;
mod sweep;
mod train;
mod transfer;
mod units;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use failure::{exit_code, message, one_line};

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
    /// Recipes × seeds as a sweep: here (--jobs) or as a Slurm job array (--slurm); `sweep collect`
    /// gathers the figures each run keeps.
    Sweep(sweep::Args),
    /// Robust accuracy under an AutoAttack-style ensemble (APGD-CE, APGD-T, Square) at one or more radii.
    Robustness(robustness::Args),
    /// Certified accuracy: L2 by Lipschitz margins, L∞ by interval bound propagation.
    Certify(certify::Args),
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
    if matches!(cli.command, Command::Train(_) | Command::Compare(_) | Command::Reproduce(_) | Command::Sweep(_))
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
        Command::Sweep(args) => sweep::run(args),
        Command::Robustness(args) => robustness::run(args),
        Command::Certify(args) => certify::run(args),
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

fn device() {
    let cuda = blindspot::backend::cuda_available();
    println!("libtorch CPU threads: {}", blindspot::backend::cpu_threads());
    println!("CUDA available: {cuda}");
    if cuda {
        println!("CUDA devices: {}", tch::Cuda::device_count());
    }
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
