use std::path::PathBuf;

use blindspot::Error;
use blindspot::attack::Norm;
use blindspot::certify::CertifyConfig;
use blindspot::experiments::certify::certify;

use super::shared::{ModelArgs, percent, print_json};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  blindspot certify checkpoints/convnet-linf-0.3-bank --epsilon 0.1,0.3
  blindspot certify checkpoints/fc100-100-10-lipschitz --norm l2 --epsilon 0.5,1.58 --json

A certificate proves that no perturbation within the radius changes the class; an attack that fails
proves nothing. L2: every other class trails by more than ε times a proven upper bound on the
Lipschitz constant of the two logits' difference (GloRo's per-pair margin on the exact layer bounds).
L∞: interval bound propagation through the layers. Certified accuracy is never above the robust
accuracy `blindspot robustness` measures at the same radius.")]
pub struct Args {
    /// A run folder (checkpoints/<run>) or a checkpoint folder.
    checkpoint: PathBuf,
    /// The threat model's norm: linf (interval bounds) or l2 (Lipschitz margins).
    #[arg(long, default_value = "linf", value_parser = super::shared::named::<Norm>(super::shared::NORMS))]
    norm: Norm,
    /// Radii, comma-separated (default: MNIST's standard 0.3 for linf, 1.58 for l2).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    epsilon: Option<Vec<f64>>,
    /// Certify the first N test images.
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// Points bounded at once.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    #[command(flatten)]
    model: ModelArgs,
    /// Print the figures as JSON (with the indices of the certified points).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), Error> {
    let standard = match args.norm {
        Norm::Linf => 0.3,
        Norm::L2 => 1.58,
    };
    let config =
        CertifyConfig { batch: args.batch, ..CertifyConfig::new(args.norm, args.epsilon.unwrap_or(vec![standard])) };
    let device = args.model.device.device()?;
    let loaded = args.model.open(&args.checkpoint, &device)?;
    let run = certify(&loaded, &config, args.n, &device)?;
    if args.json {
        return print_json(&run);
    }
    let c = &run.certification;
    let how = match c.norm {
        Norm::Linf => "L∞, interval bound propagation".to_string(),
        Norm::L2 => format!("L2, Lipschitz margins; the logits' proven bound {:.4}", c.lipschitz.unwrap_or(f64::NAN)),
    };
    println!("{} (epoch {}) {}", run.model, run.epoch, run.checkpoint);
    println!("{how}: clean accuracy {} on {} test images ({:.1} s)", percent(c.clean_accuracy), c.examples, c.seconds);
    for r in &c.radii {
        println!("  ε = {:<6} certified accuracy {}", r.epsilon, percent(r.certified_accuracy));
    }
    Ok(())
}
