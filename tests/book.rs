//! The book holds together: every relative link and image in `book/src` points at a file
//! (and, with `#anchor` into another chapter, at a heading that makes that anchor), every
//! `{{#include}}` names a file (and, with `:name`, an `ANCHOR: name` in it), and every
//! chapter is listed in `SUMMARY.md`. `mdbook build` itself does not check links.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::path::{Path, PathBuf};

/// The book's source folder.
fn source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src")
}

/// Every Markdown file under `dir`.
fn chapters(dir: &Path) -> Vec<PathBuf> {
    securenn_tests::files_under(dir, "md")
}

/// The targets of the Markdown links and images in `text`: what follows `](` up to `)`.
fn link_targets(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            rest.find(')').map(|end| rest[..end].trim())
        })
        .collect()
}

/// The paths of the `{{#include path}}` directives in `text`.
fn includes(text: &str) -> Vec<&str> {
    text.match_indices("{{#include ")
        .filter_map(|(at, directive)| {
            let rest = &text[at + directive.len()..];
            rest.find("}}").map(|end| rest[..end].trim())
        })
        .collect()
}

/// The anchor mdBook makes of a heading: lower case, spaces to dashes, punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The lines of a chapter outside its fenced code blocks.
fn prose(chapter: &str) -> Vec<&str> {
    let mut inside = false;
    chapter
        .lines()
        .filter(|line| {
            if line.starts_with("```") {
                inside = !inside;
                return false;
            }
            !inside
        })
        .collect()
}

/// The anchors of the headings of a chapter.
fn anchors(chapter: &str) -> Vec<String> {
    prose(chapter)
        .into_iter()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| anchor(heading.trim_start_matches('#')))
        .collect()
}

#[test]
fn every_link_image_and_include_of_the_book_resolves() {
    let mut broken = Vec::new();
    for chapter in chapters(&source()) {
        let text = std::fs::read_to_string(&chapter).unwrap();
        let dir = chapter.parent().unwrap();
        for target in link_targets(&text) {
            if target.is_empty()
                || target.starts_with("http://")
                || target.starts_with("https://")
                || target.starts_with("mailto:")
            {
                continue;
            }
            let (file, fragment) = target.split_once('#').unwrap_or((target, ""));
            let linked = if file.is_empty() {
                chapter.clone()
            } else {
                dir.join(file)
            };
            if !linked.is_file() {
                broken.push(format!("{}: link to {target}", chapter.display()));
                continue;
            }
            if !fragment.is_empty() && linked.extension().is_some_and(|e| e == "md") {
                let linked_text = std::fs::read_to_string(&linked).unwrap();
                if !anchors(&linked_text).iter().any(|a| a == fragment) {
                    broken.push(format!(
                        "{}: link to {target}, a heading that does not exist",
                        chapter.display()
                    ));
                }
            }
        }
        for include in includes(&text) {
            let (file, name) = include.split_once(':').unwrap_or((include, ""));
            let included = dir.join(file);
            match std::fs::read_to_string(&included) {
                Err(_) => broken.push(format!("{}: include of {include}", chapter.display())),
                Ok(content)
                    if !name.is_empty() && !content.contains(&format!("ANCHOR: {name}")) =>
                {
                    broken.push(format!(
                        "{}: include of {include}, an anchor that does not exist",
                        chapter.display()
                    ));
                }
                Ok(_) => {}
            }
        }
    }
    assert!(
        broken.is_empty(),
        "broken references:\n{}",
        broken.join("\n")
    );
}

#[test]
fn every_chapter_is_in_the_summary() {
    let root = source();
    let summary = std::fs::read_to_string(root.join("SUMMARY.md")).unwrap();
    let listed = link_targets(&summary);
    assert!(listed.len() >= 5, "{listed:?}");
    for chapter in chapters(&root) {
        let relative = chapter
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if relative == "SUMMARY.md" {
            continue;
        }
        assert!(
            listed.contains(&relative.as_str()),
            "{relative} is not listed in SUMMARY.md"
        );
    }
}

#[test]
fn the_checker_sees_a_broken_link() {
    // A control: the helpers find what they must.
    let text = "see [this](missing.md#part) and {{#include ../x.rs:main}}\n# A heading, here\n```sh\n# a comment\n```";
    assert_eq!(link_targets(text), ["missing.md#part"]);
    assert_eq!(includes(text), ["../x.rs:main"]);
    assert_eq!(anchors(text), ["a-heading-here"]);
}

