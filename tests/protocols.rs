//! Every SecureNN protocol equals its plaintext definition: on 10^5 random elements in one
//! call, on random shapes (proptest), and on the edge cases (0, ±1, ±(2^62 − 1), the DReLU
//! range boundary, x = r, r = 2^64 − 1, ties in Maxpool, Division with x = y and x = 0).

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use proptest::prelude::*;
use securenn_dsl::dsl::{reveal_to, share};
use securenn_dsl::party::{Common, P0, P1, Private};
use securenn_dsl::protocol::{
    MAX_ALL_PAIRS, Pool2d, argmax, compute_msb, conv2d, division, dmaxpool, drelu, matmul, maxpool,
    maxpool_relu, mul_elementwise, private_compare, relu, select_share, share_convert,
};
use securenn_dsl::ring::bits::decompose;
use securenn_dsl::ring::{Ring, Z64, ZOdd, Zp};
use securenn_dsl::session::run_local;
use securenn_dsl::share::Shared;
use securenn_dsl::tensor::Tensor;
use securenn_tests::{
    binary_op, public_elements, public_signed, public_tensor, signed_tensor, unary_op,
};
use typenum::{U0, U13};

/// Elements per protocol over the random-input cases below: 10^5.
const BULK: usize = 100_000;
/// Cases of each protocol's random-input property test.
const CASES: u32 = 2;
/// Elements per case.
const PER_CASE: usize = BULK / CASES as usize;

/// DReLU's range: |a| < 2^62.
const RANGE: i64 = (1 << 62) - 1;

fn signs(values: &[i64]) -> Vec<Z64> {
    values
        .iter()
        .map(|&v| Z64::new(u64::from(v >= 0)))
        .collect()
}

fn values_of(tensor: &Tensor<Z64>) -> Vec<i64> {
    tensor.data().iter().map(|v| v.as_i64()).collect()
}

// ---- DReLU, ReLU, SelectShare --------------------------------------------------------

fn check_drelu(values: &[i64]) {
    let out = unary_op::<U0, Z64, U0, _>(&signed_tensor(values), async |s, a| {
        Ok(drelu(s, a).await?.into_shared())
    });
    assert_eq!(
        out.value.data(),
        signs(values).as_slice(),
        "drelu of {values:?}"
    );
}

#[test]
fn drelu_on_edge_cases() {
    let edges = [
        0,
        1,
        -1,
        RANGE,
        -RANGE,
        -(1 << 62),
        2,
        -2,
        1 << 61,
        -(1 << 61),
    ];
    check_drelu(&edges);
}

#[test]
fn drelu_outside_its_range_reads_bit_62() {
    // 2^62 is the first value outside the range: 2a = 2^63 has its top bit set, so DReLU
    // reports it as negative. The range condition |a| < 2^62 is what keeps this away.
    let out =
        unary_op::<U0, Z64, U0, _>(&signed_tensor(&[1 << 62, (1 << 62) + 5]), async |s, a| {
            Ok(drelu(s, a).await?.into_shared())
        });
    assert_eq!(out.value.data(), &[Z64::new(0), Z64::new(0)]);
}

fn drelu_bulk(seed: u64, n: usize) {
    check_drelu(&public_signed(seed, n, RANGE));
}

fn relu_bulk(seed: u64, n: usize) {
    let mut values = public_signed(seed, n, 1 << 40);
    values.extend([0, 1, -1, RANGE, -RANGE]);
    let out = unary_op::<U13, Z64, U13, _>(&signed_tensor(&values), async |s, a| {
        Ok(relu(s, a).await?.value)
    });
    let expected: Vec<i64> = values.iter().map(|&v| v.max(0)).collect();
    assert_eq!(values_of(&out.value), expected);
}

#[test]
fn relu_derivative_is_drelu() {
    let values = public_signed(3, 1000, 1 << 40);
    let out = unary_op::<U13, Z64, U0, _>(&signed_tensor(&values), async |s, a| {
        Ok(relu(s, a).await?.derivative.into_shared())
    });
    assert_eq!(out.value.data(), signs(&values).as_slice());
}

