//! The crate's layers point down. The order is drawn once, in the book's architecture page
//! (`book/src/reference/architecture.md`); this test reads that drawing and every
//! `crate::…` path in `securenn-dsl/src` (in `use` lines and in code, outside comments and
//! test modules), and fails on an import of a module beside or above the importing one, on
//! a module the drawing leaves out, and on a module whose documentation lists other
//! imports than the drawing allows it.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The drawing: the text block that follows the `<!-- layers: ... -->` marker in `text`.
fn drawing(text: &str) -> &str {
    let after_marker = &text[text
        .find("<!-- layers:")
        .expect("the page marks its drawing")..];
    after_marker
        .split("```text\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a text block follows the marker")
}

/// The drawing's layers, top first: the names left of the description on each line of the
/// text block that follows the `<!-- layers: ... -->` marker.
fn drawn_layers() -> Vec<Vec<String>> {
    let page =
        std::fs::read_to_string(workspace().join("book/src/reference/architecture.md")).unwrap();
    drawing(&page)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let names = line.split("  ").next().unwrap();
            names
                .split('·')
                .map(|name| name.trim().to_owned())
                .collect()
        })
        .collect()
}

/// The identifier at the start of `text`.
fn identifier(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The top-level modules that `code` names through `crate::`: `crate::a::…`, and each
/// first segment of a group `crate::{a::…, b::{…}, c}`. `crate::Error` and `crate::Result`
/// are the error module's, re-exported at the root.
fn modules_named(code: &str) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut segment_starts = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => segment_starts = true,
                    c if c.is_whitespace() => {}
                    _ if segment_starts && depth == 1 => {
                        named.insert(identifier(&group[i..]).to_owned());
                        segment_starts = false;
                    }
                    _ => {}
                }
            }
        } else {
            named.insert(identifier(rest).to_owned());
        }
    }
    named
        .into_iter()
        .map(|name| match name.as_str() {
            "Error" | "Result" => "error".to_owned(),
            _ => name,
        })
        .filter(|name| !name.is_empty() && name != "self")
        .collect()
}

/// The code of a source file: its lines before the first `#[cfg(test)]`, without comments.
fn code_of(text: &str) -> String {
    text.lines()
        .take_while(|line| line.trim() != "#[cfg(test)]")
        .filter(|line| !line.trim_start().starts_with("//"))
        .map(|line| line.split(" // ").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules a module's documentation (`//!` lines) says it may import: the backticked
/// names after "may import only from", up to the sentence's end; none if it says that it
/// "imports nothing from the crate".
fn documented_imports(text: &str) -> Option<BTreeSet<String>> {
    let doc: String = text
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("//!"))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    if doc.contains("imports nothing from the crate") {
        return Some(BTreeSet::new());
    }
    let list = &doc[doc.find("may import only from")?..];
    let sentence = &list[..list.find(". ").map_or(list.len(), |end| end + 1)];
    Some(
        sentence
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect(),
    )
}

#[test]
fn every_import_points_down_the_drawn_layers() {
    let layers = drawn_layers();
    let count = layers.len();
    let level: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, names)| names.iter().map(move |n| (n.as_str(), count - i)))
        .collect();
    assert!(
        level.len() > 10,
        "the drawing names the modules: {layers:?}"
    );

    let src = workspace().join("securenn-dsl/src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let declared: BTreeSet<&str> = lib
        .lines()
        .filter_map(|line| line.strip_prefix("pub mod "))
        .map(|rest| rest.trim_end_matches(';'))
        .collect();
    let drawn: BTreeSet<&str> = level.keys().copied().collect();
    assert_eq!(declared, drawn, "lib.rs's modules and the drawing's differ");

    let mut wrong = Vec::new();
    for path in securenn_tests::files_under(&src, "rs") {
        let relative = path.strip_prefix(&src).unwrap();
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" {
            continue;
        }
        let own = level[module.as_str()];
        let text = std::fs::read_to_string(&path).unwrap();
        for named in modules_named(&code_of(&text)) {
            if named == module {
                continue;
            }
            match level.get(named.as_str()) {
                None => wrong.push(format!(
                    "{}: names crate::{named}, which the drawing does not have",
                    relative.display()
                )),
                Some(&other) if other >= own => wrong.push(format!(
                    "{}: `{module}` imports `{named}`, a layer {}",
                    relative.display(),
                    if other == own {
                        "beside it"
                    } else {
                        "above it"
                    }
                )),
                Some(_) => {}
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn each_module_documents_the_layers_it_may_import() {
    let layers = drawn_layers();
    let src = workspace().join("securenn-dsl/src");
    let mut wrong = Vec::new();
    for (i, names) in layers.iter().enumerate() {
        let below: BTreeSet<String> = layers[i + 1..].iter().flatten().cloned().collect();
        for name in names {
            let file = [
                src.join(format!("{name}.rs")),
                src.join(name).join("mod.rs"),
            ]
            .into_iter()
            .find(|path| path.exists())
            .unwrap();
            let text = std::fs::read_to_string(&file).unwrap();
            match documented_imports(&text) {
                None => wrong.push(format!(
                    "{name}: its documentation does not say what it may import"
                )),
                Some(listed) if listed != below => wrong.push(format!(
                    "{name}: its documentation lists {listed:?}, the drawing allows {below:?}"
                )),
                Some(_) => {}
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_readme_draws_the_same_layers() {
    let read = |path: &str| std::fs::read_to_string(workspace().join(path)).unwrap();
    assert_eq!(
        drawing(&read("README.md")),
        drawing(&read("book/src/reference/architecture.md"))
    );
}

#[test]
fn the_reader_finds_what_each_kind_of_path_names() {
    let code = "use crate::net::{CallId, Tag};\nuse crate::{error::Result, party::{P0, Role}, shape};\nlet x = crate::Error::Internal;";
    let named: Vec<String> = modules_named(code).into_iter().collect();
    assert_eq!(named, ["error", "net", "party", "shape"]);
    let text = "//! A layer: it may import only from `ring`, `error`\n//! and `party`. Other text `nn`.\nuse crate::ring::Z64;";
    let listed: Vec<String> = documented_imports(text).unwrap().into_iter().collect();
    assert_eq!(listed, ["error", "party", "ring"]);
    assert_eq!(
        code_of("use crate::a::B;\n// crate::c\n#[cfg(test)]\nuse crate::d;"),
        "use crate::a::B;"
    );
}
