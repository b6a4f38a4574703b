//! The progress display: a bar per epoch on stderr, then one line of figures per epoch.

use indicatif::{ProgressBar, ProgressStyle};

use blindspot::train::{EpochMetrics, Hook, HookError, RunInfo, StepInfo, TrainState};

pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new() -> Progress {
        Progress { bar: None }
    }
}

impl<M> Hook<M> for Progress {
    fn name(&self) -> &str {
        "progress"
    }

    fn on_run_start(&mut self, run: &RunInfo) -> Result<(), HookError> {
        let from =
            if run.start_epoch > 0 { format!(", resuming after epoch {}", run.start_epoch) } else { String::new() };
        eprintln!(
            "{}: {} on {} training images ({}), {} epochs of {} steps, {}{from}",
            run.name, run.arch, run.train_examples, run.data, run.epochs, run.steps_per_epoch, run.device_name
        );
        Ok(())
    }

    fn on_epoch_start(&mut self, run: &RunInfo, epoch: usize) -> Result<(), HookError> {
        let bar = ProgressBar::new(run.steps_per_epoch as u64);
        bar.set_style(
            ProgressStyle::with_template("epoch {msg} [{bar:30}] {pos}/{len} steps, {per_sec}, eta {eta}")?
                .progress_chars("=> "),
        );
        bar.set_message(format!("{epoch}/{}", run.epochs));
        self.bar = Some(bar);
        Ok(())
    }

    fn on_step_end(&mut self, _run: &RunInfo, _step: &StepInfo, _model: &M) -> Result<(), HookError> {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, run: &RunInfo, _state: &TrainState<M>, m: &EpochMetrics) -> Result<(), HookError> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let validation = m.validation_error.map_or(String::new(), |v| format!("  validation {:.2}%", 100.0 * v));
        eprintln!(
            "epoch {:>3}/{}  loss {:.4}  train {:.2}%  test {:.2}%{validation}  lr {:.4}  {:.2} s  ({:.0} examples/s)",
            m.epoch,
            run.epochs,
            m.train_loss,
            100.0 * m.train_error,
            100.0 * m.test_error,
            m.learning_rate,
            m.seconds,
            m.examples_per_second
        );
        for p in &m.pools {
            eprintln!(
                "    pool layer {}: {}/{} examples, {} used (staleness mean {:.0}, max {}), attack success {:.0}%, distortion {:.3}, {:.1} new/step, {:.0} attacked/s",
                p.layer,
                p.fill,
                p.capacity,
                p.used,
                p.mean_staleness,
                p.max_staleness,
                100.0 * p.success_rate,
                p.mean_distortion,
                p.refresh_per_step,
                p.attack_examples_per_second
            );
        }
        Ok(())
    }
}
