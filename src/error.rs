//! The library's errors, each shown as one line; the causes are kept (`#[source]`). Every room's
//! error converts into [`Error`], so a user's function can `?` through all of them.

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
    Attack(#[from] crate::attack::Error),
    #[error(transparent)]
    AttackRun(#[from] crate::experiments::attack::Error),
    #[error(transparent)]
    Model(#[from] crate::model::layered::Error),
    #[error(transparent)]
    Pool(#[from] crate::pool::Error),
    #[error(transparent)]
    Robustness(#[from] crate::attack::robustness::Error),
    #[error(transparent)]
    Units(#[from] crate::experiments::units::Error),
    #[error(transparent)]
    PyTorch(#[from] crate::model::pytorch::Error),
    #[error(transparent)]
    Bounds(#[from] crate::bounds::Error),
    #[error(transparent)]
    Certify(#[from] crate::certify::Error),
    #[error(transparent)]
    Plot(#[from] crate::experiments::plot::Error),
    #[error(transparent)]
    Sweep(#[from] crate::sweep::Error),
    #[error(transparent)]
    Figure(#[from] crate::report::canvas::Error),
    #[error("unknown architecture {name:?}: expected one of {}", crate::model::zoo::names())]
    UnknownArch { name: String },
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
}
