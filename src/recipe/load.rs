//! TOML text -> [`Recipe`]: unknown or ill-typed keys and absurd values are errors that name the
//! file, the line and the key's path; `base` recipes are merged in first (see [`super::base`]), then
//! `--set key=value` overrides a key before the recipe is read.

use std::path::Path;

use toml_edit::{DocumentMut, ImDocument, Item, Table, Value};

use super::base::{self, Source};
use super::pretrain::PretrainConfig;
use super::schema::Recipe;
use crate::bounds::PenaltyConfig;
use crate::model::{ModelSpec, zoo};
use crate::pool::PoolConfig;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: cannot read recipe: {reason}")]
    Read { path: String, reason: String },
    #[error("{origin}:{line}: {key}: {message}")]
    Key { origin: String, line: usize, key: String, message: String },
    #[error("{origin}: {key}: {message}")]
    KeyNoLine { origin: String, key: String, message: String },
    #[error("override {assignment}: {message}")]
    Set { assignment: String, message: String },
}

/// Reads the recipe at `path` (and the recipes its `base` names), applying `sets` (each
/// `dotted.key=value`, the value in TOML syntax or a bare string).
pub fn load(path: &Path, sets: &[String]) -> Result<Recipe, Error> {
    from_chain(&base::chain(Source::file(path)?)?, sets)
}

/// Parses recipe `text`; `origin` names it in errors.
pub fn parse(text: &str, origin: &str, sets: &[String]) -> Result<Recipe, Error> {
    from_chain(&base::chain(Source::text(text, origin)?)?, sets)
}

/// The recipe a chain of files ([`base::chain`]: the recipe first, then its bases) describes, with
/// `sets` applied. An error names the file and line that wrote the key: the first file in the chain
/// that has it.
pub fn from_chain(chain: &[Source], sets: &[String]) -> Result<Recipe, Error> {
    let recipe = &chain[0];
    let mut document = base::merged(chain)?;
    apply_sets(&mut document, sets)?;
    drop_inherited_attack_keys(chain, sets, &mut document);
    let text = document.to_string();
    let located = |key: String, message: String, offset: Option<usize>| -> Error {
        if let Some(assignment) = sets.iter().find(|s| s.split_once('=').is_some_and(|(k, _)| k.trim() == key)) {
            return Error::Set { assignment: assignment.clone(), message };
        }
        // One file: the merged text is that file's (with any --set), and serde's offset points into it.
        let written = match chain {
            [only] => offset.or_else(|| key_offset(&text, &key)).map(|at| (only, line_of(&text, at))),
            _ => chain.iter().find_map(|s| Some((s, line_of(&s.text, key_offset(&s.text, &key)?)))),
        };
        match written {
            Some((source, line)) => Error::Key { origin: source.origin.clone(), line, key, message },
            None => Error::KeyNoLine { origin: recipe.origin.clone(), key, message },
        }
    };
    let recipe: Recipe = serde_path_to_error::deserialize(toml::Deserializer::new(&text)).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        let key = if key == "." { "(recipe)".to_string() } else { key };
        located(key, one_line(inner.message()), inner.span().map(|s| s.start))
    })?;
    validate(&recipe).map_err(|(key, message)| located(key, message, None))?;
    Ok(recipe)
}

/// The recipe as TOML text, every default written out (what a run folder keeps as `recipe.toml`).
pub fn to_toml(recipe: &Recipe) -> String {
    toml::to_string(recipe).expect("a recipe always serialises")
}

/// The model the recipe describes, dropout included.
pub fn model_spec(recipe: &Recipe, input: [usize; 3], classes: usize) -> Option<ModelSpec> {
    let mut spec = zoo::spec(&recipe.model.arch, input, classes)?;
    for (layer, &p) in spec.layers.iter_mut().zip(&recipe.model.dropout) {
        layer.set_dropout(p);
    }
    Some(spec)
}

