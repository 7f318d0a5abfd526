//! The offline/online split: the online phase computes exactly what the inline path
//! computes under the same keys, sends the same messages minus P2's input-independent
//! ones, and material is never used twice, for another program, or from a damaged file.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::path::PathBuf;

use securenn_dsl::error::MaterialProblem;
use securenn_dsl::net::Stats;
use securenn_dsl::nn::NetworkSpec;
use securenn_dsl::nn::config::{TrainConfig, initial_weights};
use securenn_dsl::nn::private::PrivateNetwork;
use securenn_dsl::nn::twin::Number;
use securenn_dsl::prelude::*;
use securenn_dsl::session::{Call, Material, run_local_with};
use securenn_tests::public_elements;

/// How a run uses its material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// P2 deals inline with the material's keys.
    Inline,
    /// The online phase.
    Online,
}

/// With P0's and P1's offline draws: the online phase takes them from the material.
fn config(seed: u64) -> SessionConfig {
    SessionConfig {
        insecure_seed: Some(seed),
        offline_draws: true,
        ..SessionConfig::default()
    }
}

/// A link slow enough for the comparison layers to run in parts (and max pooling to fuse
/// with the ReLU after it), fast enough for a test.
fn parts_link() -> SessionConfig {
    let mut config = config(5);
    config.net.link = Some("latency=1ms,bandwidth=20MB/s".parse().unwrap());
    config
}

fn input(spec: &NetworkSpec, batch: usize) -> Vec<Z64> {
    public_elements::<Z64>(21, batch * spec.input().len())
        .iter()
        .map(|v| Z64::encode((v.value() >> 40) as f64 / (1u64 << 24) as f64))
        .collect()
}

/// Each party's output shares of one forward pass of `spec` on a batch, run in the
/// material's first run (dealt for `dealt_batch`), and its traffic during that run.
fn forward_with_material(
    spec: &NetworkSpec,
    batch: usize,
    dealt_batch: usize,
    how: Use,
) -> Result<[(Vec<Z64>, Stats); 3]> {
    forward_with_material_in(&config(5), spec, (batch, dealt_batch), how)
}

fn forward_with_material_in(
    session_config: &SessionConfig,
    spec: &NetworkSpec,
    (batch, dealt_batch): (usize, usize),
    how: Use,
) -> Result<[(Vec<Z64>, Stats); 3]> {
    let weights = initial_weights(spec, 11);
    let x = input(spec, batch);
    let dealt_x = input(spec, dealt_batch);
    run_local_with(session_config, |session| {
        let (spec, weights, x, dealt_x) = (spec.clone(), weights.clone(), &x, &dealt_x);
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
            let input =
                Private::<P0, _>::try_new(role, || Tensor::from_vec(shape.clone(), x.clone()))?;
            let input: Shared<Z64> = share(&session, &input, shape).await?;
            let dealt_shape = spec.input().batch(dealt_batch);
            let dealt_input = Private::<P0, _>::try_new(role, || {
                Tensor::from_vec(dealt_shape.clone(), dealt_x.clone())
            })?;
            let dealt_input: Shared<Z64> = share(&session, &dealt_input, dealt_shape).await?;
            let material = session
                .deal_offline("a forward pass", 1, async |call| {
                    network
                        .forward(call, &dealt_input, dealt_batch)
                        .await
                        .map(drop)
                })
                .await?;
            session.reset_stats();
            let call = match how {
                Use::Inline => material.open_inline(&session, "a forward pass")?,
                Use::Online => material.open(&session, "a forward pass")?,
            };
            let output = network.forward(&call, &input, batch).await?;
            Ok((
                output.local_share().unwrap_or_default().to_vec(),
                session.stats(),
            ))
        }
    })
}

