//! Weights masked once per model: the product with a reused mask equals the plaintext
//! product, later products open only their inputs, and a mask is never reused with
//! changed weights (in a session, in a material, or in a material loaded again from its
//! file by another process).

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use securenn_dsl::nn::NetworkSpec;
use securenn_dsl::nn::config::{TrainConfig, initial_weights};
use securenn_dsl::nn::private::PrivateNetwork;
use securenn_dsl::prelude::*;
use securenn_dsl::protocol::{WeightMask, conv2d, conv2d_with_mask, matmul_with_mask};
use securenn_dsl::session::{Material, run_local_with};
use securenn_tests::public_elements;

const M: usize = 3;
const N: usize = 5;
const V: usize = 4;

fn config(seed: u64) -> SessionConfig {
    SessionConfig {
        insecure_seed: Some(seed),
        ..SessionConfig::default()
    }
}

fn plain_product(x: &[Z64], w: &[Z64]) -> Vec<Z64> {
    let mut out = vec![Z64::ZERO; M * V];
    for i in 0..M {
        for k in 0..N {
            for j in 0..V {
                out[i * V + j] += x[i * N + k] * w[k * V + j];
            }
        }
    }
    out
}

async fn share_tensor<P: securenn_dsl::party::InputParty>(
    session: &Session,
    shape: [usize; 2],
    values: &[Z64],
) -> Result<Shared<Z64, U0>> {
    let owned =
        Private::<P, _>::try_new(session.role(), || Tensor::from_vec(shape, values.to_vec()))?;
    share(session, &owned, shape).await
}

#[test]
fn a_reused_mask_gives_the_product_and_opens_only_the_inputs() {
    let w = public_elements::<Z64>(1, N * V);
    let xs: Vec<Vec<Z64>> = (0..3)
        .map(|i| public_elements::<Z64>(10 + i, M * N))
        .collect();
    let [at_p0, _, _] = run_local_with(&config(3), |session| {
        let (w, xs) = (&w, &xs);
        async move {
            let weights = share_tensor::<P1>(&session, [N, V], w).await?;
            let mask = WeightMask::new("test weights", 0);
            let mut results = Vec::new();
            for x in xs {
                let x = share_tensor::<P0>(&session, [M, N], x).await?;
                session.reset_stats();
                let y = matmul_with_mask(&session, &x, &weights, mask).await?;
                let stats = session.stats();
                let y = reveal_to::<P0, _>(&session, &y).await?.into_inner();
                results.push((y, stats));
            }
            Ok(results)
        }
    })
    .unwrap();
    for (i, ((y, _), x)) in at_p0.iter().zip(&xs).enumerate() {
        assert_eq!(
            y.as_ref().unwrap().data(),
            plain_product(x, &w),
            "product {i}"
        );
    }
    // Bytes sent by P0 (P1 sends as many, P2 the product's shares to P1): the first product
    // opens X and W, the later ones X alone.
    let sent: Vec<u64> = at_p0.iter().map(|(_, s)| s.total_sent()).collect();
    assert_eq!(sent[0], (8 * (M * N + N * V)) as u64);
    assert_eq!(sent[1], (8 * M * N) as u64);
    assert_eq!(sent[2], (8 * M * N) as u64);
    assert!(at_p0.iter().all(|(_, s)| s.rounds == 1));
}

#[test]
fn a_convolution_with_a_reused_mask_equals_the_plain_convolution() {
    let input: Vec<Z64> = public_elements::<Z64>(4, 2 * 6 * 6 * 2);
    let filters: Vec<Z64> = public_elements::<Z64>(5, 3 * 3 * 2 * 4);
    let [at_p0, _, _] = run_local_with(&config(4), |session| {
        let (input, filters) = (&input, &filters);
        async move {
            let role = session.role();
            let x =
                Private::<P0, _>::try_new(role, || Tensor::from_vec([2, 6, 6, 2], input.clone()))?;
            let x: Shared<Z64, U0> = share(&session, &x, [2, 6, 6, 2]).await?;
            let w = Private::<P1, _>::try_new(role, || {
                Tensor::from_vec([3, 3, 2, 4], filters.clone())
            })?;
            let w: Shared<Z64, U0> = share(&session, &w, [3, 3, 2, 4]).await?;
            let mask = WeightMask::new("test filters", 0);
            let expected = conv2d(&session, &x, &w, 1, 1).await?;
            let first = conv2d_with_mask(&session, &x, &w, (1, 1), mask).await?;
            let second = conv2d_with_mask(&session, &x, &w, (1, 1), mask).await?;
            let mut out = Vec::new();
            for y in [expected, first, second] {
                out.push(reveal_to::<P0, _>(&session, &y).await?.into_inner());
            }
            Ok(out)
        }
    })
    .unwrap();
    let expected = at_p0[0].as_ref().unwrap().data();
    assert_eq!(at_p0[1].as_ref().unwrap().data(), expected);
    assert_eq!(at_p0[2].as_ref().unwrap().data(), expected);
}