fn apply_sets(document: &mut DocumentMut, sets: &[String]) -> Result<(), Error> {
    for assignment in sets {
        let bad = |message: &str| Error::Set { assignment: assignment.clone(), message: message.into() };
        let (key, raw) = assignment.split_once('=').ok_or_else(|| bad("expected key=value"))?;
        let path: Vec<&str> = key.trim().split('.').collect();
        if path.iter().any(|p| p.is_empty()) {
            return Err(bad("empty key"));
        }
        if path == [base::KEY] {
            return Err(bad("a base is merged before overrides: name it in the recipe file"));
        }
        let raw = raw.trim();
        let value: Value = raw.parse().unwrap_or_else(|_| Value::from(raw));
        let (last, parents) = path.split_last().expect("split gives at least one part");
        let mut table: &mut Table = document.as_table_mut();
        for part in parents {
            let item = table.entry(part).or_insert_with(|| Item::Table(Table::new()));
            table = item.as_table_mut().ok_or_else(|| bad(&format!("{part} is not a table")))?;
        }
        table.insert(last, Item::Value(value));
    }
    Ok(())
}

/// A recipe (or a `--set`) that names a pool method of its own does not inherit the settings of the
/// method its base named: they would not apply. Another method's settings written beside `method`
/// itself stay, and the pools' config refuses them.
fn drop_inherited_attack_keys(chain: &[Source], sets: &[String], document: &mut DocumentMut) {
    let set_keys: Vec<&str> = sets.iter().filter_map(|s| s.split_once('=')).map(|(k, _)| k.trim()).collect();
    // The files that may give the method's settings: those from the one that names the method on
    // (more derived ones included); none when a --set names it.
    let writers = if set_keys.contains(&"adversarial.method") {
        0
    } else {
        match chain.iter().position(|s| s.writes(&["adversarial", "method"])) {
            Some(i) => i + 1,
            None => return,
        }
    };
    let Some(table) = document.get_mut("adversarial").and_then(Item::as_table_like_mut) else { return };
    let Some(own) = table.get("method").and_then(Item::as_str).and_then(super::pool_keys::keys_of) else { return };
    for key in super::pool_keys::KEYS.into_iter().filter(|k| !own.contains(k)) {
        let given = set_keys.contains(&format!("adversarial.{key}").as_str())
            || chain[..writers].iter().any(|s| s.writes(&["adversarial", key]));
        if !given {
            table.remove(key);
        }
    }
}

