//! The project's text describes the project as it is: README stays a guide of at most 350 lines,
//! every page it links exists, the figures the pages show exist and stay small, and no file narrates
//! the project's own work periods.

mod common;

use std::path::Path;

use common::repo;

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("md" | "rs" | "toml" | "sh" | "py")) {
            out.push(path);
        }
    }
}

#[test]
fn no_text_narrates_past_work_periods() {
    let mut all = vec![repo().join("README.md")];
    for dir in ["docs", "recipes", "src", "tests", "scripts", "benches", "examples"] {
        files(&repo().join(dir), &mut all);
    }
    // Built from pieces so that this file does not match itself.
    let period = ["ses", "sion "].concat();
    let shipped = ["as shipped", " now"].concat();
    for path in all {
        let text = std::fs::read_to_string(&path).unwrap().to_lowercase();
        for (n, line) in text.lines().enumerate() {
            let numbered = line
                .match_indices(&period)
                .any(|(i, _)| line[i + period.len()..].chars().next().is_some_and(|c| c.is_ascii_digit()));
            assert!(!numbered && !line.contains(&shipped), "{}:{}: {line}", path.display(), n + 1);
        }
    }
}

/// README and every page under docs/.
fn pages() -> Vec<String> {
    let mut pages = vec!["README.md".to_string()];
    let mut docs: Vec<String> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// The targets of a page's Markdown links `[text](target)`, without their `#anchor`.
fn links(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(i, _)| {
            let target = &text[i + 2..];
            let target = &target[..target.find(')')?];
            Some(target.split('#').next().unwrap_or(target))
        })
        .collect()
}

#[test]
fn readme_is_a_guide_and_every_page_it_and_the_docs_link_exists() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 350, "README.md has {lines} lines: references belong in docs/");
    for page in ["docs/commands.md", "docs/recipes.md", "docs/library.md", "docs/architecture.md", "docs/results.md"] {
        assert!(readme.contains(&format!("]({page})")), "README links {page}");
    }
    for page in pages() {
        let path = repo().join(&page);
        let text = std::fs::read_to_string(&path).unwrap();
        for target in links(&text).into_iter().filter(|t| !t.is_empty() && !t.contains("://")) {
            let linked = path.parent().unwrap().join(target);
            assert!(linked.exists(), "{page} links {target}, which does not exist");
        }
    }
}

#[test]
fn every_figure_the_pages_show_exists_and_is_small() {
    for doc in pages() {
        let doc = doc.as_str();
        let path = repo().join(doc);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut shown = 0;
        for (i, _) in text.match_indices("](") {
            let target = &text[i + 2..];
            let target = &target[..target.find(')').unwrap()];
            if target.ends_with(".png") {
                let png = path.parent().unwrap().join(target);
                let size = std::fs::metadata(&png).unwrap_or_else(|e| panic!("{doc}: {target}: {e}")).len();
                assert!(size < 200_000, "{doc}: {target} is {size} bytes");
                let (w, h, pixels) = common::decode_png(&png);
                assert!(w > 100 && h > 100 && common::inked(&pixels) > 0.02, "{doc}: {target}");
                shown += 1;
            }
        }
        if doc == "README.md" || doc == "docs/results.md" {
            assert!(shown >= 2, "{doc} shows {shown} figures");
        }
    }
}