/// Two products with one mask, the second with weights `changed` (plus one at one entry).
fn reuse_with(changed: bool) -> Result<()> {
    let w = public_elements::<Z64>(1, N * V);
    let mut w2 = w.clone();
    if changed {
        w2[7] += Z64::ONE;
    }
    let x = public_elements::<Z64>(2, M * N);
    run_local_with(&config(5), |session| {
        let (w, w2, x) = (&w, &w2, &x);
        async move {
            let first = share_tensor::<P1>(&session, [N, V], w).await?;
            let x = share_tensor::<P0>(&session, [M, N], x).await?;
            let mask = WeightMask::new("test weights", 0);
            matmul_with_mask(&session, &x, &first, mask).await?;
            // The same weights again: the same shares.
            matmul_with_mask(&session, &x, &first, mask).await?;
            let second = if changed {
                share_tensor::<P1>(&session, [N, V], w2).await?
            } else {
                first
            };
            matmul_with_mask(&session, &x, &second, mask).await?;
            Ok(())
        }
    })
    .map(drop)
}

#[test]
fn a_mask_is_refused_for_weights_of_another_shape_without_a_panic() {
    let w = public_elements::<Z64>(1, N * V);
    let w2 = public_elements::<Z64>(2, 2 * N * V);
    let x = public_elements::<Z64>(3, M * N);
    let error = run_local_with(&config(5), |session| {
        let (w, w2, x) = (&w, &w2, &x);
        async move {
            let first = share_tensor::<P1>(&session, [N, V], w).await?;
            let wider = share_tensor::<P1>(&session, [N, 2 * V], w2).await?;
            let x = share_tensor::<P0>(&session, [M, N], x).await?;
            let mask = WeightMask::new("test weights", 0);
            matmul_with_mask(&session, &x, &first, mask).await?;
            matmul_with_mask(&session, &x, &wider, mask).await?;
            Ok(())
        }
    })
    .unwrap_err();
    assert!(matches!(error, Error::MaskReused { .. }), "{error}");
}

/// This party's share of zeros: `n` of them, none at the helper.
fn zeros(role: Role, n: usize) -> Vec<Z64> {
    if role.is_helper() {
        Vec::new()
    } else {
        vec![Z64::ZERO; n]
    }
}

/// Network A with `weights` shared by P1, and a training batch of zero inputs and labels.
async fn network_a(
    session: &Session,
    weights: Vec<Option<securenn_dsl::nn::config::LayerWeights>>,
) -> Result<(PrivateNetwork, Shared<Z64>, Shared<Z64, U0>, usize)> {
    let spec = NetworkSpec::resolve("A")?;
    let role = session.role();
    let owned = Private::<P1, _>::new(role, || weights);
    let config = TrainConfig::default();
    let batch = config.batch();
    let network = PrivateNetwork::share_weights(session, spec.clone(), &owned, config).await?;
    let shape = spec.input().batch(batch);
    let input = Shared::from_share(role, shape.clone(), zeros(role, shape.numel()))?;
    let classes = spec.output().len();
    let labels = Shared::from_share(role, [batch, classes], zeros(role, batch * classes))?;
    Ok((network, input, labels, batch))
}

