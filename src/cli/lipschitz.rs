use std::path::PathBuf;

use blindspot::bounds::Lanczos;
use blindspot::experiments::lipschitz::{initialised, lipschitz};
use blindspot::recipe;
use blindspot::{DeviceChoice, Error};

use super::shared::print_json;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  blindspot lipschitz --arch alexnet            the paper's Table 5 layout on a random AlexNet-shaped stack
  blindspot lipschitz checkpoints/convnet --markdown
  blindspot lipschitz checkpoints/fc100-100-10-weight-decay --layer 1 --json")]
pub struct Args {
    /// A run folder (checkpoints/<run>) or a checkpoint folder; or use --arch.
    #[arg(required_unless_present = "arch", conflicts_with = "arch")]
    checkpoint: Option<PathBuf>,
    /// An architecture of the zoo (see `blindspot models`), randomly initialised with --seed.
    #[arg(long)]
    arch: Option<String>,
    /// Image shape for --arch, as CHANNELS,HEIGHT,WIDTH (AlexNet uses 3,224,224 whatever this says).
    #[arg(long, default_value = "1,28,28", value_parser = parse_shape)]
    input: [usize; 3],
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Only these layers (1 = the first; repeatable); the network's bound needs them all.
    #[arg(long)]
    layer: Vec<usize>,
    /// Lanczos steps at most, per layer.
    #[arg(long, default_value_t = Lanczos::default().max_iterations)]
    iterations: usize,
    /// Stop when no Ritz value (σ²) has more than this left to grow, relative to the largest (as
    /// extrapolated from its growth over the last steps).
    #[arg(long, default_value_t = Lanczos::default().tolerance)]
    tolerance: f64,
    #[arg(long, default_value = "cpu")]
    device: DeviceChoice,
    /// Print the table as Markdown only.
    #[arg(long, conflicts_with = "json")]
    markdown: bool,
    /// Print the bounds as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_shape(text: &str) -> Result<[usize; 3], String> {
    let parts: Vec<usize> =
        text.split(',').map(|p| p.trim().parse::<usize>()).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    match parts[..] {
        [c, h, w] if c > 0 && h > 0 && w > 0 => Ok([c, h, w]),
        _ => Err(format!("{text:?} is not CHANNELS,HEIGHT,WIDTH (three positive numbers)")),
    }
}

pub fn run(args: Args) -> Result<(), Error> {
    if args.iterations == 0 {
        return Err(Error::Usage("--iterations must be at least 1".into()));
    }
    if !(args.tolerance.is_finite() && args.tolerance >= 0.0) {
        return Err(Error::Usage(format!("--tolerance {} is not a non-negative number", args.tolerance)));
    }
    let device = args.device.device()?;
    let (spec, model) = match (&args.checkpoint, &args.arch) {
        (Some(path), _) => {
            let (_, spec, model) = recipe::checkpoint_model(&blindspot::train::Checkpoint::open(path)?, &device)?;
            (spec, model)
        }
        (None, Some(name)) => initialised(name, args.input, args.seed, &device)?,
        (None, None) => unreachable!("clap requires one"),
    };
    let lanczos = Lanczos { max_iterations: args.iterations, tolerance: args.tolerance };
    let report = lipschitz(&spec, &model, &args.layer, &lanczos)?;
    if args.json {
        return print_json(&report);
    }
    let (bounds, table) = (&report.bounds, report.bounds.table().markdown());
    if args.markdown {
        print!("{table}");
        return Ok(());
    }
    let [c, h, w] = report.input;
    println!("{} on {c} × {h} × {w} inputs: upper Lipschitz bounds per layer (zero padding)\n", report.arch);
    print!("{table}");
    if let Some(network) = bounds.network {
        println!("\nnetwork bound (product of bound × after): {network:.4e}");
    }
    println!("computed in {:.3} s on {}", bounds.seconds, args.device);
    Ok(())
}
