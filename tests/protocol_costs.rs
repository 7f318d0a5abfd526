//! Each protocol's traffic, measured by the session counters (payload bytes summed over the
//! three parties; 8 bytes per Z_2^64 element, 1 per Z_67 element) and its rounds, against
//! the paper's Table 1/2 bounds, and against our own lower figures, which the protocol
//! module docs explain (P2 sends only P1's share of what it deals; independent messages
//! share rounds).

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use securenn_dsl::dsl::share;
use securenn_dsl::net::ClusterStats;
use securenn_dsl::party::{Common, P0, P1, Private};
use securenn_dsl::protocol::cost::{self, Costs};
use securenn_dsl::protocol::{
    Pool2d, argmax, compute_msb, conv2d, division, dmaxpool, drelu, matmul, maxpool, maxpool_relu,
    mul_elementwise, private_compare, relu, select_share, share_convert,
};
use securenn_dsl::ring::{Ring, Z64, ZOdd, Zp};
use securenn_dsl::session::{Context, Session, run_local};
use securenn_dsl::share::Shared;
use securenn_dsl::tensor::Tensor;
use securenn_tests::{public_signed, public_tensor, signed_tensor};
use typenum::{U0, U13};

/// Runs `measured` at the three parties after sharing `x` from P0 and `y` from P1, and
/// returns the traffic of `measured` alone.
fn traffic<Op>(x: &Tensor<Z64>, y: &Tensor<Z64>, measured: Op) -> ClusterStats
where
    Op: AsyncFn(&Session, &Shared<Z64, U13>, &Shared<Z64, U13>) -> securenn_dsl::Result<()> + Sync,
{
    let measured = &measured;
    let stats = run_local(|session| async move {
        let role = session.role();
        let a = Private::<P0, _>::new(role, || x.clone());
        let b = Private::<P1, _>::new(role, || y.clone());
        let a = share(&session, &a, x.shape().clone()).await?;
        let b = share(&session, &b, y.shape().clone()).await?;
        session.reset_stats();
        measured(&session, &a, &b).await?;
        Ok(session.stats())
    })
    .unwrap();
    let cluster = ClusterStats::from_parties(&stats);
    assert!(cluster.is_consistent());
    cluster
}

/// Asserts bytes and rounds: at most the paper's, and exactly ours (`protocol::cost`).
fn check(name: &str, stats: &ClusterStats, costs: Costs) {
    let (paper_bytes, ours) = (costs.paper.bytes, costs.ours.bytes);
    let (paper_rounds, our_rounds) = (costs.paper.rounds, costs.ours.rounds);
    let bytes = stats.total_bytes();
    eprintln!(
        "{name}: {bytes} bytes (paper {paper_bytes}), {} rounds (paper {paper_rounds})",
        stats.rounds
    );
    assert!(
        bytes <= paper_bytes,
        "{name}: {bytes} bytes, over the paper's {paper_bytes}"
    );
    assert_eq!(bytes, ours, "{name}: {bytes} bytes, expected our {ours}");
    assert!(
        stats.rounds <= paper_rounds,
        "{name}: {} rounds, over the paper's {paper_rounds}",
        stats.rounds
    );
    assert_eq!(stats.rounds, our_rounds, "{name}: rounds");
}

fn vector(n: usize, seed: u64) -> Tensor<Z64> {
    signed_tensor(&public_signed(seed, n, 1 << 40))
}

/// Elements per measured call.
const LEN: usize = 1000;
const N: u64 = 1000;

#[test]
fn matmul_costs_at_most_16_mn_plus_nv_plus_8_mv() {
    for (m, n, v) in [(784, 128, 10), (1, 100, 1), (1, 500, 100), (128, 784, 128)] {
        let x = public_tensor::<Z64>(1, m * n).reshape([m, n]).unwrap();
        let y = public_tensor::<Z64>(2, n * v).reshape([n, v]).unwrap();
        let stats = traffic(&x, &y, async |s, a, b| matmul(s, a, b).await.map(drop));
        let (m, n, v) = (m as u64, n as u64, v as u64);
        // 16(mn + nv) + 8mv bytes, as the paper's formula.
        let costs = cost::matmul(m, n, v);
        assert_eq!(costs.ours.bytes, 16 * (m * n + n * v) + 8 * m * v);
        check("matmul", &stats, costs);
    }
}

