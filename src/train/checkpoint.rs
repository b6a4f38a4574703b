//! Checkpoints, written atomically. A run folder holds one checkpoint folder per kept epoch
//! (`epoch-0007/`: model and optimizer state as burnpack records (with weight averaging the model
//! is the averaged weights and `training.bpk` the optimizer's), `state.json` with the epoch, step,
//! seed and metrics history, and the resolved `recipe.toml`) and a `latest` file naming the newest.
//! A checkpoint is written into a temporary folder, synced, renamed into place, and only then named
//! by `latest` (itself replaced by rename), so a kill at any moment leaves the previous checkpoint
//! whole and `latest` pointing at a complete one. The checkpoint before the latest is kept too, so
//! a resumed run whose latest checkpoint was damaged afterwards falls back to it ([`Checkpoint::resumable`]).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::hook::{EpochMetrics, Hook, HookError, RunInfo, TrainState};

pub const LATEST: &str = "latest";
pub const MODEL_FILE: &str = "model.bpk";
/// The weights the optimizer moves, where they differ from the model's (weight averaging:
/// `model.bpk` then holds the averaged weights, what every command measures).
pub const TRAINING_FILE: &str = "training.bpk";
pub const OPTIMIZER_FILE: &str = "optimizer.bpk";
pub const STATE_FILE: &str = "state.json";
pub const RECIPE_FILE: &str = "recipe.toml";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("{0}: not a checkpoint: expected a run folder with a `latest` file or a folder with {MODEL_FILE}")]
    NotACheckpoint(PathBuf),
    #[error("{path}: cannot load: {reason}")]
    Load { path: PathBuf, reason: String },
    #[error("{path}: the weights do not fit the model the recipe describes: {reason}")]
    Mismatch { path: PathBuf, reason: String },
    #[error("{path}: unreadable or corrupt weights file: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path}: {count} weights are NaN or infinite: the model cannot be measured or trained on")]
    NonFinite { path: PathBuf, count: usize },
    #[error("{path}: names {name:?}, which is not a checkpoint folder of this run")]
    BadLatest { path: PathBuf, name: String },
    #[error("{run}: no complete checkpoint to resume from ({latest}); train without resuming to start over")]
    NoUsable {
        run: PathBuf,
        #[source]
        latest: Box<Error>,
    },
}

/// A checkpoint read back to resume from: its state, the model (the weights the optimizer moves)
/// and optimizer loaded from it, the averaged weights where the run keeps them apart, and the error
/// of the latest checkpoint when an earlier one had to stand in for it.
pub struct Resumed<M> {
    pub checkpoint: Checkpoint,
    pub model: M,
    pub averaged: Option<M>,
    pub optimizer: ModuleOptimizer,
    pub skipped: Option<Error>,
}

fn one_line(e: impl std::fmt::Display) -> String {
    e.to_string().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::Io { path: path.to_path_buf(), reason: e.to_string() }
}

/// What `state.json` records besides the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedState {
    /// The run's name (empty in checkpoints written before it was recorded: the run folder's
    /// name then stands for it).
    #[serde(default)]
    pub name: String,
    pub epoch: usize,
    pub step: u64,
    /// The run's seed. Every epoch reseeds the shuffle and the device RNG from (seed, epoch), so
    /// this and `epoch` are the whole RNG state a resumed run needs.
    pub seed: u64,
    pub history: Vec<EpochMetrics>,
}

/// A checkpoint folder on disk.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub dir: PathBuf,
    pub state: SavedState,
}

impl Checkpoint {
    /// Opens `path`: a run folder (its `latest` checkpoint) or a checkpoint folder itself.
    pub fn open(path: &Path) -> Result<Checkpoint, Error> {
        let dir = if path.join(MODEL_FILE).is_file() {
            path.to_path_buf()
        } else if path.join(LATEST).is_file() {
            let latest = path.join(LATEST);
            let name = fs::read_to_string(&latest).map_err(io(&latest))?;
            let name = name.trim();
            // One plain folder name: `latest` may not lead out of the run folder.
            let mut parts = Path::new(name).components();
            if !matches!((parts.next(), parts.next()), (Some(std::path::Component::Normal(_)), None)) {
                return Err(Error::BadLatest { path: latest, name: name.to_string() });
            }
            path.join(name)
        } else if !path.exists() {
            return Err(Error::Io { path: path.to_path_buf(), reason: "no such file or folder".into() });
        } else {
            return Err(Error::NotACheckpoint(path.to_path_buf()));
        };
        let state_path = dir.join(STATE_FILE);
        let text = fs::read_to_string(&state_path).map_err(io(&state_path))?;
        let state =
            serde_json::from_str(&text).map_err(|e| Error::Load { path: state_path.clone(), reason: e.to_string() })?;
        Ok(Checkpoint { dir, state })
    }

