//! P2's view is masked: over many runs, the messages the helper receives in
//! PrivateCompare and ShareConvert have the same distribution for two different secret
//! inputs (chi-square tests of homogeneity at significance 0.001, on fixed seeds so the
//! outcome is reproducible).

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use securenn_dsl::Result;
use securenn_dsl::net::local::LocalTransport;
use securenn_dsl::net::{Frame, Tag, Transport};
use securenn_dsl::party::{Common, P0, Private, Role};
use securenn_dsl::protocol::{private_compare, share_convert};
use securenn_dsl::ring::bits::decompose;
use securenn_dsl::ring::{Z64, Zp};
use securenn_dsl::session::{SessionConfig, run_with_transports};
use securenn_dsl::share::{Shared, share};
use securenn_dsl::tensor::Tensor;
use securenn_tests::public_elements;
use typenum::U0;

/// Everything a party received: (sender, payload).
type Log = Arc<Mutex<Vec<(Role, Vec<u8>)>>>;

/// An in-memory endpoint that records what it receives.
#[derive(Debug)]
struct Recording {
    inner: LocalTransport,
    log: Option<Log>,
}

impl Transport for Recording {
    fn role(&self) -> Role {
        self.inner.role()
    }
    fn max_frame_len(&self) -> usize {
        self.inner.max_frame_len()
    }
    fn send(&self, to: Role, frame: Frame) -> BoxFuture<'_, Result<()>> {
        self.inner.send(to, frame)
    }
    fn recv(&self, from: Role, tag: Tag) -> BoxFuture<'_, Result<Frame>> {
        Box::pin(async move {
            let frame = self.inner.recv(from, tag).await?;
            if let Some(log) = &self.log {
                log.lock().unwrap().push((from, frame.payload.clone()));
            }
            Ok(frame)
        })
    }
}

/// The helper's view of `runs` runs of `protocol`, each with its own seed.
fn helper_view<Op>(runs: u64, seed_base: u64, protocol: Op) -> Vec<(Role, Vec<u8>)>
where
    Op: AsyncFn(&securenn_dsl::session::Session, u64) -> Result<()> + Sync,
{
    let protocol = &protocol;
    let log: Log = Arc::default();
    for run in 0..runs {
        let config = SessionConfig {
            insecure_seed: Some(seed_base + run),
            ..SessionConfig::default()
        };
        let transports = LocalTransport::triple(&config).map(|inner| {
            let log = (inner.role() == Role::P2).then(|| Arc::clone(&log));
            Recording { inner, log }
        });
        let seed = seed_base + run;
        run_with_transports(transports, &config, |session| async move {
            protocol(&session, seed).await
        })
        .unwrap();
    }
    Arc::try_unwrap(log).unwrap().into_inner().unwrap()
}

/// Histogram of the bytes at `offset` (mod `width`) of the payloads of length `len`.
fn histogram(
    view: &[(Role, Vec<u8>)],
    from: Role,
    len: usize,
    width: usize,
    offset: usize,
    bins: usize,
) -> Vec<u64> {
    let mut counts = vec![0u64; bins];
    for (sender, payload) in view {
        if *sender == from && payload.len() == len {
            for chunk in payload.chunks_exact(width) {
                counts[usize::from(chunk[offset])] += 1;
            }
        }
    }
    counts
}

/// P0's and P1's payloads of length `len`, paired in the order P2 received them.
fn paired(view: &[(Role, Vec<u8>)], len: usize) -> impl Iterator<Item = (&Vec<u8>, &Vec<u8>)> {
    let pick = move |role: Role| {
        view.iter()
            .filter(move |(s, p)| *s == role && p.len() == len)
            .map(|(_, p)| p)
    };
    pick(Role::P0).zip(pick(Role::P1))
}

/// The reconstructed dᵢ = ⟨dᵢ⟩₀ + ⟨dᵢ⟩₁ mod 67 of every comparison, 64 at a time.
fn reconstructed_d(view: &[(Role, Vec<u8>)], len: usize) -> Vec<[u8; 64]> {
    let mut out = Vec::new();
    for (d0, d1) in paired(view, len) {
        for (a, b) in d0.chunks_exact(64).zip(d1.chunks_exact(64)) {
            let mut d = [0u8; 64];
            for (slot, (&x, &y)) in d.iter_mut().zip(a.iter().zip(b)) {
                *slot = u8::try_from((u16::from(x) + u16::from(y)) % 67).unwrap();
            }
            out.push(d);
        }
    }
    out
}

