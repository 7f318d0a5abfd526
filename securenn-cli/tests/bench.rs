//! `securenn bench protocol NAME`: every protocol runs, checks itself against the plaintext,
//! and reports the documented JSON fields, in one process and over three processes.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::process::Command;

fn bench(args: &[&str]) -> serde_json::Value {
    securenn_json(&[&["bench", "protocol"], args].concat())
}

/// Runs `securenn ARGS --json`, checks that it succeeded, and parses its last line.
fn securenn_json(args: &[&str]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_securenn"))
        .args(args)
        .arg("--json")
        .output()
        .expect("the securenn binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "securenn {args:?} failed:\n{stdout}\n{stderr}"
    );
    serde_json::from_str(stdout.lines().last().unwrap()).expect("the last line is one JSON object")
}

fn check_fields(summary: &serde_json::Value, protocol: &str, transport: &str) {
    assert_eq!(summary["protocol"], protocol);
    assert_eq!(summary["transport"], transport);
    assert_eq!(summary["correct"], true, "{summary}");
    let sent: u64 = summary["bytes_sent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap())
        .sum();
    assert_eq!(sent, summary["bytes_total"].as_u64().unwrap());
    assert!(summary["bytes_total"].as_u64().unwrap() <= summary["paper_bytes"].as_u64().unwrap());
    assert!(summary["seconds"].as_f64().unwrap() >= 0.0);
    assert!(summary["size"].as_u64().unwrap() > 0);
    assert!(summary["rounds"].is_u64());
}

#[test]
fn every_protocol_runs_and_matches_the_plaintext() {
    for protocol in [
        "truncate",
        "select_share",
        "private_compare",
        "share_convert",
        "compute_msb",
        "drelu",
        "relu",
        "division",
    ] {
        let summary = bench(&[protocol, "--size", "300"]);
        check_fields(&summary, protocol, "local");
        assert_eq!(summary["size"], 300);
    }
    for (protocol, dims) in [
        ("matmul", "20,30,10"),
        ("conv", "12,3,2,4"),
        ("maxpool", "8,8,3,2"),
        ("dmaxpool", "8,8,3,2"),
    ] {
        check_fields(&bench(&[protocol, "--dims", dims]), protocol, "local");
    }
}

#[test]
fn the_papers_shapes_cost_what_the_paper_says() {
    // Table 8: MatMul 784,128,10 is 1.69 MB; DReLU on 128×128 values stays below 10.88 MB.
    let matmul = bench(&["matmul", "--dims", "784,128,10"]);
    assert_eq!(matmul["paper_bytes"], 1_688_832);
    assert_eq!(matmul["bytes_total"], 1_688_832);
    let drelu = bench(&["drelu", "--size", "16384"]);
    assert_eq!(drelu["paper_bytes"], 664 * 16384);
    assert_eq!(drelu["bytes_total"], 496 * 16384);
}

#[test]
fn a_protocol_runs_over_three_processes() {
    let summary = bench(&["drelu", "--size", "500", "--transport", "tcp"]);
    check_fields(&summary, "drelu", "tcp");
}

#[test]
fn bad_dimensions_are_a_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_securenn"))
        .args(["bench", "protocol", "maxpool", "--dims", "7,8,3,2"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("multiples of K"), "{stderr}");
    let output = Command::new(env!("CARGO_BIN_EXE_securenn"))
        .args(["bench", "protocol", "matmul", "--dims", "3,4"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("m,n,v"));
}

/// `securenn bench network`: one private inference checked against the plaintext twin, on
/// MNIST for the paper's networks (within the paper's bytes) and on random inputs for a
/// network file of other shapes (Falcon's AlexNet: overlapping max pooling, batch
/// normalisation), with its cost and peak memory.
#[test]
fn a_network_benchmark_agrees_with_the_twin() {
    let run = |network: &str| -> serde_json::Value {
        let output = Command::new(env!("CARGO_BIN_EXE_securenn"))
            .args(["bench", "network", network, "--batch", "1", "--repeat", "1"])
            .arg("--json")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{network}: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
    };
    let a = run("A");
    assert_eq!(a["correct"], true, "{a}");
    assert_eq!(a["inputs"], "MNIST", "{a}");
    assert!(a["bytes_total"].as_u64().unwrap() <= a["paper_bytes"].as_u64().unwrap());

    let alexnet = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/networks/alexnet.toml"
    );
    let summary = run(alexnet);
    assert_eq!(summary["correct"], true, "{summary}");
    assert_eq!(summary["inputs"], "random", "{summary}");
    assert!(summary.get("paper_bytes").is_none(), "{summary}");
    assert!(summary["rounds"].as_u64().unwrap() > 0);
    assert!(summary["bytes_total"].as_u64().unwrap() > 0);
    assert!(summary["peak_memory_mb"].as_f64().unwrap() > 0.0);
}

/// `securenn bench serve`: servers over TLS and concurrent clients; every answer is the
/// twin's, and the JSON holds each run's throughput and latencies.
#[test]
fn bench_serve_answers_every_query_as_the_twin_does() {
    let summary = securenn_json(&["bench", "serve", "--clients", "1,3", "--queries", "12"]);
    assert_eq!(summary["correct"], true, "{summary}");
    let runs = summary["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for (run, clients) in runs.iter().zip([1, 3]) {
        assert_eq!(run["clients"], clients);
        assert_eq!(run["queries"], 12);
        assert_eq!(
            (run["wrong"].as_u64(), run["failed"].as_u64()),
            (Some(0), Some(0))
        );
        let (p50, p99) = (
            run["latency_p50_ms"].as_f64().unwrap(),
            run["latency_p99_ms"].as_f64().unwrap(),
        );
        assert!(0.0 < p50 && p50 <= p99, "{run}");
        assert!(run["queries_per_second"].as_f64().unwrap() > 0.0);
    }
    assert!(summary["server_bytes_per_query"].as_f64().unwrap() > 0.0);
}

/// The soak, small: clients killed at random points of their queries cost the other
/// queries nothing (each is answered, as the twin answers it), and memory stays flat.
#[test]
fn clients_killed_mid_query_lose_no_other_query() {
    let summary = securenn_json(&[
        "bench",
        "serve",
        "--clients",
        "8",
        "--queries",
        "2000",
        "--kill-percent",
        "5",
    ]);
    let run = &summary["runs"][0];
    let (answered, killed, unanswered) = (
        run["answered"].as_u64().unwrap(),
        run["killed"].as_u64().unwrap(),
        run["unanswered"].as_u64().unwrap(),
    );
    assert!(killed >= 40 && unanswered >= 10, "{run}");
    assert_eq!(answered + unanswered, 2000, "{run}");
    assert_eq!(
        (run["wrong"].as_u64(), run["failed"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(summary["correct"], true, "{summary}");
    // The bytes live (allocated, not freed) after each tenth of the queries: as many
    // after the last tenths as after the first ones.
    assert!(run["memory"].as_array().unwrap().len() >= 5, "{run}");
    assert_eq!(run["memory_flat"], true, "{run}");
}
