//! `securenn offline` and `securenn infer --material`: material dealt to files serves the
//! online phase of full batches, once; material for another batch, used up, or missing
//! its record of used runs is a clear error, never a panic.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use common::{Scratch, failure, json};

#[test]
fn material_serves_inference_once_and_only_for_its_batch() {
    let scratch = Scratch::new("offline");
    let out = scratch.path("material");
    let dealt = json(&[
        "offline",
        "--network",
        "C",
        "--batch",
        "50",
        "--count",
        "2",
        "--out",
        &out,
        "--json",
    ]);
    assert_eq!(dealt["count"], 2, "{dealt}");
    assert!(
        dealt["bytes_per_inference"].as_u64().unwrap() > 0,
        "{dealt}"
    );
    // P1's file holds the dealt messages, P0's and P2's only keys.
    let sizes: Vec<u64> = (0..3)
        .map(|i| dealt["file_bytes"][i].as_u64().unwrap())
        .collect();
    assert!(
        sizes[1] > 1000 * sizes[0] && sizes[0] == sizes[2],
        "{dealt}"
    );

    // Two full batches online, a last one of 20 inline; the twin agrees.
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/C.safetensors");
    let online = json(&[
        "infer",
        "--network",
        "C",
        "--weights",
        model,
        "--images",
        "120",
        "--batch",
        "50",
        "--material",
        &out,
        "--json",
    ]);
    assert_eq!(online["agreement"], 1.0, "{online}");

    // Used up: refused before anything is computed.
    let stderr = failure(&[
        "infer",
        "--network",
        "C",
        "--weights",
        model,
        "--images",
        "100",
        "--batch",
        "50",
        "--material",
        &out,
    ]);
    assert!(stderr.contains("are used"), "{stderr}");

    // Another batch: refused, naming what the material was dealt for.
    let other = scratch.path("other");
    json(&[
        "offline",
        "--network",
        "C",
        "--batch",
        "50",
        "--count",
        "1",
        "--out",
        &other,
        "--json",
    ]);
    let stderr = failure(&[
        "infer",
        "--network",
        "C",
        "--weights",
        model,
        "--images",
        "40",
        "--batch",
        "40",
        "--material",
        &other,
    ]);
    assert!(stderr.contains("batch of 50"), "{stderr}");

    // Without its record of used runs, a material file is refused.
    std::fs::remove_file(format!("{other}/party1.material.used")).unwrap();
    let stderr = failure(&[
        "infer",
        "--network",
        "C",
        "--weights",
        model,
        "--images",
        "50",
        "--batch",
        "50",
        "--material",
        &other,
    ]);
    assert!(stderr.contains("record of used runs"), "{stderr}");
}
