//! The crate's layers point down. The order is drawn once, in the book's architecture page
//! (`book/src/reference/architecture.md`); this test reads that drawing and every
//! `crate::…` path in `securenn-dsl/src` (in `use` lines and in code, outside comments and
//! test modules), and every `super::` chain that climbs to the crate root, and fails on an
//! import of a module beside or above the importing one, on a module the drawing leaves
//! out, and on a module whose documentation lists other imports than the drawing allows
//! it. It also holds every source file to 600 lines.

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

/// The code of a source file, without comments and without its unit tests: the lines
/// before a `#[cfg(test)]` that opens a `mod` (the crate keeps its test module last in a
/// file). A `#[cfg(test)]` on anything else does not end the code.
fn code_of(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = (0..lines.len())
        .find(|&i| {
            lines[i].trim() == "#[cfg(test)]"
                && lines
                    .get(i + 1)
                    .is_some_and(|next| next.trim_start().starts_with("mod "))
        })
        .unwrap_or(lines.len());
    lines[..end]
        .iter()
        .filter(|line| !line.trim_start().starts_with("//"))
        .map(|line| line.split(" // ").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules that `code` names through `super::` paths that climb to the crate
/// root from a file `depth` modules deep (`shape.rs` is 1 deep, `net/tcp/mod.rs` 2): a
/// chain of `depth` `super::`s is `crate::`. A `super::` inside an inline `mod` climbs one
/// level less than this reads it; so only module names (lower case) count, not the items
/// (`super::P0`) that such a path names in the file's own module.
fn modules_named_through_super(code: &str, depth: usize) -> BTreeSet<String> {
    let prefix = "super::".repeat(depth);
    let mut rooted = String::new();
    for (at, _) in code.match_indices(&prefix) {
        let before = &code[..at];
        if before.ends_with("super::") || before.ends_with("crate::") {
            continue;
        }
        rooted.push_str("crate::");
        rooted.push_str(&code[at + prefix.len()..]);
        rooted.push('\n');
    }
    modules_named(&rooted)
        .into_iter()
        .filter(|name| name.starts_with(|c: char| c.is_ascii_lowercase()))
        .collect()
}

/// How many modules deep the file at `relative` (to `src/`) is.
fn depth_of(relative: &Path) -> usize {
    let parts = relative.components().count();
    if relative.file_name().is_some_and(|name| name == "mod.rs") {
        parts - 1
    } else {
        parts
    }
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
        let Some(&own) = level.get(module.as_str()) else {
            wrong.push(format!(
                "{}: module `{module}` is not in the drawing",
                relative.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let code = code_of(&text);
        let mut named = modules_named(&code);
        named.extend(modules_named_through_super(&code, depth_of(relative)));
        for named in named {
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

/// Every source file of every crate is at most 600 lines: a file that grows past it does
/// more than one job.
#[test]
fn no_source_file_is_over_600_lines() {
    let mut long = Vec::new();
    for krate in ["securenn-dsl", "securenn-macros", "securenn-cli"] {
        let src = workspace().join(krate).join("src");
        for path in securenn_tests::files_under(&src, "rs") {
            let lines = std::fs::read_to_string(&path).unwrap().lines().count();
            if lines > 600 {
                long.push(format!("{}: {lines} lines", path.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "files over 600 lines:\n{}",
        long.join("\n")
    );
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
        code_of("use crate::a::B;\n// crate::c\n#[cfg(test)]\nmod tests {\nuse crate::d;"),
        "use crate::a::B;"
    );
    assert_eq!(
        code_of("#[cfg(test)]\nfn helper() {}\nuse crate::d;"),
        "#[cfg(test)]\nfn helper() {}\nuse crate::d;"
    );
    let climbing = "use super::super::session::Session;\nuse super::frame::Frame;";
    let named: Vec<String> = modules_named_through_super(climbing, 2)
        .into_iter()
        .collect();
    assert_eq!(named, ["session"]);
    assert!(modules_named_through_super("use super::Role;", 2).is_empty());
    assert!(modules_named_through_super("impl Sealed for super::P0 {}", 1).is_empty());
    assert_eq!(depth_of(Path::new("net/tcp/mod.rs")), 2);
    assert_eq!(depth_of(Path::new("net/config.rs")), 2);
    assert_eq!(depth_of(Path::new("shape.rs")), 1);
}
