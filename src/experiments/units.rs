//! The paper's first property (section 3): the test images that maximise a single unit of a layer
//! look as semantically alike as those that maximise a random direction of the same layer.
//! Measured, not eyeballed: for each unit and each random direction, the share of its top images
//! that carry their majority label ("purity").

use burn::prelude::*;
use burn::tensor::Distribution;
use rand::SeedableRng;
use rand::seq::index::sample;
use serde::{Deserialize, Serialize};

use super::loaded::{ImageSet, LoadedModel};
use crate::data::{DeviceImages, Images};
use crate::model::Layered;
use crate::report::grid::{Cell, Figure};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Units are the outputs of the hidden layers, 1 to the one below the logits.
    #[error(transparent)]
    Layer(#[from] crate::model::layered::Error),
    #[error("the top {top} images asked for, but there are {available} test images")]
    Top { top: usize, available: usize },
}

#[derive(Debug, Clone)]
pub struct UnitsOptions {
    pub layer: usize,
    /// How many units and how many random directions.
    pub directions: usize,
    /// Images kept per unit or direction.
    pub top: usize,
    pub seed: u64,
}

/// One unit or random direction and the test images that maximise its projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Direction {
    /// "unit" (a natural basis vector) or "random".
    pub kind: String,
    /// The unit's index, or the random direction's number.
    pub index: usize,
    /// Indices into the test set, largest projection first.
    pub images: Vec<usize>,
    pub labels: Vec<u8>,
    pub majority: u8,
    /// Share of the top images that carry the majority label.
    pub purity: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitsReport {
    pub model: String,
    pub layer: usize,
    pub width: usize,
    pub units: Vec<Direction>,
    pub directions: Vec<Direction>,
    pub mean_unit_purity: f64,
    pub mean_direction_purity: f64,
}

fn direction(kind: &str, index: usize, scores: &[f32], images: &Images, top: usize) -> Direction {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order.truncate(top);
    let labels: Vec<u8> = order.iter().map(|&i| images.labels[i]).collect();
    let mut counts = [0usize; 256];
    for &l in &labels {
        counts[l as usize] += 1;
    }
    let (majority, count) =
        counts.iter().enumerate().max_by_key(|(_, c)| **c).map(|(l, c)| (l as u8, *c)).unwrap_or((0, 0));
    Direction { kind: kind.into(), index, images: order, labels, majority, purity: count as f64 / top.max(1) as f64 }
}

/// Measures `options.directions` units and as many random directions of layer `options.layer`.
pub fn units<M: Layered>(
    loaded: &LoadedModel<M>,
    options: &UnitsOptions,
    device: &Device,
) -> Result<UnitsReport, Error> {
    let depth = loaded.model.depth();
    crate::model::layered::within(options.layer, 1, depth.saturating_sub(1))?;
    let images = loaded.images(ImageSet::Test);
    if options.top > images.len() {
        return Err(Error::Top { top: options.top, available: images.len() });
    }
    let set = DeviceImages::new(images, device);
    let activations =
        Tensor::cat(set.in_order(1000).map(|b| loaded.model.activation(options.layer, b.inputs)).collect(), 0);
    let width = activations.dims()[1];
    let count = options.directions.min(width);
    let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed);
    let mut chosen: Vec<usize> = sample(&mut rng, width, count).into_vec();
    chosen.sort_unstable();
    device.seed(options.seed);
    let random = Tensor::<2>::random([width, options.directions], Distribution::Normal(0.0, 1.0), device);
    let random = random.clone() / random.square().sum_dim(0).sqrt();
    let projections: Vec<f32> = activations.clone().matmul(random).into_data().iter::<f32>().collect();
    let acts: Vec<f32> = activations.into_data().iter::<f32>().collect();
    let n = images.len();
    let unit_rows: Vec<Direction> = chosen
        .iter()
        .map(|&u| direction("unit", u, &(0..n).map(|i| acts[i * width + u]).collect::<Vec<_>>(), images, options.top))
        .collect();
    let direction_rows: Vec<Direction> = (0..options.directions)
        .map(|d| {
            direction(
                "random",
                d,
                &(0..n).map(|i| projections[i * options.directions + d]).collect::<Vec<_>>(),
                images,
                options.top,
            )
        })
        .collect();
    let mean = |rows: &[Direction]| rows.iter().map(|r| r.purity).sum::<f64>() / rows.len().max(1) as f64;
    Ok(UnitsReport {
        model: loaded.name.to_string(),
        layer: options.layer,
        width,
        mean_unit_purity: mean(&unit_rows),
        mean_direction_purity: mean(&direction_rows),
        units: unit_rows,
        directions: direction_rows,
    })
}

/// The image grid: one row per unit, then one per random direction (each row labelled), top
/// images left to right, each captioned with its label; a row's label gives the share of its
/// images that carry the majority label.
pub fn figure(report: &UnitsReport, images: &Images, title: String) -> Figure {
    let directions: Vec<&Direction> = report.units.iter().chain(&report.directions).collect();
    let rows = directions
        .iter()
        .map(|d| {
            d.images.iter().map(|&i| Cell::image(images.shape, images.image(i), images.labels[i].to_string())).collect()
        })
        .collect();
    let row_labels = directions
        .iter()
        .map(|d| {
            let kind = if d.kind == "unit" { "unit" } else { "direction" };
            format!("{kind} {} ({:.0}%)", d.index, 100.0 * d.purity)
        })
        .collect();
    Figure { title, columns: Vec::new(), row_labels, rows, scale: 2 }
}
