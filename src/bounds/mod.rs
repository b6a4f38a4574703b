//! Upper Lipschitz bounds (the paper's section 4.3 and Table 5): a dense layer's largest singular
//! value, a convolution's by Parseval over its kernels' DFTs (stride included), the nonlinearities'
//! and pooling's constants, the network's product; the same bounds proven from above for
//! certificates ([`verify`]); and the regularizer that penalises them.

pub mod config;
pub mod conv;
mod conv_taps;
pub mod dense;
pub mod penalty;
pub mod spectral;
pub mod table;
pub mod verify;

pub use config::{PenaltyConfig, PenaltyMode};
pub use conv::{Boundary, ConvGeometry, ConvMethod, conv_bound, conv_bound_by};
pub use dense::dense_bound;
pub use penalty::{LipschitzPenalty, PowerIteration, power_iteration_estimate};
pub use spectral::{HermitianOperator, Lanczos, Matrices, Vectors, largest_eigenvalue, largest_singular_value};
pub use table::{LayerBound, NetworkBounds, affine_bound, network_bounds};
pub use verify::certified_bound;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Model(#[from] crate::model::layered::Error),
    #[error("lipschitz penalty: {0}")]
    Config(#[from] crate::config::Invalid),
    #[error("{0}")]
    Geometry(String),
}
