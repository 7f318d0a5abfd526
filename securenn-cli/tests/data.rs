//! `securenn train|infer --data FILE`: a small network trained privately on the vendored
//! Ionosphere table reaches at least a float logistic regression on the same split (and
//! ties it on the breast-cancer table, where a line separates the classes), and classifies
//! privately afterwards; every kind of defect in a data file is one clear error naming the
//! file and the problem, never a panic.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use std::path::{Path, PathBuf};

use common::{Scratch, failure, json, keygen_cluster, last_json, run_python_script};
use securenn_dsl::nn::ValueShape;
use securenn_dsl::nn::data::Dataset;
use securenn_dsl::nn::data::csv::{self, CsvOptions};
use securenn_dsl::nn::data::npz;
use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn wdbc() -> String {
    repo("data/breast-cancer/wdbc.csv")
        .to_string_lossy()
        .into_owned()
}

fn breast_cancer_network() -> String {
    repo("examples/networks/breast-cancer.toml")
        .to_string_lossy()
        .into_owned()
}

fn ionosphere() -> String {
    repo("data/ionosphere/ionosphere.csv")
        .to_string_lossy()
        .into_owned()
}

fn tabular() -> String {
    repo("examples/networks/tabular.toml")
        .to_string_lossy()
        .into_owned()
}

/// Binary logistic regression in f64, fitted by full-batch gradient descent on the
/// cross-entropy: the float baseline, independent of every line of securenn's training.
fn logistic_regression(train: &Dataset) -> Vec<f64> {
    let features = train.shape().len();
    let rows: Vec<Vec<f64>> = (0..train.len())
        .map(|i| train.example(i).unwrap())
        .collect();
    let mut weights = vec![0.0; features + 1];
    for _ in 0..2_000 {
        let mut gradient = vec![0.0; features + 1];
        for (row, &label) in rows.iter().zip(train.labels()) {
            let z = weights[features] + row.iter().zip(&weights).map(|(x, w)| x * w).sum::<f64>();
            let error = 1.0 / (1.0 + (-z).exp()) - f64::from(label);
            for (g, x) in gradient.iter_mut().zip(row) {
                *g += error * x;
            }
            gradient[features] += error;
        }
        for (w, g) in weights.iter_mut().zip(&gradient) {
            *w -= 0.5 * g / rows.len() as f64;
        }
    }
    weights
}

fn accuracy_of(weights: &[f64], test: &Dataset) -> f64 {
    let features = test.shape().len();
    let right = (0..test.len())
        .filter(|&i| {
            let row = test.example(i).unwrap();
            let z = weights[features] + row.iter().zip(weights).map(|(x, w)| x * w).sum::<f64>();
            u8::from(z > 0.0) == test.labels()[i]
        })
        .count();
    right as f64 / test.len() as f64
}

/// Trains `network` privately on the CSV `data` (60 epochs of 32 or 64 rows) and saves
/// the shares; returns the training summary. The parties' keys are fixed
/// (`--insecure-key-seed 1`): the network's initial weights and its random truncations
/// come from them, so the check is the same run every time rather than a draw.
fn train_privately(network: &str, data: &str, label: &str, batch: &str, save: &str) -> Value {
    json(&[
        "train",
        "--network",
        network,
        "--data",
        data,
        "--label-column",
        label,
        "--epochs",
        "60",
        "--batch",
        batch,
        "--lr",
        "0.015625",
        "--save",
        save,
        "--insecure-key-seed",
        "1",
        "--json",
    ])
}

#[test]
fn a_private_mlp_on_the_ionosphere_table_reaches_a_float_logistic_regression() {
    let data = ionosphere();
    let splits = csv::load(Path::new(&data), &CsvOptions::new("radar_return")).unwrap();
    assert_eq!(splits.class_names, ["bad", "good"]);
    assert_eq!(splits.train.len() + splits.test.len(), 351);
    let baseline = accuracy_of(&logistic_regression(&splits.train), &splits.test);

    let scratch = Scratch::new("tabular");
    let save = scratch.path("model");
    let network = tabular();
    let trained = train_privately(&network, &data, "radar_return", "32", &save);
    let private = trained["test_accuracy"].as_f64().unwrap();
    eprintln!(
        "test rows {}: private MLP {private:.4}, float logistic regression {baseline:.4}",
        splits.test.len()
    );
    // On this split the regression gets 63 of the 70 test rows; the private network 68
    // with these keys, and 65 to 69 in ten runs with fresh ones (the tutorial's "Your own
    // network and data" gives twenty splits).
    assert!(private >= baseline, "private {private}, float {baseline}");

    // The saved shares classify the test rows privately, as they did after training (up to
    // a row whose score the inference's own truncations tip over).
    let inferred = json(&[
        "infer",
        "--network",
        &network,
        "--data",
        &data,
        "--label-column",
        "radar_return",
        "--weights",
        &save,
        "--batch",
        "32",
        "--insecure-key-seed",
        "1",
        "--json",
    ]);
    assert_eq!(
        inferred["images"].as_u64().unwrap(),
        splits.test.len() as u64
    );
    let accuracy = inferred["accuracy"].as_f64().unwrap();
    let row = 1.0 / splits.test.len() as f64;
    assert!((accuracy - private).abs() <= row + 1e-9, "{inferred}");
    let agreement = inferred["agreement"].as_f64().unwrap();
    assert!(agreement >= 1.0 - row - 1e-9, "{inferred}");
}

