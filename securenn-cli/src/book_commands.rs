//! Every shell command in the book is one this workspace understands.
//!
//! The tutorial's commands are also run, in order, by `.ci/book-commands`; the other
//! chapters show commands that take minutes to hours (five epochs of training, ten thousand
//! private inferences) or need three machines. This test reads every ```` ```sh ```` block of
//! `book/src` and checks each command without running it:
//!
//! - `securenn ...` and `cargo run -p securenn-cli -- ...` are parsed by the command's own
//!   parser, so an option or subcommand that does not exist fails;
//! - `cargo test`, `cargo bench`, `cargo run --example`, `cargo build` and
//!   `cargo install --path` must name packages, test, bench and example targets and paths
//!   that exist (from `cargo metadata`);
//! - `git clone` must name the repository address of `book.toml`, `scripts/...` a script
//!   of the repository, `kill` only as `kill $!`, and `cd`, `wait` and comments are
//!   accepted;
//! - any other program fails the test, so nothing in a shell block goes unchecked.
//!
//! Every ```` ```toml ```` block is a cluster configuration, and must be exactly what
//! `securenn keygen` writes for the addresses it names, or a network file (it has
//! `[[layer]]`s), and must be exactly the shipped `examples/networks/NAME.toml` without its
//! comments.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser as _;

use crate::{Cli, Command};

/// The workspace root.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The book's source folder.
fn book_source() -> PathBuf {
    workspace().join("book/src")
}

/// Every Markdown file under `dir`, sorted.
fn chapters(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(chapters(&path));
        } else if path.extension().is_some_and(|e| e == "md") {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// The blocks fenced with ```` ```INFO ```` in `text`: the number of each block's first
/// line, and its lines.
fn fenced_blocks<'a>(text: &'a str, info: &str) -> Vec<(usize, Vec<&'a str>)> {
    let opening = format!("```{info}");
    let mut blocks = Vec::new();
    let mut current: Option<(usize, Vec<&str>)> = None;
    for (index, line) in text.lines().enumerate() {
        match current.as_mut() {
            None if line == opening => current = Some((index + 2, Vec::new())),
            None => {}
            Some(_) if line == "```" => blocks.extend(current.take()),
            Some((_, lines)) => lines.push(line),
        }
    }
    blocks
}

/// The commands of the ```` ```sh ```` blocks of `text`, with their line numbers: lines
/// joined at a trailing backslash, without comments, blank lines and a trailing `&`.
fn shell_commands(text: &str) -> Vec<(usize, String)> {
    let mut commands = Vec::new();
    for (first, lines) in fenced_blocks(text, "sh") {
        let mut pending: Option<(usize, String)> = None;
        for (offset, line) in lines.into_iter().enumerate() {
            let (number, mut command) = pending.take().unwrap_or((first + offset, String::new()));
            command.push_str(line.trim());
            if let Some(joined) = command.strip_suffix('\\') {
                pending = Some((number, format!("{} ", joined.trim_end())));
                continue;
            }
            let command = command.trim().trim_end_matches('&').trim().to_owned();
            if !command.is_empty() && !command.starts_with('#') {
                commands.push((number, command));
            }
        }
    }
    commands
}

/// The words of a command, split at white space; quotes group words.
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut started = false;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                started = true;
            }
            (None, c) if c.is_whitespace() => {
                if started || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                started = false;
            }
            (None, c) => word.push(c),
        }
    }
    if started || !word.is_empty() {
        words.push(word);
    }
    words
}

/// The workspace's packages and, per package, its targets as (kind, name).
fn workspace_targets() -> BTreeMap<String, Vec<(String, String)>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(workspace())
        .output()
        .unwrap();
    assert!(output.status.success(), "cargo metadata failed");
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut packages = BTreeMap::new();
    for package in metadata["packages"].as_array().unwrap() {
        let targets = package["targets"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|target| {
                let name = target["name"].as_str().unwrap().to_owned();
                target["kind"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |kind| (kind.as_str().unwrap().to_owned(), name.clone()))
            })
            .collect();
        packages.insert(package["name"].as_str().unwrap().to_owned(), targets);
    }
    packages
}

/// What the book's commands are checked against.
struct Workspace {
    packages: BTreeMap<String, Vec<(String, String)>>,
    repository: String,
}

impl Workspace {
    fn load() -> Self {
        let book = std::fs::read_to_string(workspace().join("book/book.toml")).unwrap();
        let repository = book
            .lines()
            .find_map(|line| line.strip_prefix("git-repository-url = "))
            .expect("book.toml names the repository")
            .trim_matches('"')
            .to_owned();
        Self {
            packages: workspace_targets(),
            repository,
        }
    }

