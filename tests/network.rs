//! The private engine against the plaintext twin: the same weights and inputs give the
//! same outputs and the same updated weights, within ±2 units in the last place (2^−13),
//! the difference of their truncations' rounding.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use securenn_dsl::net::{Link, NetConfig};
use securenn_dsl::nn::config::{LayerWeights, Loss, TrainConfig, initial_weights};
use securenn_dsl::nn::private::PrivateNetwork;
use securenn_dsl::nn::twin::{Number, Twin};
use securenn_dsl::nn::{LayerSpec, NetworkSpec, ValueShape};
use securenn_dsl::prelude::*;
use securenn_dsl::session::run_local_with;
use securenn_tests::public_elements;
use typenum::U0;

/// One unit in the last place.
const ULP: f64 = 1.0 / 8192.0;

/// Inputs in [0, 1), as MNIST pixels, from a public seed.
fn inputs(n: usize, seed: u64) -> Vec<f64> {
    public_elements::<Z64>(seed, n)
        .iter()
        .map(|v| (v.value() >> 40) as f64 / (1u64 << 24) as f64)
        .collect()
}

fn labels(batch: usize, classes: usize, seed: u64) -> Vec<u8> {
    public_elements::<Z64>(seed, batch)
        .iter()
        .map(|v| u8::try_from(v.value() % classes as u64).unwrap_or(0))
        .collect()
}

struct Outcome {
    outputs: Vec<f64>,
    weights: Vec<Option<LayerWeights>>,
}

/// The private engine: P1 owns the weights, P0 the inputs and labels. Returns the outputs
/// before the step and the weights after it, as P0 learns them; the parties talk over
/// `link`, if any.
fn private_run(
    spec: &NetworkSpec,
    weights: &[Option<LayerWeights>],
    config: TrainConfig,
    (x, y): (&[f64], &[u8]),
    link: Option<Link>,
) -> Outcome {
    let batch = config.batch();
    let classes = spec.output().len();
    let defaults = SessionConfig::default();
    let session_config = SessionConfig {
        insecure_seed: Some(3),
        net: NetConfig {
            link,
            ..defaults.net
        },
        ..defaults
    };
    let results = run_local_with(&session_config, |session| {
        let spec = spec.clone();
        async move {
            let role = session.role();
            let owned = Private::<P1, _>::new(role, || weights.to_vec());
            let mut network =
                PrivateNetwork::share_weights(&session, spec.clone(), &owned, config).await?;
            let input_shape = spec.input().batch(batch);
            let input = Private::<P0, _>::try_new(role, || {
                Tensor::from_vec(
                    input_shape.clone(),
                    x.iter().map(|&v| Z64::encode(v)).collect(),
                )
            })?;
            let input: Shared<Z64> = share(&session, &input, input_shape.clone()).await?;
            let one_hot = Private::<P0, _>::try_new(role, || {
                let mut data = vec![Z64::new(0); batch * classes];
                for (i, &label) in y.iter().enumerate() {
                    data[i * classes + usize::from(label)] = Z64::new(1);
                }
                Tensor::from_vec([batch, classes], data)
            })?;
            let one_hot: Shared<Z64, U0> = share(&session, &one_hot, [batch, classes]).await?;
            let outputs = network.forward(&session, &input, batch).await?;
            let outputs = reveal_to::<P0, _>(&session, &outputs).await?.into_inner();
            network.train_step(&session, &input, &one_hot).await?;
            let weights = network.reveal_weights::<P0>(&session).await?.into_inner();
            Ok(outputs.zip(weights))
        }
    })
    .unwrap();
    let [at_p0, at_p1, at_p2] = results;
    assert!(
        at_p1.is_none() && at_p2.is_none(),
        "only P0 learns the results"
    );
    let (outputs, weights) = at_p0.unwrap();
    Outcome {
        outputs: outputs.data().iter().map(|v| v.decode()).collect(),
        weights,
    }
}

