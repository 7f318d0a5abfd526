//! A party that holds no share of a secret learns nothing of it from its messages. Over many
//! runs of a protocol, each on its own fixed seed so that every outcome is reproducible,
//! what one party receives has the same distribution for two clearly different secret
//! inputs: chi-square tests of homogeneity, each at significance 0.001 (critical values by
//! the Wilson–Hilferty approximation), on histograms of more than 1000 samples each.
//!
//! - **P2, the helper**, in PrivateCompare, ShareConvert, ComputeMSB and DMaxpool: the
//!   bytes of every payload from each sender, and what P2 reconstructs from the two
//!   holders' messages (the dᵢ of a comparison and the position of their zero, x = a + r in
//!   ShareConvert, the rotated index k = ind + r + s in DMaxpool).
//! - **P1, a share holder**, in MatMul and in the reveal-free protocols DReLU, ReLU,
//!   Division and Maxpool: the number and sizes of the messages it receives and sends, the
//!   bytes of every payload by sender and payload length, and the values P1 opens by
//!   adding what P0 sent it to what it sent P0 under the same tag (E and F of every Beaver
//!   product, r of ComputeMSB).
//! - **Controls**: the chi-square test tells two different distributions apart, and each
//!   new analysis fails on a protocol written here to leak (a plaintext sent to P1, a
//!   sharing opened between P0 and P1, DMaxpool's index shares sent to P2 unmasked), so
//!   that no test passes for want of power.
//!
//! A party's view is recorded from the moment its protocol code starts: the session's
//! set-up (job and key agreement) comes before any input and is not part of it.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use securenn_dsl::Result;
use securenn_dsl::dsl::share;
use securenn_dsl::net::local::LocalTransport;
use securenn_dsl::net::{Frame, Tag, Transport};
use securenn_dsl::party::{Common, P0, Private, Role};
use securenn_dsl::protocol::{
    Pool2d, compute_msb, division, dmaxpool, drelu, matmul, maxpool, private_compare, relu,
    share_convert,
};
use securenn_dsl::ring::bits::decompose;
use securenn_dsl::ring::{Ring, Z64, ZOdd, Zp};
use securenn_dsl::session::{Session, SessionConfig, run_with_transports};
use securenn_dsl::share::Shared;
use securenn_dsl::tensor::Tensor;
use securenn_tests::public_elements;
use typenum::{U0, U5};

// ---- Recording a party's view -----------------------------------------------------------

/// One message the observed party received from `peer` or sent to `peer`, in run `run`.
#[derive(Debug)]
struct Message {
    run: u64,
    peer: Role,
    tag: Tag,
    payload: Vec<u8>,
}

/// What the observed party received and sent over a series of runs, in order.
#[derive(Debug, Default)]
struct View {
    received: Vec<Message>,
    sent: Vec<Message>,
}

impl View {
    /// The payloads of `len` bytes received from `from`, in the order they arrived.
    fn payloads(&self, from: Role, len: usize) -> impl Iterator<Item = &[u8]> {
        self.received
            .iter()
            .filter(move |m| m.peer == from && m.payload.len() == len)
            .map(|m| m.payload.as_slice())
    }
}

/// An in-memory endpoint that records what its party receives and sends once armed.
#[derive(Debug)]
struct Recording {
    inner: LocalTransport,
    run: u64,
    /// Set when the party's protocol code starts, after the session's set-up.
    armed: Arc<AtomicBool>,
    /// `Some` at the observed party only.
    log: Option<Arc<Mutex<View>>>,
}

impl Recording {
    fn record(&self, peer: Role, frame: &Frame, sent: bool) {
        if let Some(log) = &self.log
            && self.armed.load(Ordering::Acquire)
        {
            let message = Message {
                run: self.run,
                peer,
                tag: frame.tag,
                payload: frame.payload.clone(),
            };
            let mut log = log.lock().unwrap();
            if sent {
                log.sent.push(message);
            } else {
                log.received.push(message);
            }
        }
    }
}

