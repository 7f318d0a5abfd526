//! `securenn import`: ONNX models built by `tests/onnx/make_models.py` (with the `onnx`
//! package, laid out as PyTorch and tf2onnx write them) are imported and classified
//! privately by the three parties, and agree with ONNX Runtime, the oracle: the same class
//! on at least 99.9% of 1,000 inputs, and scores within 2^-8 of ONNX Runtime's (relative to
//! the example's largest score, or 1 if that is smaller). Models with what securenn does not
//! support get one error naming the node and the operator.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use std::path::{Path, PathBuf};

use common::{Scratch, failure, json, run_python_script};
use securenn_dsl::dsl::{reveal_to, share};
use securenn_dsl::nn::config::TrainConfig;
use securenn_dsl::nn::data::npz;
use securenn_dsl::nn::onnx::{ImportOptions, Imported, import_file};
use securenn_dsl::nn::private::PrivateNetwork;
use securenn_dsl::nn::twin::Number;
use securenn_dsl::party::{P0, P1, Private};
use securenn_dsl::ring::Z64;
use securenn_dsl::session::{SessionConfig, run_local_with};
use securenn_dsl::share::Shared;
use securenn_dsl::tensor::Tensor;

const MODELS: [&str; 8] = [
    "mlp", "lenet", "matmul", "global", "rowbn", "padpool", "keras", "columns",
];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// The fixtures, written by the script into `scratch`.
fn fixtures(scratch: &Scratch) -> PathBuf {
    let out = scratch.0.join("onnx");
    run_python_script("tests/onnx/make_models.py", &out);
    out
}

#[test]
fn imported_models_classify_privately_as_onnx_runtime_does() {
    let scratch = Scratch::new("onnx-classes");
    let dir = fixtures(&scratch);
    for name in MODELS {
        let out = scratch.path(name);
        let model = dir
            .join(format!("{name}.onnx"))
            .to_string_lossy()
            .into_owned();
        let imported = json(&["import", &model, "--out", &out, "--json"]);
        assert_eq!(imported["network"], name, "{imported}");
        let data = dir
            .join(format!("{name}.npz"))
            .to_string_lossy()
            .into_owned();
        // The data set's labels are ONNX Runtime's classes: accuracy is agreement with it.
        let summary = json(&[
            "infer",
            "--network",
            &format!("{out}/network.toml"),
            "--weights",
            &format!("{out}/model.safetensors"),
            "--data",
            &data,
            "--insecure-key-seed",
            "5",
            "--json",
        ]);
        assert_eq!(summary["images"], 1000, "{summary}");
        let agreement = summary["accuracy"].as_f64().unwrap();
        eprintln!("{name}: the private class is ONNX Runtime's on {agreement:.4} of 1000");
        assert!(agreement >= 0.999, "{name}: {summary}");
    }
}

/// The scores of the first `count` examples of `name`'s data set, computed privately by
/// the three parties (P1 owns the imported model, P0 the inputs) and revealed to P0.
fn private_scores(imported: &Imported, data: &Path, count: usize) -> Vec<f64> {
    let splits = npz::load(data).unwrap();
    let x: Vec<f64> = (0..count)
        .flat_map(|i| splits.test.example(i).unwrap())
        .collect();
    let spec = imported.spec.clone();
    let config = SessionConfig {
        insecure_seed: Some(11),
        ..SessionConfig::default()
    };
    let [at_p0, _, _] = run_local_with(&config, |session| {
        let spec = spec.clone();
        let x = &x;
        async move {
            let role = session.role();
            let owned = Private::<P1, _>::new(role, || imported.weights.clone());
            let mut network = PrivateNetwork::share_weights(
                &session,
                spec.clone(),
                &owned,
                TrainConfig::default(),
            )
            .await?;
            let shape = spec.input().batch(count);
            let input = Private::<P0, _>::try_new(role, || {
                Tensor::from_vec(shape.clone(), x.iter().map(|&v| Z64::encode(v)).collect())
            })?;
            let input: Shared<Z64> = share(&session, &input, shape.clone()).await?;
            let scores = network.forward(&session, &input, count).await?;
            Ok(reveal_to::<P0, _>(&session, &scores).await?.into_inner())
        }
    })
    .unwrap();
    at_p0.unwrap().data().iter().map(|v| v.decode()).collect()
}

/// ONNX Runtime's scores, as the script wrote them.
fn runtime_scores(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| line.split(',').map(|v| v.parse().unwrap()).collect())
        .collect()
}

