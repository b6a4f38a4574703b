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