fn select_share_bulk(seed: u64, n: usize) {
    let x = public_signed(seed, n, 1 << 50);
    let y = public_signed(seed ^ 1, n, 1 << 50);
    let choice = public_signed(seed ^ 2, n, 1000);
    // The choice bit comes from DReLU of a third input, shared by P0 along with x.
    let stacked: Vec<i64> = x.iter().chain(&choice).copied().collect();
    let out = binary_op::<U13, Z64, U13, _>(
        &signed_tensor(&stacked),
        &signed_tensor(&y),
        async |s, xc, y| {
            let (x, c) = xc
                .local_share()
                .map_or((vec![], vec![]), |d| (d[..n].to_vec(), d[n..].to_vec()));
            let x = Shared::<Z64, U13>::from_share(s.role(), [n], x)?;
            let c = Shared::<Z64, U13>::from_share(s.role(), [n], c)?;
            let bit = drelu(s, &c).await?;
            select_share(s, &bit, &x, y).await
        },
    );
    let expected: Vec<i64> = (0..n)
        .map(|i| if choice[i] >= 0 { y[i] } else { x[i] })
        .collect();
    assert_eq!(values_of(&out.value), expected);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn drelu_matches_the_sign(values in proptest::collection::vec(-RANGE..=RANGE, 1..300)) {
        let out = unary_op::<U0, Z64, U0, _>(&signed_tensor(&values), async |s, a| {
            Ok(drelu(s, a).await?.into_shared())
        });
        let expected = signs(&values);
        prop_assert_eq!(out.value.data(), expected.as_slice());
    }
}

// ---- ShareConvert and ComputeMSB -----------------------------------------------------

fn check_share_convert(values: &[u64]) {
    let input = Tensor::from_vec(
        [values.len()],
        values.iter().map(|&v| Z64::new(v)).collect(),
    )
    .unwrap();
    let out = unary_op::<U0, ZOdd, U0, _>(&input, async |s, a| share_convert(s, a).await);
    let got: Vec<u64> = out.value.data().iter().map(|v| v.value()).collect();
    assert_eq!(got, values);
}

#[test]
fn share_convert_keeps_the_value_on_edges() {
    check_share_convert(&[0, 1, 2, u64::MAX - 1, 1 << 63, (1 << 63) - 1, (1 << 62) - 1]);
}

fn share_convert_bulk(seed: u64, n: usize) {
    let values: Vec<u64> = public_elements::<Z64>(seed, n)
        .into_iter()
        .map(|v| v.value().min(u64::MAX - 1))
        .collect();
    check_share_convert(&values);
}

fn check_compute_msb(values: &[u64]) {
    let results = run_local(|session| async move {
        let role = session.role();
        let input = Private::<P1, _>::new(role, || {
            Tensor::from_vec(
                [values.len()],
                values.iter().map(|&v| ZOdd::new(v).unwrap()).collect(),
            )
            .unwrap()
        });
        let a: Shared<ZOdd, U0> = share(&session, &input, [values.len()]).await?;
        let msb = compute_msb(&session, &a).await?;
        Ok(reveal_to::<P0, _>(&session, msb.as_shared())
            .await?
            .into_inner())
    })
    .unwrap();
    let expected: Vec<Z64> = values.iter().map(|&v| Z64::new(v >> 63)).collect();
    assert_eq!(results[0].as_ref().unwrap().data(), expected.as_slice());
}

#[test]
fn compute_msb_on_edges() {
    check_compute_msb(&[0, 1, (1 << 63) - 1, 1 << 63, u64::MAX - 1, u64::MAX - 2]);
}

fn compute_msb_bulk(seed: u64, n: usize) {
    let values: Vec<u64> = public_elements::<ZOdd>(seed, n)
        .into_iter()
        .map(ZOdd::value)
        .collect();
    check_compute_msb(&values);
}

// ---- PrivateCompare ------------------------------------------------------------------

/// Runs PrivateCompare on (x, r, β) triples; returns what P2 learned.
fn compare(cases: &[(u64, u64, bool)]) -> Vec<bool> {
    let n = cases.len();
    let results = run_local(|session| async move {
        let role = session.role();
        let bits = Private::<P0, _>::new(role, || {
            let bits: Vec<Zp> = cases
                .iter()
                .flat_map(|&(x, _, _)| decompose::<Zp>(x))
                .collect();
            Tensor::from_vec([n, 64], bits).unwrap()
        });
        let bits: Shared<Zp, U0> = share(&session, &bits, [n, 64]).await?;
        let threshold = Common::new(role, || cases.iter().map(|c| c.1).collect());
        let beta = Common::new(role, || cases.iter().map(|c| c.2).collect());
        Ok(private_compare(&session, &bits, &threshold, &beta)
            .await?
            .into_inner())
    })
    .unwrap();
    assert!(
        results[0].is_none() && results[1].is_none(),
        "only P2 learns β′"
    );
    results[2].clone().unwrap()
}

