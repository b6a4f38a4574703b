//! `metrics.json`: the run's final figures, written by a hook when the run ends and read back by
//! the commands that gather finished runs.

use super::hook::{Hook, HookError, RunInfo, RunSummary, TrainState};

/// The hook that writes `metrics.json` (the run's final figures) into the run folder.
pub struct MetricsFile;

pub const METRICS_FILE: &str = "metrics.json";

impl<M> Hook<M> for MetricsFile {
    fn name(&self) -> &str {
        "metrics file"
    }

    fn on_run_end(&mut self, run: &RunInfo, _state: &TrainState<M>, summary: &RunSummary) -> Result<(), HookError> {
        let json = serde_json::to_string_pretty(summary)?;
        super::checkpoint::write_atomic(&run.run_dir.join(METRICS_FILE), json.as_bytes())?;
        Ok(())
    }
}

/// Reads the `metrics.json` of the run in `run_dir`.
pub fn read_metrics(run_dir: &std::path::Path) -> Result<RunSummary, super::checkpoint::Error> {
    let path = run_dir.join(METRICS_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| super::checkpoint::Error::Io { path: path.clone(), reason: e.to_string() })?;
    serde_json::from_str(&text).map_err(|e| super::checkpoint::Error::Load { path, reason: e.to_string() })
}
