//! Functions written with the DSL, run at the three parties: they equal their plaintext
//! definitions, they compute exactly what the same protocol calls written by hand compute
//! (the same shares, bytes and rounds), and independent calls in one function share their
//! rounds.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use securenn_dsl::Result;
use securenn_dsl::net::{ClusterStats, Stats};
use securenn_dsl::prelude::*;
use securenn_dsl::protocol;
use securenn_dsl::session::run_local_with;
use securenn_tests::{public_signed, signed_tensor};
use typenum::U26;

const LEN: usize = 1000;

// ---------------------------------------------------------------------------------------
// Protocols written with the DSL.

/// Two independent ReLUs, then their sum.
#[protocol]
fn two_relus(x: &Shared<Z64>, y: &Shared<Z64>) -> Shared<Z64> {
    let a = relu(x);
    let b = relu(y);
    a + b
}

/// A layer: ReLU(x·W + b), the product truncated back to the base scale.
#[protocol]
fn dense(x: &Shared<Z64>, w: &Shared<Z64>, b: &Shared<Z64>) -> Shared<Z64> {
    let product = truncate(matmul(x, w));
    relu(product + b)
}

/// max(x, y) elementwise by a comparison and a selection.
#[protocol]
fn larger(x: &Shared<Z64>, y: &Shared<Z64>) -> Shared<Z64> {
    let bigger = x >= y;
    select(&bigger, x, y)
}

/// The four comparisons, and a negation.
#[protocol]
fn comparisons(x: &Shared<Z64>, y: &Shared<Z64>) -> [Bit; 5] {
    let less = x < y;
    let at_most = x <= y;
    let greater = x > y;
    let at_least = x >= y;
    let not_less = !&less;
    [less, at_most, greater, at_least, not_less]
}

/// Elementwise products, public constants, division: (x·y truncated − c)·0.5 and x / y.
#[protocol]
fn arithmetic(
    x: &Shared<Z64>,
    y: &Shared<Z64>,
    c: &Public<Z64>,
    half: &Public<Z64>,
) -> (Shared<Z64>, Shared<Z64>) {
    let product: Shared<Z64, U26> = x * y;
    let shifted = truncate(product) - c;
    let scaled = truncate(&shifted * half);
    let ratio = x / y;
    (scaled, ratio)
}

/// Public control flow around protocol steps: a loop, an early return, a match.
#[protocol]
fn repeated(x: &Shared<Z64>, times: usize) -> Shared<Z64> {
    let mut h = x.clone();
    let mut i = 0;
    while i < times {
        h = relu(&h) - x;
        i = i + 1;
    }
    if times > 2 && i == times {
        return h;
    }
    match times {
        0 => h,
        _ => relu(h),
    }
}

/// A protocol calling another, given the context explicitly.
#[protocol(name = "twice")]
fn relu_of_larger(x: &Shared<Z64>, y: &Shared<Z64>) -> Shared<Z64> {
    let m = larger(ctx, x, y);
    relu(m)
}

// ---------------------------------------------------------------------------------------
// The same protocol calls, written by hand.

async fn two_relus_by_hand(
    ctx: &(impl Context + ?Sized),
    x: &Shared<Z64>,
    y: &Shared<Z64>,
) -> Result<Shared<Z64>> {
    let call = ctx.open("two_relus");
    let (left, right) = (call.open("batch"), call.open("batch"));
    let (a, b) = futures::try_join!(protocol::relu(&left, x), protocol::relu(&right, y))?;
    a.value.try_add(&b.value)
}

async fn dense_by_hand(
    ctx: &(impl Context + ?Sized),
    x: &Shared<Z64>,
    w: &Shared<Z64>,
    b: &Shared<Z64>,
) -> Result<Shared<Z64>> {
    let call = ctx.open("dense");
    let product = protocol::matmul(&call, x, w).await?.truncate::<U13>();
    Ok(protocol::relu(&call, &product.try_add(b)?).await?.value)
}

async fn larger_by_hand(
    ctx: &(impl Context + ?Sized),
    x: &Shared<Z64>,
    y: &Shared<Z64>,
) -> Result<Shared<Z64>> {
    let call = ctx.open("larger");
    let bigger = protocol::drelu(&call, &x.try_sub(y)?).await?;
    protocol::select_share(&call, &bigger, y, x).await
}

// ---------------------------------------------------------------------------------------
// Running them.

