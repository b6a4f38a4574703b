//! The paper's Table 5 for any model: each layer's upper Lipschitz bound and the network's product.

use std::time::Instant;

use serde::Serialize;

use super::Error;
use super::conv::{Boundary, ConvGeometry, conv_bound};
use super::dense::dense_bound;
use super::spectral::Lanczos;
use crate::model::{Layer, LayerSpec, ModelSpec, Stack};
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
    pub arch: String,
    pub input: [usize; 3],
    pub layers: Vec<LayerBound>,
    /// The product over all layers of bound × after (absent when only some layers were asked for).
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

/// The bounds of `layers` (1-based; empty: all) of `model`, whose architecture is `spec`.
pub fn network_bounds(
    spec: &ModelSpec,
    model: &Stack,
    layers: &[usize],
    lanczos: &Lanczos,
) -> Result<NetworkBounds, Error> {
    let started = Instant::now();
    let depth = spec.layers.len();
    if let Some(&layer) = layers.iter().find(|&&k| k == 0 || k > depth) {
        return Err(Error::NoLayer { arch: spec.arch.clone(), layer, depth });
    }
    let chosen: Vec<usize> = if layers.is_empty() { (1..=depth).collect() } else { layers.to_vec() };
    let rows = chosen
        .iter()
        .map(|&k| {
            let started = Instant::now();
            let (layer_spec, layer) = (&spec.layers[k - 1], &model.layers[k - 1]);
            let bound = layer_bound(layer_spec, layer, lanczos)?;
            Ok(LayerBound {
                layer: k,
                kind: kind(layer_spec).into(),
                size: size(layer_spec),
                stride: match layer_spec {
                    LayerSpec::Conv { stride, .. } => Some(*stride),
                    LayerSpec::Dense { .. } => None,
                },
                bound,
                after: after(layer_spec),
                seconds: started.elapsed().as_secs_f64(),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let network = layers.is_empty().then(|| rows.iter().map(|r| r.bound * r.after).product());
    Ok(NetworkBounds {
        arch: spec.arch.clone(),
        input: spec.input,
        layers: rows,
        network,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The upper bound of one layer's affine map (zero padding, as the models apply it).
pub fn layer_bound(spec: &LayerSpec, layer: &Layer, lanczos: &Lanczos) -> Result<f64, Error> {
    match (spec, layer) {
        (LayerSpec::Dense { .. }, Layer::Dense(d)) => Ok(dense_bound(&d.linear.weight.val(), lanczos)),
        (LayerSpec::Conv { input: [_, h, w], stride, padding, .. }, Layer::Conv(c)) => {
            let geometry =
                ConvGeometry { input: [*h, *w], stride: *stride, padding: *padding, boundary: Boundary::Zero };
            conv_bound(&c.conv.weight.val(), &geometry, lanczos)
        }
        _ => Err(Error::Geometry("the model's layers do not match its architecture".into())),
    }
}

fn kind(spec: &LayerSpec) -> &'static str {
    match spec {
        LayerSpec::Dense { .. } => "dense",
        LayerSpec::Conv { .. } => "conv",
    }
}

fn size(spec: &LayerSpec) -> String {
    match spec {
        LayerSpec::Dense { inputs, outputs, .. } => format!("{inputs} × {outputs}"),
        LayerSpec::Conv { input, channels, kernel, .. } => format!("{} × {kernel} × {kernel} × {channels}", input[0]),
    }
}

/// The Lipschitz constant (L2) of a layer's nonlinearity and max-pooling. Max-pooling with windows
/// of k and stride s is 1 only without overlap: an input in m = ⌈k/s⌉ windows per axis can move m²
/// outputs, so its constant is m (the paper counts 1).
pub fn after(spec: &LayerSpec) -> f64 {
    let pool = match spec {
        LayerSpec::Conv { pool: Some([k, s]), .. } => k.div_ceil(*s).max(1) as f64,
        _ => 1.0,
    };
    f64::from(spec.nonlinearity().lipschitz()) * pool
}