impl Transport for Recording {
    fn role(&self) -> Role {
        self.inner.role()
    }
    fn max_frame_len(&self) -> usize {
        self.inner.max_frame_len()
    }
    fn send(&self, to: Role, frame: Frame) -> BoxFuture<'_, Result<()>> {
        self.record(to, &frame, true);
        self.inner.send(to, frame)
    }
    fn recv(&self, from: Role, tag: Tag) -> BoxFuture<'_, Result<Frame>> {
        Box::pin(async move {
            let frame = self.inner.recv(from, tag).await?;
            self.record(from, &frame, false);
            Ok(frame)
        })
    }
}

/// `observer`'s view of `runs` runs of `protocol`, run `i` on seed `seed_base + i`.
fn party_view<Op>(observer: Role, runs: u64, seed_base: u64, protocol: Op) -> View
where
    Op: AsyncFn(&Session, u64) -> Result<()> + Sync,
{
    let protocol = &protocol;
    let log = Arc::new(Mutex::new(View::default()));
    for run in 0..runs {
        let seed = seed_base + run;
        let config = SessionConfig {
            insecure_seed: Some(seed),
            ..SessionConfig::default()
        };
        let armed: [Arc<AtomicBool>; 3] = Default::default();
        let transports = LocalTransport::triple(&config.net).map(|inner| {
            let role = inner.role();
            Recording {
                run,
                armed: Arc::clone(&armed[role.index()]),
                log: (role == observer).then(|| Arc::clone(&log)),
                inner,
            }
        });
        let armed = &armed;
        run_with_transports(transports, &config, |session| async move {
            armed[session.role().index()].store(true, Ordering::Release);
            protocol(&session, seed).await
        })
        .unwrap();
    }
    Arc::try_unwrap(log).unwrap().into_inner().unwrap()
}

/// The helper's view of `runs` runs of `protocol`.
fn helper_view<Op>(runs: u64, seed_base: u64, protocol: Op) -> View
where
    Op: AsyncFn(&Session, u64) -> Result<()> + Sync,
{
    party_view(Role::P2, runs, seed_base, protocol)
}

// ---- Analyses ---------------------------------------------------------------------------

/// Histogram of the bytes at `offset` (mod `width`) of the payloads of length `len`.
fn histogram(
    view: &View,
    from: Role,
    len: usize,
    width: usize,
    offset: usize,
    bins: usize,
) -> Vec<u64> {
    let mut counts = vec![0u64; bins];
    for payload in view.payloads(from, len) {
        for chunk in payload.chunks_exact(width) {
            counts[usize::from(chunk[offset])] += 1;
        }
    }
    counts
}

/// P0's and P1's payloads of length `len`, paired in the order P2 received them.
fn paired(view: &View, len: usize) -> impl Iterator<Item = (&[u8], &[u8])> {
    view.payloads(Role::P0, len)
        .zip(view.payloads(Role::P1, len))
}