/// The position (0..64) of the zero in each comparison's reconstructed dᵢ, or 64 if none;
/// asserts that no comparison has two zeros (the property the masking relies on).
fn zero_positions(view: &[(Role, Vec<u8>)], len: usize) -> Vec<u64> {
    let mut counts = vec![0u64; 65];
    for d in reconstructed_d(view, len) {
        assert!(
            d.iter().filter(|&&v| v == 0).count() <= 1,
            "a comparison with two zeros"
        );
        counts[d.iter().position(|&v| v == 0).unwrap_or(64)] += 1;
    }
    counts
}

/// Histogram of the non-zero reconstructed dᵢ (values 1..66): uniform when every sᵢ is
/// fresh, but not if the sᵢ were constant (the reference code's parallel bug), since the
/// cᵢ themselves depend on x.
fn nonzero_d(view: &[(Role, Vec<u8>)], len: usize) -> Vec<u64> {
    let mut counts = vec![0u64; 67];
    for d in reconstructed_d(view, len) {
        for v in d {
            counts[usize::from(v)] += 1;
        }
    }
    counts[0] = 0;
    counts
}

/// Histogram of byte `byte` of x = ã₀ + ã₁, the value P2 reconstructs in ShareConvert.
fn masked_value_bytes(view: &[(Role, Vec<u8>)], byte: usize) -> Vec<u64> {
    let mut counts = vec![0u64; 256];
    for (a0, a1) in paired(view, N * 8) {
        for (x, y) in a0.chunks_exact(8).zip(a1.chunks_exact(8)) {
            let x = u64::from_le_bytes(x.try_into().unwrap())
                .wrapping_add(u64::from_le_bytes(y.try_into().unwrap()));
            counts[usize::from(x.to_le_bytes()[byte])] += 1;
        }
    }
    counts
}

/// Asserts that two histograms come from one distribution: chi-square test of homogeneity
/// at significance 0.001 (critical value by the Wilson–Hilferty approximation).
fn assert_same_distribution(name: &str, a: &[u64], b: &[u64]) {
    let (total_a, total_b) = (a.iter().sum::<u64>() as f64, b.iter().sum::<u64>() as f64);
    assert!(
        total_a > 1000.0 && total_b > 1000.0,
        "{name}: too few samples"
    );
    let mut statistic = 0.0;
    let mut bins = 0;
    for (&x, &y) in a.iter().zip(b) {
        let column = (x + y) as f64;
        if column == 0.0 {
            continue;
        }
        bins += 1;
        let expected_a = column * total_a / (total_a + total_b);
        let expected_b = column * total_b / (total_a + total_b);
        statistic += (x as f64 - expected_a).powi(2) / expected_a
            + (y as f64 - expected_b).powi(2) / expected_b;
    }
    let k = f64::from(bins - 1);
    let z = 3.090; // the 0.999 quantile of the standard normal
    let critical = k * (1.0 - 2.0 / (9.0 * k) + z * (2.0 / (9.0 * k)).sqrt()).powi(3);
    assert!(
        statistic < critical,
        "{name}: chi-square {statistic:.1} over {k} degrees of freedom (critical {critical:.1})"
    );
}

/// Comparisons per run.
const N: usize = 64;
const RUNS: u64 = 60;

fn compare_view(x: u64, seed_base: u64) -> Vec<(Role, Vec<u8>)> {
    helper_view(RUNS, seed_base, async |session, seed| {
        let role = session.role();
        let bits = Private::<P0, _>::new(role, || {
            Tensor::from_vec([N, 64], (0..N).flat_map(|_| decompose::<Zp>(x)).collect()).unwrap()
        });
        let bits: Shared<Zp, U0> = share(session, &bits, [N, 64]).await?;
        // The threshold sits between the two secrets: x > r for one, x < r for the other.
        let threshold = Common::new(role, || vec![1u64 << 40; N]);
        // β is the comparison's uniform random mask, as in ShareConvert and ComputeMSB.
        let beta = Common::new(role, || {
            public_elements::<Z64>(seed, N)
                .iter()
                .map(|v| v.value() & 1 == 1)
                .collect()
        });
        private_compare(session, &bits, &threshold, &beta)
            .await
            .map(drop)
    })
}