fn inputs(len: usize, seed: u64, bound: i64) -> Tensor<Z64> {
    signed_tensor(&public_signed(seed, len, bound))
}

/// What one party saw of one run: its share of the output and its traffic.
struct Run<T> {
    outputs: [T; 3],
    stats: ClusterStats,
}

/// Runs `f` at the three parties, with keys from a fixed seed, on `x` shared by P0 and `y`
/// by P1 (scale 13); returns each party's result of `f` and the traffic of `f` alone.
fn run<T, F>(x: &Tensor<Z64>, y: &Tensor<Z64>, f: F) -> Run<T>
where
    T: Send,
    F: AsyncFn(&Session, &Shared<Z64>, &Shared<Z64>) -> Result<T> + Sync,
{
    let config = SessionConfig {
        insecure_seed: Some(7),
        ..SessionConfig::default()
    };
    let f = &f;
    let results = run_local_with(&config, |session| async move {
        let role = session.role();
        let a = share(
            &session,
            &Private::<P0, _>::new(role, || x.clone()),
            x.shape().clone(),
        )
        .await?;
        let b = share(
            &session,
            &Private::<P1, _>::new(role, || y.clone()),
            y.shape().clone(),
        )
        .await?;
        session.reset_stats();
        let out = f(&session, &a, &b).await?;
        Ok((out, session.stats()))
    })
    .unwrap();
    let stats: [Stats; 3] = [results[0].1, results[1].1, results[2].1];
    let stats = ClusterStats::from_parties(&stats);
    assert!(stats.is_consistent());
    let [(o0, _), (o1, _), (o2, _)] = results;
    Run {
        outputs: [o0, o1, o2],
        stats,
    }
}

/// The value behind the shares of a `run`'s outputs.
fn open(shares: &[Option<Vec<Z64>>; 3]) -> Vec<Z64> {
    let (a, b) = (shares[0].as_ref().unwrap(), shares[1].as_ref().unwrap());
    assert!(
        shares[2].as_ref().is_none_or(Vec::is_empty),
        "P2 holds no share"
    );
    a.iter().zip(b).map(|(&a, &b)| a + b).collect()
}

fn local<F: typenum::Unsigned>(x: &Shared<Z64, F>) -> Option<Vec<Z64>> {
    x.local_share().map(<[Z64]>::to_vec)
}

fn signed(v: Z64) -> i64 {
    v.value() as i64
}

/// Asserts that the DSL run and the hand-written run are the same computation.
fn assert_identical(dsl: &Run<Option<Vec<Z64>>>, by_hand: &Run<Option<Vec<Z64>>>) {
    assert_eq!(
        dsl.outputs, by_hand.outputs,
        "the same shares at every party"
    );
    assert_eq!(
        dsl.stats.bytes, by_hand.stats.bytes,
        "the same bytes per ordered pair"
    );
    assert_eq!(dsl.stats.rounds, by_hand.stats.rounds, "the same rounds");
}

// ---------------------------------------------------------------------------------------
// Round batching.

#[test]
fn two_independent_relus_take_the_rounds_of_one() {
    let (x, y) = (inputs(LEN, 1, 1 << 40), inputs(LEN, 2, 1 << 40));
    let both = run(&x, &y, async |s, a, b| {
        Ok(local(&two_relus(s, a, b).await?))
    });
    let one = run(&x, &y, async |s, a, _| Ok(local(&relu(s, a).await?)));
    assert_eq!(one.stats.rounds, 9);
    assert_eq!(
        both.stats.rounds, one.stats.rounds,
        "two independent ReLUs: the rounds of one"
    );
    assert_eq!(both.stats.total_bytes(), 2 * one.stats.total_bytes());
    let relu = |v: Z64| if signed(v) >= 0 { v } else { Z64::new(0) };
    let expected: Vec<Z64> = (0..LEN)
        .map(|i| relu(x.data()[i]) + relu(y.data()[i]))
        .collect();
    assert_eq!(open(&both.outputs), expected);
}

#[test]
fn dependent_steps_are_not_batched() {
    // h depends on the first ReLU: two ReLUs one after the other, 18 rounds.
    let (x, y) = (inputs(LEN, 3, 1 << 40), inputs(LEN, 4, 1 << 40));
    let chained = run(&x, &y, async |s, a, _| Ok(local(&repeated(s, a, 2).await?)));
    assert_eq!(
        chained.stats.rounds,
        3 * 9,
        "two loop iterations and the final ReLU"
    );
}