#[test]
fn the_online_phase_computes_the_inline_shares_bit_for_bit() {
    for name in ["A", "C"] {
        let spec = NetworkSpec::resolve(name).unwrap();
        let inline = forward_with_material(&spec, 2, 2, Use::Inline).unwrap();
        let online = forward_with_material(&spec, 2, 2, Use::Online).unwrap();
        for (party, (a, b)) in inline.iter().zip(&online).enumerate() {
            assert_eq!(a.0, b.0, "network {name}: P{party}'s output shares differ");
        }
        assert!(!online[0].0.is_empty() && online[2].0.is_empty());

        // The same messages, minus P2's input-independent ones to P1.
        let (i, o) = (
            [&inline[0].1, &inline[1].1, &inline[2].1],
            [&online[0].1, &online[1].1, &online[2].1],
        );
        assert_eq!(
            i[0].bytes_sent, o[0].bytes_sent,
            "network {name}: P0's traffic"
        );
        assert_eq!(
            i[1].bytes_sent, o[1].bytes_sent,
            "network {name}: P1's traffic"
        );
        assert_eq!(
            i[2].bytes_sent[0], o[2].bytes_sent[0],
            "network {name}: P2 to P0"
        );
        assert!(
            o[2].bytes_sent[1] < i[2].bytes_sent[1],
            "network {name}: P2 sends P1 {} bytes online, {} inline",
            o[2].bytes_sent[1],
            i[2].bytes_sent[1]
        );
        assert!(o[0].rounds <= i[0].rounds && o[1].rounds <= i[1].rounds);
    }
}

#[test]
fn over_a_link_the_online_phase_in_parts_computes_the_inline_shares() {
    let spec = NetworkSpec::resolve("C").unwrap();
    let inline = forward_with_material_in(&parts_link(), &spec, (2, 2), Use::Inline).unwrap();
    let online = forward_with_material_in(&parts_link(), &spec, (2, 2), Use::Online).unwrap();
    for (party, (a, b)) in inline.iter().zip(&online).enumerate() {
        assert_eq!(a.0, b.0, "P{party}'s output shares differ");
    }
    assert!(online[2].1.bytes_sent[1] < inline[2].1.bytes_sent[1]);
}

#[test]
fn two_materials_of_one_session_have_runs_of_their_own() {
    let [ids, _, _] = run_local_with(&config(9), |session| async move {
        let first = session.deal_offline("p", 1, async |_| Ok(())).await?;
        let second = session.deal_offline("p", 1, async |_| Ok(())).await?;
        assert_ne!(first.id(), second.id());
        let a = first.open(&session, "p")?.id();
        let b = second.open(&session, "p")?.id();
        Ok((a, b))
    })
    .unwrap();
    assert_ne!(
        ids.0, ids.1,
        "two materials' first runs share a call identity"
    );
}

#[test]
fn material_dealt_for_another_batch_is_an_error() {
    let spec = NetworkSpec::resolve("A").unwrap();
    // The program's description names the same program; its messages do not fit.
    let error = forward_with_material(&spec, 2, 1, Use::Online).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Material {
                problem: MaterialProblem::Missing { .. } | MaterialProblem::WrongLength { .. },
                ..
            }
        ),
        "{error}"
    );
}

/// The small program material is dealt for here: one ReLU of 8 values (zeros: P2's
/// offline run sees no input anyway).
async fn relu_of_zeros(call: &Call<'_>) -> Result<()> {
    let role = call.role();
    let zeros = if role.is_helper() {
        Vec::new()
    } else {
        vec![Z64::ZERO; 8]
    };
    let x: Shared<Z64> = Shared::from_share(role, [8], zeros)?;
    protocol::relu(call, &x).await.map(drop)
}

/// Deals `count` runs of the small program and returns each party's material.
fn deal_relu(count: u64) -> [Material; 3] {
    run_local_with(&config(9), |session| async move {
        session
            .deal_offline("relu of 8", count, relu_of_zeros)
            .await
    })
    .unwrap()
}

