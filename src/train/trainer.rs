//! The trainer: a model (any [`Layered`](crate::model::Layered) burn module, a [`Whole`](crate::Whole)
//! among them), its data, its configs and hooks; `run()` trains it for epochs of shuffled
//! mini-batches, one optimizer step per batch (cross-entropy plus the paper's weight decay and, if
//! asked, the Lipschitz penalty), with adversarial pools mixed in when it has them, and calls every
//! hook after each step and epoch. Written on burn's optimizers rather than burn-train's Learner: the
//! pools build each batch themselves and join the step's forward pass at their layer, and the
//! Learner has no hooks (docs/architecture.md says what burn-train's custom strategies offer).
//!
//! ```ignore
//! let summary = Trainer::new(model, splits, TrainConfig::new(20, 64), OptimizerConfig::new(OptimizerKind::Adam, 1e-3))
//!     .name("my-run")
//!     .pools(PoolConfig::new(vec![0, 1]))
//!     .penalty(PenaltyConfig::new(1e-3))
//!     .hook(Box::new(MyHook))
//!     .run()?;
//! ```

mod check;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::average::WeightAverage;
use super::certified::{CertifiedConfig, CertifiedLoss};
use super::checkpoint::{self, Checkpoint, Checkpointer};
use super::config::{OptimizerConfig, OutputConfig, TrainConfig};
use super::epoch::{Loop, Sets, State, hook_error};
use super::fresh::FreshConfig;
use super::hook::{Hook, HookError, RunInfo, RunSummary};
use super::lipschitz::LipschitzBounds;
use super::metrics::MetricsFile;
use super::optimizer;
use super::publisher::SnapshotPublisher;
use super::tensorboard::TensorBoard;
use crate::backend::{self, CpuThreadLimit, DeviceChoice};
use crate::bounds::{LipschitzPenalty, PenaltyConfig};
use crate::config::Invalid;
use crate::data::{DeviceImages, Splits};
use crate::pool::{AdversarialLoader, Bank, BankConfig, PoolConfig, PoolModel, SnapshotCell};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::Error),
    #[error("{hook} hook failed: {source}")]
    Hook {
        hook: String,
        #[source]
        source: HookError,
    },
    #[error("{path}: cannot prepare the run folder: {source}")]
    RunDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the training split is empty (data.subset / data.validation leave no image)")]
    NoTrainingData,
    #[error("batch_size {batch} is larger than the {examples} training images: every epoch would be one smaller batch")]
    BatchTooLarge { batch: usize, examples: usize },
    #[error(
        "epoch {epoch}, step {step}: the training loss is not finite (its {term} term first); the run stops and \
         keeps its last complete checkpoint (a smaller learning rate may help)"
    )]
    NotFinite { epoch: usize, step: u64, term: &'static str },
    #[error(
        "fresh adversarial examples: ramp_epochs {ramp} is more than the run's {epochs} epochs: ε would never be reached"
    )]
    RampTooLong { ramp: f64, epochs: usize },
    #[error("train.devices: the first device ({first}) must be the one the model is on ({model})")]
    FirstDevice { first: DeviceChoice, model: DeviceChoice },
    #[error("a run without output cannot be resumed: there is nothing to resume from")]
    ResumeWithoutOutput,
    #[error("train.devices: training for certificates runs on one device")]
    CertifiedOnDevices,
    #[error("a perturbation bank and fresh adversarial examples both replace the batch's rows: choose one")]
    BankWithFresh,
    #[error("the pools' warmup_epochs {warmup} is not below epochs {epochs}: the pools would be filled and never used")]
    WarmupTooLong { warmup: usize, epochs: usize },
    #[error(
        "the penalty's every = {every} is more than the run's {steps} steps: it would apply at the first step only"
    )]
    PenaltyOnce { every: usize, steps: usize },
    #[error("{section}: {source}")]
    Config {
        section: &'static str,
        #[source]
        source: Invalid,
    },
    #[error("the model's weights are not on an autodiff device: build it on `device.autodiff()`")]
    NotAutodiff,
    #[error(transparent)]
    Device(#[from] crate::backend::Error),
    #[error(transparent)]
    Pool(#[from] crate::pool::Error),
    #[error(transparent)]
    Penalty(#[from] crate::bounds::Error),
    #[error(transparent)]
    Step(#[from] super::step::Error),
    #[error("fresh adversarial examples: {0}")]
    Fresh(#[from] crate::attack::Error),
    #[error(transparent)]
    Lock(#[from] super::lock::Error),
    #[error(
        "interrupted by {} in epoch {epoch} after step {step}: the run stopped, its last complete checkpoint \
         kept (resuming continues from it)", super::interrupt::signal_name(*signal)
    )]
    Interrupted { signal: i32, epoch: usize, step: u64 },
    #[error("preparing the model before the first epoch failed: {0}")]
    Prepare(#[source] HookError),
    #[error(
        "{path} holds a run's checkpoints (up to epoch {epoch}): resume it (train --resume) or start over \
         (train --overwrite deletes it)"
    )]
    RunExists { path: PathBuf, epoch: usize },
}

/// What `run` does with a run folder that holds an earlier run's checkpoints (a folder without
/// any, a run killed in its first epoch, is started over in every case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Existing {
    /// Stop with [`Error::RunExists`] before anything is written: nothing is lost (the default).
    #[default]
    Refuse,
    /// Continue from its latest checkpoint.
    Resume,
    /// Delete it and start over.
    Overwrite,
    /// Keep it under a new name (`<name>.1`, or the first of `.2`, `.3`, … that is free) and start over.
    SetAside,
}

/// What a new run (not a resumed one) does to its model before the first epoch, given the
/// training images (a recipe's autoencoder pretraining).
pub type Prepare<M> = Box<dyn FnOnce(M, &DeviceImages) -> Result<M, HookError>>;

/// What a finished run gives back: the trained model (on the training device, with autodiff), the
/// weights' running average where the run keeps one (`train.ema`; an inference copy, what the
/// figures measure) and the final figures (what `metrics.json` holds).
pub struct Trained<M> {
    pub model: M,
    pub averaged: Option<M>,
    pub summary: RunSummary,
}

/// A seed for epoch `epoch` of a run seeded `seed` (SplitMix64 of the pair).
pub fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    let mut z = seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A training run being put together; `run()` trains it.
pub struct Trainer<M> {
    model: M,
    data: Splits,
    pub(super) train: TrainConfig,
    pub(super) optimizer: OptimizerConfig,
    output: OutputConfig,
    pub(super) name: String,
    pub(super) seed: u64,
    pub(super) arch: String,
    data_name: String,
    pub(super) pools: Option<PoolConfig>,
    pub(super) fresh: Option<FreshConfig>,
    certified: Option<CertifiedConfig>,
    bank: Option<BankConfig>,
    penalty: Option<PenaltyConfig>,
    hooks: Vec<Box<dyn Hook<M>>>,
    existing: Existing,
    files: Vec<(String, String)>,
    prepare: Option<Prepare<M>>,
    /// Whether the run writes its folder (`without_output` turns it off).
    writes: bool,
}

impl<M: PoolModel> Trainer<M> {
    /// Trains `model` (its weights on an autodiff device: `device.autodiff()`) on `data.train`,
    /// measuring `data.test` (and `data.validation`) after every epoch. The run is named `run`
    /// and seeded 1 until `name` and `seed` say otherwise; checkpoints, TensorBoard events and
    /// `metrics.json` go to `<output.dir>/<name>/` (`OutputConfig::default()`: `checkpoints/`).
    pub fn new(model: M, data: Splits, train: TrainConfig, optimizer: OptimizerConfig) -> Trainer<M> {
        Trainer {
            model,
            data,
            train,
            optimizer,
            output: OutputConfig::default(),
            name: "run".into(),
            seed: 1,
            arch: "custom".into(),
            data_name: "images".into(),
            pools: None,
            fresh: None,
            certified: None,
            bank: None,
            penalty: None,
            hooks: Vec::new(),
            existing: Existing::Refuse,
            files: Vec::new(),
            prepare: None,
            writes: true,
        }
    }

    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The seed of every epoch's shuffle and device RNG (the model's initialisation is the caller's).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn output(mut self, output: OutputConfig) -> Self {
        self.output = output;
        self
    }

    /// Trains without writing anything: no run folder, lock, checkpoints, TensorBoard events or
    /// `metrics.json` (the trained model and the figures come back from `run` all the same; such a
    /// run cannot be resumed).
    pub fn without_output(mut self) -> Self {
        self.writes = false;
        self
    }

    /// How progress and `metrics.json` name the model and the data.
    pub fn describe(mut self, arch: impl Into<String>, data: impl Into<String>) -> Self {
        self.arch = arch.into();
        self.data_name = data.into();
        self
    }

    /// Adversarial pools (section 4.2 of the paper) mixed into every batch; their attackers run
    /// on `attacker_device`, or where the model is.
    pub fn pools(mut self, pools: PoolConfig) -> Self {
        self.pools = Some(pools);
        self
    }

    /// Adversarial examples made fresh from the current weights in every step (PGD or fast FGSM
    /// training), replacing a share of each batch; pools, if any, join the step beside them.
    pub fn fresh(mut self, fresh: FreshConfig) -> Self {
        self.fresh = Some(fresh);
        self
    }

    /// Training for certificates (`[certified]`): interval bound propagation's loss mixed with the
    /// clean cross-entropy (the model must offer `Layered::layer_interval`).
    pub fn certified(mut self, certified: CertifiedConfig) -> Self {
        self.certified = Some(certified);
        self
    }

    /// A perturbation bank: each batch's images trained on their stored perturbations, renewed on
    /// the current weights and written back (accumulated over the epochs).
    pub fn bank(mut self, bank: BankConfig) -> Self {
        self.bank = Some(bank);
        self
    }

    /// The Lipschitz-bound penalty (the model must list its affine maps).
    pub fn penalty(mut self, penalty: PenaltyConfig) -> Self {
        self.penalty = Some(penalty);
        self
    }

    /// A hook called after the built-in ones (bounds, checkpointer, TensorBoard, metrics file).
    pub fn hook(mut self, hook: Box<dyn Hook<M>>) -> Self {
        self.hooks.push(hook);
        self
    }

    /// What to do with a run folder that holds an earlier run (default: refuse to touch it).
    pub fn existing(mut self, existing: Existing) -> Self {
        self.existing = existing;
        self
    }

    /// A file every checkpoint and the run folder keep beside the weights.
    pub fn keep_file(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.files.push((name.into(), text.into()));
        self
    }

    /// What a new run (not a resumed one) does to the model before its first epoch.
    pub fn prepare(mut self, prepare: Prepare<M>) -> Self {
        self.prepare = Some(prepare);
        self
    }

    /// The run folder: `<output.dir>/<name>`.
    pub fn run_dir(&self) -> PathBuf {
        self.output.dir.join(&self.name)
    }

    /// Trains; returns the trained model and the final figures.
    pub fn run(mut self) -> Result<Trained<M>, Error> {
        self.check()?;
        let run_dir = self.run_dir();
        let _lock = if self.writes { Some(super::lock::RunLock::take(&run_dir)?) } else { None };
        // Under the lock (beside the folder), so no other trainer changes what is found.
        if self.writes
            && self.existing == Existing::Refuse
            && let Some(epoch) = checkpoint::newest_epoch(&run_dir)
        {
            return Err(Error::RunExists { path: run_dir, epoch });
        }
        let attacker_device = self.pools.as_ref().and_then(|p| p.attacker_device).map(|c| c.device()).transpose()?;
        let ad = self.model.devices().into_iter().next().ok_or(Error::NotAutodiff)?;
        let device = ad.clone().without_autodiff();
        let sets = Sets {
            train: DeviceImages::new(&self.data.train, &device),
            test: DeviceImages::new(&self.data.test, &device),
            validation: self.data.validation.as_ref().map(|v| DeviceImages::new(v, &device)),
        };
        let (state, notices) = self.start(&run_dir, &sets.train)?;
        let device_name = DeviceChoice::of(&device).to_string();
        let info = RunInfo {
            name: &self.name,
            arch: &self.arch,
            data: &self.data_name,
            run_dir: &run_dir,
            device: &device,
            device_name: &device_name,
            seed: self.seed,
            epochs: self.train.epochs,
            checkpoint_every: self.output.checkpoint_every,
            files: &self.files,
            start_epoch: state.epoch,
            steps_per_epoch: self.data.train.len().div_ceil(self.train.batch_size),
            train_examples: self.data.train.len(),
            notices: &notices,
        };
        let mut hooks = self.builtin_hooks();
        hooks.append(&mut self.hooks);
        for hook in hooks.iter_mut() {
            hook.on_run_start(&info).map_err(hook_error(hook.as_ref()))?;
        }
        // Attacker threads on the CPU take cores that this thread's libtorch (OpenMP) team would
        // otherwise spin-wait for, slowing every step several times over: keep the remaining cores.
        let attackers_on_cpu = DeviceChoice::of(attacker_device.as_ref().unwrap_or(&device)) == DeviceChoice::Cpu;
        let pool_attackers = self.pools.as_ref().filter(|_| attackers_on_cpu).map_or(0, |p| p.attackers);
        // The bank's attackers attack where the model is.
        let bank_attackers = self.bank.as_ref().filter(|_| DeviceChoice::of(&device) == DeviceChoice::Cpu);
        let on_cpu = pool_attackers + bank_attackers.map_or(0, |b| b.attackers);
        let _threads = (on_cpu > 0).then(|| CpuThreadLimit::new(backend::cpu_threads().saturating_sub(on_cpu)));
        // Adversarial pools: a snapshot of the model now, the loader and its attackers, and the
        // publisher hook (last in the list). Pools are not checkpointed: a resumed run regenerates them.
        let mut loader = match &self.pools {
            Some(config) => {
                let cell = Arc::new(SnapshotCell::default());
                cell.publish(&state.model, state.step);
                let loader = AdversarialLoader::new(
                    config,
                    &state.model,
                    Arc::new(self.data.train.clone()),
                    cell.clone(),
                    epoch_seed(self.seed ^ 0xAD7, state.epoch),
                    &device,
                    attacker_device.as_ref(),
                )?;
                hooks.push(Box::new(SnapshotPublisher { cell, every: config.snapshot_every as u64 }));
                Some(loader)
            }
            None => None,
        };
        // The bank starts empty on a resumed run too (it is not checkpointed); its attackers read
        // snapshots the publisher hook (last in the list) hands them.
        let mut bank = match &self.bank {
            Some(config) => {
                let seed = epoch_seed(self.seed ^ 0xBA4C, state.epoch);
                let (examples, width) = (info.train_examples, self.data.train.pixels_per_image());
                let mut bank = Bank::new(config, examples, width, self.train.epochs, info.steps_per_epoch, seed)
                    .map_err(|source| Error::Config { section: "perturbation bank", source })?;
                if config.attackers > 0 {
                    let cell = Arc::new(SnapshotCell::default());
                    cell.publish(&state.model, state.step);
                    bank.start_attackers(Arc::new(self.data.train.clone()), cell.clone(), seed)?;
                    hooks.push(Box::new(SnapshotPublisher { cell, every: config.snapshot_every as u64 }));
                }
                Some(bank)
            }
            None => None,
        };
        // The penalty's power-iteration vectors start afresh on a resumed run (they converge
        // within a few steps).
        let mut penalty = match &self.penalty {
            Some(config) => Some(LipschitzPenalty::new(&state.model, config, &device)?),
            None => None,
        };
        let mut certified = self.certified.as_ref().map(|c| CertifiedLoss::new(c, info.steps_per_epoch, &device));
        let devices = self.train.devices.iter().map(|d| d.device()).collect::<Result<Vec<_>, _>>()?;
        let mut loop_ =
            Loop { trainer: &self, info: &info, sets: &sets, hooks: &mut hooks, device: &device, devices: &devices };
        let mut state = state;
        for epoch in state.epoch + 1..=self.train.epochs {
            state = loop_.epoch(state, epoch, loader.as_mut(), bank.as_mut(), penalty.as_mut(), certified.as_mut())?;
        }
        drop(loader);
        loop_.finish(state)
    }

    /// The bounds, checkpoint, TensorBoard and metrics hooks the output config asks for.
    fn builtin_hooks(&self) -> Vec<Box<dyn Hook<M>>> {
        let mut hooks: Vec<Box<dyn Hook<M>>> = vec![Box::new(LipschitzBounds::default())];
        if !self.writes {
            return hooks;
        }
        hooks.push(Box::new(Checkpointer));
        if self.output.tensorboard {
            hooks.push(Box::new(TensorBoard::new(10)));
        }
        hooks.push(Box::new(MetricsFile));
        hooks
    }

    /// The state to start from: the latest checkpoint's when resuming, else a fresh run folder
    /// and the model as given (after its preparation); and what a user should be told
    /// of it (a damaged checkpoint skipped, an earlier run set aside).
    fn start(&mut self, run_dir: &Path, train: &DeviceImages) -> Result<(State<M>, Vec<String>), Error> {
        let model = self.model.clone();
        let optim = optimizer::build(&self.optimizer);
        let resume = self.existing == Existing::Resume;
        let resumed = if resume { Checkpoint::resumable(run_dir, model.clone(), optim.clone())? } else { None };
        if let Some(resumed) = resumed {
            Checkpoint::clear_stale(run_dir)?;
            let notices = resumed
                .skipped
                .iter()
                .map(|damaged| format!("{damaged}; resuming from {} instead", resumed.checkpoint.dir.display()))
                .collect();
            let saved = resumed.checkpoint.state;
            let averaged = self.train.ema.map(|decay| {
                let start = resumed.averaged.as_ref().unwrap_or(&resumed.model);
                WeightAverage::new(decay, start.valid(), saved.step)
            });
            let state = State {
                averaged,
                model: resumed.model,
                optim: resumed.optimizer,
                epoch: saved.epoch,
                step: saved.step,
                history: saved.history,
                train_seconds: Vec::new(),
            };
            return Ok((state, notices));
        }
        let notices = match self.writes {
            true => start_fresh(run_dir, &self.files, self.existing)?.into_iter().collect(),
            false => Vec::new(),
        };
        let model = match self.prepare.take() {
            Some(prepare) => prepare(model, train).map_err(Error::Prepare)?,
            None => model,
        };
        let averaged = self.train.ema.map(|decay| WeightAverage::new(decay, model.valid(), 0));
        let state = State { model, optim, epoch: 0, step: 0, history: Vec::new(), averaged, train_seconds: Vec::new() };
        Ok((state, notices))
    }
}