fn expected_compare(cases: &[(u64, u64, bool)]) -> Vec<bool> {
    cases.iter().map(|&(x, r, b)| b ^ (x > r)).collect()
}

#[test]
fn private_compare_on_edge_cases() {
    let mut cases = Vec::new();
    for &(x, r) in &[
        (0, 0),
        (5, 5),
        (u64::MAX, u64::MAX),
        (0, u64::MAX),
        (u64::MAX, 0),
        (u64::MAX, u64::MAX - 1),
        (u64::MAX - 1, u64::MAX),
        (1 << 63, (1 << 63) - 1),
        ((1 << 63) - 1, 1 << 63),
        (1, 0),
        (0, 1),
    ] {
        for beta in [false, true] {
            cases.push((x, r, beta));
        }
    }
    assert_eq!(compare(&cases), expected_compare(&cases));
}

fn private_compare_bulk(seed: u64, n: usize) {
    let xs = public_elements::<Z64>(seed, n);
    let rs = public_elements::<Z64>(seed ^ 1, n);
    let betas = public_elements::<Z64>(seed ^ 2, n);
    let cases: Vec<(u64, u64, bool)> = (0..n)
        .map(|i| {
            // A third of the thresholds equal x or differ from it in one low bit.
            let x = xs[i].value();
            let r = match i % 3 {
                0 => x,
                1 => x ^ (1 << (i % 64)),
                _ => rs[i].value(),
            };
            (x, r, betas[i].value() & 1 == 1)
        })
        .collect();
    assert_eq!(compare(&cases), expected_compare(&cases));
}

// ---- MatMul, elementwise product, Conv2d ---------------------------------------------

fn naive_matmul(a: &[Z64], b: &[Z64], m: usize, n: usize, v: usize) -> Vec<Z64> {
    let mut out = vec![Z64::ZERO; m * v];
    for i in 0..m {
        for j in 0..v {
            for k in 0..n {
                out[i * v + j] += a[i * n + k] * b[k * v + j];
            }
        }
    }
    out
}

fn check_matmul(m: usize, n: usize, v: usize, seed: u64) {
    let a = public_tensor::<Z64>(seed, m * n).reshape([m, n]).unwrap();
    let b = public_tensor::<Z64>(seed ^ 0xff, n * v)
        .reshape([n, v])
        .unwrap();
    let out = binary_op::<U0, Z64, U0, _>(&a, &b, async |s, x, y| {
        Ok(matmul(s, x, y).await?.truncate::<U0>())
    });
    assert_eq!(out.value.shape().dims(), &[m, v]);
    assert_eq!(
        out.value.data(),
        naive_matmul(a.data(), b.data(), m, n, v).as_slice()
    );
}

fn matmul_bulk(seed: u64) {
    // 250×200 times 200×250: 10^5 elements in, 62,500 out.
    check_matmul(250, 200, 250, seed);
}

fn mul_elementwise_bulk(seed: u64, n: usize) {
    let a = public_tensor::<Z64>(seed, n);
    let b = public_tensor::<Z64>(seed ^ 1, n);
    let out = binary_op::<U0, Z64, U0, _>(&a, &b, async |s, x, y| {
        Ok(mul_elementwise(s, x, y).await?.truncate::<U0>())
    });
    assert_eq!(out.value, a.try_mul_elementwise(&b).unwrap());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn matmul_matches_the_naive_product(m in 1usize..24, n in 1usize..40, v in 1usize..24, seed: u64) {
        check_matmul(m, n, v, seed);
    }
}

/// The convolution by its definition: NHWC input, HWIO filters.
#[allow(clippy::too_many_arguments, reason = "the geometry of a convolution")]
fn naive_conv(
    input: &[Z64],
    filters: &[Z64],
    (batch, height, width, channels): (usize, usize, usize, usize),
    kernel: usize,
    out_channels: usize,
    stride: usize,
    padding: usize,
) -> Vec<Z64> {
    let out_h = (height + 2 * padding - kernel) / stride + 1;
    let out_w = (width + 2 * padding - kernel) / stride + 1;
    let mut out = Vec::new();
    for b in 0..batch {
        for oy in 0..out_h {
            for ox in 0..out_w {
                for o in 0..out_channels {
                    let mut sum = Z64::ZERO;
                    for ky in 0..kernel {
                        for kx in 0..kernel {
                            let (y, x) = (oy * stride + ky, ox * stride + kx);
                            if y < padding
                                || x < padding
                                || y - padding >= height
                                || x - padding >= width
                            {
                                continue;
                            }
                            for c in 0..channels {
                                let pixel = input[((b * height + y - padding) * width + x
                                    - padding)
                                    * channels
                                    + c];
                                sum += pixel
                                    * filters
                                        [((ky * kernel + kx) * channels + c) * out_channels + o];
                            }
                        }
                    }
                    out.push(sum);
                }
            }
        }
    }
    out
}

