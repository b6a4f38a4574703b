use std::path::PathBuf;

use blindspot::attack::robustness;
use blindspot::experiments::attack;
use blindspot::recipe::compare::{CompareOptions, compare};
use blindspot::recipe::runs::Progress;
use blindspot::{DeviceChoice, Error};

use super::reproduce::Terminal;
use super::shared::print_json;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recipes to compare, e.g. recipes/fc100-100-10-weight-decay.toml recipes/fc100-100-10-dropout.toml.
    #[arg(required = true, num_args = 1..)]
    recipes: Vec<PathBuf>,
    /// Train each recipe with seeds 1..=K (K ≥ 1).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    seeds: u64,
    /// Override a key of every recipe, e.g. --set train.epochs=5 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Parent folder of the runs (<output>/<name>-seed<K>); finished runs are reused.
    #[arg(long, default_value = "checkpoints/compare")]
    output: PathBuf,
    /// Test images for the mean minimal L-BFGS distortion.
    #[arg(long, default_value_t = 100)]
    distortion_images: usize,
    /// Test images for the robust accuracy (the first N).
    #[arg(long, default_value_t = 1000)]
    robust_images: usize,
    /// L∞ radii of the robust accuracy, comma-separated (default: the radii the recipes train at and
    /// the standard 0.3).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    epsilon: Vec<f64>,
    #[command(flatten)]
    ensemble: super::shared::EnsembleArgs,
    #[arg(long, default_value = "cpu")]
    device: DeviceChoice,
    /// Print JSON (every run's figures) instead of the Markdown table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), Error> {
    let options = CompareOptions {
        recipes: args.recipes,
        seeds: args.seeds,
        sets: args.sets,
        output: args.output,
        device: args.device,
        distortion_images: args.distortion_images,
        robust_images: args.robust_images,
        radii: args.epsilon,
        ensemble: args.ensemble.config(blindspot::attack::Norm::Linf),
    };
    let mut terminal = Terminal::new();
    // The library's errors name its fields; this command calls two of them otherwise.
    let comparison = compare(&options, &mut terminal).map_err(|e| match e {
        Error::Robustness(robustness::Error::NoImages) => Error::Usage("--robust-images must be at least 1".into()),
        Error::AttackRun(attack::Error::Zero) => Error::Usage("--distortion-images must be at least 1".into()),
        e => e,
    })?;
    terminal.message("");
    if args.json {
        return print_json(&comparison);
    }
    print!("{}", comparison.table().markdown());
    Ok(())
}
