//! The paper's Table 5 for any model: each layer's upper Lipschitz bound and the network's product.

use std::time::Instant;

use serde::Serialize;

use super::Error;
use super::conv::{Boundary, ConvGeometry, conv_bound};
use super::dense::dense_bound;
use super::spectral::Lanczos;
use crate::model::{Affine, AffineMap, Layered};
use crate::report::table::Table;

/// One layer's row.
#[derive(Debug, Clone, Serialize)]
pub struct LayerBound {
    /// 1 = the first layer.
    pub layer: usize,
    pub kind: String,
    /// The paper's notation: `in × k × k × out` for a convolution, `in × out` for a dense layer.
    pub size: String,
    /// A convolution's stride.
    pub stride: Option<usize>,
    /// The upper bound of the layer's affine map (convolution or matrix).
    pub bound: f64,
    /// The Lipschitz constant of what follows the affine map: nonlinearity times max-pooling.
    pub after: f64,
    pub seconds: f64,
}

/// A model's per-layer bounds and, when every layer was bounded, the network's.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkBounds {
    pub layers: Vec<LayerBound>,
    /// The network's bound, `Layered::network_bound` of the maps' (absent when only some layers were
    /// asked for).
    pub network: Option<f64>,
    pub seconds: f64,
}

impl NetworkBounds {
    pub fn table(&self) -> Table {
        Table {
            header: ["layer", "size", "stride", "upper bound", "after (σ/ReLU · pool)"].map(String::from).to_vec(),
            rows: self
                .layers
                .iter()
                .map(|l| {
                    vec![
                        format!("{} {}", l.kind, l.layer),
                        l.size.clone(),
                        l.stride.map_or("–".into(), |s| s.to_string()),
                        format!("{:.4}", l.bound),
                        format!("{}", l.after),
                    ]
                })
                .collect(),
        }
    }
}

/// The bounds of the affine maps of `layers` (1-based; empty: all) of `model`.
pub fn network_bounds(model: &dyn Layered, layers: &[usize], lanczos: &Lanczos) -> Result<NetworkBounds, Error> {
    let started = Instant::now();
    let maps = model.affine_maps().ok_or(Error::Model(crate::model::layered::Error::NoAffineMaps))?;
    let depth = model.depth();
    for &layer in layers {
        crate::model::layered::weighted(layer, depth)?;
    }
    let chosen: Vec<&AffineMap> = maps.iter().filter(|m| layers.is_empty() || layers.contains(&m.layer)).collect();
    let rows = chosen
        .iter()
        .map(|m| {
            let started = Instant::now();
            let bound = affine_bound(&m.map, lanczos)?;
            Ok(LayerBound {
                layer: m.layer,
                kind: m.map.kind().into(),
                size: m.map.size(),
                stride: m.map.stride(),
                bound,
                after: m.after,
                seconds: started.elapsed().as_secs_f64(),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let network = layers.is_empty().then(|| {
        let bounds: Vec<f64> = rows.iter().map(|r| r.bound).collect();
        model.network_bound(&maps, &bounds)
    });
    Ok(NetworkBounds { layers: rows, network, seconds: started.elapsed().as_secs_f64() })
}

/// The upper bound of one affine map's operator norm (zero padding, as burn's convolutions apply it).
pub fn affine_bound(map: &Affine, lanczos: &Lanczos) -> Result<f64, Error> {
    match map {
        Affine::Dense { weight } => Ok(dense_bound(&weight.clone().detach().inner(), lanczos)),
        Affine::Conv { weight, input: [_, h, w], stride, padding } => {
            let geometry =
                ConvGeometry { input: [*h, *w], stride: *stride, padding: *padding, boundary: Boundary::Zero };
            conv_bound(&weight.clone().detach().inner(), &geometry, lanczos)
        }
    }
}
