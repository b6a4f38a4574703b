use std::path::PathBuf;

use blindspot::Error;
use blindspot::experiments::eval::evaluate;

use super::shared::{ModelArgs, percent, print_json};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A run folder (checkpoints/<run>, its latest checkpoint) or a checkpoint folder (…/epoch-0007).
    checkpoint: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), Error> {
    let device = args.model.device.device()?;
    let report = evaluate(&args.model.open(&args.checkpoint, &device)?, &device);
    if args.json {
        return print_json(&report);
    }
    println!("{} ({}, epoch {}) {}", report.run, report.arch, report.epoch, report.checkpoint);
    println!("  train error       {}", percent(report.train_error));
    if let Some(v) = report.validation_error {
        println!("  validation error  {}", percent(v));
    }
    println!("  test error        {}  ({} images)", percent(report.test_error), report.test_examples);
    Ok(())
}