#[test]
fn conv2d_costs_the_papers_formula() {
    // Table 8's "28,5,1,20": 28×28 input, 5×5 filters, 1 → 20 channels; m = 24 outputs.
    let x = public_tensor::<Z64>(3, 28 * 28)
        .reshape([1, 28, 28, 1])
        .unwrap();
    let w = public_tensor::<Z64>(4, 25 * 20)
        .reshape([5, 5, 1, 20])
        .unwrap();
    let stats = traffic(&x, &w, async |s, a, b| {
        conv2d(s, a, b, 1, 0).await.map(drop)
    });
    // The masked input (28² elements) is opened instead of its im2col matrix (24²·5²).
    check("conv2d", &stats, cost::conv2d(28, 5, 1, 20));
}

#[test]
fn elementwise_product_and_select_share_cost_40_bytes_per_element() {
    let (x, y) = (vector(LEN, 5), vector(LEN, 6));
    let stats = traffic(&x, &y, async |s, a, b| {
        mul_elementwise(s, a, b).await.map(drop)
    });
    check("mul_elementwise", &stats, cost::mul_elementwise(N));

    let stats = run_local(|session| {
        let (x, y) = (x.clone(), y.clone());
        async move {
            let role = session.role();
            let a = Private::<P0, _>::new(role, || x);
            let b = Private::<P1, _>::new(role, || y);
            let a: Shared<Z64> = share(&session, &a, [LEN]).await?;
            let b: Shared<Z64> = share(&session, &b, [LEN]).await?;
            let bit = drelu(&session, &a).await?;
            session.reset_stats();
            select_share(&session, &bit, &a, &b).await?;
            Ok(session.stats())
        }
    })
    .unwrap();
    check(
        "select_share",
        &ClusterStats::from_parties(&stats),
        cost::select_share(N),
    );
}

#[test]
fn private_compare_costs_128_bytes_per_comparison() {
    let n = LEN;
    let stats = run_local(|session| async move {
        let role = session.role();
        let bits = Private::<P0, _>::new(role, || {
            Tensor::from_vec([n, 64], vec![Zp::ONE; n * 64]).unwrap()
        });
        let bits: Shared<Zp, U0> = share(&session, &bits, [n, 64]).await?;
        session.reset_stats();
        let threshold = Common::new(role, || vec![5u64; n]);
        let beta = Common::new(role, || vec![true; n]);
        private_compare(&session, &bits, &threshold, &beta).await?;
        Ok(session.stats())
    })
    .unwrap();
    check(
        "private_compare",
        &ClusterStats::from_parties(&stats),
        cost::private_compare(N),
    );
}

#[test]
fn share_convert_costs_224_bytes_against_the_papers_304() {
    let x = vector(LEN, 7);
    let stats = traffic(&x, &x, async |s, a, _| share_convert(s, a).await.map(drop));
    check("share_convert", &stats, cost::share_convert(N));
}

#[test]
fn compute_msb_costs_272_bytes_against_the_papers_360() {
    let n = LEN;
    let stats = run_local(|session| async move {
        let role = session.role();
        let a = Private::<P0, _>::new(role, || {
            Tensor::from_vec([n], vec![ZOdd::from_u64(5); n]).unwrap()
        });
        let a: Shared<ZOdd, U0> = share(&session, &a, [n]).await?;
        session.reset_stats();
        compute_msb(&session, &a).await?;
        Ok(session.stats())
    })
    .unwrap();
    check(
        "compute_msb",
        &ClusterStats::from_parties(&stats),
        cost::compute_msb(N),
    );
}

#[test]
fn drelu_costs_496_bytes_against_the_papers_664() {
    let x = vector(LEN, 8);
    let stats = traffic(&x, &x, async |s, a, _| drelu(s, a).await.map(drop));
    check("drelu", &stats, cost::drelu(N));
}

#[test]
fn relu_costs_536_bytes_against_the_papers_704() {
    let x = vector(LEN, 9);
    let stats = traffic(&x, &x, async |s, a, _| relu(s, a).await.map(drop));
    check("relu", &stats, cost::relu(N));
}

#[test]
fn division_costs_536_per_quotient_bit_against_the_papers_704_times_13() {
    let n = 100;
    let y: Vec<i64> = public_signed(10, n, 1 << 30)
        .iter()
        .map(|v| v.abs() + 1)
        .collect();
    let x: Vec<i64> = y.iter().map(|v| v / 3).collect();
    let stats = traffic(&signed_tensor(&x), &signed_tensor(&y), async |s, a, b| {
        division(s, a, b).await.map(drop)
    });
    check("division", &stats, cost::division(n as u64));
}

#[test]
fn maxpool_costs_576_bytes_per_comparison_against_the_papers_744() {
    for k in [2usize, 3] {
        let (h, w, c) = (6 * k, 4 * k, 5);
        let x = vector(h * w * c, 11).reshape([1, h, w, c]).unwrap();
        let stats = traffic(&x, &x, async |s, a, _| {
            maxpool(s, a, Pool2d { kernel: k }).await.map(drop)
        });
        let windows = ((h / k) * (w / k) * c) as u64;
        check("maxpool", &stats, cost::maxpool(windows, k as u64));
    }
}

