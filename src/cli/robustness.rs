use std::path::PathBuf;

use blindspot::Error;
use blindspot::attack::Norm;
use blindspot::experiments::robustness::{Event, robustness};

use super::progress::EnsembleBar;
use super::shared::{ModelArgs, percent, print_json};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  blindspot robustness checkpoints/convnet-adversarial --epsilon 0.3,0.1
  blindspot robustness checkpoints/fc100-100-10-adversarial --norm l2 --epsilon 1.5 --n 500 --json
  blindspot robustness checkpoints/convnet --attacks apgd-ce --iterations 20     a quick first look

Robust accuracy is the share of the first N test images that the model classifies right and that no
attack of the ensemble breaks: each attack runs only on what the earlier ones left (AutoAttack's way).")]
pub struct Args {
    /// A run folder (checkpoints/<run>) or a checkpoint folder.
    checkpoint: PathBuf,
    /// The threat model's norm: linf (per-pixel radius) or l2 (Euclidean radius).
    #[arg(long, default_value = "linf", value_parser = super::shared::named::<Norm>(super::shared::NORMS))]
    norm: Norm,
    /// Radii, comma-separated (MNIST's standard L∞ radius is 0.3).
    #[arg(long, value_delimiter = ',', default_value = "0.3", allow_negative_numbers = true)]
    epsilon: Vec<f64>,
    /// Attack the first N test images.
    #[arg(long, default_value_t = 1000)]
    n: usize,
    #[command(flatten)]
    ensemble: super::shared::EnsembleArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), Error> {
    let device = args.model.device.device()?;
    let loaded = args.model.open(&args.checkpoint, &device)?;
    let config = args.ensemble.config(args.norm);
    let mut bar = EnsembleBar::new();
    let run = robustness(&loaded, &config, &args.epsilon, args.n, false, &device, |event| match event {
        Event::Advance(advance) => bar.advance(advance),
        Event::Measured(r) => {
            bar.clear();
            eprintln!("ε = {}: robust accuracy {} ({:.1} s)", r.epsilon, percent(r.robust_accuracy), r.seconds);
        }
    })?;
    if args.json {
        return print_json(&run);
    }
    println!("{} (epoch {}) {}", run.model, run.epoch, run.checkpoint);
    for r in &run.radii {
        let norm = match r.norm {
            Norm::Linf => "L∞",
            Norm::L2 => "L2",
        };
        println!(
            "\n{norm} ε = {}: clean accuracy {}, robust accuracy {} on {} test images ({:.1} s)",
            r.epsilon,
            percent(r.clean_accuracy),
            percent(r.robust_accuracy),
            r.examples,
            r.seconds
        );
        for a in &r.attacks {
            println!("  {:<8} broke {:>5}, robust after it {:>5}  ({:.1} s)", a.attack, a.broken, a.robust, a.seconds);
        }
        for w in &r.warnings {
            println!("  warning: {w}");
        }
    }
    Ok(())
}
