use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};

use blindspot::Error;
use blindspot::experiments::loaded::ImageSet;
use blindspot::experiments::transfer::{TransferOptions, transfer};

use super::shared::{LbfgsArgs, ModelArgs, print_json};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Two or more run folders (or checkpoint folders): rows attack each, columns feed every one.
    #[arg(required = true, num_args = 1..)]
    checkpoints: Vec<PathBuf>,
    /// Images attacked per model (the first N of the set).
    #[arg(long, default_value_t = 100)]
    n: usize,
    /// Which images: the first model's training split or the test set.
    #[arg(long, default_value = "test", value_parser = super::shared::named::<ImageSet>(super::shared::IMAGE_SETS))]
    images: ImageSet,
    /// Gaussian-noise baseline rows: standard deviations, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.3")]
    noise: Vec<f64>,
    /// Also feed every model's perturbations magnified to this RMS (the paper's Table 4: 0.1).
    #[arg(long)]
    magnify: Option<f64>,
    #[command(flatten)]
    lbfgs: LbfgsArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Print CSV instead of Markdown.
    #[arg(long, conflicts_with = "json")]
    csv: bool,
    /// Print JSON instead of Markdown.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), Error> {
    let device = args.model.device.device()?;
    let models = args.checkpoints.iter().map(|p| args.model.open(p, &device)).collect::<Result<Vec<_>, _>>()?;
    let options = TransferOptions {
        n: args.n,
        images: args.images,
        noise: args.noise,
        magnify: args.magnify,
        batch_size: args.lbfgs.batch_size.max(1),
        seed: args.lbfgs.seed,
        lbfgs: args.lbfgs.config(),
    };
    let bar = ProgressBar::new((models.len() * args.n) as u64);
    bar.set_style(
        ProgressStyle::with_template("attacking [{bar:30}] {pos}/{len} examples, eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let table = transfer(&models, &models, &options, &device, |done, _| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    if args.json {
        return print_json(&table);
    }
    let t = table.table();
    print!("{}", if args.csv { t.csv() } else { t.markdown() });
    Ok(())
}