fn check_conv(
    dims: (usize, usize, usize, usize),
    kernel: usize,
    out_channels: usize,
    stride: usize,
    padding: usize,
    seed: u64,
) {
    let (batch, height, width, channels) = dims;
    let input = public_tensor::<Z64>(seed, batch * height * width * channels)
        .reshape([batch, height, width, channels])
        .unwrap();
    let filters = public_tensor::<Z64>(seed ^ 1, kernel * kernel * channels * out_channels)
        .reshape([kernel, kernel, channels, out_channels])
        .unwrap();
    let out = binary_op::<U0, Z64, U0, _>(&input, &filters, async |s, x, w| {
        Ok(conv2d(s, x, w, stride, padding).await?.truncate::<U0>())
    });
    let expected = naive_conv(
        input.data(),
        filters.data(),
        dims,
        kernel,
        out_channels,
        stride,
        padding,
    );
    assert_eq!(out.value.data(), expected.as_slice());
}

fn conv2d_bulk(seed: u64) {
    // MNIST batch of 64 images (50,176 input elements), 5×5 filters, 20 channels.
    check_conv((64, 28, 28, 1), 5, 20, 1, 0, seed);
}

#[test]
fn conv2d_on_the_papers_shapes() {
    // Network D's first layer: stride 2, padding 2.
    check_conv((2, 28, 28, 1), 5, 5, 2, 2, 16);
    // Table 8's "8,5,16,50".
    check_conv((1, 8, 8, 16), 5, 50, 1, 0, 17);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn conv2d_matches_the_definition(
        batch in 1usize..3, side in 3usize..10, channels in 1usize..4, kernel in 1usize..4,
        out_channels in 1usize..4, stride in 1usize..3, padding in 0usize..3, seed: u64,
    ) {
        prop_assume!(padding < kernel);
        check_conv((batch, side, side + 1, channels), kernel, out_channels, stride, padding, seed);
    }
}

// ---- Division ------------------------------------------------------------------------

fn check_division(pairs: &[(i64, i64)]) {
    let x = signed_tensor(&pairs.iter().map(|p| p.0).collect::<Vec<_>>());
    let y = signed_tensor(&pairs.iter().map(|p| p.1).collect::<Vec<_>>());
    let out = binary_op::<U13, Z64, U13, _>(&x, &y, async |s, x, y| division(s, x, y).await);
    let expected: Vec<i64> = pairs
        .iter()
        .map(|&(x, y)| i64::try_from(i128::from(x) * 8192 / i128::from(y)).unwrap())
        .collect();
    assert_eq!(values_of(&out.value), expected);
}

#[test]
fn division_on_edge_cases() {
    check_division(&[
        (0, 1),
        (0, 8192),
        (1, 1),
        (8192, 8192),
        (12345, 12345),
        (1, 3),
        (2, 3),
        (1 << 35, 1 << 35),
        (0, 1 << 35),
        ((1 << 35) - 1, 1 << 35),
    ]);
}

fn division_bulk(seed: u64, n: usize) {
    let ys: Vec<i64> = public_signed(seed, n, 1 << 30)
        .iter()
        .map(|y| y.abs() + 1)
        .collect();
    let xs = public_elements::<Z64>(seed ^ 1, n);
    let pairs: Vec<(i64, i64)> = ys
        .iter()
        .zip(&xs)
        .map(|(&y, x)| (i64::try_from(x.value() % (y as u64 + 1)).unwrap(), y))
        .collect();
    check_division(&pairs);
}

// ---- Maxpool and DMaxpool ------------------------------------------------------------

/// Plaintext max pooling: maxima and earliest argmax of each window, NHWC.
fn naive_maxpool(
    values: &[i64],
    (batch, height, width, channels): (usize, usize, usize, usize),
    k: usize,
) -> (Vec<i64>, Vec<Z64>) {
    let (mut max, mut argmax) = (Vec::new(), Vec::new());
    for b in 0..batch {
        for oy in 0..height / k {
            for ox in 0..width / k {
                for c in 0..channels {
                    let mut best = (i64::MIN, 0u64);
                    for p in 0..k * k {
                        let (ky, kx) = (p / k, p % k);
                        let v = values
                            [((b * height + oy * k + ky) * width + ox * k + kx) * channels + c];
                        if v > best.0 {
                            best = (v, p as u64);
                        }
                    }
                    max.push(best.0);
                    argmax.push(Z64::new(best.1));
                }
            }
        }
    }
    (max, argmax)
}

