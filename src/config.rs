//! What every room's config check reports: the field at fault and why. The recipe reader adds the
//! section and the file's line; a library user sees `field: message`.

/// A config field with a value its room cannot use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    /// The field's name inside its config (`weight`, `epsilon`).
    pub field: &'static str,
    pub message: String,
}

/// `Ok` when `ok`, else the field and the message `message()` writes.
pub fn ensure(ok: bool, field: &'static str, message: impl FnOnce() -> String) -> Result<(), Invalid> {
    if ok { Ok(()) } else { Err(Invalid { field, message: message() }) }
}

/// Checks that a count is at least 1.
pub fn at_least_one(value: usize, field: &'static str) -> Result<(), Invalid> {
    ensure(value > 0, field, || "must be at least 1".into())
}

/// Checks an L∞ radius around input images: pixels lie in [0, 1], so a radius of 1 already frees
/// every pixel and a larger one means nothing more.
pub fn pixel_radius(value: f64, field: &'static str) -> Result<(), Invalid> {
    ensure(value.is_finite() && value > 0.0 && value <= 1.0, field, || {
        format!("{value} is not an L∞ radius in (0, 1] (pixels lie in [0, 1]; at 1 every pixel is free)")
    })
}

/// A radius `epsilon` grown linearly from 0 over `ramp_epochs` epochs of `steps_per_epoch` steps,
/// after `step` steps (`epsilon` itself once the ramp is over, or without one).
pub fn ramped(epsilon: f64, ramp_epochs: f64, step: u64, steps_per_epoch: usize) -> f64 {
    let ramp = ramp_epochs * steps_per_epoch as f64;
    if ramp <= 0.0 { epsilon } else { epsilon * ((step + 1) as f64 / ramp).min(1.0) }
}
