//! Models from elsewhere: a checkpoint from PyTorch weights of a paper architecture, and a
//! checkpoint's weights for PyTorch (safetensors, `nn.Sequential` naming: see `model::pytorch`).

use std::path::{Path, PathBuf};

use burn::prelude::*;

use crate::data::DatasetName;
use crate::model::{pytorch, zoo};
use crate::recipe::{self, Recipe};
use crate::train::checkpoint::{RECIPE_FILE, SavedState};
use crate::train::{Checkpoint, optimizer};

/// Writes the weights of the checkpoint at `checkpoint` to `file`.
pub fn export(checkpoint: &Path, file: &Path, device: &Device) -> Result<(), crate::Error> {
    let (_, spec, model) = super::saved::checkpoint_model(&Checkpoint::open(checkpoint)?, device)?;
    pytorch::export(&model, &spec, file)?;
    Ok(())
}

/// Makes the run folder `<output>/<name>` from PyTorch weights of architecture `arch` for MNIST: a checkpoint
/// at epoch 0 whose recipe records where the weights came from. Returns the run folder.
pub fn import(file: &Path, arch: &str, name: &str, output: &Path, device: &Device) -> Result<PathBuf, crate::Error> {
    let mnist = DatasetName::Mnist;
    let spec = zoo::spec(arch, mnist.image_shape(), mnist.classes())
        .ok_or_else(|| crate::Error::UnknownArch { name: arch.to_string() })?;
    let model = pytorch::import(file, &spec, device)?;
    let text = format!(
        "name = {name:?}\ndescription = {:?}\n[model]\narch = {arch:?}\n[optimizer]\nkind = \"sgd\"\nlearning_rate = 0.1\n[train]\nepochs = 1\nbatch_size = 128\n[output]\ndir = {:?}\n",
        format!("imported from {}", file.display()),
        output.display().to_string()
    );
    let recipe: Recipe = recipe::parse(&text, "imported recipe", &[])?;
    let run_dir = recipe::run_dir(&recipe);
    std::fs::create_dir_all(&run_dir)
        .map_err(|e| crate::Error::Io { path: run_dir.display().to_string(), reason: e.to_string() })?;
    let state = SavedState { name: recipe.name.clone(), epoch: 0, step: 0, seed: recipe.seed, history: Vec::new() };
    let files = [(RECIPE_FILE.to_string(), recipe::to_toml(&recipe))];
    Checkpoint::save(&run_dir, &files, &model, None, &optimizer::build(&recipe.optimizer), &state)?;
    Ok(run_dir)
}