fn check_maxpool(values: &[i64], dims: (usize, usize, usize, usize), k: usize) {
    let (batch, height, width, channels) = dims;
    let input = signed_tensor(values)
        .reshape([batch, height, width, channels])
        .unwrap();
    let pool = Pool2d { kernel: k };
    let max = unary_op::<U13, Z64, U13, _>(&input, async |s, a| Ok(maxpool(s, a, pool).await?.max));
    let argmax =
        unary_op::<U13, Z64, U0, _>(&input, async |s, a| Ok(maxpool(s, a, pool).await?.argmax));
    let (expected_max, expected_argmax) = naive_maxpool(values, dims, k);
    assert_eq!(values_of(&max.value), expected_max);
    assert_eq!(argmax.value.data(), expected_argmax.as_slice());
}

fn maxpool_bulk(seed: u64) {
    // 5 images of 24×24×20 with 2×2 windows: 57,600 values, 14,400 windows.
    let dims = (5, 24, 24, 20);
    check_maxpool(&public_signed(seed, 5 * 24 * 24 * 20, 1 << 40), dims, 2);
}

#[test]
fn maxpool_ties_go_to_the_earliest_index() {
    // Values from {−1, 0, 1}: most windows hold ties; 3×3 windows exercise the odd carry.
    let dims = (2, 6, 6, 3);
    let values = public_signed(21, 2 * 6 * 6 * 3, 1);
    check_maxpool(&values, dims, 3);
    check_maxpool(&values, dims, 2);
    // All equal: index 0 everywhere.
    check_maxpool(&[7; 2 * 6 * 6 * 3], dims, 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn maxpool_matches_the_definition(k in 1usize..4, blocks in 1usize..4, channels in 1usize..4, seed: u64) {
        let dims = (1, k * blocks, k * (blocks + 1), channels);
        let values = public_signed(seed, k * blocks * k * (blocks + 1) * channels, 1 << 50);
        check_maxpool(&values, dims, k);
    }
}

/// Maxpool then ReLU, fused, against `max(0, max(window))`.
fn check_maxpool_relu(values: &[i64], dims: (usize, usize, usize, usize), k: usize) {
    let (batch, height, width, channels) = dims;
    let input = signed_tensor(values)
        .reshape([batch, height, width, channels])
        .unwrap();
    let pool = Pool2d { kernel: k };
    let out = unary_op::<U13, Z64, U13, _>(&input, async |s, a| maxpool_relu(s, a, pool).await);
    let (max, _) = naive_maxpool(values, dims, k);
    let expected: Vec<i64> = max.iter().map(|&m| m.max(0)).collect();
    assert_eq!(values_of(&out.value), expected, "k = {k}");
}

#[test]
fn maxpool_relu_is_the_relu_of_the_maximum() {
    for k in 1..=3 {
        let dims = (2, 3 * k, 2 * k, 3);
        let n = 2 * 3 * k * 2 * k * 3;
        // Mostly negative windows, ties, and wide values.
        check_maxpool_relu(&public_signed(k as u64, n, 1), dims, k);
        check_maxpool_relu(&public_signed(50 + k as u64, n, 1 << 50), dims, k);
        let negative: Vec<i64> = public_signed(90 + k as u64, n, 1 << 20)
            .iter()
            .map(|v| -v.abs() - 1)
            .collect();
        check_maxpool_relu(&negative, dims, k);
    }
}

// ---- Argmax (all pairs) --------------------------------------------------------------

/// The index of the largest value of each row of `classes`, the earliest among equals, by
/// all pairs compared at once, against the definition.
fn check_argmax(values: &[i64], classes: usize) {
    let input = signed_tensor(values);
    let out = unary_op::<U13, Z64, U0, _>(&input, async |s, a| argmax(s, a, classes).await);
    let expected: Vec<Z64> = values
        .chunks_exact(classes)
        .map(|row| {
            let best = row.iter().copied().max().unwrap_or(0);
            Z64::new(row.iter().position(|&v| v == best).unwrap_or(0) as u64)
        })
        .collect();
    assert_eq!(out.value.data(), expected.as_slice(), "classes {classes}");
}

#[test]
fn argmax_of_every_row_length_finds_the_earliest_maximum() {
    for classes in 1..=MAX_ALL_PAIRS {
        let rows = 60;
        // Values from {−1, 0, 1}: most rows hold ties.
        check_argmax(&public_signed(classes as u64, rows * classes, 1), classes);
        check_argmax(
            &public_signed(100 + classes as u64, rows * classes, 1 << 60),
            classes,
        );
    }
    // All equal: index 0 everywhere.
    check_argmax(&[5; 40], 10);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn argmax_matches_the_definition(classes in 2usize..=16, rows in 1usize..50, seed: u64) {
        check_argmax(&public_signed(seed, rows * classes, 1 << 40), classes);
    }
}

fn check_dmaxpool(indices: &[u64], n: usize) {
    let input = Tensor::from_vec(
        [indices.len()],
        indices.iter().map(|&i| Z64::new(i)).collect(),
    )
    .unwrap();
    let out = unary_op::<U0, Z64, U0, _>(&input, async |s, a| dmaxpool(s, a, n).await);
    let expected: Vec<Z64> = indices
        .iter()
        .flat_map(|&i| (0..n as u64).map(move |p| Z64::new(u64::from(p == i))))
        .collect();
    assert_eq!(out.value.shape().dims(), &[indices.len(), n]);
    assert_eq!(out.value.data(), expected.as_slice());
}

fn dmaxpool_bulk(seed: u64, windows: usize) {
    for n in [1, 4, 16, 64] {
        let indices: Vec<u64> = public_elements::<Z64>(seed, windows / 4)
            .iter()
            .map(|v| v.value() % n as u64)
            .collect();
        check_dmaxpool(&indices, n);
    }
}

#[test]
fn dmaxpool_on_edges() {
    check_dmaxpool(&[0, 3, 1, 2], 4);
}

#[test]
fn dmaxpool_refuses_window_sizes_that_do_not_divide_two_to_the_64() {
    let input = Tensor::from_vec([1], vec![Z64::ZERO]).unwrap();
    let result = run_local(|session| {
        let input = input.clone();
        async move {
            let x = Private::<P0, _>::new(session.role(), || input);
            let x: Shared<Z64, U0> = share(&session, &x, [1]).await?;
            dmaxpool(&session, &x, 9).await.map(|_| ())
        }
    });
    assert!(
        matches!(result, Err(securenn_dsl::Error::InvalidShape { .. })),
        "{result:?}"
    );
}

#[test]
fn maxpool_argmax_feeds_dmaxpool() {
    let dims = (1, 4, 4, 2);
    let values = public_signed(23, 32, 100);
    let input = signed_tensor(&values).reshape([1, 4, 4, 2]).unwrap();
    let out = unary_op::<U13, Z64, U0, _>(&input, async |s, a| {
        let pooled = maxpool(s, a, Pool2d { kernel: 2 }).await?;
        dmaxpool(s, &pooled.argmax, 4).await
    });
    let (_, argmax) = naive_maxpool(&values, dims, 2);
    let expected: Vec<Z64> = argmax
        .iter()
        .flat_map(|i| (0..4u64).map(move |p| Z64::new(u64::from(p == i.value()))))
        .collect();
    assert_eq!(out.value.data(), expected.as_slice());
}

#[test]
fn protocols_refuse_mismatched_shapes_with_typed_errors() {
    let result = run_local(|session| async move {
        let role = session.role();
        let a = Private::<P0, _>::new(role, || public_tensor::<Z64>(1, 6).reshape([2, 3]).unwrap());
        let a: Shared<Z64, U0> = share(&session, &a, [2, 3]).await?;
        matmul(&session, &a, &a).await.map(|_| ())
    });
    assert!(
        matches!(result, Err(securenn_dsl::Error::ShapeMismatch { .. })),
        "{result:?}"
    );
}

// ---- 10^5 random elements per protocol, in proptest cases -----------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn drelu_on_random_inputs(seed: u64) { drelu_bulk(seed, PER_CASE); }

    #[test]
    fn relu_on_random_inputs(seed: u64) { relu_bulk(seed, PER_CASE); }

    #[test]
    fn select_share_on_random_inputs(seed: u64) { select_share_bulk(seed, PER_CASE); }

    #[test]
    fn share_convert_on_random_inputs(seed: u64) { share_convert_bulk(seed, PER_CASE); }

    #[test]
    fn compute_msb_on_random_inputs(seed: u64) { compute_msb_bulk(seed, PER_CASE); }

    #[test]
    fn private_compare_on_random_inputs(seed: u64) { private_compare_bulk(seed, PER_CASE); }

    #[test]
    fn matmul_on_random_inputs(seed: u64) { matmul_bulk(seed); }

    #[test]
    fn mul_elementwise_on_random_inputs(seed: u64) { mul_elementwise_bulk(seed, PER_CASE); }

    #[test]
    fn conv2d_on_random_inputs(seed: u64) { conv2d_bulk(seed); }

    #[test]
    fn division_on_random_inputs(seed: u64) { division_bulk(seed, PER_CASE); }

    #[test]
    fn maxpool_on_random_inputs(seed: u64) { maxpool_bulk(seed); }

    #[test]
    fn dmaxpool_on_random_inputs(seed: u64) { dmaxpool_bulk(seed, PER_CASE); }

    #[test]
    fn truncate_on_random_inputs(seed: u64) { truncate_bulk(seed, PER_CASE); }
}