// ---------------------------------------------------------------------------------------
// The DSL and the same calls by hand.

#[test]
fn dsl_and_hand_written_two_relus_are_identical() {
    let (x, y) = (inputs(LEN, 5, 1 << 40), inputs(LEN, 6, 1 << 40));
    let dsl = run(&x, &y, async |s, a, b| {
        Ok(local(&two_relus(s, a, b).await?))
    });
    let by_hand = run(&x, &y, async |s, a, b| {
        Ok(local(&two_relus_by_hand(s, a, b).await?))
    });
    assert_identical(&dsl, &by_hand);
}

#[test]
fn dsl_and_hand_written_dense_layers_are_identical() {
    // x: 8×16, W: 16×4, b: 8×4, as fixed-point values below 2^4.
    let x = Tensor::from_vec([8, 16], inputs(128, 7, 1 << 17).data().to_vec()).unwrap();
    let wb = inputs(16 * 4 + 8 * 4, 8, 1 << 17);
    let y = Tensor::from_vec([96], wb.data().to_vec()).unwrap();
    let split = async |s: &Session, a: &Shared<Z64>, b: &Shared<Z64>, hand: bool| {
        let w = Shared::from_share(
            s.role(),
            [16, 4],
            b.local_share().map_or(vec![], |d| d[..64].to_vec()),
        )?;
        let bias = Shared::from_share(
            s.role(),
            [8, 4],
            b.local_share().map_or(vec![], |d| d[64..].to_vec()),
        )?;
        let out = if hand {
            dense_by_hand(s, a, &w, &bias).await?
        } else {
            dense(s, a, &w, &bias).await?
        };
        Ok(local(&out))
    };
    let dsl = run(&x, &y, async |s, a, b| split(s, a, b, false).await);
    let by_hand = run(&x, &y, async |s, a, b| split(s, a, b, true).await);
    assert_identical(&dsl, &by_hand);
    // And against plaintext: ReLU(⌊x·W / 2^13⌋ + b), up to truncation's one unit.
    let value = open(&dsl.outputs);
    let (w, bias) = (&wb.data()[..64], &wb.data()[64..]);
    for i in 0..8 {
        for j in 0..4 {
            let dot: i64 = (0..16)
                .map(|k| signed(x.data()[i * 16 + k]) * signed(w[k * 4 + j]))
                .sum();
            let expected = ((dot >> 13) + signed(bias[i * 4 + j])).max(0);
            assert!(
                (signed(value[i * 4 + j]) - expected).abs() <= 1,
                "({i}, {j})"
            );
        }
    }
}

#[test]
fn dsl_and_hand_written_comparison_and_selection_are_identical() {
    let (x, y) = (inputs(LEN, 9, 1 << 40), inputs(LEN, 10, 1 << 40));
    let dsl = run(&x, &y, async |s, a, b| Ok(local(&larger(s, a, b).await?)));
    let by_hand = run(&x, &y, async |s, a, b| {
        Ok(local(&larger_by_hand(s, a, b).await?))
    });
    assert_identical(&dsl, &by_hand);
    let expected: Vec<Z64> = (0..LEN)
        .map(|i| {
            if signed(x.data()[i]) >= signed(y.data()[i]) {
                x.data()[i]
            } else {
                y.data()[i]
            }
        })
        .collect();
    assert_eq!(open(&dsl.outputs), expected);
}

// ---------------------------------------------------------------------------------------
// Each construct against its plaintext definition.

#[test]
fn comparisons_equal_their_plaintext_definitions() {
    let (x, mut y) = (inputs(LEN, 11, 1 << 40), inputs(LEN, 12, 1 << 40));
    // Ties, to tell < from ≤.
    for i in (0..LEN).step_by(7) {
        y.data_mut()[i] = x.data()[i];
    }
    let bits = run(&x, &y, async |s, a, b| {
        let bits = comparisons(s, a, b).await?;
        Ok(bits.map(|bit| local(bit.as_shared())))
    });
    for (k, name) in ["<", "<=", ">", ">=", "!<"].iter().enumerate() {
        let shares = [
            bits.outputs[0][k].clone(),
            bits.outputs[1][k].clone(),
            bits.outputs[2][k].clone(),
        ];
        let value = open(&shares);
        for (i, bit) in value.iter().enumerate() {
            let (a, b) = (signed(x.data()[i]), signed(y.data()[i]));
            let expected = match k {
                0 => a < b,
                1 => a <= b,
                2 => a > b,
                3 => a >= b,
                _ => a >= b,
            };
            assert_eq!(*bit, Z64::new(u64::from(expected)), "{a} {name} {b}");
        }
    }
}