    /// Checks one command; `Err` says what is wrong with it.
    fn check(&self, command: &str) -> Result<(), String> {
        // A command whose failure the book shows: the command itself is checked.
        let command = command
            .strip_suffix("|| true")
            .map_or(command, str::trim_end);
        let mut words = words(command);
        // Environment assignments before the program (`NAME=value cargo test ...`).
        while words.first().is_some_and(|w| {
            w.split_once('=').is_some_and(|(name, _)| {
                !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
            })
        }) {
            words.remove(0);
        }
        let program = words.first().map(String::as_str).unwrap_or_default();
        match program {
            "securenn" => parse_cli(&words),
            "cargo" => self.check_cargo(&words),
            "git" => match words.as_slice() {
                [_, clone, url, ..] if clone == "clone" && *url == self.repository => Ok(()),
                _ => Err(format!("only `git clone {}` is expected", self.repository)),
            },
            "python3" => check_python(&words),
            "cd" | "wait" => Ok(()),
            // Stopping the background job started last (a server of the serving chapter).
            "kill" => match words.as_slice() {
                [_, job] if job == "$!" => Ok(()),
                _ => Err("only `kill $!` is expected".to_owned()),
            },
            // The repository's own scripts, which must exist.
            script if script.starts_with("scripts/") => {
                if workspace().join(script).is_file() {
                    Ok(())
                } else {
                    Err(format!("`{script}` is not a script of this repository"))
                }
            }
            other => Err(format!(
                "`{other}` is not a command this test knows how to check"
            )),
        }
    }

    fn check_cargo(&self, words: &[String]) -> Result<(), String> {
        let subcommand = words.get(1).map(String::as_str).unwrap_or_default();
        let (ours, rest) = match words.iter().position(|w| w == "--") {
            Some(at) => (&words[..at], &words[at + 1..]),
            None => (words, &[][..]),
        };
        let value = |flags: &[&str]| {
            ours.windows(2)
                .find(|pair| flags.contains(&pair[0].as_str()))
                .map(|pair| pair[1].clone())
        };
        let package = value(&["-p", "--package"]);
        if let Some(package) = &package
            && !self.packages.contains_key(package)
        {
            return Err(format!("no package `{package}` in the workspace"));
        }
        let targets_of = |kind: &str| -> Vec<&String> {
            self.packages
                .iter()
                .filter(|(name, _)| package.as_ref().is_none_or(|p| p == *name))
                .flat_map(|(_, targets)| targets.iter())
                .filter(|(k, _)| k == kind)
                .map(|(_, name)| name)
                .collect()
        };
        for (flag, kind) in [
            ("--test", "test"),
            ("--bench", "bench"),
            ("--example", "example"),
        ] {
            if let Some(name) = value(&[flag])
                && !targets_of(kind).contains(&&name)
            {
                return Err(format!("no {kind} target `{name}` here"));
            }
        }
        match subcommand {
            "run" if package.as_deref() == Some("securenn-cli") => {
                let mut arguments = vec!["securenn".to_owned()];
                arguments.extend(rest.iter().cloned());
                parse_cli(&arguments)
            }
            "run" if value(&["--example"]).is_some() => Ok(()),
            "test" | "bench" | "build" => Ok(()),
            "install" => match value(&["--path"]) {
                Some(path) if workspace().join(&path).join("Cargo.toml").is_file() => Ok(()),
                _ => {
                    Err("`cargo install` is expected with the --path of a package here".to_owned())
                }
            },
            other => Err(format!(
                "`cargo {other}` is not a command this test knows how to check"
            )),
        }
    }
}

/// `python3 -m pip install [--quiet] -r FILE` or `python3 SCRIPT.py ARGS...`, with the file
/// or the script in the workspace.
fn check_python(words: &[String]) -> Result<(), String> {
    let exists = |path: &str| workspace().join(path).is_file();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["python3", "-m", "pip", "install", rest @ ..] => match rest {
            ["--quiet", "-r", file] | ["-r", file] if exists(file) => Ok(()),
            _ => Err("pip is expected to install a requirements file of the workspace".to_owned()),
        },
        ["python3", script, ..]
            if Path::new(script).extension().is_some_and(|e| e == "py") && exists(script) =>
        {
            Ok(())
        }
        _ => Err("python3 is expected to run a script of the workspace or pip".to_owned()),
    }
}

/// Parses `securenn ARGS...` with the command's own parser.
fn parse_cli(words: &[String]) -> Result<(), String> {
    Cli::try_parse_from(words)
        .map(drop)
        .map_err(|error| error.render().to_string())
}