/// Runs the ReLU program online with `materials` in a new session; returns P0's output.
fn relu_online(materials: [Material; 3], program: &'static str) -> Result<Vec<f64>> {
    let materials = std::sync::Mutex::new(materials.map(Some));
    let [out, _, _] = run_local_with(&config(10), |session| {
        let material = materials.lock().unwrap()[session.role().index()]
            .take()
            .unwrap();
        async move {
            let role = session.role();
            let values: Vec<f64> = (0..8).map(|i| f64::from(i) - 3.5).collect();
            let input = Private::<P0, _>::try_new(role, || {
                Tensor::from_vec([8], values.iter().map(|&v| Z64::encode(v)).collect())
            })?;
            let x: Shared<Z64> = share(&session, &input, [8]).await?;
            let call = material.open(&session, program)?;
            let y = protocol::relu(&call, &x).await?.value;
            let y = reveal_to::<P0, _>(&session, &y).await?.into_inner();
            Ok(y.map(|y| y.data().iter().map(|v| v.decode()).collect::<Vec<f64>>()))
        }
    })?;
    Ok(out.unwrap_or_default())
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("securenn-offline-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn material_saved_in_one_session_serves_another_once() {
    let dir = scratch("files");
    let paths: Vec<PathBuf> = (0..3).map(|i| dir.join(format!("p{i}.material"))).collect();
    for (material, path) in deal_relu(1).iter().zip(&paths) {
        material.save(path).unwrap();
    }
    let load = || -> [Material; 3] { core::array::from_fn(|i| Material::load(&paths[i]).unwrap()) };
    let relu_of: Vec<f64> = (0..8).map(|i| (f64::from(i) - 3.5).max(0.0)).collect();
    assert_eq!(relu_online(load(), "relu of 8").unwrap(), relu_of);

    // The run is recorded as used beside each file: loading the files again gives nothing.
    let again = load();
    assert_eq!(again[1].remaining(), 0);
    let error = relu_online(again, "relu of 8").unwrap_err();
    assert!(
        matches!(
            error,
            Error::Material {
                problem: MaterialProblem::Exhausted { count: 1 },
                ..
            }
        ),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn material_dealt_into_files_serves_the_online_phase() {
    let dir = scratch("streamed");
    let paths: Vec<PathBuf> = (0..3).map(|i| dir.join(format!("p{i}.material"))).collect();
    let paths = &paths;
    let _ = run_local_with(&config(9), |session| async move {
        let path = &paths[session.role().index()];
        session
            .deal_offline_into(path, "relu of 8", 2, relu_of_zeros)
            .await
            .map(|m| m.remaining())
    })
    .unwrap();
    let load = || -> [Material; 3] { core::array::from_fn(|i| Material::load(&paths[i]).unwrap()) };
    let relu_of: Vec<f64> = (0..8).map(|i| (f64::from(i) - 3.5).max(0.0)).collect();
    assert_eq!(relu_online(load(), "relu of 8").unwrap(), relu_of);
    assert_eq!(relu_online(load(), "relu of 8").unwrap(), relu_of);
    assert!(relu_online(load(), "relu of 8").is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn p0_and_p1_keep_the_draws_of_their_comparisons_in_their_material() {
    // A ReLU of 8 values makes two comparisons of each (ShareConvert's and ComputeMSB's),
    // each with 64 multipliers and 64 zero masks per value at P0 and at P1, and P2 deals
    // shares of 64 bits per value twice: P0 draws 6 × 64 × 8 bytes of Z_p offline, P1
    // 4 × 64 × 8. P2's file holds only its header, of the same size as theirs.
    let dir = scratch("draws");
    let paths: Vec<PathBuf> = (0..3).map(|i| dir.join(format!("p{i}.material"))).collect();
    for (material, path) in deal_relu(1).iter().zip(&paths) {
        material.save(path).unwrap();
    }
    let len = |i: usize| std::fs::metadata(&paths[i]).unwrap().len();
    assert!(len(0) >= len(2) + 6 * 64 * 8, "P0: {} bytes", len(0));
    assert!(len(1) >= len(2) + 4 * 64 * 8, "P1: {} bytes", len(1));
    let relu_of: Vec<f64> = (0..8).map(|i| (f64::from(i) - 3.5).max(0.0)).collect();
    let load = || -> [Material; 3] { core::array::from_fn(|i| Material::load(&paths[i]).unwrap()) };
    assert_eq!(relu_online(load(), "relu of 8").unwrap(), relu_of);

    // Without the draws (the default), P0's file holds only its keys.
    let without = SessionConfig {
        offline_draws: false,
        ..config(9)
    };
    let materials = run_local_with(&without, |session| async move {
        session.deal_offline("relu of 8", 1, relu_of_zeros).await
    })
    .unwrap();
    for (material, path) in materials.iter().zip(&paths) {
        let _ = std::fs::remove_file(path);
        let _ = std::fs::remove_file(path.with_extension("material.used"));
        material.save(path).unwrap();
    }
    assert_eq!(len(0), len(2));
    assert!(len(1) > len(2));
    assert_eq!(relu_online(load(), "relu of 8").unwrap(), relu_of);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn one_file_loaded_twice_never_hands_out_a_run_twice() {
    let dir = scratch("twice");
    let path = dir.join("p0.material");
    let [m0, _, _] = deal_relu(2);
    m0.save(&path).unwrap();
    // After saving, the material in memory records its runs in the file too.
    m0.discard(0).unwrap();
    let (a, b) = (
        Material::load(&path).unwrap(),
        Material::load(&path).unwrap(),
    );
    assert_eq!(a.remaining(), 1);
    b.discard(1).unwrap();
    let error = a.discard(1).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Material {
                problem: MaterialProblem::Used { index: 1 },
                ..
            }
        ),
        "{error}"
    );
    // A file without its record of used runs is refused.
    std::fs::remove_file(dir.join("p0.material.used")).unwrap();
    let error = Material::load(&path).unwrap_err();
    assert!(error.to_string().contains("record of used runs"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_is_never_handed_out_twice() {
    let [m0, _, _] = deal_relu(2);
    m0.discard(1).unwrap();
    let error = m0.discard(1).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Material {
                problem: MaterialProblem::Used { index: 1 },
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(m0.remaining(), 1);
}

#[test]
fn material_for_another_program_or_party_is_refused() {
    let error = relu_online(deal_relu(1), "relu of 9").unwrap_err();
    assert!(
        matches!(
            error,
            Error::Material {
                problem: MaterialProblem::OtherProgram { .. },
                ..
            }
        ),
        "{error}"
    );
    let [m0, m1, m2] = deal_relu(1);
    let error = relu_online([m1, m0, m2], "relu of 8").unwrap_err();
    assert!(
        matches!(
            error,
            Error::Material {
                problem: MaterialProblem::OtherParty { .. },
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn a_truncated_or_padded_material_file_is_an_error() {
    let dir = scratch("damaged");
    let path = dir.join("p1.material");
    let [_, m1, _] = deal_relu(2);
    m1.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    for cut in [0, 7, 20, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let error = Material::load(&path).unwrap_err();
        assert!(
            matches!(error, Error::Material { .. }),
            "cut at {cut}: {error}"
        );
        assert!(error.to_string().contains("p1.material"), "{error}");
    }
    let mut padded = bytes.clone();
    padded.push(0);
    std::fs::write(&path, &padded).unwrap();
    assert!(matches!(
        Material::load(&path).unwrap_err(),
        Error::Material { .. }
    ));
    let mut other = bytes;
    other[0] ^= 1;
    std::fs::write(&path, &other).unwrap();
    assert!(matches!(
        Material::load(&path).unwrap_err(),
        Error::Material {
            problem: MaterialProblem::NotMaterial,
            ..
        }
    ));
    let _ = std::fs::remove_dir_all(&dir);
}