/// The reconstructed dᵢ = ⟨dᵢ⟩₀ + ⟨dᵢ⟩₁ mod 67 of every comparison, 64 at a time.
fn reconstructed_d(view: &View, len: usize) -> Vec<[u8; 64]> {
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
fn zero_positions(view: &View, len: usize) -> Vec<u64> {
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
fn nonzero_d(view: &View, len: usize) -> Vec<u64> {
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
fn masked_value_bytes(view: &View, byte: usize) -> Vec<u64> {
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

fn compare_view(x: u64, seed_base: u64) -> View {
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

fn convert_view(a: i64, seed_base: u64) -> View {
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
    let result =
        catch_unwind(|| assert_same_distribution("control", &top_byte(5), &top_byte(-(1 << 62))));
    assert!(
        result.is_err(),
        "two different distributions must be told apart"
    );
}

// ---- P2 in ComputeMSB and DMaxpool ------------------------------------------------------

/// The number of messages of each direction (sent or not), peer and payload length.
fn sizes(view: &View) -> BTreeMap<(bool, Role, usize), usize> {
    let mut counts = BTreeMap::new();
    for (sent, messages) in [(false, &view.received), (true, &view.sent)] {
        for m in messages {
            *counts.entry((sent, m.peer, m.payload.len())).or_default() += 1;
        }
    }
    counts
}

/// Asserts that the two views hold as many messages of each direction, peer and size: how
/// much a party exchanges must not depend on the secret either.
fn assert_same_sizes(name: &str, a: &View, b: &View) {
    assert!(!a.received.is_empty(), "{name}: nothing received");
    assert_eq!(sizes(a), sizes(b), "{name}: message sizes differ");
}

fn msb_view(value: ZOdd, seed_base: u64) -> View {
    helper_view(RUNS, seed_base, async |session, _| {
        let input = Private::<P0, _>::new(session.role(), || {
            Tensor::from_vec([N], vec![value; N]).unwrap()
        });
        let a: Shared<ZOdd, U0> = share(session, &input, [N]).await?;
        compute_msb(session, &a).await.map(drop)
    })
}

#[test]
fn what_p2_receives_in_compute_msb_does_not_depend_on_the_secret() {
    // MSB 0 against MSB 1: a small positive value and a large negative one, over Z_2^64-1.
    let small = msb_view(ZOdd::from_u64(5), 50_000);
    let large = msb_view(-ZOdd::from_u64(1 << 62), 60_000);
    assert_same_sizes("ComputeMSB", &small, &large);
    // P2 deals x, its bits, LSB(x), β′ and a triple; all it receives are PrivateCompare's dᵢ.
    let d_len = N * 64;
    assert!(
        small.received.iter().all(|m| m.payload.len() == d_len),
        "P2 receives only the comparison's dᵢ in ComputeMSB"
    );
    for from in [Role::P0, Role::P1] {
        assert_same_distribution(
            &format!("ComputeMSB's comparison d values from {from}"),
            &histogram(&small, from, d_len, 1, 0, 256),
            &histogram(&large, from, d_len, 1, 0, 256),
        );
    }
    assert_same_distribution(
        "ComputeMSB zero positions",
        &zero_positions(&small, d_len),
        &zero_positions(&large, d_len),
    );
    assert_same_distribution(
        "ComputeMSB reconstructed d",
        &nonzero_d(&small, d_len),
        &nonzero_d(&large, d_len),
    );
}

/// Values per DMaxpool window: a power of two up to 64.
const WINDOW: usize = 16;

/// P2's view of DMaxpool on `N` windows, all with their maximum at `index`, or, if
/// `unmasked`, of a leaky variant in which P0 and P1 send P2 their index shares mod
/// `WINDOW` without DMaxpool's offsets.
fn dmaxpool_view(index: u64, seed_base: u64, unmasked: bool) -> View {
    helper_view(RUNS, seed_base, async |session, _| {
        let input = Private::<P0, _>::new(session.role(), || {
            Tensor::from_vec([N], vec![Z64::new(index); N]).unwrap()
        });
        let argmax: Shared<Z64, U0> = share(session, &input, [N]).await?;
        if !unmasked {
            return dmaxpool(session, &argmax, WINDOW).await.map(drop);
        }
        let call = session.call("leak");
        let modulus = u64::try_from(WINDOW).unwrap();
        match argmax.local_share() {
            Some(mine) => {
                let reduced: Vec<Zp> = mine
                    .iter()
                    .map(|v| Zp::from_u64(v.value() % modulus))
                    .collect();
                call.send(Role::P2, 0, &reduced).await
            }
            None => {
                call.recv::<Zp>(Role::P0, 0, N).await?;
                call.recv::<Zp>(Role::P1, 0, N).await.map(drop)
            }
        }
    })
}

/// Histogram of k = k₀ + k₁ mod `WINDOW`, the index P2 reconstructs in DMaxpool.
fn rotated_index(view: &View) -> Vec<u64> {
    let mut counts = vec![0u64; WINDOW];
    for (k0, k1) in paired(view, N) {
        for (&a, &b) in k0.iter().zip(k1) {
            counts[(usize::from(a) + usize::from(b)) % WINDOW] += 1;
        }
    }
    counts
}

/// P2's views of DMaxpool for two argmax indices: each holder's masked index (one element
/// of Z_67 per window) and their sum k, the position P2 deals the one-hot vector at.
fn assert_same_dmaxpool_view(a: &View, b: &View) {
    assert_same_sizes("DMaxpool", a, b);
    assert!(
        a.received.iter().all(|m| m.payload.len() == N),
        "P2 receives one index per window from each holder, and nothing else"
    );
    for from in [Role::P0, Role::P1] {
        assert_same_distribution(
            &format!("DMaxpool masked index from {from}"),
            &histogram(a, from, N, 1, 0, 67),
            &histogram(b, from, N, 1, 0, 67),
        );
    }
    assert_same_distribution(
        "DMaxpool rotated index k",
        &rotated_index(a),
        &rotated_index(b),
    );
}

#[test]
fn what_p2_receives_in_dmaxpool_does_not_depend_on_the_argmax() {
    let first = dmaxpool_view(1, 110_000, false);
    let last = dmaxpool_view(14, 120_000, false);
    assert_same_dmaxpool_view(&first, &last);
}

// ---- P1 in MatMul and in the reveal-free protocols --------------------------------------

/// The bytes examined in every 8-byte word of a payload. Payloads of elements of Z_p (one
/// byte each) are read in words of 8 bytes too; every length P1 receives is a multiple of 8.
const OFFSETS: [usize; 3] = [0, 3, 7];

/// Histogram of byte `offset` of every 8-byte word of `payloads`.
fn word_bytes<'a>(payloads: impl Iterator<Item = &'a [u8]>, offset: usize) -> Vec<u64> {
    let mut counts = vec![0u64; 256];
    for payload in payloads {
        assert!(
            payload.len().is_multiple_of(8),
            "a payload of {} bytes",
            payload.len()
        );
        for word in payload.chunks_exact(8) {
            counts[usize::from(word[offset])] += 1;
        }
    }
    counts
}

/// The values P1 opens with P0: each payload P1 received from P0, added word by word mod
/// 2^64 to the payload P1 sent P0 under the same tag in the same run. (For an opening over
/// Z_2^64-1 the sum mod 2^64 is the ring's sum or one less, which moves no distribution
/// from uniform nor from a point mass.)
fn opened(view: &View) -> Vec<Vec<u8>> {
    let sent: HashMap<(u64, Tag), &[u8]> = view
        .sent
        .iter()
        .filter(|m| m.peer == Role::P0)
        .map(|m| ((m.run, m.tag), m.payload.as_slice()))
        .collect();
    let word = |bytes: &[u8]| u64::from_le_bytes(bytes.try_into().unwrap());
    view.received
        .iter()
        .filter(|m| m.peer == Role::P0)
        .filter_map(|m| {
            let mine = sent.get(&(m.run, m.tag))?;
            assert_eq!(mine.len(), m.payload.len(), "an opening of two lengths");
            Some(
                m.payload
                    .chunks_exact(8)
                    .zip(mine.chunks_exact(8))
                    .flat_map(|(a, b)| word(a).wrapping_add(word(b)).to_le_bytes())
                    .collect(),
            )
        })
        .collect()
}

/// Asserts that two views of P1 have the same distribution: the number and sizes of the
/// messages; the bytes at [`OFFSETS`] of every word, for each sender and payload length;
/// the same bytes of the values opened with P0, for each length. Returns the number of
/// lengths of opened values compared.
fn assert_same_holder_view(name: &str, a: &View, b: &View) -> usize {
    assert_same_sizes(name, a, b);
    let classes: BTreeSet<(Role, usize)> = a
        .received
        .iter()
        .map(|m| (m.peer, m.payload.len()))
        .collect();
    for (from, len) in classes {
        for offset in OFFSETS {
            assert_same_distribution(
                &format!(
                    "{name}: byte {offset} of the words of the {len}-byte messages from {from}"
                ),
                &word_bytes(a.payloads(from, len), offset),
                &word_bytes(b.payloads(from, len), offset),
            );
        }
    }
    let (opened_a, opened_b) = (opened(a), opened(b));
    let lens: BTreeSet<usize> = opened_a.iter().map(Vec::len).collect();
    for &len in &lens {
        let of_len = |values: &'_ [Vec<u8>]| -> Vec<Vec<u8>> {
            values.iter().filter(|v| v.len() == len).cloned().collect()
        };
        let (values_a, values_b) = (of_len(&opened_a), of_len(&opened_b));
        for offset in OFFSETS {
            assert_same_distribution(
                &format!(
                    "{name}: byte {offset} of the words of the {len}-byte values opened with P0"
                ),
                &word_bytes(values_a.iter().map(Vec::as_slice), offset),
                &word_bytes(values_b.iter().map(Vec::as_slice), offset),
            );
        }
    }
    lens.len()
}

/// A tensor of these signed integers.
fn signed(shape: impl Into<securenn_dsl::tensor::Shape>, values: &[i64]) -> Tensor<Z64> {
    Tensor::from_vec(shape, values.iter().map(|&v| Z64::from_i64(v)).collect()).unwrap()
}

/// Rows and columns of MatMul's square operands.
const M: usize = 8;

/// P1's view of X·Y for X and Y (M×M, row-major) both P0's inputs.
fn matmul_view(x: &[i64], y: &[i64], seed_base: u64) -> View {
    party_view(Role::P1, RUNS, seed_base, async |session, _| {
        let role = session.role();
        let x = Private::<P0, _>::new(role, || signed([M, M], x));
        let y = Private::<P0, _>::new(role, || signed([M, M], y));
        let x: Shared<Z64, U0> = share(session, &x, [M, M]).await?;
        let y: Shared<Z64, U0> = share(session, &y, [M, M]).await?;
        matmul(session, &x, &y).await.map(drop)
    })
}

#[test]
fn what_p1_receives_in_matmul_does_not_depend_on_the_secrets() {
    // The identity times a matrix of threes, against two matrices of large negative values.
    let identity: Vec<i64> = (0..M * M).map(|i| i64::from(i % (M + 1) == 0)).collect();
    let small = matmul_view(&identity, &[3; M * M], 70_000);
    let large = [-(1 << 40) - 7; M * M];
    let large = matmul_view(&large, &large, 80_000);
    // P1 receives E₀‖F₀ from P0 and ⟨Z⟩₁ from P2, and opens E‖F with P0.
    let lens: BTreeSet<(Role, usize)> = small
        .received
        .iter()
        .map(|m| (m.peer, m.payload.len()))
        .collect();
    assert_eq!(
        lens,
        BTreeSet::from([(Role::P0, 2 * M * M * 8), (Role::P2, M * M * 8)])
    );
    assert_eq!(assert_same_holder_view("MatMul", &small, &large), 1);
}

/// P1's view of `protocol` on a secret tensor of `N` copies of `value`, P0's input.
fn holder_view_of<Op>(value: i64, seed_base: u64, protocol: Op) -> View
where
    Op: AsyncFn(&Session, &Shared<Z64, U0>) -> Result<()> + Sync,
{
    let protocol = &protocol;
    party_view(Role::P1, RUNS, seed_base, async move |session, _| {
        let input = Private::<P0, _>::new(session.role(), || signed([N], &[value; N]));
        let a: Shared<Z64, U0> = share(session, &input, [N]).await?;
        protocol(session, &a).await
    })
}

#[test]
fn what_p1_receives_in_drelu_does_not_depend_on_the_secret() {
    let positive = holder_view_of(5, 90_000, async |s, a| drelu(s, a).await.map(drop));
    let negative = holder_view_of(-(1 << 61), 100_000, async |s, a| {
        drelu(s, a).await.map(drop)
    });
    // P1 opens r = 2a + x of ComputeMSB and E‖F of its product.
    assert_eq!(assert_same_holder_view("DReLU", &positive, &negative), 2);
}

#[test]
fn what_p1_receives_in_relu_does_not_depend_on_the_secret() {
    let positive = holder_view_of(5, 130_000, async |s, a| relu(s, a).await.map(drop));
    let negative = holder_view_of(-(1 << 61), 140_000, async |s, a| relu(s, a).await.map(drop));
    assert_eq!(assert_same_holder_view("ReLU", &positive, &negative), 2);
}

/// P1's view of x / y with 5 fractional bits (6 quotient bits, each a DReLU and a product),
/// for `N` copies of x and of y, both P0's inputs.
fn division_view(x: i64, y: i64, seed_base: u64) -> View {
    party_view(Role::P1, RUNS, seed_base, async |session, _| {
        let role = session.role();
        let x = Private::<P0, _>::new(role, || signed([N], &[x; N]));
        let y = Private::<P0, _>::new(role, || signed([N], &[y; N]));
        let x: Shared<Z64, U5> = share(session, &x, [N]).await?;
        let y: Shared<Z64, U5> = share(session, &y, [N]).await?;
        division(session, &x, &y).await.map(drop)
    })
}

#[test]
fn what_p1_receives_in_division_does_not_depend_on_the_secrets() {
    // Quotients 0.09375 (every bit but two 0) and 1.0 (bit 5 alone 1).
    let small = division_view(3 << 5, 32 << 5, 150_000);
    let one = division_view(1000 << 5, 1000 << 5, 160_000);
    assert_eq!(assert_same_holder_view("Division", &small, &one), 2);
}

/// Maxpool's input: one 8×16 image of one channel, 2×2 windows (32 windows, 96
/// comparisons over two levels of the tournament).
const POOL_HEIGHT: usize = 8;
const POOL_WIDTH: usize = 16;

/// P1's view of 2×2 max pooling of an image whose every window holds `window[i]` at
/// position i (row-major within the window), P0's input.
fn maxpool_view(window: [i64; 4], seed_base: u64) -> View {
    let image: Vec<i64> = (0..POOL_HEIGHT * POOL_WIDTH)
        .map(|i| window[(i / POOL_WIDTH % 2) * 2 + i % 2])
        .collect();
    let shape = [1, POOL_HEIGHT, POOL_WIDTH, 1];
    party_view(Role::P1, RUNS, seed_base, async |session, _| {
        let input = Private::<P0, _>::new(session.role(), || signed(shape, &image));
        let a: Shared<Z64, U0> = share(session, &input, shape).await?;
        maxpool(session, &a, Pool2d { kernel: 2 }).await.map(drop)
    })
}

#[test]
fn what_p1_receives_in_maxpool_does_not_depend_on_the_secret() {
    // Every window's maximum first and positive, against last and all values negative.
    let first = maxpool_view([4000, 3000, 2000, 1000], 170_000);
    let last = maxpool_view([-(1 << 40), -(1 << 40) + 1, -(1 << 40) + 2, -5], 180_000);
    assert!(assert_same_holder_view("Maxpool", &first, &last) >= 2);
}

// ---- Controls: each analysis detects a leak ---------------------------------------------

/// The message of the panic `check` must raise.
fn failure_of(check: impl FnOnce()) -> String {
    let Err(panic) = catch_unwind(AssertUnwindSafe(check)) else {
        panic!("the analysis did not detect the leak");
    };
    panic.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn each_analysis_detects_a_leak() {
    // P0 sends P1 its plaintext input: the bytes of P1's messages from P0 show it.
    let plaintext = |value: i64, seed_base| {
        holder_view_of(value, seed_base, async move |session, _| {
            let call = session.call("leak");
            match session.role() {
                Role::P0 => call.send(Role::P1, 0, &[Z64::from_i64(value); N]).await,
                Role::P1 => call.recv::<Z64>(Role::P0, 0, N).await.map(drop),
                Role::P2 => Ok(()),
            }
        })
    };
    let failure = failure_of(|| {
        assert_same_holder_view(
            "leak",
            &plaintext(5, 200_000),
            &plaintext(-(1 << 61), 210_000),
        );
    });
    assert!(failure.contains("messages from P0"), "{failure}");

    // P0 and P1 exchange their shares: each share alone is uniform, the opened value is not.
    let opening = |value: i64, seed_base| {
        holder_view_of(value, seed_base, async |session, a| {
            let Some(other) = session.role().other_holder() else {
                return Ok(());
            };
            let call = session.call("leak");
            call.send(other, 0, a.local_share().unwrap()).await?;
            call.recv::<Z64>(other, 0, N).await.map(drop)
        })
    };
    let failure = failure_of(|| {
        assert_same_holder_view("leak", &opening(5, 220_000), &opening(-(1 << 61), 230_000));
    });
    assert!(failure.contains("opened with P0"), "{failure}");

    // DMaxpool without its offsets: each index share alone is uniform, their sum is not.
    let failure = failure_of(|| {
        assert_same_dmaxpool_view(
            &dmaxpool_view(1, 240_000, true),
            &dmaxpool_view(14, 250_000, true),
        );
    });
    assert!(failure.contains("rotated index"), "{failure}");
}
