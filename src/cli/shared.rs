//! What several commands share: argument groups (L-BFGS, the ensemble, where a model runs), the
//! names clap offers for the library's enums, and how figures are printed.

use clap::builder::TypedValueParser;

use blindspot::Error;

/// Options every command that makes L-BFGS adversarial examples shares.
#[derive(Debug, clap::Args)]
pub(super) struct LbfgsArgs {
    /// L-BFGS: values of c tried per example.
    #[arg(long, default_value_t = 10)]
    pub(super) search_steps: usize,
    /// L-BFGS: iterations per value of c.
    #[arg(long, default_value_t = 100)]
    pub(super) iterations: usize,
    /// Examples attacked together.
    #[arg(long, default_value_t = 100)]
    pub(super) batch_size: usize,
    /// Seed of the random targets (and of PGD's random start and the noise).
    #[arg(long, default_value_t = 1)]
    pub(super) seed: u64,
}

/// The runs of a sweep and what is measured on each, as `compare` and `sweep` take them.
#[derive(Debug, clap::Args)]
pub(super) struct SweepArgs {
    /// The recipes, e.g. recipes/fc100-100-10-weight-decay.toml recipes/fc100-100-10-dropout.toml.
    #[arg(required = true, num_args = 1..)]
    pub(super) recipes: Vec<std::path::PathBuf>,
    /// Train each recipe with seeds 1..=K (K ≥ 1).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    pub(super) seeds: u64,
    /// Override a key of every recipe, e.g. --set train.epochs=5 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(super) sets: Vec<String>,
    /// Test images for the mean minimal L-BFGS distortion.
    #[arg(long, default_value_t = 100)]
    pub(super) distortion_images: usize,
    /// Test images for the robust accuracy (the first N).
    #[arg(long, default_value_t = 1000)]
    pub(super) robust_images: usize,
    /// L∞ radii of the robust accuracy, comma-separated (default: the radii the recipes train at and
    /// the standard 0.3).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub(super) epsilon: Vec<f64>,
    #[command(flatten)]
    pub(super) ensemble: EnsembleArgs,
    #[arg(long, default_value = "cpu")]
    pub(super) device: blindspot::DeviceChoice,
}

impl SweepArgs {
    pub(super) fn measures(&self) -> blindspot::sweep::Measures {
        blindspot::sweep::Measures {
            distortion_images: self.distortion_images,
            robust_images: self.robust_images,
            radii: self.epsilon.clone(),
            ensemble: self.ensemble.config(blindspot::attack::Norm::Linf),
        }
    }
}

/// This program's path (several runs at once run as its processes).
pub(super) fn this_program() -> Result<std::path::PathBuf, Error> {
    std::env::current_exe().map_err(|e| Error::Usage(format!("cannot find this program's path: {e}")))
}

/// The sweep's errors that speak of a flag, named by it.
pub(super) fn sweep_flags(e: Error) -> Error {
    use blindspot::attack::robustness;
    use blindspot::experiments::attack;
    match e {
        Error::Robustness(robustness::Error::NoImages) => Error::Usage("--robust-images must be at least 1".into()),
        Error::AttackRun(attack::Error::Zero) => Error::Usage("--distortion-images must be at least 1".into()),
        Error::Sweep(blindspot::sweep::Error::Jobs { jobs: 0, .. }) => Error::Usage("--jobs must be at least 1".into()),
        Error::Sweep(blindspot::sweep::Error::Jobs { jobs, threads }) => {
            Error::Usage(format!("--jobs {jobs}: more runs at once than LibTorch's {threads} CPU threads"))
        }
        e => e,
    }
}

/// The attack ensemble's settings, as `robustness` and `compare` take them.
#[derive(Debug, clap::Args)]
pub(super) struct EnsembleArgs {
    /// The ensemble, in order, comma-separated: apgd-ce (APGD on the cross-entropy), apgd-t (APGD on
    /// the targeted DLR loss, towards each of the most likely wrong classes), square (score-based,
    /// no gradients: the check against gradient masking). Default: all three.
    #[arg(long, value_delimiter = ',', value_parser = named::<blindspot::attack::EnsembleAttack>(ENSEMBLE))]
    pub(super) attacks: Option<Vec<blindspot::attack::EnsembleAttack>>,
    /// APGD iterations per run.
    #[arg(long, default_value_t = 100)]
    pub(super) iterations: usize,
    /// APGD-T: how many of the most likely wrong classes to target in turn.
    #[arg(long, default_value_t = 9)]
    pub(super) target_classes: usize,
    /// Square: queries per example.
    #[arg(long, default_value_t = 5000)]
    pub(super) square_queries: usize,
    /// Examples attacked at once.
    #[arg(long, default_value_t = 500)]
    pub(super) attack_batch: usize,
    /// Seed of the random starts and Square's search.
    #[arg(long, default_value_t = 0)]
    pub(super) attack_seed: u64,
}