/// The compile-fail cases under `tests/ui/`: (category, name) of each `NAME.stderr`.
fn compile_fail_cases() -> Vec<(String, String)> {
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    let mut cases = Vec::new();
    for category in std::fs::read_dir(&ui).unwrap() {
        let category = category.unwrap().path();
        if !category.is_dir() {
            continue;
        }
        for case in std::fs::read_dir(&category).unwrap() {
            let case = case.unwrap().path();
            if case.extension().is_some_and(|e| e == "stderr") {
                cases.push((
                    category.file_name().unwrap().to_string_lossy().into_owned(),
                    case.file_stem().unwrap().to_string_lossy().into_owned(),
                ));
            }
        }
    }
    cases.sort();
    cases
}

/// The entries of the error reference: each `#### `NAME.rs`` heading and the text up to
/// the next heading.
fn error_reference_entries(text: &str) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("#### ") {
            entries.push((heading.trim_matches('`').to_owned(), String::new()));
        } else if line.starts_with('#') && !line.starts_with("#!") {
            entries.push((String::new(), String::new()));
        } else if let Some((_, body)) = entries.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    entries.retain(|(heading, _)| !heading.is_empty());
    entries
}

#[test]
fn the_error_reference_has_one_entry_per_compile_fail_case_with_its_code_and_message() {
    let text = std::fs::read_to_string(source().join("reference/errors.md")).unwrap();
    let entries = error_reference_entries(&text);
    let cases = compile_fail_cases();
    assert!(
        cases.len() >= 30,
        "only {} compile-fail cases found",
        cases.len()
    );
    for (category, name) in &cases {
        let file = format!("{name}.rs");
        let matching: Vec<_> = entries.iter().filter(|(h, _)| *h == file).collect();
        assert_eq!(
            matching.len(),
            1,
            "tests/ui/{category}/{file}: {} entries headed by its file name",
            matching.len()
        );
        let body = &matching[0].1;
        for included in [
            format!("{{{{#include ../../../tests/ui/{category}/{name}.rs}}}}"),
            format!("{{{{#include ../../../tests/ui/{category}/{name}.stderr}}}}"),
        ] {
            assert!(
                body.contains(&included),
                "the entry `{file}` does not show {included}"
            );
        }
    }
    assert_eq!(
        entries.len(),
        cases.len(),
        "entries for cases that do not exist"
    );
}

/// The fenced code blocks of a chapter: (info string, lines).
fn code_blocks(chapter: &str) -> Vec<(String, Vec<String>)> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in chapter.lines() {
        match current.as_mut() {
            None => {
                if let Some(info) = line.strip_prefix("```") {
                    current = Some((info.to_owned(), Vec::new()));
                }
            }
            Some(_) if line == "```" => blocks.extend(current.take()),
            Some((_, lines)) => lines.push(line.to_owned()),
        }
    }
    blocks
}

#[test]
fn every_code_block_of_the_book_is_of_a_tested_kind() {
    // Rust code is included from an example (built and run by `.ci/run`) or a compile-fail
    // case (checked by `tests/compiletest.rs`), never written into a chapter; shell
    // commands and cluster configurations are checked by `securenn-cli`'s
    // `book_commands` tests and the tutorial's by `.ci/book-commands`; JSON is checked
    // against a real summary by `securenn-cli/tests/network.rs`; text is output.
    let root = source();
    let mut rust_blocks = 0;
    for chapter in chapters(&root) {
        let text = std::fs::read_to_string(&chapter).unwrap();
        let name = chapter.strip_prefix(&root).unwrap().display().to_string();
        // A fence that is indented (in a list item) or made of tildes would escape the
        // checks below: the book has neither.
        for (number, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            assert!(
                !trimmed.starts_with("~~~")
                    && (trimmed.len() == line.len() || !trimmed.starts_with("```")),
                "{name}:{}: an indented or tilde code fence; start fences at the margin with ```",
                number + 1
            );
        }
        for (info, lines) in code_blocks(&text) {
            match info.as_str() {
                "sh" | "text" | "toml" => {}
                // The one JSON block, a training summary, is what the network test checks.
                "json" => assert_eq!(name, "guide/training.md", "a JSON block no test checks"),
                "rust,ignore" => {
                    rust_blocks += 1;
                    let [line] = lines.as_slice() else {
                        panic!(
                            "{name}: a Rust block of {} lines; include it from an example instead",
                            lines.len()
                        );
                    };
                    let included = includes(line);
                    let tested = included.len() == 1
                        && (included[0].starts_with("../../../examples/")
                            || included[0].starts_with("../../../tests/ui/"));
                    assert!(
                        tested,
                        "{name}: `{line}` is not an example or a compile-fail case"
                    );
                }
                other => panic!("{name}: a code block of kind `{other}`, which no test checks"),
            }
        }
    }
    assert!(rust_blocks >= 40, "only {rust_blocks} Rust blocks found");
}
