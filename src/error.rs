//! The library's errors, each shown as one line; the causes are kept (`#[source]`).

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Data(#[from] crate::data::Error),
    #[error(transparent)]
    Recipe(#[from] crate::recipe::Error),
    #[error(transparent)]
    Device(#[from] crate::backend::Error),
    #[error(transparent)]
    Train(#[from] crate::train::trainer::Error),
    #[error(transparent)]
    Run(#[from] crate::recipe::run::Error),
    #[error(transparent)]
    Checkpoint(#[from] crate::train::checkpoint::Error),
    #[error(transparent)]
    Attack(#[from] crate::experiments::attack::Error),
    #[error(transparent)]
    Robustness(#[from] crate::attack::robustness::Error),
    #[error(transparent)]
    Units(#[from] crate::experiments::units::Error),
    #[error(transparent)]
    PyTorch(#[from] crate::model::pytorch::Error),
    #[error(transparent)]
    Bounds(#[from] crate::bounds::Error),
    #[error(transparent)]
    Plot(#[from] crate::experiments::plot::Error),
    #[error(transparent)]
    Figure(#[from] crate::report::canvas::Error),
    #[error("{arch} has layers 1 to {depth}: there is no layer {layer}")]
    NoLayer { arch: String, layer: usize, depth: usize },
    #[error("unknown architecture {name:?}: expected one of {}", crate::model::zoo::names())]
    UnknownArch { name: String },
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
}