/// SecureML's local truncation: ⌊x/2^13⌋ or ⌊x/2^13⌋ + 1 for |x| < 2^30 (it fails with
/// probability about |x|/2^64 per element: below 10^-5 for this whole run).
fn truncate_bulk(seed: u64, n: usize) {
    let values = public_signed(seed, n, 1 << 30);
    let out = unary_op::<typenum::U26, Z64, U13, _>(&signed_tensor(&values), async |_, a| {
        Ok(securenn_dsl::protocol::truncate::<U13, _>(a))
    });
    for (got, &x) in values_of(&out.value).iter().zip(&values) {
        let floor = x >> 13;
        assert!(*got == floor || *got == floor + 1, "{x} truncated to {got}");
    }
}

// ---- Edge values through every arithmetic protocol -------------------------------------

/// 0, ±1 and ±(2^62 − 1), the values the issue names, plus a few neighbours.
const EDGES: [i64; 8] = [0, 1, -1, RANGE, -RANGE, 2, -2, 1 << 40];

#[test]
fn select_share_mul_and_matmul_on_edge_values() {
    let x = signed_tensor(&EDGES);
    let y = signed_tensor(&EDGES.map(|v| v.wrapping_neg()));
    // SelectShare by the sign of x: y where x ≥ 0, x elsewhere.
    let out = binary_op::<U13, Z64, U13, _>(&x, &y, async |s, x, y| {
        let bit = drelu(s, x).await?;
        select_share(s, &bit, x, y).await
    });
    let expected: Vec<i64> = EDGES
        .iter()
        .map(|&v| if v >= 0 { v.wrapping_neg() } else { v })
        .collect();
    assert_eq!(values_of(&out.value), expected);
    // Elementwise and matrix products wrap exactly as the ring does.
    let out = binary_op::<U0, Z64, U0, _>(&x, &y, async |s, x, y| {
        Ok(mul_elementwise(s, x, y).await?.truncate::<U0>())
    });
    assert_eq!(out.value, x.try_mul_elementwise(&y).unwrap());
    let (a, b) = (
        x.clone().reshape([2, 4]).unwrap(),
        y.clone().reshape([4, 2]).unwrap(),
    );
    let out = binary_op::<U0, Z64, U0, _>(&a, &b, async |s, x, y| {
        Ok(matmul(s, x, y).await?.truncate::<U0>())
    });
    assert_eq!(
        out.value.data(),
        naive_matmul(a.data(), b.data(), 2, 4, 2).as_slice()
    );
}