#[test]
fn arithmetic_equals_its_plaintext_definition() {
    let n = 200;
    // 0 < x ≤ y for the division, both below 2^4 in fixed point.
    let xs: Vec<f64> = (0..n).map(|i| 0.25 + (i % 13) as f64 * 0.5).collect();
    let ys: Vec<f64> = xs
        .iter()
        .enumerate()
        .map(|(i, &x)| x + (i % 5) as f64 * 0.75)
        .collect();
    let x = securenn_dsl::tensor::fixed::encode_tensor([n], &xs, 13).unwrap();
    let y = securenn_dsl::tensor::fixed::encode_tensor([n], &ys, 13).unwrap();
    let out = run(&x, &y, async |s, a, b| {
        let c = Public::encode([n], &vec![1.5; n])?;
        let half = Public::encode([n], &vec![0.5; n])?;
        let (scaled, ratio) = arithmetic(s, a, b, &c, &half).await?;
        Ok([local(&scaled), local(&ratio)])
    });
    let part = |k: usize| {
        open(&[
            out.outputs[0][k].clone(),
            out.outputs[1][k].clone(),
            out.outputs[2][k].clone(),
        ])
    };
    let (scaled, ratio) = (part(0), part(1));
    let ulp = 1.0 / 8192.0;
    for i in 0..n {
        let decode = |v: Z64| securenn_dsl::tensor::fixed::decode(v, 13);
        let expected = (xs[i] * ys[i] - 1.5) * 0.5;
        assert!(
            (decode(scaled[i]) - expected).abs() <= 4.0 * ulp,
            "(x·y − 1.5)·0.5 at {i}"
        );
        let exact = (x.data()[i].value() << 13) / y.data()[i].value();
        assert_eq!(ratio[i].value(), exact, "x / y at {i}");
    }
}

#[test]
fn public_control_flow_and_nested_protocols_run_as_written() {
    let (x, y) = (inputs(LEN, 13, 1 << 40), inputs(LEN, 14, 1 << 40));
    let relu = |v: i64| v.max(0);
    for times in [0, 1, 3] {
        let out = run(&x, &y, async |s, a, _| {
            Ok(local(&repeated(s, a, times).await?))
        });
        let value = open(&out.outputs);
        for (i, got) in value.iter().enumerate() {
            let x = signed(x.data()[i]);
            let mut h = x;
            for _ in 0..times {
                h = relu(h) - x;
            }
            // More than two iterations return early; none returns h; one ends in a ReLU.
            let expected = if times == 1 { relu(h) } else { h };
            assert_eq!(signed(*got), expected, "times = {times}, element {i}");
        }
    }
    let out = run(&x, &y, async |s, a, b| {
        Ok(local(&relu_of_larger(s, a, b).await?))
    });
    let value = open(&out.outputs);
    for (i, got) in value.iter().enumerate() {
        let expected = relu(signed(x.data()[i]).max(signed(y.data()[i])));
        assert_eq!(signed(*got), expected);
    }
}

#[test]
fn reveal_goes_to_the_named_party_only() {
    #[protocol]
    fn reveal_both(x: &Shared<Z64>) -> (Revealed<P0, Tensor<Z64>>, Revealed<P1, Tensor<Z64>>) {
        let to_p0 = x.reveal_to::<P0>();
        let to_p1 = reveal_to::<P1>(x);
        (to_p0, to_p1)
    }
    let (x, y) = (inputs(10, 15, 1 << 40), inputs(10, 16, 1 << 40));
    let out = run(&x, &y, async |s, a, _| {
        let (p0, p1) = reveal_both(s, a).await?;
        Ok((p0.into_inner(), p1.into_inner()))
    });
    assert_eq!(out.outputs[0].0.as_ref(), Some(&x));
    assert_eq!(out.outputs[1].1.as_ref(), Some(&x));
    assert!(out.outputs[0].1.is_none() && out.outputs[1].0.is_none());
    assert!(out.outputs[2].0.is_none() && out.outputs[2].1.is_none());
}