#[test]
fn private_scores_are_onnx_runtimes_within_two_to_the_minus_eight() {
    let scratch = Scratch::new("onnx-scores");
    let dir = fixtures(&scratch);
    let count = 1000;
    for name in MODELS {
        let imported =
            import_file(&dir.join(format!("{name}.onnx")), &ImportOptions::default()).unwrap();
        let expected = runtime_scores(&dir.join(format!("{name}-logits.csv")));
        let classes = expected[0].len();
        let scores = private_scores(&imported, &dir.join(format!("{name}.npz")), count);
        let mut worst: f64 = 0.0;
        for (i, want) in expected.iter().take(count).enumerate() {
            let got = &scores[i * classes..(i + 1) * classes];
            let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            let error = got
                .iter()
                .zip(want)
                .fold(0.0f64, |m, (g, w)| m.max((g - w).abs()));
            worst = worst.max(error / scale);
        }
        eprintln!("{name}: largest relative error of the private scores {worst:.2e}");
        assert!(worst <= 2f64.powi(-8), "{name}: {worst}");
    }
}

#[test]
fn what_securenn_does_not_support_is_one_error_naming_the_node() {
    let scratch = Scratch::new("onnx-refused");
    let dir = fixtures(&scratch);
    let cases = [
        (
            "sigmoid",
            "node 2 `squash` (Sigmoid): the operator is not supported; supported: Gemm",
        ),
        (
            "trans-a",
            "node 1 `fc` (Gemm): A holds one row per example, so with transA = 1 op(A) would \
             mix the examples",
        ),
        ("opset", "opset 9 is not supported (opsets 11 to 21 are)"),
        (
            "average-padding",
            "node 2 `pool` (AveragePool): padding with count_include_pad = 0 (which divides a \
             window by its positions inside the image) is not supported; securenn divides by \
             kernel², as count_include_pad = 1 does",
        ),
        (
            "transpose",
            "node 2 `swap` (Transpose): perm [1, 0, 2, 3] on feature maps: only permutations \
             that keep the batch first are supported",
        ),
        (
            "group",
            "node 1 `grouped` (Conv): group other than 1 is not supported",
        ),
        (
            "dilation",
            "node 1 `dilated` (Conv): dilations other than 1 are not supported",
        ),
    ];
    for (name, message) in cases {
        let file = dir.join(format!("refused-{name}.onnx"));
        let stderr = failure(&[
            "import",
            &file.to_string_lossy(),
            "--out",
            &scratch.path(name),
        ]);
        let line = stderr.trim_end().lines().last().unwrap();
        assert!(
            line.starts_with(&format!("error: {}: {message}", file.display())),
            "{line}"
        );
    }
    // A model whose file leaves the image size open takes it from --input-shape.
    let open = dir.join("open-shape.onnx").to_string_lossy().into_owned();
    let stderr = failure(&["import", &open, "--out", &scratch.path("open")]);
    assert!(
        stderr.contains("the input `x` has dimensions [?, 1, ?, ?], which the file leaves open"),
        "{stderr}"
    );
    let imported = json(&[
        "import",
        &open,
        "--out",
        &scratch.path("open"),
        "--input-shape",
        "1,8,8",
        "--json",
    ]);
    assert_eq!(imported["classes"], 3, "{imported}");
}

/// The model `tests/onnx/mnist.py` trained in numpy and exported to ONNX
/// (`models/mnist-mlp.onnx`), classified privately on the 10,000 MNIST test images
/// (`securenn infer --model`), reaches ONNX Runtime's accuracy within 0.1 points.
#[test]
fn a_trained_mnist_model_classifies_privately_as_well_as_in_onnx_runtime() {
    let model = repo("models/mnist-mlp.onnx").to_string_lossy().into_owned();
    let output = std::process::Command::new("python3")
        .arg(repo("tests/onnx/mnist.py"))
        .args(["evaluate", &model])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let runtime: f64 = stdout
        .split("accuracy ")
        .nth(1)
        .and_then(|rest| rest.split('%').next())
        .unwrap()
        .parse()
        .unwrap();
    let summary = json(&["infer", "--model", &model, "--json"]);
    assert_eq!(summary["images"], 10_000, "{summary}");
    let private = summary["accuracy"].as_f64().unwrap() * 100.0;
    eprintln!("MNIST, 10,000 test images: private {private:.2}%, ONNX Runtime {runtime:.2}%");
    assert!(
        (private - runtime).abs() <= 0.1 + 1e-9,
        "private {private}, ONNX Runtime {runtime}"
    );
}
