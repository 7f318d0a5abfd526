//! Each kind of user mistake that used to be a bare `Error::Config` is now its own typed
//! error: the CLI triggers it and prints its message, naming what is wrong and the values
//! involved. (The typed errors of the library API, which no command line can reach, are
//! tested next to their code, `ExampleOutOfRange`, `WeightEntries` and `MissingWeights`, and
//! `NotHeld` in `tests/network.rs`.)

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use std::path::Path;

use common::{Scratch, checkpointed, failure, json};

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
        .to_string_lossy()
        .into_owned()
}

/// The last line of a failure: the error as the CLI prints it.
fn error_line(stderr: &str) -> &str {
    stderr.trim_end().lines().last().unwrap()
}

#[test]
fn a_test_fraction_out_of_range_is_an_invalid_argument() {
    for (fraction, shown) in [("1", "1"), ("-0.5", "-0.5")] {
        let stderr = failure(&[
            "train",
            "--network",
            &repo("examples/networks/tabular.toml"),
            "--data",
            &repo("data/ionosphere/ionosphere.csv"),
            "--label-column",
            "radar_return",
            &format!("--test-fraction={fraction}"),
        ]);
        assert_eq!(
            error_line(&stderr),
            format!("error: invalid test fraction: {shown} is not at least 0 and below 1")
        );
    }
}

#[test]
fn a_party_without_its_peers_address_names_the_missing_party() {
    // The hidden options of a child process of `--transport tcp`: P2 dials P0 and P1, and
    // was given neither address.
    let stderr = failure(&["train", "--party", "2", "--insecure"]);
    assert_eq!(error_line(&stderr), "error: P0's address is missing");
}

#[test]
fn a_job_too_long_to_send_states_its_length_and_the_maximum() {
    let scratch = Scratch::new("job-too-large");
    let network = scratch.path("long-name.toml");
    let name = "x".repeat(17_000);
    std::fs::write(
        &network,
        format!(
            "name = \"{name}\"\ninput = {{ features = 4 }}\nclasses = 2\n\
             [[layer]]\nkind = \"linear\"\noutputs = 2\n"
        ),
    )
    .unwrap();
    let data = scratch.path("tiny.csv");
    std::fs::write(
        &data,
        "a,b,c,d,y\n1,2,3,4,0\n2,3,4,5,1\n3,4,5,6,0\n4,5,6,7,1\n5,6,7,8,0\n",
    )
    .unwrap();
    let stderr = failure(&[
        "train",
        "--network",
        &network,
        "--data",
        &data,
        "--label-column",
        "y",
        "--iterations",
        "1",
        "--batch",
        "1",
    ]);
    let line = error_line(&stderr);
    assert!(
        line.starts_with("error: the job description is ")
            && line.ends_with(" bytes, over the maximum of 16384 bytes"),
        "{line}"
    );
    let len: usize = line
        .trim_start_matches("error: the job description is ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(len > 17_000, "{line}");
}

#[test]
fn a_resume_that_cannot_go_on_says_why() {
    let scratch = Scratch::new("resume-errors");
    let dir = scratch.path("run");
    json(&checkpointed("4", &["--save", &dir, "--json"]));

    // The latest checkpoint (after step 4) is past the end of a two-step run.
    let stderr = failure(&checkpointed("2", &["--resume", &dir]));
    assert_eq!(
        error_line(&stderr),
        "error: cannot resume: the checkpoint after step 4 is past the last step of this run (2 steps)"
    );

    // P0 keeps only its step-4 checkpoint, P1 only its step-2 one: no step in common.
    let checkpoints = Path::new(&dir).join("checkpoints");
    for entry in std::fs::read_dir(&checkpoints).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("party0-step00000002") || name.starts_with("party1-step00000004") {
            std::fs::remove_file(&path).unwrap();
        }
    }
    let stderr = failure(&checkpointed("4", &["--resume", &dir]));
    assert_eq!(
        error_line(&stderr),
        "error: cannot resume: P0 and P1 hold no checkpoint of the same step of the same model (P0 has steps [4], P1 [2])"
    );
}