    /// The run's name: the one it recorded, else its run folder's.
    pub fn name(&self) -> String {
        match &self.state.name {
            name if !name.is_empty() => name.clone(),
            _ => {
                let run = self.dir.parent().and_then(Path::file_name).unwrap_or(self.dir.as_os_str());
                run.to_string_lossy().into_owned()
            }
        }
    }

    /// The text of a file the checkpoint keeps besides the weights (`recipe.toml` for a recipe's
    /// run), if it has one.
    pub fn file(&self, name: &str) -> Result<Option<String>, Error> {
        let path = self.dir.join(name);
        if !path.is_file() {
            return Ok(None);
        }
        fs::read_to_string(&path).map(Some).map_err(io(&path))
    }

    /// The newest checkpoint of the run in `run_dir`, if it has one.
    pub fn latest(run_dir: &Path) -> Result<Option<Checkpoint>, Error> {
        if run_dir.join(LATEST).is_file() { Self::open(run_dir).map(Some) } else { Ok(None) }
    }

    /// `model` (of the checkpoint's architecture) with the saved weights loaded into it.
    pub fn load_model<M: Module>(&self, model: M) -> Result<M, Error> {
        self.load_weights(model, MODEL_FILE)
    }

    fn load_weights<M: Module>(&self, model: M, file: &str) -> Result<M, Error> {
        let path = self.dir.join(file);
        if !path.is_file() {
            return Err(Error::Io { path, reason: "no such file".into() });
        }
        let record = burn::store::ModuleRecord::load(&path)
            .map_err(|e| Error::Corrupt { path: path.clone(), reason: one_line(e) })?;
        let model =
            model.try_load_record(record).map_err(|e| Error::Mismatch { path: path.clone(), reason: one_line(e) })?;
        match crate::model::non_finite_weights(&model) {
            0 => Ok(model),
            count => Err(Error::NonFinite { path, count }),
        }
    }

    /// `optimizer` with the saved state loaded into it.
    pub fn optimizer(&self, optimizer: ModuleOptimizer) -> Result<ModuleOptimizer, Error> {
        let path = self.dir.join(OPTIMIZER_FILE);
        optimizer.load(&path).map_err(|e| Error::Load { path, reason: e.to_string() })
    }

