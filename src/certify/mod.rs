//! Certified robustness: a proof, point by point, that no perturbation within the radius changes
//! the class. An attack that fails proves nothing; a certificate does.
//!
//! - L2 ([`lipschitz`]): GloRo's per-pair margin (Leino et al. 2021). A point of class y is certified
//!   at ε when every other class j trails by more than ε times an upper bound on the Lipschitz
//!   constant of `logit_y − logit_j`: the bound of the network below the logits (the Lipschitz table's
//!   exact bounds, proven from above by [`crate::bounds::certified_bound`]) times `‖w_y − w_j‖`.
//! - L∞ ([`interval`]): interval bound propagation (Gowal et al. 2018) through the layers, the last
//!   one folded into the margins `logit_y − logit_j`.
//!
//! Both are plain functions a training loop can call; [`certify()`] measures a model at several radii.

mod config;
pub mod interval;
pub mod lipschitz;
mod measure;

pub use config::CertifyConfig;
pub use interval::{certified_linf, margin_lower_bounds};
pub use lipschitz::{PairBounds, gloro_logits};
pub use measure::{Certification, Certified, certify};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("certify: {0}")]
    Config(#[from] crate::config::Invalid),
    #[error("certify: no images to certify")]
    NoImages,
    #[error("certify: {asked} images asked for, but the test set has {available}")]
    TooMany { asked: usize, available: usize },
    #[error(
        "L2 certificates need the model's affine maps (Layered::affine_maps) for its Lipschitz bound; this model does not list them"
    )]
    NoAffineMaps,
    #[error("L2 certificates in GloRo's form need the last layer as one dense map (Layered::logit_map)")]
    NoLogitMap,
    #[error("L2 certificates: the last affine map is layer {last}'s, not the logits' (layer {depth})")]
    LogitMap { last: usize, depth: usize },
    #[error("layer {layer} offers no interval bounds (Layered::layer_interval), which L∞ certificates need")]
    NoInterval { layer: usize },
    #[error(transparent)]
    Bounds(#[from] crate::bounds::Error),
    #[error(transparent)]
    NonFinite(#[from] crate::model::NonFinite),
}