fn twin_run(
    spec: &NetworkSpec,
    weights: &[Option<LayerWeights>],
    config: TrainConfig,
    x: &[f64],
    y: &[u8],
) -> Outcome {
    let mut twin = Twin::<Z64>::new(spec.clone(), weights, config, 5).unwrap();
    let x: Vec<Z64> = x.iter().map(|&v| Z64::encode(v)).collect();
    let outputs = twin
        .forward(&x, config.batch())
        .unwrap()
        .iter()
        .map(|v| v.decode())
        .collect();
    twin.train_step(&x, y).unwrap();
    Outcome {
        outputs,
        weights: twin.weights(),
    }
}

/// Runs both engines from the initial weights and compares them within `tolerance` units
/// in the last place.
fn compare(spec: NetworkSpec, config: TrainConfig, tolerance: f64) {
    let weights = initial_weights(&spec, 11);
    compare_with(spec, &weights, config, tolerance, None);
}

/// Runs both engines from `weights` and compares them within `tolerance` units in the last
/// place; the step must move the weights.
fn compare_with(
    spec: NetworkSpec,
    weights: &[Option<LayerWeights>],
    config: TrainConfig,
    tolerance: f64,
    link: Option<Link>,
) {
    let batch = config.batch();
    let classes = spec.output().len();
    let x = inputs(batch * spec.input().len(), 12);
    let y = labels(batch, classes, 13);
    let private = private_run(&spec, weights, config, (&x, &y), link);
    let twin = twin_run(&spec, weights, config, &x, &y);
    let worst = |a: &[f64], b: &[f64]| {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(p, q)| (p - q).abs() / ULP)
            .fold(0.0, f64::max)
    };
    let outputs = worst(&private.outputs, &twin.outputs);
    assert!(
        outputs <= tolerance,
        "{}: outputs differ by {outputs} ulp",
        spec.name()
    );
    let mut moved = 0.0;
    for (i, (p, t)) in private.weights.iter().zip(&twin.weights).enumerate() {
        let (Some(p), Some(t)) = (p, t) else {
            assert_eq!(p.is_some(), t.is_some());
            continue;
        };
        let w = worst(&p.weights, &t.weights);
        let b = worst(&p.biases, &t.biases);
        assert!(
            w <= tolerance && b <= tolerance,
            "{} layer {i}: weights {w}, biases {b} ulp",
            spec.name()
        );
        let initial = weights[i].clone().unwrap();
        moved += worst(&t.weights, &initial.weights);
    }
    assert!(
        moved > 2.0 * tolerance,
        "{}: the step must move the weights",
        spec.name()
    );
}

fn config(batch_log2: u32, loss: Loss) -> TrainConfig {
    TrainConfig {
        batch_log2,
        lr_shift: 3,
        momentum_shift: Some(3),
        loss,
    }
}

#[test]
fn a_linear_layer_matches_the_twin() {
    let spec = NetworkSpec::new(
        "linear",
        ValueShape::Row(16),
        vec![LayerSpec::Linear {
            inputs: 16,
            outputs: 10,
        }],
    )
    .unwrap();
    compare(spec, config(3, Loss::Hinge), 2.0);
}

#[test]
fn relu_and_stacked_linear_layers_match_the_twin() {
    let spec = NetworkSpec::new(
        "mlp",
        ValueShape::Row(20),
        vec![
            LayerSpec::Linear {
                inputs: 20,
                outputs: 12,
            },
            LayerSpec::Relu,
            LayerSpec::Linear {
                inputs: 12,
                outputs: 10,
            },
        ],
    )
    .unwrap();
    compare(spec, config(3, Loss::Hinge), 2.0);
}

/// One weighted layer per network, so that each comparison is of one layer's rounding;
/// ReLU, pooling and flattening are exact given their inputs. (The CNN's 64 outputs serve
/// as its classes.)
#[test]
fn convolution_pooling_and_flatten_match_the_twin() {
    let spec = NetworkSpec::new(
        "cnn",
        ValueShape::Image {
            height: 8,
            width: 8,
            channels: 2,
        },
        vec![
            LayerSpec::Conv2d {
                in_channels: 2,
                out_channels: 4,
                kernel: 3,
                stride: 1,
                padding: 1,
            },
            LayerSpec::MaxPool2d {
                kernel: 2,
                stride: 2,
                padding: 0,
            },
            LayerSpec::Relu,
            LayerSpec::Flatten,
        ],
    )
    .unwrap();
    compare(spec, config(2, Loss::Hinge), 2.0);
}