/// Makes the run folder empty (an earlier run's folder set aside with `SetAside` when it holds
/// checkpoints, else removed: `run` has refused already where that was the choice) and writes the
/// kept files. Says where an earlier run was set aside.
fn start_fresh(run_dir: &Path, files: &[(String, String)], existing: Existing) -> Result<Option<String>, Error> {
    let fail = |source| Error::RunDir { path: run_dir.to_path_buf(), source };
    let mut notice = None;
    if run_dir.exists() {
        match checkpoint::newest_epoch(run_dir) {
            Some(epoch) if existing == Existing::SetAside => {
                let aside = aside(run_dir);
                std::fs::rename(run_dir, &aside).map_err(fail)?;
                notice = Some(format!("the earlier run (up to epoch {epoch}) kept as {}", aside.display()));
            }
            _ => std::fs::remove_dir_all(run_dir).map_err(fail)?,
        }
    }
    std::fs::create_dir_all(run_dir).map_err(fail)?;
    for (name, text) in files {
        checkpoint::write_atomic(&run_dir.join(name), text.as_bytes())?;
    }
    Ok(notice)
}

/// The first of `<run_dir>.1`, `<run_dir>.2`, … that does not exist.
fn aside(run_dir: &Path) -> PathBuf {
    let name = run_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    (1..).map(|i| run_dir.with_file_name(format!("{name}.{i}"))).find(|p| !p.exists()).expect("a free name")
}
