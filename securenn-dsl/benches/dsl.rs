//! The DSL's cost over the same protocol calls written by hand: one dense layer,
//! ReLU(truncate(x·W) + b) for x 64×128 and W 128×128, at the three parties of a
//! [`LocalCluster`], inputs shared inside the timed job by both versions alike. Run with
//! `cargo bench -p securenn-dsl --bench dsl`.

use std::sync::Arc;

use securenn_dsl::cluster::LocalCluster;
use securenn_dsl::prelude::*;
use securenn_dsl::protocol as by_hand;

/// The allocator the `securenn` binary uses (see its `main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

#[protocol]
fn dense(x: &Shared<Z64>, w: &Shared<Z64>, b: &Shared<Z64>) -> Shared<Z64> {
    let product = truncate(matmul(x, w));
    relu(product + b)
}

async fn dense_by_hand(
    ctx: &Session,
    x: &Shared<Z64>,
    w: &Shared<Z64>,
    b: &Shared<Z64>,
) -> Result<Shared<Z64>> {
    let call = ctx.open("dense");
    let product = by_hand::matmul(&call, x, w).await?.truncate::<U13>();
    Ok(by_hand::relu(&call, &product.try_add(b)?).await?.value)
}

const ROWS: usize = 64;
const WIDTH: usize = 128;

/// Small public test values (a fixed pattern, not a mask), at scale 13.
fn tensor(shape: [usize; 2], salt: u64) -> Tensor<Z64> {
    let data = (0..(shape[0] * shape[1]) as u64)
        .map(|i| Z64::from_i64((((i * 7919 + salt) % 2001) as i64 - 1000) * 8))
        .collect();
    Tensor::from_vec(shape, data).expect("the data fits the shape")
}

fn layer(bencher: divan::Bencher<'_, '_>, with_dsl: bool) {
    let cluster = LocalCluster::start(&SessionConfig::default()).expect("the parties start");
    let inputs = Arc::new((
        tensor([ROWS, WIDTH], 1),
        tensor([WIDTH, WIDTH], 2),
        tensor([ROWS, WIDTH], 3),
    ));
    bencher.bench_local(|| {
        let inputs = Arc::clone(&inputs);
        cluster
            .run(async move |session| {
                let role = session.role();
                let (x, w, b) = &*inputs;
                let x: Shared<Z64> = share(
                    session,
                    &Private::<P0, _>::new(role, || x.clone()),
                    [ROWS, WIDTH],
                )
                .await?;
                let w: Shared<Z64> = share(
                    session,
                    &Private::<P1, _>::new(role, || w.clone()),
                    [WIDTH, WIDTH],
                )
                .await?;
                let b: Shared<Z64> = share(
                    session,
                    &Private::<P1, _>::new(role, || b.clone()),
                    [ROWS, WIDTH],
                )
                .await?;
                let out = if with_dsl {
                    dense(session, &x, &w, &b).await?
                } else {
                    dense_by_hand(session, &x, &w, &b).await?
                };
                Ok(out.len())
            })
            .expect("the layer runs")
    });
}

/// Written with `#[protocol]`.
#[divan::bench]
fn dense_layer_dsl(bencher: divan::Bencher<'_, '_>) {
    layer(bencher, true);
}

/// The same calls by hand.
#[divan::bench]
fn dense_layer_by_hand(bencher: divan::Bencher<'_, '_>) {
    layer(bencher, false);
}
