//! What `certify` is asked: the norm, the radii, the batch, the bound's estimate.

use serde::{Deserialize, Serialize};

use crate::attack::Norm;
use crate::bounds::Lanczos;
use crate::config::{Invalid, at_least_one, ensure};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CertifyConfig {
    pub norm: Norm,
    /// The radii (Euclidean for L2, per pixel for L∞).
    pub epsilons: Vec<f64>,
    /// Points bounded at once.
    pub batch: usize,
    /// The Lanczos estimate the L2 bounds start from (each is then proven from above).
    pub lanczos: Lanczos,
}

impl Default for CertifyConfig {
    fn default() -> Self {
        CertifyConfig { norm: Norm::Linf, epsilons: vec![0.3], batch: 500, lanczos: Lanczos::default() }
    }
}

impl CertifyConfig {
    pub fn new(norm: Norm, epsilons: Vec<f64>) -> CertifyConfig {
        CertifyConfig { norm, epsilons, ..CertifyConfig::default() }
    }

    pub fn check(&self) -> Result<(), Invalid> {
        ensure(!self.epsilons.is_empty(), "epsilon", || "name at least one radius".into())?;
        for &epsilon in &self.epsilons {
            ensure(epsilon.is_finite() && epsilon > 0.0, "epsilon", || format!("{epsilon} is not a positive radius"))?;
        }
        at_least_one(self.batch, "batch")
    }
}
