//! The flat form a recipe's `[adversarial]` table writes a pool config in: `method` beside the
//! method's own keys in one table (`pool::PoolConfig` keeps each method with its settings). A key of
//! another method is refused (it would silently do nothing).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::pool::config::defaults;
use crate::pool::{PoolAttack, PoolConfig, PoolSchedule, PoolTarget, Radius};

/// Every method's own keys, as recipes write them beside `method`.
pub const KEYS: [&str; 5] = ["epsilon", "steps", "target", "search_steps", "iterations"];

/// The keys the method named `name` takes (`None`: no such method).
pub fn keys_of(name: &str) -> Option<&'static [&'static str]> {
    [Method::Fgsm, Method::Pgd, Method::Lbfgs].into_iter().find(|m| m.name() == name).map(|m| m.keys())
}

/// `#[serde(with = "pool_keys")]` for a recipe's `Option<PoolConfig>`.
pub fn serialize<S: Serializer>(config: &Option<PoolConfig>, s: S) -> Result<S::Ok, S::Error> {
    config.clone().map(PoolKeys::from).serialize(s)
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PoolConfig>, D::Error> {
    Option::<PoolKeys>::deserialize(d)?.map(PoolConfig::try_from).transpose().map_err(serde::de::Error::custom)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Method {
    Fgsm,
    Pgd,
    Lbfgs,
}

impl Method {
    fn of(attack: &PoolAttack) -> Method {
        match attack {
            PoolAttack::Fgsm { .. } => Method::Fgsm,
            PoolAttack::Pgd { .. } => Method::Pgd,
            PoolAttack::Lbfgs { .. } => Method::Lbfgs,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Method::Fgsm => "fgsm",
            Method::Pgd => "pgd",
            Method::Lbfgs => "lbfgs",
        }
    }

    fn keys(self) -> &'static [&'static str] {
        match self {
            Method::Fgsm => &["epsilon"],
            Method::Pgd => &["epsilon", "steps"],
            Method::Lbfgs => &["target", "search_steps", "iterations"],
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolKeys {
    layers: Vec<usize>,
    #[serde(default = "defaults::ratio")]
    ratio: f64,
    #[serde(default = "defaults::pool_size")]
    pool_size: usize,
    #[serde(default = "defaults::refresh")]
    refresh: f64,
    #[serde(default = "defaults::one")]
    attackers: usize,
    #[serde(default = "fgsm")]
    method: Method,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    epsilon: Option<Radius>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    steps: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<PoolTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    search_steps: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iterations: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attacker_device: Option<crate::backend::DeviceChoice>,
    #[serde(default = "defaults::attack_batch")]
    attack_batch: usize,
    #[serde(default = "defaults::snapshot_every")]
    snapshot_every: usize,
    #[serde(default = "defaults::max_staleness")]
    max_staleness: usize,
    #[serde(default)]
    warmup_epochs: usize,
    #[serde(default = "defaults::pool_schedule")]
    schedule: PoolSchedule,
    #[serde(default, skip_serializing_if = "is_zero")]
    refine_steps: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refine_step_size: Option<f64>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn fgsm() -> Method {
    Method::Fgsm
}

impl TryFrom<PoolKeys> for PoolConfig {
    type Error = String;

    fn try_from(k: PoolKeys) -> Result<PoolConfig, String> {
        let given = [
            k.epsilon.is_some(),
            k.steps.is_some(),
            k.target.is_some(),
            k.search_steps.is_some(),
            k.iterations.is_some(),
        ];
        let own = k.method.keys();
        if let Some((key, _)) = KEYS.iter().zip(given).find(|(key, given)| *given && !own.contains(key)) {
            let method = k.method.name();
            return Err(format!("{key} does not apply to method = \"{method}\" (its keys: {})", own.join(", ")));
        }
        let epsilon = || k.epsilon.clone().unwrap_or_else(defaults::epsilon);
        let attack = match k.method {
            Method::Fgsm => PoolAttack::Fgsm { epsilon: epsilon() },
            Method::Pgd => PoolAttack::Pgd { epsilon: epsilon(), steps: k.steps.unwrap_or_else(defaults::pgd_steps) },
            Method::Lbfgs => PoolAttack::Lbfgs {
                target: k.target.unwrap_or_else(defaults::pool_target),
                search_steps: k.search_steps.unwrap_or_else(defaults::search_steps),
                iterations: k.iterations.unwrap_or_else(defaults::lbfgs_iterations),
            },
        };
        Ok(PoolConfig {
            layers: k.layers,
            ratio: k.ratio,
            pool_size: k.pool_size,
            refresh: k.refresh,
            attackers: k.attackers,
            attack,
            attacker_device: k.attacker_device,
            attack_batch: k.attack_batch,
            snapshot_every: k.snapshot_every,
            max_staleness: k.max_staleness,
            warmup_epochs: k.warmup_epochs,
            schedule: k.schedule,
            refine_steps: k.refine_steps,
            refine_step_size: k.refine_step_size,
        })
    }
}

impl From<PoolConfig> for PoolKeys {
    fn from(c: PoolConfig) -> PoolKeys {
        let method = Method::of(&c.attack);
        let (mut epsilon, mut steps, mut target, mut search_steps, mut iterations) = (None, None, None, None, None);
        match c.attack {
            PoolAttack::Fgsm { epsilon: e } => epsilon = Some(e),
            PoolAttack::Pgd { epsilon: e, steps: s } => (epsilon, steps) = (Some(e), Some(s)),
            PoolAttack::Lbfgs { target: t, search_steps: s, iterations: i } => {
                (target, search_steps, iterations) = (Some(t), Some(s), Some(i))
            }
        }
        PoolKeys {
            layers: c.layers,
            ratio: c.ratio,
            pool_size: c.pool_size,
            refresh: c.refresh,
            attackers: c.attackers,
            method,
            epsilon,
            steps,
            target,
            search_steps,
            iterations,
            attacker_device: c.attacker_device,
            attack_batch: c.attack_batch,
            snapshot_every: c.snapshot_every,
            max_staleness: c.max_staleness,
            warmup_epochs: c.warmup_epochs,
            schedule: c.schedule,
            refine_steps: c.refine_steps,
            refine_step_size: c.refine_step_size,
        }
    }
}