/// A convolution, then average pooling (a local, public division: by 4, a shift, or by 9,
/// a multiplication by the encoded 1/9), then a linear layer.
fn average_pooling_network(kernel: usize, stride: usize, padding: usize) -> NetworkSpec {
    let conv = LayerSpec::Conv2d {
        in_channels: 1,
        out_channels: 2,
        kernel: 3,
        stride: 1,
        padding: 1,
    };
    let pool = LayerSpec::AvgPool2d {
        kernel,
        stride,
        padding,
    };
    let image = ValueShape::Image {
        height: 6,
        width: 6,
        channels: 1,
    };
    let pooled = NetworkSpec::new("pool", image, vec![conv, pool, LayerSpec::Flatten]).unwrap();
    let linear = LayerSpec::Linear {
        inputs: pooled.output().len(),
        outputs: 3,
    };
    NetworkSpec::new(
        "average pooling",
        image,
        vec![conv, LayerSpec::Relu, pool, LayerSpec::Flatten, linear],
    )
    .unwrap()
}

#[test]
fn average_pooling_matches_the_twin() {
    compare(
        average_pooling_network(2, 2, 0),
        config(2, Loss::Hinge),
        2.0,
    );
}

/// Padded average pooling (3×3, stride 1, padding 1: "same" size), the padded positions
/// counted as zeros.
#[test]
fn padded_average_pooling_matches_the_twin() {
    compare(
        average_pooling_network(3, 1, 1),
        config(2, Loss::Hinge),
        2.0,
    );
}

#[test]
fn overlapping_average_pooling_by_nine_matches_the_twin() {
    compare(
        average_pooling_network(3, 1, 0),
        config(2, Loss::Hinge),
        2.0,
    );
}

#[test]
fn a_strided_padded_convolution_matches_the_twin() {
    let spec = NetworkSpec::new(
        "strided",
        ValueShape::Image {
            height: 8,
            width: 8,
            channels: 1,
        },
        vec![
            LayerSpec::Conv2d {
                in_channels: 1,
                out_channels: 3,
                kernel: 5,
                stride: 2,
                padding: 2,
            },
            LayerSpec::Relu,
            LayerSpec::Flatten,
        ],
    )
    .unwrap();
    compare(spec, config(2, Loss::Hinge), 2.0);
}

/// A convolution (2 → 3 channels, 3×3, padding 1) on `side`×`side` images, then max
/// pooling 3×3 with stride 2 and `padding`, ReLU and Flatten.
fn max_pooling_network(side: usize, padding: usize) -> NetworkSpec {
    let conv = LayerSpec::Conv2d {
        in_channels: 2,
        out_channels: 3,
        kernel: 3,
        stride: 1,
        padding: 1,
    };
    let pool = LayerSpec::MaxPool2d {
        kernel: 3,
        stride: 2,
        padding,
    };
    let image = ValueShape::Image {
        height: side,
        width: side,
        channels: 2,
    };
    let layers = vec![conv, pool, LayerSpec::Relu, LayerSpec::Flatten];
    NetworkSpec::new("max pooling", image, layers).unwrap()
}

/// Overlapping max pooling (AlexNet's 3×3 windows with stride 2): the windows are gathered
/// locally, pooled by Algorithm 9, and the gradients summed back where windows overlap.
#[test]
fn overlapping_max_pooling_matches_the_twin() {
    let spec = max_pooling_network(7, 0);
    assert_eq!(spec.output(), ValueShape::Row(3 * 3 * 3));
    compare(spec, config(2, Loss::Hinge), 2.0);
}

