use std::path::PathBuf;

use indicatif::ProgressBar;

use blindspot::attack::robustness::Advance;
use blindspot::recipe::reproduce::{Experiment, ReproduceOptions, paper, reproduce};
use blindspot::recipe::runs::Progress;
use blindspot::train::Hook;
use blindspot::{DeviceChoice, Error, Stack};

use super::progress::EnsembleBar;
use super::shared::print_json;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which of the paper's tables: table1 (MNIST models: errors and minimal distortion on
    /// training images), table2 (cross-model transfer), table3 (the P1 / P2 models on test images),
    /// table4 (cross-training-set transfer with noise and magnified rows).
    #[arg(value_parser = super::shared::named::<Experiment>(&["table1", "table2", "table3", "table4"]))]
    experiment: Experiment,
    /// A few-minute CPU version: shortened training (into checkpoints/quick/) and 20 images.
    #[arg(long)]
    quick: bool,
    /// Images attacked per model (default 100; --quick: 20).
    #[arg(long)]
    n: Option<usize>,
    #[arg(long, default_value = "cpu")]
    device: DeviceChoice,
    /// Where the recipes are.
    #[arg(long, default_value = "recipes")]
    recipes: PathBuf,
    /// Parent folder of the run folders.
    #[arg(long, default_value = "checkpoints")]
    output: PathBuf,
    /// Print our figures as JSON (without the paper's).
    #[arg(long)]
    json: bool,
}

/// Progress on stderr: lines, a training progress display, a bar while attacking.
pub struct Terminal {
    bar: Option<ProgressBar>,
    ensemble: EnsembleBar,
}

impl Terminal {
    pub fn new() -> Terminal {
        Terminal { bar: None, ensemble: EnsembleBar::new() }
    }
}

impl Progress for Terminal {
    fn message(&mut self, line: &str) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.ensemble.clear();
        eprintln!("{line}");
    }

    fn training_hooks(&mut self) -> Vec<Box<dyn Hook<Stack>>> {
        vec![Box::new(super::progress::Progress::new())]
    }

    fn attacked(&mut self, done: usize, total: usize) {
        let bar = self.bar.get_or_insert_with(|| ProgressBar::new(total as u64));
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    }

    fn ensemble(&mut self, advance: &Advance) {
        self.ensemble.advance(advance);
    }
}

pub fn run(args: Args) -> Result<(), Error> {
    let options = ReproduceOptions {
        experiment: args.experiment,
        quick: args.quick,
        device: args.device,
        recipes: args.recipes,
        output: args.output,
        n: args.n,
    };
    let mut terminal = Terminal::new();
    let result = reproduce(&options, &mut terminal)?;
    terminal.message("");
    if args.json {
        return print_json(&result);
    }
    println!("Ours (the paper's in parentheses):\n");
    print!("{}", result.table(&paper()).markdown());
    Ok(())
}
