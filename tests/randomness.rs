//! Correlated randomness: P0 and P1 draw identical common streams; streams differ across
//! pairs, labels and protocol calls, and private streams differ across parties; keys are
//! fresh for every session; Z_p sampling has no modulo bias.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use securenn_dsl::net::CallId;
use securenn_dsl::party::Role;
use securenn_dsl::prg::{Key, Prg, StreamId};
use securenn_dsl::ring::{Ring, Z64, Zp};
use securenn_dsl::session::run_local;

/// Elements drawn from each stream.
const DRAWS: usize = 1000;

fn draw(mut prg: Prg) -> Vec<Z64> {
    let mut out = vec![Z64::ZERO; DRAWS];
    Z64::fill_random(&mut prg, &mut out);
    out
}

/// What one party drew: `shared[call][label][peer]` and `private[call]`.
struct Draws {
    shared: Vec<Vec<[Option<Vec<Z64>>; 3]>>,
    private: Vec<Vec<Z64>>,
}

fn collect_draws() -> [Draws; 3] {
    run_local(|session| async move {
        let mut shared = Vec::new();
        let mut private = Vec::new();
        for _ in 0..2 {
            let call = session.call("draws");
            let mut per_label = Vec::new();
            for label in 0..2 {
                let mut per_peer = [None, None, None];
                for peer in session.role().peers() {
                    per_peer[peer.index()] = Some(draw(call.shared_prg(peer, label)?));
                }
                per_label.push(per_peer);
            }
            shared.push(per_label);
            private.push(draw(call.private_prg(0)));
        }
        Ok(Draws { shared, private })
    })
    .unwrap()
}

fn stream(draws: &[Draws; 3], me: Role, peer: Role, call: usize, label: usize) -> &Vec<Z64> {
    draws[me.index()].shared[call][label][peer.index()]
        .as_ref()
        .unwrap()
}

#[test]
fn partners_draw_identical_common_streams() {
    let draws = collect_draws();
    for (a, b) in [
        (Role::P0, Role::P1),
        (Role::P0, Role::P2),
        (Role::P1, Role::P2),
    ] {
        for call in 0..2 {
            for label in 0..2 {
                assert_eq!(
                    stream(&draws, a, b, call, label),
                    stream(&draws, b, a, call, label),
                    "{a}-{b}"
                );
            }
        }
    }
}

#[test]
fn streams_differ_across_pairs_labels_calls_and_parties() {
    let draws = collect_draws();
    let mut all: Vec<(String, &Vec<Z64>)> = Vec::new();
    for (a, b) in [
        (Role::P0, Role::P1),
        (Role::P0, Role::P2),
        (Role::P1, Role::P2),
    ] {
        for call in 0..2 {
            for label in 0..2 {
                all.push((
                    format!("{a}-{b} call {call} label {label}"),
                    stream(&draws, a, b, call, label),
                ));
            }
        }
    }
    for role in Role::ALL {
        for call in 0..2 {
            all.push((
                format!("{role} private call {call}"),
                &draws[role.index()].private[call],
            ));
        }
    }
    for (i, (name_a, a)) in all.iter().enumerate() {
        for (name_b, b) in &all[i + 1..] {
            let equal = a.iter().zip(b.iter()).filter(|(x, y)| x == y).count();
            assert_eq!(
                equal, 0,
                "{name_a} and {name_b} share {equal} of {DRAWS} values"
            );
        }
    }
}

#[test]
fn keys_are_fresh_for_every_session() {
    let first = collect_draws();
    let second = collect_draws();
    assert_ne!(
        stream(&first, Role::P0, Role::P1, 0, 0),
        stream(&second, Role::P0, Role::P1, 0, 0),
        "two sessions must not agree on the same keys"
    );
}

#[test]
fn the_helper_cannot_derive_the_p0_p1_stream() {
    let draws = collect_draws();
    let p0_p1 = stream(&draws, Role::P0, Role::P1, 0, 0);
    for peer in [Role::P0, Role::P1] {
        assert_ne!(stream(&draws, Role::P2, peer, 0, 0), p0_p1);
    }
}

/// Pearson's chi-square statistic of `counts` against the uniform distribution.
fn chi_square(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let expected = total as f64 / counts.len() as f64;
    counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum()
}

#[test]
fn zp_sampling_is_uniform_without_modulo_bias() {
    // 670,000 draws, 66 degrees of freedom: the 0.999 quantile of chi-square(66) is 108.5.
    // Reducing bytes mod 67 without rejection would over-weight 0..54 by 4/3 and give a
    // statistic in the thousands.
    let mut prg = Prg::derive(
        &Key::from_bytes([3; 16]),
        StreamId {
            call: CallId::ROOT.child(1),
            label: 0,
        },
    );
    let mut values = vec![Zp::ZERO; 670_000];
    Zp::fill_random(&mut prg, &mut values);
    let mut counts = [0u64; 67];
    for v in &values {
        counts[usize::from(v.value())] += 1;
    }
    let statistic = chi_square(&counts);
    assert!(
        statistic < 108.5,
        "chi-square {statistic:.1} over 66 degrees of freedom"
    );

    let mut nonzero = [0u64; 66];
    for _ in 0..660_000 {
        let v = Zp::random_nonzero(&mut prg);
        assert_ne!(v, Zp::ZERO);
        nonzero[usize::from(v.value()) - 1] += 1;
    }
    // 65 degrees of freedom: the 0.999 quantile is 107.3.
    let statistic = chi_square(&nonzero);
    assert!(
        statistic < 107.3,
        "chi-square {statistic:.1} over 65 degrees of freedom"
    );
}

#[test]
fn z64_sampling_has_uniform_bytes() {
    let mut prg = Prg::derive(
        &Key::from_bytes([4; 16]),
        StreamId {
            call: CallId::ROOT.child(1),
            label: 0,
        },
    );
    let mut values = vec![Z64::ZERO; 200_000];
    Z64::fill_random(&mut prg, &mut values);
    let mut counts = [0u64; 256];
    for v in &values {
        for byte in v.value().to_le_bytes() {
            counts[usize::from(byte)] += 1;
        }
    }
    // 255 degrees of freedom: the 0.999 quantile of chi-square(255) is 330.5.
    let statistic = chi_square(&counts);
    assert!(
        statistic < 330.5,
        "chi-square {statistic:.1} over 255 degrees of freedom"
    );
}