#[test]
fn every_shell_command_of_the_book_is_one_the_workspace_understands() {
    let workspace = Workspace::load();
    let book = book_source();
    let mut checked = 0;
    let mut broken = Vec::new();
    for chapter in chapters(&book) {
        let text = std::fs::read_to_string(&chapter).unwrap();
        for (line, command) in shell_commands(&text) {
            checked += 1;
            if let Err(reason) = workspace.check(&command) {
                broken.push(format!(
                    "{}:{line}: {command}\n    {}",
                    chapter.strip_prefix(&book).unwrap().display(),
                    reason.trim().replace('\n', "\n    ")
                ));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "{} of {checked} commands in the book are wrong:\n{}",
        broken.len(),
        broken.join("\n")
    );
    // The book shows dozens of commands; finding a handful means the reader is broken.
    assert!(
        checked >= 20,
        "only {checked} shell commands found in the book"
    );
}

#[test]
fn the_checker_refuses_what_does_not_exist() {
    let workspace = Workspace::load();
    let text = "```sh\n# a comment\ncargo run --release -p securenn-cli -- train \\\n    --epochs 2 &\nwait\n```\n\n```text\nsecurenn nothing\n```\n";
    assert_eq!(
        shell_commands(text),
        [
            (
                3,
                "cargo run --release -p securenn-cli -- train --epochs 2".to_owned()
            ),
            (5, "wait".to_owned())
        ]
    );
    assert_eq!(words("a 'b c' \"\" d"), ["a", "b c", "", "d"]);
    for good in [
        "securenn train --network A --epochs 5 --save runs/a",
        "cargo run --release -p securenn-cli -- train --epochs 2",
        "cargo test -p securenn-tests --test book",
        "WIRE_FUZZ_CASES=10 cargo test --release -p securenn-tests --test wire_fuzz",
        "cargo install --locked --path securenn-cli",
    ] {
        assert_eq!(workspace.check(good), Ok(()), "{good}");
    }
    for bad in [
        "securenn train --no-such-option",
        "securenn fly",
        "cargo run --release -p securenn-cli -- infer --network",
        "cargo test -p securenn-tests --test no_such_test",
        "cargo test -p no-such-package",
        "cargo run -p securenn-examples --example 99_missing",
        "cargo install --path nowhere",
        "git clone https://example.com/other",
        "rm -rf /",
    ] {
        assert!(workspace.check(bad).is_err(), "{bad} was accepted");
    }
}

/// The value of `key = "value"` in a configuration.
fn quoted_value<'a>(config: &'a str, key: &str) -> Option<&'a str> {
    config.lines().find_map(|line| {
        let (name, value) = line.split_once('=')?;
        (name.trim() == key).then(|| value.trim().trim_matches('"'))
    })
}

#[test]
fn every_cluster_configuration_in_the_book_is_what_keygen_writes() {
    let book = book_source();
    let mut checked = 0;
    for chapter in chapters(&book) {
        let text = std::fs::read_to_string(&chapter).unwrap();
        for (line, lines) in fenced_blocks(&text, "toml") {
            let block: String = lines.iter().map(|line| format!("{line}\n")).collect();
            if is_network_file(&block) {
                continue;
            }
            let at = format!("{}:{line}", chapter.display());
            let p0 = quoted_value(&block, "p0").unwrap_or_else(|| panic!("{at}: no p0 address"));
            let p1 = quoted_value(&block, "p1").unwrap_or_else(|| panic!("{at}: no p1 address"));
            let out = std::env::temp_dir().join(format!(
                "securenn-book-keygen-{}-{checked}",
                std::process::id()
            ));
            let cli = Cli::try_parse_from([
                "securenn",
                "keygen",
                "--out",
                out.to_str().unwrap(),
                "--p0",
                p0,
                "--p1",
                p1,
            ])
            .unwrap();
            let Command::Keygen(args) = cli.command else {
                unreachable!("parsed as keygen")
            };
            assert!(crate::cluster::keygen(&args).unwrap());
            let written = std::fs::read_to_string(out.join("cluster.toml")).unwrap();
            std::fs::remove_dir_all(&out).unwrap();
            assert_eq!(block, written, "{at}: not what `securenn keygen` writes");
            checked += 1;
        }
    }
    assert!(
        checked >= 2,
        "only {checked} configurations found in the book"
    );
}

fn is_network_file(block: &str) -> bool {
    block.lines().any(|line| line == "[[layer]]")
}

#[test]
fn every_network_file_in_the_book_is_the_one_shipped() {
    let mut checked = 0;
    for chapter in chapters(&book_source()) {
        let text = std::fs::read_to_string(&chapter).unwrap();
        for (line, lines) in fenced_blocks(&text, "toml") {
            let block: String = lines.iter().map(|line| format!("{line}\n")).collect();
            if !is_network_file(&block) {
                continue;
            }
            let at = format!("{}:{line}", chapter.display());
            let name = quoted_value(&block, "name").unwrap_or_else(|| panic!("{at}: no name"));
            let path = workspace().join(format!("examples/networks/{name}.toml"));
            let shipped = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{at}: {}: {e}", path.display()));
            let uncommented: String = shipped
                .lines()
                .filter(|line| !line.starts_with('#'))
                .map(|line| format!("{line}\n"))
                .collect();
            assert_eq!(block, uncommented, "{at}: not {}", path.display());
            securenn_dsl::nn::NetworkSpec::load(&path).unwrap_or_else(|e| panic!("{at}: {e}"));
            checked += 1;
        }
    }
    assert!(checked >= 1, "no network file found in the book");
}
