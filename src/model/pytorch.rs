//! Weights in PyTorch's naming, as safetensors files (through burn-store). A model's PyTorch twin is
//! the `nn.Sequential` a PyTorch user writes for the same layers, in order: for each layer
//! `[nn.Dropout(p)]` if it has dropout, `nn.Linear` (after an `nn.Flatten` when a dense layer follows
//! a convolution) or `nn.Conv2d`, then `nn.Sigmoid` / `nn.ReLU` unless it is the output layer, then
//! `nn.MaxPool2d` if it pools. Parameters are named `<index in the Sequential>.weight` / `.bias`;
//! linear weights are `[out, in]` as in PyTorch.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};

use super::layer::{LayerSpec, Nonlinearity};
use super::stack::{ModelSpec, Stack};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: cannot write safetensors: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("{path}: cannot read safetensors: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}: does not hold a {arch}: {reason}")]
    Mismatch { path: PathBuf, arch: String, reason: String },
    #[error("{path}: {count} weights are NaN or infinite: refused (a model with them answers NaN)")]
    NonFinite { path: PathBuf, count: usize },
}

/// For each layer: its module path in a [`Stack`] (`layers.k.linear` / `layers.k.conv`) and its
/// index in the PyTorch `nn.Sequential`.
pub fn sequential_indices(spec: &ModelSpec) -> Vec<(String, usize)> {
    let mut index = 0;
    let mut after_conv = false;
    let last = spec.layers.len().saturating_sub(1);
    spec.layers
        .iter()
        .enumerate()
        .map(|(k, layer)| {
            if layer.dropout() > 0.0 {
                index += 1;
            }
            let (path, pool) = match layer {
                LayerSpec::Dense { .. } => {
                    if after_conv {
                        index += 1; // nn.Flatten
                        after_conv = false;
                    }
                    (format!("layers.{k}.linear"), false)
                }
                LayerSpec::Conv { pool, .. } => {
                    after_conv = true;
                    (format!("layers.{k}.conv"), pool.is_some())
                }
            };
            let at = index;
            index += 1;
            if k != last && layer.nonlinearity() != Nonlinearity::Identity {
                index += 1;
            }
            if pool {
                index += 1;
            }
            (path, at)
        })
        .collect()
}

/// Writes `model`'s weights to `path` in PyTorch's naming.
pub fn export(model: &Stack, spec: &ModelSpec, path: &Path) -> Result<(), Error> {
    let mut store = SafetensorsStore::from_file(path)
        .overwrite(true)
        .skip_enum_variants(true)
        .with_to_adapter(BurnToPyTorchAdapter)
        .metadata("arch", spec.arch.clone());
    for (ours, index) in sequential_indices(spec) {
        store = store.with_key_remapping(format!(r"^{}\.(weight|bias)$", regex_escape(&ours)), format!("{index}.$1"));
    }
    model.save_into(&mut store).map_err(|e| Error::Write { path: path.to_path_buf(), reason: e.to_string() })
}

/// Reads a model of architecture `spec` from PyTorch weights at `path`.
pub fn import(path: &Path, spec: &ModelSpec, device: &Device) -> Result<Stack, Error> {
    if !path.is_file() {
        return Err(Error::Read { path: path.to_path_buf(), reason: "no such file".into() });
    }
    let mut store = SafetensorsStore::from_file(path).skip_enum_variants(true).with_from_adapter(PyTorchToBurnAdapter);
    for (ours, index) in sequential_indices(spec) {
        store = store.with_key_remapping(format!(r"^{index}\.(weight|bias)$"), format!("{ours}.$1"));
    }
    let mut model = spec.init(device);
    let mismatch = |reason: String| Error::Mismatch { path: path.to_path_buf(), arch: spec.arch.clone(), reason };
    let result = model
        .load_from(&mut store)
        .map_err(|e| mismatch(e.to_string().lines().next().unwrap_or_default().to_string()))?;
    if !result.missing.is_empty() {
        let names: Vec<&str> = result.missing.iter().map(|(p, _)| p.as_str()).collect();
        return Err(mismatch(format!("missing {}", names.join(", "))));
    }
    if !result.unused.is_empty() {
        return Err(mismatch(format!("unexpected tensors {}", result.unused.join(", "))));
    }
    match super::non_finite_weights(&model) {
        0 => Ok(model),
        count => Err(Error::NonFinite { path: path.to_path_buf(), count }),
    }
}

fn regex_escape(s: &str) -> String {
    s.replace('.', r"\.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::zoo;

    #[test]
    fn sequential_indices_follow_pytorch_naming() {
        let fc = zoo::spec("fc100-100-10", [1, 28, 28], 10).unwrap();
        let idx: Vec<usize> = sequential_indices(&fc).into_iter().map(|(_, i)| i).collect();
        assert_eq!(idx, vec![0, 2, 4]); // Linear, Sigmoid, Linear, Sigmoid, Linear
        let conv = zoo::spec("convnet", [1, 28, 28], 10).unwrap();
        let idx: Vec<usize> = sequential_indices(&conv).into_iter().map(|(_, i)| i).collect();
        // Conv, ReLU, Pool, Conv, ReLU, Pool, Flatten, Linear, ReLU, Linear
        assert_eq!(idx, vec![0, 3, 7, 9]);
        let mut dropped = fc.clone();
        for l in &mut dropped.layers {
            l.set_dropout(0.5);
        }
        let idx: Vec<usize> = sequential_indices(&dropped).into_iter().map(|(_, i)| i).collect();
        assert_eq!(idx, vec![1, 4, 7]); // Dropout, Linear, Sigmoid, ...
    }
}
