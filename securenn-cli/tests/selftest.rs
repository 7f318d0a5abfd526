//! `securenn selftest` end to end: three threads, and three real processes over TCP.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::process::Command;

/// Runs `securenn selftest ARGS`, asserts that it passed, and returns its stdout.
fn passing_selftest(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_securenn"))
        .arg("selftest")
        .args(args)
        .output()
        .expect("the securenn binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "selftest failed; stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.trim().is_empty(),
        "a passing selftest prints no error: {stderr}"
    );
    stdout
}

fn last_json(stdout: &str) -> serde_json::Value {
    let line = stdout.lines().last().expect("some output");
    serde_json::from_str(line).expect("the last line is one JSON object")
}

fn check_summary(stdout: &str, transport: &str, elements: u64) {
    let summary = last_json(stdout);
    assert_eq!(summary["transport"], transport);
    assert_eq!(summary["elements"], elements);
    assert_eq!(summary["passed"], true);
    assert_eq!(summary["checks"], 7);
    // P0 sends its share of 3 Z_2^64 tensors and 1 Z_2^64-1 tensor to P1, and 16 key bytes
    // to each peer; P1 sends its share of 2 Z_2^64 tensors and 1 Z_67 tensor to P0, and 16
    // key bytes to P2; P2 sends nothing.
    let bytes = summary["bytes_sent"]
        .as_array()
        .expect("bytes_sent is an array");
    assert_eq!(bytes[0], 4 * 8 * elements + 32);
    assert_eq!(bytes[1], 2 * 8 * elements + elements + 16);
    assert_eq!(bytes[2], 0);
}

#[test]
fn selftest_passes_with_three_threads() {
    let stdout = passing_selftest(&["--elements", "5000", "--json"]);
    assert!(stdout.contains("PASS"));
    check_summary(&stdout, "local", 5000);
}

#[test]
fn selftest_passes_with_three_processes_over_tcp() {
    let stdout = passing_selftest(&["--transport", "tcp", "--elements", "20000", "--json"]);
    assert!(stdout.contains("tcp (three processes on 127.0.0.1)"));
    check_summary(&stdout, "tcp", 20000);
}

#[test]
fn a_bad_argument_is_a_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_securenn"))
        .args(["selftest", "--transport", "carrier-pigeon"])
        .output()
        .expect("the securenn binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid value 'carrier-pigeon'"),
        "{stderr}"
    );
}
