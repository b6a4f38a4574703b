//! The progress display: a bar per epoch on stderr, then one line of figures per epoch.

use indicatif::{ProgressBar, ProgressStyle};

use blindspot::attack::robustness::Advance;
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
        for notice in run.notices {
            eprintln!("{}: {notice}", run.name);
        }
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
            if p.renewed > 0 {
                eprintln!("    pool layer {}: {} examples renewed on the current weights", p.layer, p.renewed);
            }
        }
        if let Some(b) = &m.bank {
            eprintln!(
                "    bank: {}/{} images banked{}, {} rows trained ({} from noise), wrong before / after renewing {:.1}% / {:.1}%, age mean {:.0} steps (max {}), distortion {:.3}",
                b.fill,
                b.capacity,
                if b.reset { " (reset at the epoch's start)" } else { "" },
                b.used,
                b.started,
                100.0 * b.wrong_before,
                100.0 * b.wrong_after,
                b.mean_age,
                b.max_age,
                b.mean_distortion
            );
            if b.attacked > 0 {
                eprintln!(
                    "    bank attackers: {} perturbations deepened of {} attacked ({:.0} attacked/s)",
                    b.deepened, b.attacked, b.attack_examples_per_second
                );
            }
        }
        Ok(())
    }
}

/// The ensemble's progress on stderr: one bar per pass of an attack over the examples still robust.
pub struct EnsembleBar {
    bar: Option<ProgressBar>,
}

impl EnsembleBar {
    pub fn new() -> EnsembleBar {
        EnsembleBar { bar: None }
    }

    pub fn advance(&mut self, a: &Advance) {
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::new(a.of as u64);
            if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:20}] {pos}/{len} examples, {elapsed}") {
                bar.set_style(style.progress_chars("=> "));
            }
            // A batch may take minutes: redraw meanwhile, so the clock runs.
            bar.enable_steady_tick(std::time::Duration::from_millis(500));
            bar
        });
        let pass = if a.passes > 1 { format!(" (target {} of {})", a.pass, a.passes) } else { String::new() };
        bar.set_message(format!(
            "ε = {}: {}{pass}, robust so far {}/{}",
            a.epsilon,
            a.attack.name(),
            a.robust,
            a.examples
        ));
        bar.set_length(a.of as u64);
        bar.set_position(a.attacked as u64);
    }

    /// Clears the bar (before a line of figures is printed).
    pub fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
