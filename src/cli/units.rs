use std::path::PathBuf;

use blindspot::Error;
use blindspot::experiments::loaded::ImageSet;
use blindspot::experiments::units::{UnitsOptions, figure, units};

use super::shared::{ModelArgs, print_json};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A run folder (checkpoints/<run>) or a checkpoint folder.
    checkpoint: PathBuf,
    /// The hidden layer whose units and directions are compared (1 = the first hidden layer).
    #[arg(long)]
    layer: usize,
    /// How many units (chosen at random) and how many random directions.
    #[arg(long, default_value_t = 8)]
    directions: usize,
    /// Test images kept per unit or direction.
    #[arg(long, default_value_t = 8)]
    top: usize,
    /// Write the image grid (one row per unit, then per direction).
    #[arg(long, value_name = "FILE")]
    png: Option<PathBuf>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    model: ModelArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), Error> {
    let device = args.model.device.device()?;
    let loaded = args.model.open(&args.checkpoint, &device)?;
    let report = units(
        &loaded,
        &UnitsOptions { layer: args.layer, directions: args.directions, top: args.top, seed: args.seed },
        &device,
    )?;
    if let Some(path) = &args.png {
        let title = format!(
            "{} layer {}: the top {} test images of units and random directions",
            report.model, report.layer, args.top
        );
        figure(&report, loaded.images(ImageSet::Test), title).write(path)?;
    }
    if args.json {
        return print_json(&report);
    }
    println!(
        "{} layer {} ({} units): the top {} test images of each",
        report.model, report.layer, report.width, args.top
    );
    for d in report.units.iter().chain(&report.directions) {
        let labels: Vec<String> = d.labels.iter().map(u8::to_string).collect();
        println!("  {:<6} {:>4}  labels {}  purity {:.0}%", d.kind, d.index, labels.join(" "), 100.0 * d.purity);
    }
    println!(
        "mean purity (share of the top images with the majority label): units {:.0}%, random directions {:.0}%",
        100.0 * report.mean_unit_purity,
        100.0 * report.mean_direction_purity
    );
    Ok(())
}
