//! `blindspot plot`: line charts as PNG files, from runs' logged figures or from fresh PGD attacks.

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};

use blindspot::Error;
use blindspot::attack::{Norm, RobustnessConfig};
use blindspot::experiments::frontier;
use blindspot::experiments::plot::{self, Metric, RobustnessOptions, RunHistory};
use blindspot::experiments::robustness::Event;

use super::progress::EnsembleBar;
use super::shared::{ModelArgs, print_json};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// A per-epoch figure of several runs on one chart (from each run's newest checkpoint, so an
    /// unfinished run plots as far as it got).
    Curves(CurvesArgs),
    /// Accuracy under PGD against the L∞ radius, one line per checkpoint (with --certified, a
    /// second line of certified accuracy).
    Robustness(RobustnessArgs),
    /// Each layer's upper Lipschitz bound and the network's per epoch of one run (log axis).
    Lipschitz(LipschitzArgs),
    /// Robustness per second of training: each run's robust accuracy under the ensemble against its
    /// training time, and the Pareto front.
    #[command(after_help = "Examples:
  blindspot plot frontier checkpoints/convnet-linf-0.3-* --png frontier.png
  blindspot plot frontier checkpoints/run-a checkpoints/run-b --epsilon 0.1 --n 300 --png f.png --json

Each run's figures are kept beside its checkpoint (figures.json): a run measured before with the
same settings (by robustness, compare or this command) is read, not attacked again.")]
    Frontier(FrontierArgs),
}

/// The PNG file and its size.
#[derive(Debug, clap::Args)]
struct Output {
    /// The PNG file to write.
    #[arg(long, value_name = "FILE")]
    png: PathBuf,
    /// Width in pixels.
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u32).range(200..=4000))]
    width: u32,
    /// Height in pixels.
    #[arg(long, default_value_t = 540, value_parser = clap::value_parser!(u32).range(150..=4000))]
    height: u32,
}

#[derive(Debug, clap::Args)]
pub struct CurvesArgs {
    /// Run folders (checkpoints/<run>).
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// The figure to plot.
    #[arg(long, value_enum, default_value = "test-error")]
    metric: MetricArg,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum MetricArg {
    TestError,
    TrainError,
    ValidationError,
    TrainLoss,
    LearningRate,
}

impl From<MetricArg> for Metric {
    fn from(m: MetricArg) -> Metric {
        match m {
            MetricArg::TestError => Metric::TestError,
            MetricArg::TrainError => Metric::TrainError,
            MetricArg::ValidationError => Metric::ValidationError,
            MetricArg::TrainLoss => Metric::TrainLoss,
            MetricArg::LearningRate => Metric::LearningRate,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct RobustnessArgs {
    /// Run folders (checkpoints/<run>) or checkpoint folders.
    #[arg(required = true)]
    checkpoints: Vec<PathBuf>,
    /// L∞ radii, comma-separated (0: clean accuracy).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0,0.025,0.05,0.075,0.1,0.15,0.2,0.3",
        allow_negative_numbers = true
    )]
    epsilon: Vec<f64>,
    /// The first N test images.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    n: u64,
    /// PGD steps (step size 2.5·ε/steps, random start).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    steps: u64,
    /// Also draw each checkpoint's certified accuracy (interval bound propagation) at every radius.
    #[arg(long)]
    certified: bool,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    output: Output,
    /// Also print the accuracies as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub struct FrontierArgs {
    /// Run folders (checkpoints/<run>) or checkpoint folders.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// The threat model's norm: linf or l2.
    #[arg(long, default_value = "linf", value_parser = super::shared::named::<Norm>(super::shared::NORMS))]
    norm: Norm,
    /// The radius.
    #[arg(long, default_value_t = 0.3, allow_negative_numbers = true)]
    epsilon: f64,
    /// Attack the first N test images.
    #[arg(long, default_value_t = 1000)]
    n: usize,
    #[command(flatten)]
    ensemble: super::shared::EnsembleArgs,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    output: Output,
    /// Also print the points as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub struct LipschitzArgs {
    /// A run folder (checkpoints/<run>).
    run: PathBuf,
    #[command(flatten)]
    output: Output,
}

pub fn run(command: Command) -> Result<(), Error> {
    match command {
        Command::Curves(args) => {
            let runs = args.runs.iter().map(|r| RunHistory::open(r)).collect::<Result<Vec<_>, _>>()?;
            let chart = plot::curves(&runs, args.metric.into())?;
            chart.write(&args.output.png, args.output.width, args.output.height)?;
        }
        Command::Lipschitz(args) => {
            let chart = plot::lipschitz(&RunHistory::open(&args.run)?)?;
            chart.write(&args.output.png, args.output.width, args.output.height)?;
        }
        Command::Frontier(args) => {
            let config = RobustnessConfig { epsilon: args.epsilon, ..args.ensemble.config(args.norm) };
            config.check().map_err(blindspot::attack::robustness::Error::from)?; // before any model loads
            let device = args.model.device.device()?;
            let mut bar = EnsembleBar::new();
            let mut points = Vec::new();
            for path in &args.runs {
                let loaded = args.model.open(path, &device)?;
                let point = frontier::point(&loaded, &config, args.n, &device, |event| {
                    if let Event::Advance(advance) = event {
                        bar.advance(advance)
                    }
                })?;
                bar.clear();
                points.push(point);
            }
            frontier::mark_front(&mut points);
            frontier::chart(&points).write(&args.output.png, args.output.width, args.output.height)?;
            if args.json {
                return print_json(&points);
            }
            for p in &points {
                println!(
                    "{}{}: robust accuracy {:.1}% (clean {:.1}%) after {:.1} min of training ({} epochs)",
                    p.run,
                    if p.front { " [front]" } else { "" },
                    100.0 * p.report.robust_accuracy,
                    100.0 * p.report.clean_accuracy,
                    p.training_seconds / 60.0,
                    p.epochs
                );
            }
        }
        Command::Robustness(args) => {
            let options = RobustnessOptions {
                radii: args.epsilon,
                n: args.n as usize,
                steps: args.steps as usize,
                certified: args.certified,
            };
            options.check()?; // before any model loads
            let device = args.model.device.device()?;
            let total = (args.checkpoints.len() * options.radii.len()) as u64;
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template("attacking [{bar:30}] {pos}/{len} (model, radius) pairs, eta {eta}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            let mut curves = Vec::new();
            for (k, path) in args.checkpoints.iter().enumerate() {
                let loaded = args.model.open(path, &device)?;
                let offset = (k * options.radii.len()) as u64;
                curves.push(plot::robustness(&loaded, path, &options, &device, |done| {
                    bar.set_position(offset + done as u64)
                })?);
            }
            bar.finish_and_clear();
            plot::robustness_chart(&curves, &options).write(&args.output.png, args.output.width, args.output.height)?;
            if args.json {
                return print_json(&serde_json::json!({ "options": options, "curves": curves }));
            }
            for c in &curves {
                let points: Vec<String> =
                    c.points.iter().map(|(e, a)| format!("\u{3b5} {e}: {:.1}%", 100.0 * a)).collect();
                println!("{}: {}", c.model, points.join(", "));
            }
        }
    }
    Ok(())
}