#[test]
fn what_p2_receives_in_private_compare_does_not_depend_on_the_secret() {
    let small = compare_view(3, 0);
    let large = compare_view(u64::MAX - 3, 10_000);
    let d_len = N * 64;
    for from in [Role::P0, Role::P1] {
        assert_same_distribution(
            &format!("PrivateCompare d values from {from}"),
            &histogram(&small, from, d_len, 1, 0, 256),
            &histogram(&large, from, d_len, 1, 0, 256),
        );
    }
    assert_same_distribution(
        "PrivateCompare zero positions",
        &zero_positions(&small, d_len),
        &zero_positions(&large, d_len),
    );
    assert_same_distribution(
        "PrivateCompare reconstructed d",
        &nonzero_d(&small, d_len),
        &nonzero_d(&large, d_len),
    );
}

#[test]
fn the_zero_p2_may_see_sits_at_a_uniformly_random_position() {
    // Goodness of fit of the zero's position (over the comparisons that have one) to the
    // uniform distribution on 64 positions, at significance 0.001.
    let view = compare_view(3, 40_000);
    let positions = zero_positions(&view, N * 64);
    let observed = &positions[..64];
    let total: u64 = observed.iter().sum();
    assert!(total > 1000, "{total} comparisons with a zero");
    let expected = total as f64 / 64.0;
    let statistic: f64 = observed
        .iter()
        .map(|&o| (o as f64 - expected).powi(2) / expected)
        .sum();
    let k = 63.0f64;
    let critical = k * (1.0 - 2.0 / (9.0 * k) + 3.090 * (2.0 / (9.0 * k)).sqrt()).powi(3);
    assert!(
        statistic < critical,
        "chi-square {statistic:.1} over 63 degrees of freedom (critical {critical:.1})"
    );
}

fn convert_view(a: i64, seed_base: u64) -> Vec<(Role, Vec<u8>)> {
    helper_view(RUNS, seed_base, async |session, _| {
        let input = Private::<P0, _>::new(session.role(), || {
            Tensor::from_vec([N], vec![Z64::from_i64(a); N]).unwrap()
        });
        let a: Shared<Z64, U0> = share(session, &input, [N]).await?;
        share_convert(session, &a).await.map(drop)
    })
}

#[test]
fn what_p2_receives_in_share_convert_does_not_depend_on_the_secret() {
    let small = convert_view(5, 20_000);
    let large = convert_view(-(1 << 62), 30_000);
    for from in [Role::P0, Role::P1] {
        for byte in [0, 3, 7] {
            assert_same_distribution(
                &format!("ShareConvert masked share from {from}, byte {byte}"),
                &histogram(&small, from, N * 8, 8, byte, 256),
                &histogram(&large, from, N * 8, 8, byte, 256),
            );
        }
        assert_same_distribution(
            &format!("ShareConvert's comparison d values from {from}"),
            &histogram(&small, from, N * 64, 1, 0, 256),
            &histogram(&large, from, N * 64, 1, 0, 256),
        );
    }
    assert_same_distribution(
        "ShareConvert zero positions",
        &zero_positions(&small, N * 64),
        &zero_positions(&large, N * 64),
    );
    assert_same_distribution(
        "ShareConvert reconstructed d",
        &nonzero_d(&small, N * 64),
        &nonzero_d(&large, N * 64),
    );
    // What P2 reconstructs from the masked shares, x = a + r: uniform only because r is.
    for byte in [0, 4, 7] {
        assert_same_distribution(
            &format!("ShareConvert masked value x = a + r, byte {byte}"),
            &masked_value_bytes(&small, byte),
            &masked_value_bytes(&large, byte),
        );
    }
}

#[test]
fn the_chi_square_test_detects_a_real_difference() {
    // A control: the unmasked top bytes of the two ShareConvert inputs differ, and the test
    // must say so, or the tests above would prove nothing.
    let top_byte = |a: i64| {
        let mut counts = vec![0u64; 256];
        counts[usize::from(a.to_le_bytes()[7])] += 5000;
        counts[usize::from(a.to_le_bytes()[7] ^ 1)] += 5000;
        counts
    };
    let result = std::panic::catch_unwind(|| {
        assert_same_distribution("control", &top_byte(5), &top_byte(-(1 << 62)))
    });
    assert!(
        result.is_err(),
        "two different distributions must be told apart"
    );
}