    /// Writes a checkpoint of epoch `state.epoch` into `run_dir` and points `latest` at it; then
    /// removes the checkpoint folders older than the one `latest` named before.
    /// `files` (name, text) are written beside the weights; `training`, the optimizer's weights where
    /// `model` is their average.
    pub fn save<M: Module>(
        run_dir: &Path,
        files: &[(String, String)],
        model: &M,
        training: Option<&M>,
        optimizer: &ModuleOptimizer,
        state: &SavedState,
    ) -> Result<PathBuf, Error> {
        let name = format!("epoch-{:04}", state.epoch);
        let final_dir = run_dir.join(&name);
        let tmp = run_dir.join(format!(".{name}.tmp"));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
        }
        fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        let mut written = Vec::new();
        for (weights, file) in [(Some(model), MODEL_FILE), (training, TRAINING_FILE)] {
            let Some(weights) = weights else { continue };
            let path = tmp.join(file);
            weights.clone().save_file(&path).map_err(|e| Error::Io { path: path.clone(), reason: e.to_string() })?;
            written.push(path);
        }
        let optim_path = tmp.join(OPTIMIZER_FILE);
        optimizer.save(&optim_path).map_err(|e| Error::Io { path: optim_path.clone(), reason: e.to_string() })?;
        written.push(optim_path);
        write_synced(&tmp.join(STATE_FILE), serde_json::to_string_pretty(state).expect("state serialises").as_bytes())?;
        for (name, text) in files {
            write_synced(&tmp.join(name), text.as_bytes())?;
        }
        for file in &written {
            File::open(file).and_then(|f| f.sync_all()).map_err(io(file))?;
        }
        if final_dir.exists() {
            fs::remove_dir_all(&final_dir).map_err(io(&final_dir))?;
        }
        fs::rename(&tmp, &final_dir).map_err(io(&final_dir))?;
        sync_dir(run_dir)?;
        write_atomic(&run_dir.join(LATEST), name.as_bytes())?;
        // Kept: this checkpoint and the newest one before it.
        let mut before = 0;
        for (epoch, folder) in Self::folders(run_dir)? {
            if epoch < state.epoch {
                before += 1;
            }
            if epoch > state.epoch || before > 1 {
                fs::remove_dir_all(&folder).map_err(io(&folder))?;
            }
        }
        Ok(final_dir)
    }

    /// Removes the half-written checkpoint folders (`.epoch-NNNN.tmp`) a run killed while saving
    /// (a full disk, a crash) left in `run_dir`; nothing else is touched. Returns how many.
    pub fn clear_stale(run_dir: &Path) -> Result<usize, Error> {
        let stale: Vec<PathBuf> = fs::read_dir(run_dir)
            .map_err(io(run_dir))?
            .flatten()
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let epoch = name.strip_prefix(".epoch-").and_then(|n| n.strip_suffix(".tmp"));
                epoch.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) && e.path().is_dir()
            })
            .map(|e| e.path())
            .collect();
        for path in &stale {
            fs::remove_dir_all(path).map_err(io(path))?;
        }
        Ok(stale.len())
    }

    /// The run's checkpoint folders (`epoch-NNNN`) with their epochs, newest first.
    fn folders(run_dir: &Path) -> Result<Vec<(usize, PathBuf)>, Error> {
        let mut folders: Vec<(usize, PathBuf)> = fs::read_dir(run_dir)
            .map_err(io(run_dir))?
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| Some((e.file_name().to_str()?.strip_prefix("epoch-")?.parse().ok()?, e.path())))
            .collect();
        folders.sort_unstable_by(|a, b| b.cmp(a));
        Ok(folders)
    }

    /// The checkpoint a run in `run_dir` resumes from, with `model` and `optimizer` loaded from it:
    /// the latest, or, when that one cannot be read (damaged after it was written), the newest
    /// earlier one that can, together with the latest's error. `None`: the run has no checkpoint.
    pub fn resumable<M: Module>(
        run_dir: &Path,
        model: M,
        optimizer: ModuleOptimizer,
    ) -> Result<Option<Resumed<M>>, Error> {
        let load = |ckpt: Checkpoint| -> Result<Resumed<M>, Error> {
            let averaged = ckpt.load_model(model.clone())?;
            let (model, averaged) = match ckpt.dir.join(TRAINING_FILE).is_file() {
                true => (ckpt.load_weights(model.clone(), TRAINING_FILE)?, Some(averaged)),
                false => (averaged, None),
            };
            let optimizer = ckpt.optimizer(optimizer.clone())?;
            Ok(Resumed { checkpoint: ckpt, model, averaged, optimizer, skipped: None })
        };
        if !run_dir.join(LATEST).is_file() {
            return Ok(None);
        }
        let latest_error = match Self::open(run_dir).and_then(load) {
            Ok(resumed) => return Ok(Some(resumed)),
            // A `latest` that leads elsewhere is refused, not worked around.
            Err(e @ Error::BadLatest { .. }) => return Err(e),
            Err(e) => e,
        };
        let latest = fs::read_to_string(run_dir.join(LATEST)).unwrap_or_default();
        for (_, folder) in Self::folders(run_dir)? {
            if folder.file_name().is_some_and(|n| n.to_string_lossy() == latest.trim()) {
                continue;
            }
            if let Ok(resumed) = Self::open(&folder).and_then(load) {
                return Ok(Some(Resumed { skipped: Some(latest_error), ..resumed }));
            }
        }
        Err(Error::NoUsable { run: run_dir.to_path_buf(), latest: Box::new(latest_error) })
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut f = File::create(path).map_err(io(path))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(io(path))
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(io(dir))
}

/// The newest epoch a checkpoint folder of `run_dir` holds; `None` when it holds none (or
/// cannot be read).
pub fn newest_epoch(run_dir: &Path) -> Option<usize> {
    Checkpoint::folders(run_dir).ok()?.first().map(|(epoch, _)| *epoch)
}

/// Replaces `path` with `bytes` so that readers see either the old or the new content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp"));
    write_synced(&tmp, bytes)?;
    fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir(parent)?;
    }
    Ok(())
}

/// The hook that writes a checkpoint every `checkpoint_every` epochs and after the last.
pub struct Checkpointer;

impl<M: Module> Hook<M> for Checkpointer {
    fn name(&self) -> &str {
        "checkpointer"
    }

    fn on_epoch_end(&mut self, run: &RunInfo, state: &TrainState<M>, _metrics: &EpochMetrics) -> Result<(), HookError> {
        if state.epoch.is_multiple_of(run.checkpoint_every) || state.epoch == run.epochs {
            let saved = SavedState {
                name: run.name.to_string(),
                epoch: state.epoch,
                step: state.step,
                seed: run.seed,
                history: state.history.to_vec(),
            };
            let (model, training) = match state.averaged {
                Some(averaged) => (averaged, Some(state.model)),
                None => (state.model, None),
            };
            Checkpoint::save(run.run_dir, run.files, model, training, state.optimizer, &saved)?;
        }
        Ok(())
    }
}