#[test]
fn maxpool_and_conv_on_edge_values() {
    // Maxpool over windows of edge values, |v| < 2^61 so that differences stay in range.
    let values: Vec<i64> = [0, 1, -1, (1 << 61) - 1, -(1 << 61) + 1, 2, -2, 0]
        .iter()
        .cycle()
        .take(2 * 4 * 4)
        .copied()
        .collect();
    check_maxpool(&values, (1, 4, 4, 2), 2);
    // Conv with edge values in the input and the filters.
    let input = signed_tensor(&EDGES.repeat(2))
        .reshape([1, 4, 4, 1])
        .unwrap();
    let filters = signed_tensor(&EDGES[..4]).reshape([2, 2, 1, 1]).unwrap();
    let out = binary_op::<U0, Z64, U0, _>(&input, &filters, async |s, x, w| {
        Ok(conv2d(s, x, w, 1, 1).await?.truncate::<U0>())
    });
    let expected = naive_conv(input.data(), filters.data(), (1, 4, 4, 1), 2, 1, 1, 1);
    assert_eq!(out.value.data(), expected.as_slice());
}

#[test]
fn truncate_on_edge_values() {
    let values = [
        0,
        1,
        -1,
        8191,
        -8191,
        8192,
        -8192,
        8193,
        -8193,
        1 << 30,
        -(1 << 30),
    ];
    let out = unary_op::<typenum::U26, Z64, U13, _>(&signed_tensor(&values), async |_, a| {
        Ok(securenn_dsl::protocol::truncate::<U13, _>(a))
    });
    for (got, &x) in values_of(&out.value).iter().zip(&values) {
        let floor = x >> 13;
        assert!(*got == floor || *got == floor + 1, "{x} truncated to {got}");
    }
}

