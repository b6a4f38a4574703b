//! The project's text describes the project as it is: README and docs/results.md show figures that
//! exist and stay small, and no file narrates the project's own work periods.

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

#[test]
fn every_figure_the_guide_and_the_report_show_exists_and_is_small() {
    for doc in ["README.md", "docs/results.md"] {
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
        assert!(shown >= 2, "{doc} shows {shown} figures");
    }
}
