//! A model's certified accuracy on images at each radius.

use std::time::Instant;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::interval::certified_linf;
use super::lipschitz::PairBounds;
use super::{CertifyConfig, Error};
use crate::attack::Norm;
use crate::data::{DeviceImages, Images};
use crate::model::Layered;

/// What `certify` proved at every radius asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Certification {
    pub norm: Norm,
    pub examples: usize,
    pub clean_accuracy: f64,
    /// L2: the proven upper bound on the Lipschitz constant of the logits.
    pub lipschitz: Option<f64>,
    pub radii: Vec<Certified>,
    pub seconds: f64,
}

/// One radius.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Certified {
    pub epsilon: f64,
    /// Share of all examples certified (each is also classified right).
    pub certified_accuracy: f64,
    /// The certified examples (indices into the images, ascending).
    pub certified: Vec<usize>,
    pub seconds: f64,
}

/// Certifies `model` on `images` at each of `config`'s radii.
pub fn certify(
    model: &dyn Layered,
    images: &Images,
    config: &CertifyConfig,
    device: &Device,
) -> Result<Certification, Error> {
    config.check()?;
    if images.is_empty() {
        return Err(Error::NoImages);
    }
    let started = Instant::now();
    let set = DeviceImages::new(images, device);
    let all: Vec<usize> = (0..images.len()).collect();
    let chunks: Vec<&[usize]> = all.chunks(config.batch).collect();
    let mut correct = 0;
    let mut logits = Vec::new();
    for chunk in &chunks {
        let batch = set.batch(chunk);
        let z = crate::model::finite(model.forward(batch.inputs))?;
        let predicted: Vec<i64> = z.clone().argmax(1).into_data().iter::<i64>().collect();
        correct += chunk.iter().zip(predicted).filter(|(i, p)| *p == images.labels[**i] as i64).count();
        logits.push(z);
    }
    let labels_of = |chunk: &[usize]| chunk.iter().map(|&i| images.labels[i]).collect::<Vec<u8>>();
    let (lipschitz, radii) = match config.norm {
        Norm::L2 => {
            let begun = Instant::now();
            let pairs = PairBounds::of(model, &config.lanczos)?;
            let radius: Vec<f64> =
                chunks.iter().zip(logits).flat_map(|(chunk, z)| pairs.radii(z, &labels_of(chunk))).collect();
            let bound_seconds = begun.elapsed().as_secs_f64();
            let radii = config
                .epsilons
                .iter()
                .map(|&epsilon| certified(epsilon, radius.iter().map(|&r| r > epsilon), bound_seconds))
                .collect();
            (Some(pairs.network), radii)
        }
        Norm::Linf => {
            let mut radii = Vec::new();
            for &epsilon in &config.epsilons {
                let begun = Instant::now();
                let mut proven = Vec::with_capacity(images.len());
                for chunk in &chunks {
                    proven.extend(certified_linf(model, set.batch(chunk).inputs, &labels_of(chunk), epsilon)?);
                }
                radii.push(certified(epsilon, proven.into_iter(), begun.elapsed().as_secs_f64()));
            }
            (None, radii)
        }
    };
    let n = images.len() as f64;
    Ok(Certification {
        norm: config.norm,
        examples: images.len(),
        clean_accuracy: correct as f64 / n,
        lipschitz,
        radii,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The radius's figures from one verdict per example.
fn certified(epsilon: f64, proven: impl ExactSizeIterator<Item = bool>, seconds: f64) -> Certified {
    let n = proven.len().max(1) as f64;
    let certified: Vec<usize> = proven.enumerate().filter(|(_, p)| *p).map(|(i, _)| i).collect();
    Certified { epsilon, certified_accuracy: certified.len() as f64 / n, certified, seconds }
}
