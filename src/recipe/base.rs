//! `base = "other.toml"`: a recipe that starts from another recipe and changes a few keys. The files
//! form a chain (the recipe, its base, the base's base, ...), merged table by table into one TOML
//! document: a key the recipe writes replaces the base's, a table it writes (inline or not) merges into
//! the base's table, an array replaces the whole array.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, TableLike};

use super::load::{Error, line_of, one_line};

/// The key that names a recipe's base.
pub const KEY: &str = "base";

/// More bases than this is surely a mistake (a cycle is caught before).
const MAX_DEPTH: usize = 16;

/// One recipe file: its text, parsed once, and where it came from.
#[derive(Debug)]
pub struct Source {
    /// How errors name it: the path as given, or what the caller called the text.
    pub origin: String,
    pub text: String,
    document: DocumentMut,
    /// The folder its `base` is relative to; `None` for a text that is not a file.
    dir: Option<PathBuf>,
    /// The file, canonical, to catch cycles.
    file: Option<PathBuf>,
}

impl Source {
    /// The recipe file at `path`.
    pub fn file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Read { path: path.display().to_string(), reason: e.to_string() })?;
        let mut source = Self::text(&text, &path.display().to_string())?;
        source.dir = Some(path.parent().unwrap_or(Path::new("")).to_path_buf());
        source.file = path.canonicalize().ok();
        Ok(source)
    }

    /// A recipe given as text (it cannot name a base: there is no folder to find it in). A syntax
    /// error names `origin` and the line.
    pub fn text(text: &str, origin: &str) -> Result<Self, Error> {
        let document = text.parse().map_err(|e: toml_edit::TomlError| Error::Key {
            origin: origin.into(),
            line: line_of(text, e.span().map_or(0, |s| s.start)),
            key: "(syntax)".into(),
            message: one_line(e.message()),
        })?;
        Ok(Self { origin: origin.into(), text: text.into(), document, dir: None, file: None })
    }
}

/// `first` and the bases it names, in order: the recipe itself first, its deepest base last.
pub fn chain(first: Source) -> Result<Vec<Source>, Error> {
    let mut chain = vec![first];
    loop {
        let child = chain.last().expect("the chain starts with the recipe");
        let Some(item) = child.document.get(KEY) else { return Ok(chain) };
        let line = item.span().map_or(1, |s| line_of(&child.text, s.start));
        let bad = |message: String| Error::Key { origin: child.origin.clone(), line, key: KEY.into(), message };
        let name =
            item.as_str().ok_or_else(|| bad("expected the path of another recipe, e.g. \"convnet.toml\"".into()))?;
        let dir = child.dir.as_ref().ok_or_else(|| bad("only a recipe file can name a base".into()))?;
        let path = dir.join(name);
        let base = Source::file(&path).map_err(|e| match e {
            Error::Read { path, reason } => bad(format!("cannot read {path}: {reason}")),
            other => other,
        })?;
        if base.file.is_some() && chain.iter().any(|s| s.file == base.file) {
            let names: Vec<&str> = chain.iter().map(|s| s.origin.as_str()).collect();
            return Err(bad(format!("{} -> {} is a cycle", names.join(" -> "), path.display())));
        }
        if chain.len() > MAX_DEPTH {
            return Err(bad(format!("more than {MAX_DEPTH} bases")));
        }
        chain.push(base);
    }
}

/// The chain's recipes merged into one TOML document, without the `base` key.
impl Source {
    /// Whether this file itself writes the key at `path` (e.g. `["adversarial", "method"]`).
    pub(super) fn writes(&self, path: &[&str]) -> bool {
        let mut item = self.document.as_item();
        for part in path {
            match item.as_table_like().and_then(|t| t.get(part)) {
                Some(next) => item = next,
                None => return false,
            }
        }
        true
    }
}

pub fn merged(chain: &[Source]) -> Result<DocumentMut, Error> {
    let (deepest, children) = chain.split_last().expect("a chain has at least the recipe");
    if let Some(recipe) = children.first()
        && recipe.document.get("name").is_none()
    {
        let message =
            format!("a recipe with a base needs a name of its own, or it shares {}'s run folder", chain[1].origin);
        return Err(Error::KeyNoLine { origin: recipe.origin.clone(), key: "name".into(), message });
    }
    let mut document = deepest.document.clone();
    for child in children.iter().rev() {
        overlay(document.as_table_mut(), child.document.as_table());
    }
    if !children.is_empty() {
        document.remove(KEY);
    }
    Ok(document)
}

/// Writes `from`'s keys into `into`: tables (inline ones too) merge key by key, anything else is
/// replaced.
fn overlay(into: &mut dyn TableLike, from: &dyn TableLike) {
    for (key, item) in from.iter() {
        match (into.get_mut(key).and_then(Item::as_table_like_mut), item.as_table_like()) {
            (Some(old), Some(new)) => overlay(old, new),
            _ => {
                into.insert(key, item.clone());
            }
        }
    }
}
