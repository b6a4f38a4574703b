use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};

use blindspot::Error;
use blindspot::attack::{PgdConfig, TargetKind};
use blindspot::experiments::attack::figure;
use blindspot::experiments::loaded::ImageSet;
use blindspot::experiments::{AttackMethod, AttackOptions, run_attack};

use super::shared::{LbfgsArgs, ModelArgs, print_json};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A run folder (checkpoints/<run>) or a checkpoint folder.
    checkpoint: PathBuf,
    /// The attack: lbfgs (the paper's minimal perturbations, box-constrained L-BFGS with a search
    /// over c), fgsm (one signed-gradient step of --epsilon), pgd (projected gradient descent in an
    /// L∞ ball of radius --epsilon), noise (Gaussian noise of standard deviation --epsilon).
    #[arg(long, default_value = "lbfgs", value_parser = super::shared::named::<AttackMethod>(super::shared::METHODS))]
    method: AttackMethod,
    /// Attack layer K's activations (0: the input pixels; K: the output of hidden layer K).
    #[arg(long, default_value_t = 0)]
    layer: usize,
    /// How many images: the first N the model classifies correctly.
    #[arg(long, default_value_t = 100)]
    n: usize,
    /// Which images: the model's training split (Table 1) or the test set.
    #[arg(long, default_value = "test", value_parser = super::shared::named::<ImageSet>(super::shared::IMAGE_SETS))]
    images: ImageSet,
    /// Target: random (a random wrong label, the paper's choice), least-likely, untargeted, or a label 0-9.
    #[arg(long, default_value = "random")]
    target: TargetKind,
    /// FGSM / PGD: L∞ radius; noise: standard deviation.
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    epsilon: f64,
    /// PGD steps (step size 2.5·epsilon/steps).
    #[arg(long, default_value_t = 40)]
    steps: usize,
    #[command(flatten)]
    lbfgs: LbfgsArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Write the paper's figure: rows of original | adversarial | magnified difference (layer 0 only).
    #[arg(long, value_name = "FILE")]
    png: Option<PathBuf>,
    /// Rows in the PNG figure.
    #[arg(long, default_value_t = 10)]
    rows: usize,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), Error> {
    if args.png.is_some() && args.layer != 0 {
        return Err(Error::Usage("--png draws input images: use it with --layer 0".into()));
    }
    let device = args.model.device.device()?;
    let loaded = args.model.open(&args.checkpoint, &device)?;
    let options = AttackOptions {
        method: args.method,
        layer: args.layer,
        images: args.images,
        n: args.n,
        target: args.target,
        batch_size: args.lbfgs.batch_size.max(1),
        seed: args.lbfgs.seed,
        lbfgs: args.lbfgs.config(),
        pgd: PgdConfig { steps: args.steps, ..PgdConfig::linf(args.epsilon, args.steps) },
    };
    let bar = ProgressBar::new(args.n as u64);
    bar.set_style(
        ProgressStyle::with_template("attacking [{bar:30}] {pos}/{len} examples, eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let run = run_attack(&loaded, &options, &device, |done| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    if let Some(path) = &args.png {
        let method = match args.method {
            AttackMethod::Lbfgs => "minimal L-BFGS".to_string(),
            AttackMethod::Fgsm => format!("FGSM, \u{3b5} = {}", args.epsilon),
            AttackMethod::Pgd => format!("PGD, \u{3b5} = {}", args.epsilon),
            AttackMethod::Noise => format!("Gaussian noise, \u{3c3} = {}", args.epsilon),
        };
        let target = match args.target {
            TargetKind::Random => "random wrong labels".to_string(),
            TargetKind::Label(l) => format!("target {l}"),
            TargetKind::LeastLikely => "least likely labels".to_string(),
            TargetKind::Untargeted => "untargeted".to_string(),
        };
        let title = format!("{}: {method}, {target}", loaded.name);
        figure(&run, title, args.rows).write(path)?;
    }
    let s = &run.summary;
    if args.json {
        return print_json(&serde_json::json!({
            "model": loaded.name,
            "method": args.method,
            "layer": args.layer,
            "images": args.images,
            "target": args.target,
            "summary": s,
        }));
    }
    // The distortion is measured over the examples the attack broke: with none, there is none.
    let distortion = if s.success_rate > 0.0 {
        format!("distortion mean {:.4} median {:.4}", s.mean_distortion, s.median_distortion)
    } else {
        "no example succeeded, so no distortion".into()
    };
    println!(
        "{} {:?} layer {}: {} examples, success {:.1}%, {distortion}, {:.4} s per example",
        loaded.name,
        args.method,
        args.layer,
        s.examples,
        100.0 * s.success_rate,
        s.seconds_per_example
    );
    Ok(())
}