/// Over a link of 1 ms and 100 MB/s (8 rounds saved, 8 ms, outweigh 108 windows' 216 bytes
/// added, 0.23 ms: `max_pool::fusion_pays`), inference
/// fuses max pooling with the ReLU after it; the outputs are the twin's all the same (the
/// training step, which keeps argmax and signs, runs the two apart).
#[test]
fn fused_max_pooling_and_relu_match_the_twin() {
    let spec = max_pooling_network(8, 0);
    let weights = initial_weights(&spec, 11);
    let link = Link {
        latency: std::time::Duration::from_millis(1),
        bandwidth: 100_000_000,
    };
    compare_with(spec, &weights, config(2, Loss::Hinge), 2.0, Some(link));
}

/// The rounds of one private forward pass of `spec` on `batch` inputs, over `link`.
fn forward_rounds(spec: &NetworkSpec, batch: usize, link: Option<Link>) -> u64 {
    let weights = initial_weights(spec, 11);
    let x = inputs(batch * spec.input().len(), 12);
    let defaults = SessionConfig::default();
    let session_config = SessionConfig {
        net: NetConfig {
            link,
            ..defaults.net
        },
        ..defaults
    };
    let [rounds, _, _] = run_local_with(&session_config, |session| {
        let (spec, weights, x) = (spec.clone(), weights.clone(), &x);
        async move {
            let role = session.role();
            let owned = Private::<P1, _>::new(role, || weights);
            let mut network = PrivateNetwork::share_weights(
                &session,
                spec.clone(),
                &owned,
                TrainConfig::default(),
            )
            .await?;
            let shape = spec.input().batch(batch);
            let input = Private::<P0, _>::try_new(role, || {
                Tensor::from_vec(shape.clone(), x.iter().map(|&v| Z64::encode(v)).collect())
            })?;
            let input: Shared<Z64> = share(&session, &input, shape).await?;
            session.reset_stats();
            network.forward(&session, &input, batch).await?;
            Ok(session.stats().rounds)
        }
    })
    .unwrap();
    rounds
}

/// Over that link the fused protocol runs (8 rounds fewer for the pooled ReLU); on none,
/// max pooling and ReLU run apart.
#[test]
fn over_a_slow_link_inference_fuses_max_pooling_and_relu() {
    let spec = max_pooling_network(8, 0);
    let link = Link {
        latency: std::time::Duration::from_millis(1),
        bandwidth: 100_000_000,
    };
    assert_eq!(
        forward_rounds(&spec, 2, Some(link)) + 8,
        forward_rounds(&spec, 2, None)
    );
}

/// Padded max pooling (ResNet's stem: 3×3 windows, stride 2, padding 1): padded positions
/// are gathered as copies of the nearest value inside the image, so the maximum and the
/// argmax that the gradient follows are the image's.
#[test]
fn padded_max_pooling_matches_the_twin() {
    let spec = max_pooling_network(8, 1);
    assert_eq!(spec.output(), ValueShape::Row(4 * 4 * 3));
    compare(spec, config(2, Loss::Hinge), 2.0);
}

/// Batch normalisation applied as a secret per-channel affine map, after a ReLU (where it
/// cannot fold), on images and on rows, trained as an affine layer.
#[test]
fn batch_normalisation_matches_the_twin() {
    let spec = NetworkSpec::new(
        "batch norm",
        ValueShape::Image {
            height: 4,
            width: 4,
            channels: 2,
        },
        vec![
            LayerSpec::Conv2d {
                in_channels: 2,
                out_channels: 3,
                kernel: 3,
                stride: 1,
                padding: 1,
            },
            LayerSpec::Relu,
            LayerSpec::BatchNorm { channels: 3 },
            LayerSpec::Flatten,
        ],
    )
    .unwrap();
    // Scales away from 1 and shifts away from 0, so that a wrong broadcast shows.
    let mut weights = initial_weights(&spec, 11);
    weights[2] = Some(LayerWeights {
        weights: vec![1.5, -0.75, 0.5],
        biases: vec![0.25, -0.5, 1.0],
    });
    compare_with(spec.clone(), &weights, config(2, Loss::Hinge), 2.0, None);
    let rows = NetworkSpec::new(
        "batch norm rows",
        ValueShape::Row(12),
        vec![
            LayerSpec::BatchNorm { channels: 12 },
            LayerSpec::Linear {
                inputs: 12,
                outputs: 4,
            },
        ],
    )
    .unwrap();
    compare(rows, config(2, Loss::Hinge), 2.0);
}

