//! Training: the [`Trainer`] (any [`Layered`](crate::model::Layered) burn module, its data, its
//! configs and hooks), one step, the hooks (checkpointer, TensorBoard, metrics file, Lipschitz
//! bounds, the pools' snapshot publisher), optimizers and schedules, evaluation.

pub mod average;
pub mod certified;
pub mod checkpoint;
pub mod config;
mod epoch;
pub mod evaluate;
pub mod fresh;
pub mod hook;
pub mod interrupt;
pub mod lipschitz;
pub mod lock;
pub mod metrics;
pub mod optimizer;
pub mod publisher;
pub mod step;
pub mod tensorboard;
pub mod trainer;

pub use average::WeightAverage;
pub use certified::{CertifiedConfig, CertifiedLoss, CertifiedTerm};
pub use checkpoint::{Checkpoint, Checkpointer};
pub use config::{OptimizerConfig, OptimizerKind, OutputConfig, Schedule, TrainConfig};
pub use evaluate::error_rate;
pub use fresh::{FreshConfig, FreshLoss, FreshMethod};
pub use hook::{EpochMetrics, Hook, HookError, RunInfo, RunSummary, StepInfo, TrainState};
pub use lipschitz::LipschitzBounds;
pub use metrics::MetricsFile;
pub use publisher::SnapshotPublisher;
pub use step::{Regularizers, StepOutput, Trades, train_step, train_step_split};
pub use tensorboard::TensorBoard;
pub use trainer::{Existing, Trained, Trainer, epoch_seed};
