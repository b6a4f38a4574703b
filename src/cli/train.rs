use std::path::PathBuf;

use blindspot::{DeviceChoice, Error, Existing, TrainOptions, recipe};

use super::progress::Progress;
use super::shared::{percent, print_json};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recipe file (TOML), e.g. recipes/fc100-100-10-weight-decay.toml.
    recipe: PathBuf,
    /// Where to run: cpu, cuda or cuda:N (overrides the recipe's `device`).
    #[arg(long)]
    device: Option<DeviceChoice>,
    /// Split each step's batch across these devices, e.g. cuda:0,cuda:1 (gradients summed on the
    /// first, which the run uses for everything else; overrides the recipe's `train.devices`).
    #[arg(long, value_delimiter = ',', conflicts_with = "device")]
    devices: Vec<DeviceChoice>,
    /// Override a recipe key, e.g. --set train.epochs=5 (repeatable; values in TOML syntax).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Continue from the run's latest checkpoint (a run folder that holds checkpoints is otherwise
    /// refused).
    #[arg(long, conflicts_with = "overwrite")]
    resume: bool,
    /// Delete the run folder's earlier run and start over.
    #[arg(long)]
    overwrite: bool,
    /// Read the dataset from this folder (default: the recipe's, then $BLINDSPOT_DATA_DIR, then data/).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Print the final figures as JSON on stdout (progress still goes to stderr).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), Error> {
    let mut recipe = recipe::load(&args.recipe, &args.sets)?;
    if let Some(device) = args.device {
        recipe.device = device;
    }
    if !args.devices.is_empty() {
        recipe.train.devices = args.devices;
    }
    if let Some(dir) = args.data_dir {
        recipe.data.dir = Some(dir);
    }
    let existing = match (args.resume, args.overwrite) {
        (true, _) => Existing::Resume,
        (_, true) => Existing::Overwrite,
        _ => Existing::Refuse,
    };
    let options = TrainOptions { device: recipe.device, existing };
    let summary = recipe::run(&recipe, &options, vec![Box::new(Progress::new())])?;
    if args.json {
        print_json(&summary)?;
    } else {
        println!(
            "{}: test error {} (train {}) after {} epochs, {:.2} s/epoch on {}; run folder {}",
            summary.run,
            percent(summary.test_error),
            percent(summary.train_error),
            summary.epochs,
            summary.seconds_per_epoch,
            summary.device,
            recipe::run_dir(&recipe).display()
        );
    }
    Ok(())
}
