//! How errors reach a user: one line, and an exit code (2 for usage, 1 for a failure).

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
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Recipe(_) => 2,
            _ => 1,
        }
    }
}