/// Maxpool then ReLU, fused: within the paper's bytes for the two, exactly our formula,
/// and 8 rounds fewer than our Maxpool and ReLU one after the other.
#[test]
fn maxpool_relu_saves_a_comparison_stage() {
    for k in [2usize, 3] {
        let (h, w, c) = (4 * k, 2 * k, 5);
        let x = vector(h * w * c, 17).reshape([1, h, w, c]).unwrap();
        let stats = traffic(&x, &x, async |s, a, _| {
            maxpool_relu(s, a, Pool2d { kernel: k }).await.map(drop)
        });
        let windows = ((h / k) * (w / k) * c) as u64;
        check(
            "maxpool_relu",
            &stats,
            cost::maxpool_relu(windows, k as u64),
        );
        let apart = cost::maxpool(windows, k as u64).ours.rounds + cost::relu(windows).ours.rounds;
        assert_eq!(stats.rounds + 8, apart);
    }
}

/// The all-pairs argmax trades bytes for rounds against Algorithm 9 over the row: exactly
/// our formula, in fewer rounds than the paper's Maxpool and than our tournament.
#[test]
fn argmax_costs_one_drelu_depth_and_a_product_tree() {
    for classes in [2usize, 3, 10, 16] {
        let rows = 50;
        let x = vector(rows * classes, 13);
        let stats = traffic(&x, &x, async |s, a, _| {
            argmax(s, a, classes).await.map(drop)
        });
        let costs = cost::argmax(rows as u64, classes as u64);
        eprintln!(
            "argmax of {classes}: {} bytes, {} rounds (paper's Maxpool: {} bytes, {} rounds)",
            stats.total_bytes(),
            stats.rounds,
            costs.paper.bytes,
            costs.paper.rounds
        );
        assert_eq!(stats.total_bytes(), costs.ours.bytes, "{classes}");
        assert_eq!(stats.rounds, costs.ours.rounds, "{classes}");
        let tournament = cost::maxpool(rows as u64, 4).ours.rounds;
        assert!(stats.rounds < costs.paper.rounds && stats.rounds < tournament);
    }
}

#[test]
fn dmaxpool_costs_8n_plus_2_bytes_per_window_against_the_papers_16_n_plus_1() {
    for n in [4usize, 16, 64] {
        let windows = 500;
        let indices = Tensor::from_vec(
            [windows],
            (0..windows).map(|i| Z64::new((i % n) as u64)).collect(),
        )
        .unwrap();
        let stats = traffic(&indices, &indices, async |s, a, _| {
            let a = Shared::<Z64, U0>::from_share(
                s.role(),
                a.shape().clone(),
                a.local_share().map(<[Z64]>::to_vec).unwrap_or_default(),
            )?;
            dmaxpool(s, &a, n).await.map(drop)
        });
        check("dmaxpool", &stats, cost::dmaxpool(windows as u64, n as u64));
    }
}

#[test]
fn truncation_costs_nothing() {
    let x = vector(LEN, 12);
    let stats = traffic(&x, &x, async |_, a, _| {
        let _ = securenn_dsl::protocol::truncate::<typenum::U5, _>(a);
        Ok(())
    });
    check("truncate", &stats, cost::truncate());
}

#[test]
fn independent_calls_run_side_by_side_share_rounds() {
    // Two ReLUs started together cost the rounds of one, and each still gets its own
    // calls, randomness and messages. Their contexts are opened before either starts (as
    // the DSL's batches do): a call opened after a sibling has received a message starts
    // from the clock that message advanced, so its rounds would depend on timing.
    let (x, y) = (vector(LEN, 13), vector(LEN, 14));
    let stats = traffic(&x, &y, async |s, a, b| {
        let (left, right) = (s.open("left"), s.open("right"));
        let (ra, rb) = futures::try_join!(relu(&left, a), relu(&right, b))?;
        assert_eq!(ra.value.len() + rb.value.len(), 2 * LEN);
        Ok(())
    });
    // The bytes of two ReLUs of N values each, the rounds of one.
    let (one, both) = (cost::relu(N), cost::relu(2 * N));
    let side_by_side = Costs {
        paper: cost::Cost {
            bytes: both.paper.bytes,
            rounds: one.paper.rounds,
        },
        ours: cost::Cost {
            bytes: both.ours.bytes,
            rounds: one.ours.rounds,
        },
    };
    check("two relus", &stats, side_by_side);
}