#[test]
fn the_papers_loss_matches_the_twin() {
    let spec = NetworkSpec::new(
        "asm",
        ValueShape::Row(16),
        vec![LayerSpec::Linear {
            inputs: 16,
            outputs: 10,
        }],
    )
    .unwrap();
    compare(spec, config(2, Loss::Asm), 2.0);
}

/// The largest difference, in units in the last place, between the private engine's and
/// the twin's weights after `steps` steps of `spec` on MNIST-like inputs.
fn drift_after_steps(spec: NetworkSpec, config: TrainConfig, steps: usize) -> f64 {
    let batch = config.batch();
    let classes = spec.output().len();
    let weights = initial_weights(&spec, 21);
    let x = inputs(steps * batch * spec.input().len(), 22);
    let y = labels(steps * batch, classes, 23);
    let per_step = batch * spec.input().len();
    let session_config = SessionConfig {
        insecure_seed: Some(4),
        ..SessionConfig::default()
    };
    let results = run_local_with(&session_config, |session| {
        let (spec, x, y, weights) = (spec.clone(), &x, &y, &weights);
        async move {
            let role = session.role();
            let owned = Private::<P1, _>::new(role, || weights.clone());
            let mut network =
                PrivateNetwork::share_weights(&session, spec.clone(), &owned, config).await?;
            for step in 0..steps {
                let shape = spec.input().batch(batch);
                let images = Private::<P0, _>::try_new(role, || {
                    let values = x[step * per_step..(step + 1) * per_step]
                        .iter()
                        .map(|&v| Z64::encode(v));
                    Tensor::from_vec(shape.clone(), values.collect())
                })?;
                let images: Shared<Z64> = share(&session, &images, shape.clone()).await?;
                let one_hot = Private::<P0, _>::try_new(role, || {
                    let mut data = vec![Z64::new(0); batch * classes];
                    for i in 0..batch {
                        data[i * classes + usize::from(y[step * batch + i])] = Z64::new(1);
                    }
                    Tensor::from_vec([batch, classes], data)
                })?;
                let one_hot: Shared<Z64, U0> = share(&session, &one_hot, [batch, classes]).await?;
                network.train_step(&session, &images, &one_hot).await?;
            }
            Ok(network.reveal_weights::<P0>(&session).await?.into_inner())
        }
    })
    .unwrap();
    let private = results[0].clone().unwrap();
    let mut twin = Twin::<Z64>::new(spec.clone(), &weights, config, 6).unwrap();
    for step in 0..steps {
        let images: Vec<Z64> = x[step * per_step..(step + 1) * per_step]
            .iter()
            .map(|&v| Z64::encode(v))
            .collect();
        twin.train_step(&images, &y[step * batch..(step + 1) * batch])
            .unwrap();
    }
    // The drift, relative to how far the twin's weights moved (both summed over all
    // weights): the rounding differences of the two engines against the training signal.
    let (mut drift, mut moved) = (0.0, 0.0);
    for ((p, t), w) in private.iter().zip(twin.weights()).zip(&weights) {
        if let (Some(p), Some(t), Some(w)) = (p, t, w) {
            let ours = p.weights.iter().chain(&p.biases);
            let theirs = t.weights.iter().chain(&t.biases);
            let start = w.weights.iter().chain(&w.biases);
            for ((a, b), c) in ours.zip(theirs).zip(start) {
                drift += (a - b).abs();
                moved += (b - c).abs();
            }
        }
    }
    let relative = drift / moved;
    eprintln!(
        "{}: after {steps} private steps, drift / movement = {relative:.4}",
        spec.name()
    );
    relative
}