impl EnsembleArgs {
    /// The ensemble for `norm` (its radius is set per run).
    pub(super) fn config(&self, norm: blindspot::attack::Norm) -> blindspot::attack::RobustnessConfig {
        let standard = blindspot::attack::RobustnessConfig::standard(norm, 0.0);
        blindspot::attack::RobustnessConfig {
            attacks: self.attacks.clone().unwrap_or(standard.attacks.clone()),
            iterations: self.iterations,
            target_classes: self.target_classes,
            square_queries: self.square_queries,
            batch: self.attack_batch,
            seed: self.attack_seed,
            ..standard
        }
    }
}

/// Where a command that loads checkpoints runs, and where it reads their data.
#[derive(Debug, clap::Args)]
pub(super) struct ModelArgs {
    /// Where to run: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub(super) device: blindspot::DeviceChoice,
    /// Read the dataset from this folder instead of the recipe's.
    #[arg(long)]
    pub(super) data_dir: Option<std::path::PathBuf>,
}

impl ModelArgs {
    /// The checkpoint at `path` (run folder or checkpoint folder) on `device` (this choice's device).
    pub(super) fn open(
        &self,
        path: &std::path::Path,
        device: &burn::prelude::Device,
    ) -> Result<blindspot::experiments::LoadedModel, Error> {
        blindspot::recipe::open(path, device, self.data_dir.as_deref())
    }
}

impl LbfgsArgs {
    pub(super) fn config(&self) -> blindspot::attack::LbfgsAttackConfig {
        blindspot::attack::LbfgsAttackConfig::new(self.search_steps, self.iterations)
    }
}

/// The names of the library's attacks and image sets, as `--method` and `--images` take them.
pub(super) const METHODS: &[&str] = &["lbfgs", "fgsm", "pgd", "noise"];
pub(super) const IMAGE_SETS: &[&str] = &["train", "test"];
pub(super) const NORMS: &[&str] = &["linf", "l2"];
pub(super) const ENSEMBLE: &[&str] = &["apgd-ce", "apgd-t", "square"];

/// A clap parser for one of the library's kebab-case enums, by its serde names (the library knows
/// nothing of clap); `--help` lists `names`.
pub(super) fn named<T>(names: &'static [&'static str]) -> impl TypedValueParser<Value = T>
where
    T: serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
{
    clap::builder::PossibleValuesParser::new(names).map(|name: String| {
        serde_json::from_value(serde_json::Value::String(name)).expect("every listed name is a variant")
    })
}

/// Prints `value` as pretty JSON on stdout.
pub(super) fn print_json<T: serde::Serialize>(value: &T) -> Result<(), Error> {
    println!("{}", serde_json::to_string_pretty(value).map_err(|e| Error::Usage(e.to_string()))?);
    Ok(())
}

/// Formats a fraction as a percentage with two decimals.
pub(super) fn percent(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

#[cfg(test)]
mod tests {
    use blindspot::experiments::{AttackMethod, loaded::ImageSet};
    use blindspot::recipe::reproduce::Experiment;

    fn parses<T: serde::de::DeserializeOwned>(names: &[&str]) -> bool {
        names.iter().all(|n| serde_json::from_value::<T>(serde_json::Value::String(n.to_string())).is_ok())
    }

    #[test]
    fn every_listed_name_is_a_variant_of_the_librarys_enum() {
        assert!(parses::<AttackMethod>(super::METHODS));
        assert!(parses::<ImageSet>(super::IMAGE_SETS));
        assert!(parses::<blindspot::attack::Norm>(super::NORMS));
        assert!(parses::<blindspot::attack::EnsembleAttack>(super::ENSEMBLE));
        assert!(parses::<Experiment>(&["table1", "table2", "table3", "table4"]));
    }
}