#[test]
fn material_dealt_for_weights_before_a_training_step_is_refused_after_it() {
    let spec = NetworkSpec::resolve("A").unwrap();
    let weights = initial_weights(&spec, 11);
    let error = run_local_with(&config(8), |session| {
        let weights = weights.clone();
        async move {
            let (mut network, input, labels, batch) = network_a(&session, weights).await?;
            let program = network.predict_program(&session, batch);
            let material = session
                .deal_offline(&program, 1, async |call| {
                    network.forward(call, &input, batch).await.map(drop)
                })
                .await?;
            network.train_step(&session, &input, &labels).await?;
            let call = material.open(&session, &network.predict_program(&session, batch))?;
            network.forward(&call, &input, batch).await.map(drop)
        }
    })
    .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Material {
                problem: securenn_dsl::error::MaterialProblem::OtherProgram { .. },
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn a_mask_is_refused_for_changed_weights() {
    reuse_with(false).unwrap();
    let error = reuse_with(true).unwrap_err();
    assert!(matches!(error, Error::MaskReused { .. }), "{error}");
}

/// Runs network A's inference with P1's `weights_seed` weights on material loaded from
/// `paths`; returns P0's bytes sent.
fn infer_with_material(paths: &[std::path::PathBuf], weights_seed: u64) -> Result<u64> {
    let spec = NetworkSpec::resolve("A").unwrap();
    let weights = initial_weights(&spec, weights_seed);
    let x: Vec<Z64> = public_elements::<Z64>(3, spec.input().len())
        .iter()
        .map(|v| Z64::new(v.value() >> 52))
        .collect();
    let [sent, _, _] = run_local_with(&config(6), |session| {
        let (spec, weights, x) = (spec.clone(), weights.clone(), &x);
        let material = Material::load(&paths[session.role().index()]);
        async move {
            let material = material?;
            let role = session.role();
            let owned = Private::<P1, _>::new(role, || weights);
            let mut network = PrivateNetwork::share_weights(
                &session,
                spec.clone(),
                &owned,
                TrainConfig::default(),
            )
            .await?;
            let shape = spec.input().batch(1);
            let input =
                Private::<P0, _>::try_new(role, || Tensor::from_vec(shape.clone(), x.clone()))?;
            let input: Shared<Z64> = share(&session, &input, shape).await?;
            session.reset_stats();
            let call = material.open(&session, "A at batch 1")?;
            network.forward(&call, &input, 1).await?;
            Ok(session.stats().total_sent())
        }
    })?;
    Ok(sent)
}

#[test]
fn a_material_file_refuses_its_masks_for_other_weights_in_a_later_process() {
    let dir = std::env::temp_dir().join(format!("securenn-masks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let paths: Vec<_> = (0..3).map(|i| dir.join(format!("p{i}.material"))).collect();
    let spec = NetworkSpec::resolve("A").unwrap();
    let materials = run_local_with(&config(7), |session| {
        let spec = spec.clone();
        async move {
            let shares = (!session.role().is_helper()).then(|| zero_shares(&spec));
            let mut network = PrivateNetwork::from_shares(
                session.role(),
                spec.clone(),
                shares,
                TrainConfig::default(),
            )?;
            let input = Shared::from_share(
                session.role(),
                spec.input().batch(1),
                zeros(session.role(), spec.input().len()),
            )?;
            session
                .deal_offline("A at batch 1", 3, async |call| {
                    network.forward(call, &input, 1).await.map(drop)
                })
                .await
        }
    })
    .unwrap();
    for (material, path) in materials.iter().zip(&paths) {
        material.save(path).unwrap();
    }
    // The first process opens the masks of model 11 and records their digests.
    let first = infer_with_material(&paths, 11).unwrap();
    // A later process with the same shares of the same model may open them again: the
    // same F = W − V, which tells nothing new.
    let second = infer_with_material(&paths, 11).unwrap();
    assert_eq!(second, first);
    // A later process with another model is refused.
    let error = infer_with_material(&paths, 12).unwrap_err();
    assert!(matches!(error, Error::MaskReused { .. }), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Zero shares of every layer's parameters (P2's offline run needs only their shapes).
fn zero_shares(spec: &NetworkSpec) -> Vec<Option<securenn_dsl::nn::weights::LayerShares>> {
    spec.layers()
        .iter()
        .map(|layer| {
            layer
                .parameter_shape()
                .map(|(rows, outputs)| securenn_dsl::nn::weights::LayerShares {
                    weights: vec![Z64::ZERO; rows * outputs],
                    biases: vec![Z64::ZERO; outputs],
                    weight_velocity: vec![Z64::ZERO; rows * outputs],
                    bias_velocity: vec![Z64::ZERO; outputs],
                })
        })
        .collect()
}

#[test]
fn a_network_opens_its_weights_once_and_anew_after_training() {
    let spec = NetworkSpec::resolve("A").unwrap();
    let weights = initial_weights(&spec, 11);
    let [sent, _, _] = run_local_with(&config(8), |session| {
        let weights = weights.clone();
        async move {
            let (mut network, input, labels, batch) = network_a(&session, weights).await?;
            let mut sent = Vec::new();
            for train in [false, false, true, false] {
                if train {
                    network.train_step(&session, &input, &labels).await?;
                    continue;
                }
                session.reset_stats();
                network.forward(&session, &input, batch).await?;
                sent.push(session.stats().total_sent());
            }
            Ok(sent)
        }
    })
    .unwrap();
    let spec_weights: usize = spec
        .layers()
        .iter()
        .filter_map(|l| l.parameter_shape())
        .map(|(r, o)| r * o)
        .sum();
    let opened = (8 * spec_weights) as u64;
    assert_eq!(
        sent[0] - sent[1],
        opened,
        "the second inference does not open the weights"
    );
    assert_eq!(sent[2], sent[0], "after a step the new weights are opened");
}