/// A few private training steps of each of the paper's networks, at a small batch: they
/// run, and their weights move as the twin's do. The engines' roundings differ by one unit
/// per truncation; in a weight gradient a unit of δ is multiplied by the sum of the
/// inputs, so the weights are compared in total, against how far they moved.
#[test]
fn each_papers_network_trains_privately_as_its_twin_does() {
    for spec in [
        NetworkSpec::a(),
        NetworkSpec::b(),
        NetworkSpec::c(),
        NetworkSpec::d(),
    ] {
        let relative = drift_after_steps(spec.clone(), config(2, Loss::Hinge), 2);
        assert!(
            relative < 0.05,
            "network {}: drift {relative} of the movement",
            spec.name()
        );
    }
}

/// Falcon's CIFAR-10 networks as the shipped network files describe them, against the
/// shapes of Falcon's layer list (`selectNetwork` in its `src/secondary.cpp`).
#[test]
fn the_shipped_cifar_networks_have_falcons_shapes() {
    let load = |name: &str| {
        let path = format!(
            "{}/../examples/networks/{name}.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        NetworkSpec::load(path.as_ref()).unwrap()
    };
    let image = |height, channels| ValueShape::Image {
        height,
        width: height,
        channels,
    };
    let alexnet = load("alexnet");
    // Conv 11×11 stride 4 pad 9 → 11×11×96; MaxPool 3 stride 2 → 5×5×96; ReLU; BatchNorm;
    // Conv 5×5 pad 1 → 3×3×256; MaxPool 3 stride 2 → 1×1×256; ReLU; BatchNorm.
    let shapes: Vec<_> = (1..=8).map(|i| alexnet.shape_before(i).unwrap()).collect();
    assert_eq!(
        shapes,
        [
            image(11, 96),
            image(5, 96),
            image(5, 96),
            image(5, 96),
            image(3, 256),
            image(1, 256),
            image(1, 256),
            image(1, 256),
        ]
    );
    assert_eq!(alexnet.output(), ValueShape::Row(10));
    let convolutions = [
        (363, 96),
        (2400, 256),
        (2304, 384),
        (3456, 384),
        (3456, 256),
    ];
    let dense = [(256, 256), (256, 256), (256, 10)];
    let weighted: usize = convolutions
        .iter()
        .chain(&dense)
        .map(|(rows, outputs)| rows * outputs + outputs)
        .sum();
    // Each batch normalisation: a scale and a shift per channel.
    assert_eq!(alexnet.parameters(), weighted + 2 * 96 + 2 * 256);

    let vgg16 = load("vgg16");
    let convolutions = vgg16
        .layers()
        .iter()
        .filter(|l| matches!(l, LayerSpec::Conv2d { kernel: 3, .. }))
        .count();
    assert_eq!(convolutions, 13);
    // Five blocks halve 32 to 1: 512 values into FC 512→4096→4096→1000.
    let flatten = vgg16
        .layers()
        .iter()
        .position(|l| *l == LayerSpec::Flatten)
        .unwrap();
    assert_eq!(vgg16.shape_before(flatten), Some(image(1, 512)));
    assert_eq!(vgg16.output(), ValueShape::Row(1000));
}

/// The weights' owner must hold them: a `Private<P1, _>` made with another party's role is
/// empty at P1, and sharing it is the typed error that says so (not a hang at the others).
#[test]
fn weights_made_for_another_party_are_a_typed_error() {
    let spec = NetworkSpec::a();
    let result = run_local(|session| {
        let spec = spec.clone();
        async move {
            let wrong = Private::<P1, Vec<Option<LayerWeights>>>::new(Role::P0, Vec::new);
            PrivateNetwork::share_weights(&session, spec, &wrong, TrainConfig::default())
                .await
                .map(|_| ())
        }
    });
    let error = result.unwrap_err();
    assert!(
        matches!(
            error,
            Error::NotHeld {
                owner: Role::P1,
                what: "weights"
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "P1 holds no weights: its private value was made for another party"
    );
}