#[test]
fn a_share_made_for_another_party_is_refused() {
    let result = run_local(|session| async move {
        // Every party builds P0's view of a share: wrong at P1 and P2.
        let x =
            Shared::<Z64, U0>::from_share(securenn_dsl::party::Role::P0, [2], vec![Z64::ONE; 2])?;
        drelu(&session, &x).await.map(drop)
    });
    assert!(
        matches!(result, Err(securenn_dsl::Error::WrongRole { .. })),
        "{result:?}"
    );
}

#[test]
fn degenerate_shapes_are_typed_errors() {
    let result = run_local(|session| async move {
        let x = Private::<P0, _>::new(session.role(), || Tensor::<Z64>::zeros([1, 0, 4, 1]));
        let x: Shared<Z64, U0> = share(&session, &x, [1, 0, 4, 1]).await?;
        maxpool(&session, &x, Pool2d { kernel: 1_000_000 })
            .await
            .map(drop)
    });
    assert!(
        matches!(result, Err(securenn_dsl::Error::InvalidShape { .. })),
        "{result:?}"
    );
    let result = run_local(|session| async move {
        let x = Private::<P0, _>::new(session.role(), || Tensor::<Z64>::zeros([1, 2, 2, 1]));
        let x: Shared<Z64, U0> = share(&session, &x, [1, 2, 2, 1]).await?;
        let w = Private::<P1, _>::new(session.role(), || Tensor::<Z64>::zeros([1, 1, 1, 1]));
        let w: Shared<Z64, U0> = share(&session, &w, [1, 1, 1, 1]).await?;
        // Padding as wide as the kernel only adds outputs that see nothing.
        conv2d(&session, &x, &w, 1, 1_000_000).await.map(drop)
    });
    assert!(
        matches!(result, Err(securenn_dsl::Error::InvalidShape { .. })),
        "{result:?}"
    );
}

#[test]
fn protocols_run_side_by_side_stay_correct() {
    // Calls started together number their inner calls within themselves, so every party
    // agrees on them however the messages interleave; repeat to exercise interleavings.
    let x_values = public_signed(30, 2000, 1 << 40);
    let y_values = public_signed(31, 2000, 1 << 40);
    for _ in 0..10 {
        let (x_values, y_values) = (&x_values, &y_values);
        let [(relu_x, sign_y, max_y), _, _] = run_local(|session| async move {
            let role = session.role();
            let x = Private::<P0, _>::new(role, || signed_tensor(x_values));
            let y = Private::<P1, _>::new(role, || signed_tensor(y_values));
            let x: Shared<Z64> = share(&session, &x, [2000]).await?;
            let y: Shared<Z64> = share(&session, &y, [2000]).await?;
            let y_image = y.clone().reshape([1, 20, 100, 1])?;
            let (relu_x, sign_y, max_y) = futures::try_join!(
                relu(&session, &x),
                drelu(&session, &y),
                maxpool(&session, &y_image, Pool2d { kernel: 2 })
            )?;
            let relu_x = reveal_to::<P0, _>(&session, &relu_x.value)
                .await?
                .into_inner();
            let sign_y = reveal_to::<P0, _>(&session, sign_y.as_shared())
                .await?
                .into_inner();
            let max_y = reveal_to::<P0, _>(&session, &max_y.max).await?.into_inner();
            Ok((relu_x, sign_y, max_y))
        })
        .unwrap();
        let expected_relu: Vec<i64> = x_values.iter().map(|&v| v.max(0)).collect();
        assert_eq!(values_of(&relu_x.unwrap()), expected_relu);
        assert_eq!(sign_y.unwrap().data(), signs(y_values).as_slice());
        let (expected_max, _) = naive_maxpool(y_values, (1, 20, 100, 1), 2);
        assert_eq!(values_of(&max_y.unwrap()), expected_max);
    }
}
