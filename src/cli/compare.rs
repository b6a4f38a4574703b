use std::path::PathBuf;

use blindspot::Error;
use blindspot::recipe::runs::Progress;
use blindspot::sweep::{CompareOptions, compare};

use super::reproduce::Terminal;
use super::shared::print_json;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    runs: super::shared::SweepArgs,
    /// Parent folder of the runs (<output>/<name>-seed<K>); finished runs and their measured figures
    /// (figures.json beside each run's latest checkpoint) are reused.
    #[arg(long, default_value = "checkpoints/compare")]
    output: PathBuf,
    /// Train and measure N runs at once, LibTorch's CPU threads divided between them.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Print JSON (every run's figures) instead of the Markdown table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), Error> {
    let r = &args.runs;
    let options = CompareOptions {
        recipes: r.recipes.clone(),
        seeds: r.seeds,
        sets: r.sets.clone(),
        output: args.output,
        device: r.device,
        measures: r.measures(),
        jobs: args.jobs,
        program: super::shared::this_program()?,
    };
    let mut terminal = Terminal::new();
    let comparison = compare(&options, &mut terminal).map_err(super::shared::sweep_flags)?;
    terminal.message("");
    if args.json {
        return print_json(&comparison);
    }
    print!("{}", comparison.table().markdown());
    Ok(())
}
