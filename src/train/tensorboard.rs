//! The TensorBoard hook: event files in the run folder, so `tensorboard --logdir checkpoints` shows
//! every run. Tags: `train/loss` (every `log_every` steps), `train/learning_rate`, and per epoch
//! `epoch/train_loss`, `epoch/train_error`, `epoch/test_error`, `epoch/validation_error`,
//! `epoch/examples_per_second`, and for each adversarial pool `pool/layer<K>/fill`, `mean_age`,
//! `mean_staleness`, `max_staleness`, `success_rate`, `distortion`, `refresh_per_step`,
//! `attack_examples_per_second`, `renewed` (with `refine_steps`), an image `pool/layer0/examples`
//! of 16 input-pool examples, for a perturbation bank `bank/fill`, `wrong_before`, `wrong_after`,
//! `mean_age`, `distortion`, `deepened` (with attackers), and `lipschitz/layer<K>`, `lipschitz/network`. The `train/*` tags'
//! step is the global optimizer step; every per-epoch tag's step is the epoch (1 for the first), so
//! runs compare epoch by epoch whatever their batch size.

use tensorboard_rs::summary_writer::SummaryWriter;

use super::hook::{EpochMetrics, Hook, HookError, RunInfo, RunSummary, StepInfo, TrainState};

pub struct TensorBoard {
    writer: Option<SummaryWriter>,
    log_every: u64,
}

impl TensorBoard {
    /// Logs the step loss every `log_every` steps (reading it waits for the device).
    pub fn new(log_every: u64) -> TensorBoard {
        TensorBoard { writer: None, log_every: log_every.max(1) }
    }

    fn writer(&mut self) -> Result<&mut SummaryWriter, HookError> {
        self.writer.as_mut().ok_or_else(|| "TensorBoard writer used before the run started".into())
    }
}

impl<M> Hook<M> for TensorBoard {
    fn name(&self) -> &str {
        "tensorboard"
    }

    fn on_run_start(&mut self, run: &RunInfo) -> Result<(), HookError> {
        std::fs::create_dir_all(run.run_dir)?;
        self.writer = Some(SummaryWriter::new(run.run_dir));
        Ok(())
    }

    fn on_step_end(&mut self, _run: &RunInfo, step: &StepInfo, _model: &M) -> Result<(), HookError> {
        if step.step.is_multiple_of(self.log_every) {
            let loss = step.loss.clone().into_scalar::<f32>();
            let w = self.writer()?;
            w.add_scalar("train/loss", loss, step.step as usize);
            w.add_scalar("train/learning_rate", step.learning_rate as f32, step.step as usize);
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, _run: &RunInfo, state: &TrainState<M>, m: &EpochMetrics) -> Result<(), HookError> {
        let inputs = state.pools.iter().find(|p| p.layer == 0).map(|p| p.peek(16)).unwrap_or_default();
        let tile = image_tile(&inputs);
        let w = self.writer()?;
        // Per-epoch figures take the epoch as their step, so runs with different batch sizes line up.
        let step = m.epoch;
        if let Some((rgb, size)) = tile {
            w.add_image("pool/layer0/examples", &rgb, &[3, size, size], step);
        }
        w.add_scalar("epoch/train_loss", m.train_loss as f32, step);
        w.add_scalar("epoch/train_error", m.train_error as f32, step);
        w.add_scalar("epoch/test_error", m.test_error as f32, step);
        if let Some(v) = m.validation_error {
            w.add_scalar("epoch/validation_error", v as f32, step);
        }
        w.add_scalar("epoch/learning_rate", m.learning_rate as f32, step);
        w.add_scalar("epoch/examples_per_second", m.examples_per_second as f32, step);
        for p in &m.pools {
            let tag = |name: &str| format!("pool/layer{}/{name}", p.layer);
            w.add_scalar(&tag("fill"), p.fill as f32, step);
            w.add_scalar(&tag("mean_age"), p.mean_age as f32, step);
            w.add_scalar(&tag("mean_staleness"), p.mean_staleness as f32, step);
            w.add_scalar(&tag("max_staleness"), p.max_staleness as f32, step);
            w.add_scalar(&tag("success_rate"), p.success_rate as f32, step);
            w.add_scalar(&tag("distortion"), p.mean_distortion as f32, step);
            w.add_scalar(&tag("refresh_per_step"), p.refresh_per_step as f32, step);
            w.add_scalar(&tag("attack_examples_per_second"), p.attack_examples_per_second as f32, step);
            if p.renewed > 0 {
                w.add_scalar(&tag("renewed"), p.renewed as f32, step);
            }
        }
        if let Some(b) = &m.bank {
            w.add_scalar("bank/fill", b.fill as f32, step);
            w.add_scalar("bank/wrong_before", b.wrong_before as f32, step);
            w.add_scalar("bank/wrong_after", b.wrong_after as f32, step);
            w.add_scalar("bank/mean_age", b.mean_age as f32, step);
            w.add_scalar("bank/distortion", b.mean_distortion as f32, step);
            if b.attacked > 0 {
                w.add_scalar("bank/deepened", b.deepened as f32, step);
            }
        }
        for (k, bound) in m.lipschitz.iter().enumerate() {
            w.add_scalar(&format!("lipschitz/layer{}", k + 1), *bound as f32, step);
        }
        if let Some(network) = m.lipschitz_network {
            w.add_scalar("lipschitz/network", network as f32, step);
        }
        w.flush();
        Ok(())
    }

    fn on_run_end(&mut self, _run: &RunInfo, _state: &TrainState<M>, _summary: &RunSummary) -> Result<(), HookError> {
        if let Some(mut w) = self.writer.take() {
            w.flush();
        }
        Ok(())
    }
}

/// Up to 16 square grayscale images with values in [0, 1], laid out 4 × 4 as one square RGB image
/// (interleaved, as tensorboard-rs wants it); `None` without images or for images that are not
/// square grayscale (colour pools are not drawn).
fn image_tile(images: &[&[f32]]) -> Option<(Vec<u8>, usize)> {
    let side = (images.first()?.len() as f64).sqrt() as usize;
    if side * side != images[0].len() {
        return None;
    }
    let size = 4 * side;
    let mut rgb = vec![0u8; size * size * 3];
    for (k, image) in images.iter().take(16).enumerate() {
        let (row0, col0) = ((k / 4) * side, (k % 4) * side);
        for y in 0..side {
            for x in 0..side {
                let v = (image[y * side + x].clamp(0.0, 1.0) * 255.0).round() as u8;
                let at = ((row0 + y) * size + col0 + x) * 3;
                rgb[at..at + 3].copy_from_slice(&[v, v, v]);
            }
        }
    }
    Some((rgb, size))
}