/// A parser message on one line.
pub(super) fn one_line(message: &str) -> String {
    message.trim().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

/// 1-based line of byte `offset` in `text`.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Byte offset of the dotted `key`'s value (or its table) in `text`, if it is written there.
fn key_offset(text: &str, key: &str) -> Option<usize> {
    let doc = ImDocument::parse(text).ok()?;
    let mut item: &Item = doc.as_item();
    let mut span = None;
    for part in key.split('.') {
        let next = match item {
            Item::Table(t) => t.get(part)?,
            Item::Value(Value::InlineTable(t)) => t.get(part).map(|_| &item[part])?,
            Item::Value(Value::Array(a)) => {
                let v = a.get(part.parse().ok()?)?;
                return v.span().map(|s| s.start).or(span);
            }
            _ => return span,
        };
        item = next;
        span = item.span().map(|s| s.start).or(span);
    }
    span
}

/// Checks what types alone cannot: returns the offending key and why.
fn validate(r: &Recipe) -> Result<(), (String, String)> {
    fn check(ok: bool, key: &'static str, message: impl FnOnce() -> String) -> Result<(), (String, String)> {
        if ok { Ok(()) } else { Err((key.into(), message())) }
    }
    let name_ok = !r.name.is_empty()
        && r.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !r.name.starts_with('.');
    check(name_ok, "name", || format!("{:?} is not a run name: use letters, digits, '-', '_' and '.'", r.name))?;
    let spec = zoo::spec(&r.model.arch, r.data.dataset.image_shape(), r.data.dataset.classes());
    check(spec.is_some(), "model.arch", || {
        format!("unknown architecture {:?}: expected one of {}", r.model.arch, zoo::names())
    })?;
    let layers = spec.map_or(0, |s| s.layers.len());
    check(r.model.dropout.is_empty() || r.model.dropout.len() == layers, "model.dropout", || {
        format!("{} has {layers} layers but dropout lists {} probabilities", r.model.arch, r.model.dropout.len())
    })?;
    check(r.model.dropout.iter().all(|p| (0.0..1.0).contains(p)), "model.dropout", || {
        "every dropout probability must be in [0, 1)".into()
    })?;
    let section = |name: &'static str| move |e: crate::config::Invalid| (format!("{name}.{}", e.field), e.message);
    r.optimizer.check().map_err(section("optimizer"))?;
    r.train.check().map_err(section("train"))?;
    validate_sizes(r)?;
    r.output.check().map_err(section("output"))?;
    if let Some(p) = &r.pretrain {
        validate_pretrain(p, r)?;
    }
    if let Some(a) = &r.adversarial {
        validate_adversarial(a, layers)?;
        check(a.warmup_epochs < r.train.epochs, "adversarial.warmup_epochs", || {
            format!(
                "{} is not below train.epochs = {}: the pools would be filled and never used",
                a.warmup_epochs, r.train.epochs
            )
        })?;
    }
    if let Some(f) = &r.fresh {
        f.check().map_err(section("fresh"))?;
        check(f.ramp_epochs <= r.train.epochs as f64, "fresh.ramp_epochs", || {
            format!("{} is more than train.epochs = {}: ε would never be reached", f.ramp_epochs, r.train.epochs)
        })?;
    }
    if let Some(b) = &r.bank {
        b.check(r.train.epochs).map_err(section("bank"))?;
        check(r.fresh.is_none(), "bank", || {
            "a bank and [fresh] both replace the batch's rows: keep one of the two sections".into()
        })?;
    }
    if let Some(c) = &r.certified {
        c.check(r.train.epochs).map_err(section("certified"))?;
    }
    if let Some(l) = &r.lipschitz {
        validate_lipschitz(l, layers)?;
    }
    Ok(())
}

/// The training images the recipe's split leaves (the published set's size: a data folder of
/// another size is checked again when the run starts), against the hold-out, the subset and the
/// batch.
fn validate_sizes(r: &Recipe) -> Result<(), (String, String)> {
    let d = &r.data;
    let split = d.split.of(d.dataset.training_images());
    let named = format!("{}'s {:?} split", d.dataset, d.split).to_lowercase();
    if d.validation >= split {
        return Err((
            "data.validation".into(),
            format!("{} leaves none of the {split} images of {named}", d.validation),
        ));
    }
    let held = split - d.validation;
    if d.subset > held {
        return Err((
            "data.subset".into(),
            format!(
                "{} is more than the {held} images it is taken from ({named}, {} held out for validation)",
                d.subset, d.validation
            ),
        ));
    }
    let train = if d.subset > 0 { d.subset } else { held };
    if r.train.batch_size > train {
        return Err((
            "train.batch_size".into(),
            format!(
                "{} is larger than the run's {train} training images: every epoch would be one smaller batch",
                r.train.batch_size
            ),
        ));
    }
    Ok(())
}

fn validate_lipschitz(l: &PenaltyConfig, layers: usize) -> Result<(), (String, String)> {
    l.check().map_err(|e| (format!("lipschitz.{}", e.field), e.message))?;
    l.check_layers(layers).map_err(|e| ("lipschitz.layers".into(), e.to_string()))
}

fn validate_adversarial(a: &PoolConfig, layers: usize) -> Result<(), (String, String)> {
    a.check().map_err(|e| (format!("adversarial.{}", e.field), e.message))?;
    a.check_layers(layers).map_err(|e| ("adversarial.layers".into(), e.to_string()))
}

fn validate_pretrain(p: &PretrainConfig, r: &Recipe) -> Result<(), (String, String)> {
    let first_is_sigmoid_dense = zoo::spec(&r.model.arch, r.data.dataset.image_shape(), r.data.dataset.classes())
        .is_some_and(|s| {
            s.layers.len() == 2
                && matches!(
                    s.layers[0],
                    crate::model::LayerSpec::Dense { nonlinearity: crate::model::Nonlinearity::Sigmoid, .. }
                )
        });
    let err = |key: &str, message: String| Err((key.to_string(), message));
    if !first_is_sigmoid_dense {
        return err(
            "pretrain",
            format!(
                "autoencoder pretraining needs a one-hidden-layer sigmoid model such as ae400-10, not {}",
                r.model.arch
            ),
        );
    }
    p.check().map_err(|e| (format!("pretrain.{}", e.field), e.message))?;
    Ok(())
}
