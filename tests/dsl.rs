//! Functions written with the DSL, run at the three parties: they compute what the same
//! protocol calls written by hand compute, with the same shares, bytes and rounds, and
//! independent calls in one function share their rounds.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use securenn_dsl::net::ClusterStats;
use securenn_dsl::prelude::*;
use securenn_dsl::ring::fixed;
use securenn_dsl::session::run_local_with;
use securenn_tests::{public_signed, signed_tensor};

const LEN: usize = 1000;

#[protocol]
fn two_relus(x: &Shared<Z64>, y: &Shared<Z64>) -> Shared<Z64> {
    let a = relu(x);
    let b = relu(y);
    a + b
}

/// A layer: ReLU(x·W + b), with the product truncated back to the base scale.
#[protocol]
fn dense(x: &Shared<Z64>, w: &Shared<Z64>, b: &Shared<Z64>) -> Shared<Z64> {
    let product = truncate(matmul(x, w));
    relu(product + b)
}

#[protocol]
fn larger(x: &Shared<Z64>, y: &Shared<Z64>) -> Shared<Z64> {
    let bigger = x >= y;
    select(&bigger, x, y)
}

#[protocol]
fn counted(x: &Shared<Z64>, n: usize) -> Shared<Z64> {
    let mut h = x.clone();
    let mut i = 0;
    while i < n {
        h = relu(&h) - x;
        i = i + 1;
    }
    if n > 2 {
        return h;
    }
    match n {
        0 => h,
        _ => relu(h),
    }
}

fn inputs(len: usize, seed: u64) -> Tensor<Z64> {
    signed_tensor(&public_signed(seed, len, 1 << 40))
}

#[test]
fn two_independent_relus_take_the_rounds_of_one() {
    let (x, y) = (inputs(LEN, 1), inputs(LEN, 2));
    let results = run_local(|session| {
        let (x, y) = (&x, &y);
        async move {
            let role = session.role();
            let a = share(&session, &Private::<P0, _>::new(role, || x.clone()), [LEN]).await?;
            let b = share(&session, &Private::<P1, _>::new(role, || y.clone()), [LEN]).await?;
            session.reset_stats();
            let sum = two_relus(&session, &a, &b).await?;
            let stats = session.stats();
            let sum = sum.reveal_to::<P0>(&session).await?.into_inner();
            Ok((sum, stats))
        }
    })
    .unwrap();
    let stats = ClusterStats::from_parties(&results.each_ref().map(|(_, s)| *s));
    assert_eq!(stats.rounds, 9, "two independent ReLUs: the rounds of one");
    let sum = results[0].0.clone().unwrap();
    for i in 0..LEN {
        let relu = |v: Z64| {
            if (v.value() as i64) >= 0 {
                v
            } else {
                Z64::new(0)
            }
        };
        assert_eq!(sum.data()[i], relu(x.data()[i]) + relu(y.data()[i]));
    }
}