/// On the breast-cancer table a line separates the classes about as well as anything: the
/// private network and the float regression are tied there (over twenty splits 96.5% to
/// 96.9% against 97.0%), so the law is "within three rows", not "at least".
#[test]
fn a_private_mlp_on_the_breast_cancer_table_is_within_three_rows_of_a_float_regression() {
    let data = wdbc();
    let splits = csv::load(Path::new(&data), &CsvOptions::new("diagnosis")).unwrap();
    assert_eq!(splits.class_names, ["benign", "malignant"]);
    assert_eq!(splits.train.len() + splits.test.len(), 569);
    let baseline = accuracy_of(&logistic_regression(&splits.train), &splits.test);
    let scratch = Scratch::new("breast-cancer");
    let trained = train_privately(
        &breast_cancer_network(),
        &data,
        "diagnosis",
        "64",
        &scratch.path("model"),
    );
    let private = trained["test_accuracy"].as_f64().unwrap();
    let row = 1.0 / splits.test.len() as f64;
    assert!(
        private >= baseline - 3.0 * row - 1e-9,
        "private {private}, float {baseline}"
    );
}

/// The tabular set over three processes: from one command (`--transport tcp`, TLS), and
/// as a cluster where only P0 holds the file and P1 and P2 are told its public sizes; a
/// party told the wrong sizes is refused before anything secret is sent.
#[test]
fn a_data_file_trains_over_processes_and_in_a_cluster_where_only_p0_holds_it() {
    let scratch = Scratch::new("tabular-processes");
    let network = tabular();
    let common = [
        "--network",
        network.as_str(),
        "--label-column",
        "radar_return",
        "--iterations",
        "2",
        "--json",
    ];
    let data = ionosphere();
    let trained = json(
        &[
            &["train", "--data", data.as_str(), "--transport", "tcp"][..],
            &common,
        ]
        .concat(),
    );
    assert_eq!(trained["iterations"], 2, "{trained}");

    let splits = csv::load(Path::new(&data), &CsvOptions::new("radar_return")).unwrap();
    let (train, test) = (
        splits.train.len().to_string(),
        splits.test.len().to_string(),
    );
    let config = keygen_cluster(&scratch, "connect_timeout_seconds = 30");
    let run = |examples: &str| -> Vec<std::process::Output> {
        let children: Vec<_> = (0..3)
            .map(|id| {
                let own: Vec<&str> = if id == 0 {
                    vec!["--data", data.as_str()]
                } else {
                    vec!["--examples", examples, "--test-examples", test.as_str()]
                };
                std::process::Command::new(env!("CARGO_BIN_EXE_securenn"))
                    .args(["party", "--id", &id.to_string(), "--config"])
                    .arg(&config)
                    .arg("train")
                    .args(&own)
                    .args(common)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect()
    };
    let outputs = run(&train);
    for (id, output) in outputs.iter().enumerate() {
        assert!(
            output.status.success(),
            "party {id}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let summary = last_json(&outputs[0]);
    assert_eq!(summary["iterations"], 2, "{summary}");
    assert!(summary["test_accuracy"].as_f64().is_some(), "{summary}");

    let wrong = (splits.train.len() + 1).to_string();
    let outputs = run(&wrong);
    assert!(outputs.iter().all(|o| !o.status.success()));
    let stderr = String::from_utf8_lossy(&outputs[0].stderr);
    assert!(
        stderr.contains("disagree on the job") && stderr.contains("data"),
        "{stderr}"
    );
}

/// Writes `text` as a CSV file and returns the error `securenn train` gives for it.
fn error_for(scratch: &Scratch, name: &str, text: &str, network: &str) -> String {
    let path = scratch.path(name);
    std::fs::write(&path, text).unwrap();
    let stderr = failure(&[
        "train",
        "--network",
        network,
        "--data",
        &path,
        "--label-column",
        "y",
    ]);
    assert!(stderr.contains(name), "the error names the file: {stderr}");
    stderr
}

#[test]
fn every_defect_of_a_csv_file_is_one_clear_error() {
    let scratch = Scratch::new("csv-defects");
    let network = scratch.path("net.toml");
    std::fs::write(
        &network,
        "name = \"n\"\ninput = { features = 2 }\nclasses = 2\n\
         [[layer]]\nkind = \"linear\"\noutputs = 2\n",
    )
    .unwrap();
    let cases = [
        ("empty.csv", "", "the file is empty"),
        ("header.csv", "a,b,y\n", "a header but no rows"),
        ("nolabel.csv", "a,b,c\n1,2,0\n", "no column `y`"),
        (
            "truncated.csv",
            "a,b,y\n1,2,0\n3,1\n",
            "line 3 has 2 fields, the header 3",
        ),
        (
            "word.csv",
            "a,b,y\n1,x,0\n",
            "line 2, column `b`: `x` is not a number",
        ),
        (
            "nan.csv",
            "a,b,y\n1,2,0\nNaN,2,1\n",
            "line 3, column `a`: `NaN` is not a finite number",
        ),
        (
            "inf.csv",
            "a,b,y\n1,inf,0\n",
            "column `b`: `inf` is not a finite number",
        ),
        (
            "classes.csv",
            "a,b,y\n1,2,0\n2,1,1\n1,1,2\n2,2,0\n1,2,1\n",
            "3 classes",
        ),
        ("shape.csv", "a,y\n1,0\n2,1\n1,1\n2,0\n1,1\n", "2 values"),
    ];
    for (name, text, problem) in cases {
        let stderr = error_for(&scratch, name, text, &network);
        assert!(stderr.contains(problem), "{name}: {stderr}");
    }
    let missing = failure(&[
        "train",
        "--network",
        &network,
        "--data",
        &scratch.path("missing.csv"),
    ]);
    assert!(missing.contains("missing.csv"), "{missing}");
    let unknown = failure(&[
        "train",
        "--network",
        &network,
        "--data",
        &scratch.path("data.parquet"),
    ]);
    assert!(unknown.contains("data.parquet"), "{unknown}");
}

/// The NPZ files of `tests/npz/make_npz.py`, written by numpy into `scratch`.
fn npz_files(scratch: &Scratch) -> PathBuf {
    let out = scratch.0.join("npz");
    run_python_script("tests/npz/make_npz.py", &out);
    out
}

#[test]
fn arrays_saved_by_numpy_train_privately_and_classify() {
    let scratch = Scratch::new("npz");
    let dir = npz_files(&scratch);
    let bars = dir.join("bars.npz");
    let splits = npz::load(&bars).unwrap();
    assert_eq!((splits.train.len(), splits.test.len()), (512, 256));
    assert_eq!(splits.class_names, ["0", "1", "2", "3"]);
    // np.savez_compressed deflates the same arrays: the same data set.
    assert_eq!(npz::load(&dir.join("bars-compressed.npz")).unwrap(), splits);
    let rows = npz::load(&dir.join("rows.npz")).unwrap();
    assert_eq!(rows.train.shape(), ValueShape::Row(6));
    assert_eq!(rows.train.classes(), 2);

    let save = scratch.path("model");
    let network = repo("tests/npz/bars.toml").to_string_lossy().into_owned();
    let data = bars.to_string_lossy().into_owned();
    let common = [
        "--network",
        &network,
        "--data",
        &data,
        "--batch",
        "32",
        "--json",
    ];
    let trained = json(
        &[
            &[
                "train",
                "--epochs",
                "8",
                "--lr",
                "0.0625",
                "--save",
                &save,
                // P1 draws the initial weights from its keys: a fixed seed makes the
                // run reproducible (8 epochs reached 0.95 or more in each of 16 unseeded runs).
                "--insecure-key-seed",
                "3",
            ][..],
            &common,
        ]
        .concat(),
    );
    let accuracy = trained["test_accuracy"].as_f64().unwrap();
    eprintln!("bars: private test accuracy {accuracy:.4}");
    assert!(accuracy >= 0.9, "{trained}");
    let inferred = json(&[&["infer", "--weights", &save][..], &common].concat());
    assert_eq!(inferred["images"], 256);
    assert!(inferred["accuracy"].as_f64().unwrap() >= 0.9, "{inferred}");
}

#[test]
fn every_defect_of_an_npz_file_is_one_clear_error() {
    let scratch = Scratch::new("npz-defects");
    let dir = npz_files(&scratch);
    let network = repo("tests/npz/bars.toml").to_string_lossy().into_owned();
    let cases = [
        (
            "nan.npz",
            "x_train: value 17 of example 3 is not a finite number",
        ),
        (
            "negative-label.npz",
            "y_train: label -1 of example 5 is not a class",
        ),
        (
            "huge-label.npz",
            "y_test: label 300 of example 7 is not a class",
        ),
        ("float-labels.npz", "y_train: labels must be integers"),
        (
            "short-labels.npz",
            "y_train: shape [500], but the labels of 512 examples",
        ),
        (
            "test-shape.npz",
            "x_test holds examples of shape [7, 8], x_train of [8, 8]",
        ),
        ("one-d.npz", "x_train: shape [32768]: examples must be"),
        (
            "big-endian.npz",
            "x_train: element type `>f4` is big-endian",
        ),
        ("missing.npz", "no array `y_test`"),
        ("truncated-array.npz", "x_test: truncated or padded"),
        ("truncated-archive.npz", "not a ZIP archive"),
        ("not-a-zip.npz", "not a ZIP archive"),
    ];
    for (name, problem) in cases {
        let path = dir.join(name).to_string_lossy().into_owned();
        let stderr = failure(&["train", "--network", &network, "--data", &path]);
        assert!(
            stderr.contains(&path),
            "{name}: the error names the file: {stderr}"
        );
        assert!(stderr.contains(problem), "{name}: {stderr}");
    }
}