#[test]
fn independent_layer_calls_share_rounds() {
    struct Dense {
        w: Shared<Z64>,
    }
    impl Dense {
        #[protocol]
        fn forward(&self, x: &Shared<Z64>) -> Shared<Z64> {
            relu(truncate(matmul(x, &self.w)))
        }
    }
    #[protocol]
    fn one_head(layer: &Dense, x: &Shared<Z64>) -> Shared<Z64> {
        layer.forward(x)
    }
    #[protocol]
    fn two_heads(layer: &Dense, x: &Shared<Z64>) -> Shared<Z64> {
        let left = layer.forward(x);
        let right = layer.forward(x);
        left - right
    }
    let x = Tensor::from_vec([4, 8], inputs(32, 17, 1 << 17).data().to_vec()).unwrap();
    let w = Tensor::from_vec([8, 8], inputs(64, 18, 1 << 17).data().to_vec()).unwrap();
    let heads = async |s: &Session, a: &Shared<Z64>, b: &Shared<Z64>, two: bool| {
        let layer = Dense { w: b.clone() };
        let out = if two {
            two_heads(s, &layer, a).await?
        } else {
            one_head(s, &layer, a).await?
        };
        Ok(local(&out))
    };
    let one = run(&x, &w, async |s, a, b| heads(s, a, b, false).await);
    let two = run(&x, &w, async |s, a, b| heads(s, a, b, true).await);
    assert_eq!(one.stats.rounds, 1 + 9, "a product and a ReLU");
    assert_eq!(
        two.stats.rounds, one.stats.rounds,
        "two independent heads: the rounds of one"
    );
    assert_eq!(two.stats.total_bytes(), 2 * one.stats.total_bytes());
    // The heads agree up to truncation's one unit in the last place.
    let difference: Vec<i64> = open(&two.outputs).into_iter().map(signed).collect();
    assert!(
        difference.iter().all(|v| v.abs() <= 1),
        "the heads agree: {difference:?}"
    );
}

#[test]
fn dependent_lets_run_one_after_the_other() {
    #[protocol]
    fn chained(x: &Shared<Z64>) -> Shared<Z64> {
        let a = relu(x);
        let b = relu(&a);
        a + b
    }
    let (x, y) = (inputs(LEN, 19, 1 << 40), inputs(LEN, 20, 1 << 40));
    let out = run(&x, &y, async |s, a, _| Ok(local(&chained(s, a).await?)));
    assert_eq!(out.stats.rounds, 2 * 9, "b needs a: two ReLUs in sequence");
    // relu(relu(x)) + relu(x) = 2·relu(x).
    let expected: Vec<Z64> = x
        .data()
        .iter()
        .map(|&v| if signed(v) >= 0 { v + v } else { Z64::new(0) })
        .collect();
    assert_eq!(open(&out.outputs), expected);
}

#[test]
fn dsl_and_natural_try_join_agree_on_results_bytes_and_rounds() {
    // The same two ReLUs joined by hand, in two calls opened on the session: the shares
    // differ (other calls, other masks), the values, bytes and rounds do not.
    let (x, y) = (inputs(LEN, 21, 1 << 40), inputs(LEN, 22, 1 << 40));
    let dsl = run(&x, &y, async |s, a, b| {
        Ok(local(&two_relus(s, a, b).await?))
    });
    let natural = run(&x, &y, async |s, a, b| {
        let (left, right) = (s.open("left"), s.open("right"));
        let (ra, rb) = futures::try_join!(protocol::relu(&left, a), protocol::relu(&right, b))?;
        Ok(local(&ra.value.try_add(&rb.value)?))
    });
    assert_eq!(open(&dsl.outputs), open(&natural.outputs));
    assert_eq!(dsl.stats.bytes, natural.stats.bytes);
    assert_eq!(dsl.stats.rounds, natural.stats.rounds);
}

#[test]
fn comparisons_borrow_their_operands_as_rust_does() {
    #[protocol]
    fn clamp_below(h: Shared<Z64>, floor: Shared<Z64>) -> Shared<Z64> {
        // `h` and `floor` are owned and still usable after the comparison.
        let above = h >= floor;
        select(&above, h, floor)
    }
    let (x, y) = (inputs(LEN, 23, 1 << 40), inputs(LEN, 24, 1 << 40));
    let out = run(&x, &y, async |s, a, b| {
        Ok(local(&clamp_below(s, a.clone(), b.clone()).await?))
    });
    let expected: Vec<i64> = (0..LEN)
        .map(|i| signed(x.data()[i]).max(signed(y.data()[i])))
        .collect();
    let got: Vec<i64> = open(&out.outputs).into_iter().map(signed).collect();
    assert_eq!(got, expected);
}
