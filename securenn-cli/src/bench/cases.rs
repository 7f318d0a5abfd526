//! One case per protocol: its inputs from the public seed, its timed calls, and the
//! plaintext its result is checked against.

use super::*;

/// MatMul (Algorithm 1) of an m×n by an n×v matrix, against `matmul_into`.
pub(super) async fn product(session: &Session, w: &Workload) -> securenn_dsl::Result<Outcome> {
    let (seed, d) = (w.seed, &w.dims);
    let outcome = {
        let (m, k, v) = (d[0], d[1], d[2]);
        let (a, b) = (inputs::<Z64>(seed, 0, m * k), inputs::<Z64>(seed, 1, k * v));
        let x: Shared<Z64, U0> =
            input_from::<P0, _, _>(session, a.clone(), &Shape::from([m, k])).await?;
        let y: Shared<Z64, U0> =
            input_from::<P1, _, _>(session, b.clone(), &Shape::from([k, v])).await?;
        let (out, seconds, stats) =
            timed(session, w, async || matmul(session, &x, &y).await).await?;
        let expected = || {
            let mut c = vec![Z64::ZERO; m * v];
            matmul_into(&a, &b, m, k, v, &mut c);
            c
        };
        (check(session, &out, expected, 0).await?, seconds, stats)
    };
    Ok(outcome)
}

/// A convolution (im2col and MatMul), against the plaintext im2col product.
pub(super) async fn convolution(session: &Session, w: &Workload) -> securenn_dsl::Result<Outcome> {
    let (seed, d) = (w.seed, &w.dims);
    let outcome = {
        let (side, f, i, o) = (d[0], d[1], d[2], d[3]);
        let geometry = Conv2dGeometry::new(1, side, side, i, f, 1, 0)?;
        let (image, filters) = (
            inputs::<Z64>(seed, 0, side * side * i),
            inputs::<Z64>(seed, 1, f * f * i * o),
        );
        let x: Shared<Z64, U0> =
            input_from::<P0, _, _>(session, image.clone(), &Shape::from([1, side, side, i]))
                .await?;
        let k: Shared<Z64, U0> =
            input_from::<P1, _, _>(session, filters.clone(), &Shape::from([f, f, i, o])).await?;
        let (out, seconds, stats) =
            timed(session, w, async || conv2d(session, &x, &k, 1, 0).await).await?;
        let expected = || {
            let columns = im2col(&image, &geometry).unwrap_or_default();
            let mut c = vec![Z64::ZERO; geometry.rows() * o];
            matmul_into(
                &columns,
                &filters,
                geometry.rows(),
                geometry.patch_len(),
                o,
                &mut c,
            );
            c
        };
        (check(session, &out, expected, 0).await?, seconds, stats)
    };
    Ok(outcome)
}

/// Local truncation of products, within one unit.
pub(super) async fn truncation(session: &Session, w: &Workload) -> securenn_dsl::Result<Outcome> {
    let (n, seed) = (w.size, w.seed);
    let vector = Shape::from([n]);
    let outcome = {
        let a = signed_inputs(seed, 0, n, 1 << 40);
        let x: Shared<Z64, U26> = input_from::<P0, _, _>(session, a.clone(), &vector).await?;
        let (out, seconds, stats) = timed(session, w, async || Ok(truncate::<U13, _>(&x))).await?;
        let expected = || a.iter().map(|v| v.arithmetic_shr(13)).collect();
        (check(session, &out, expected, 1).await?, seconds, stats)
    };
    Ok(outcome)
}

/// SelectShare (Algorithm 2) by a DReLU bit.
pub(super) async fn select(session: &Session, w: &Workload) -> securenn_dsl::Result<Outcome> {
    let (n, seed) = (w.size, w.seed);
    let vector = Shape::from([n]);
    let outcome = {
        let (a, b, c) = (
            signed_inputs(seed, 0, n, 1 << 40),
            signed_inputs(seed, 1, n, 1 << 40),
            signed_inputs(seed, 2, n, 1 << 40),
        );
        let x: Shared<Z64> = input_from::<P0, _, _>(session, a.clone(), &vector).await?;
        let y: Shared<Z64> = input_from::<P1, _, _>(session, b.clone(), &vector).await?;
        let choice: Shared<Z64> = input_from::<P0, _, _>(session, c.clone(), &vector).await?;
        let bit = drelu(session, &choice).await?;
        let (out, seconds, stats) = timed(session, w, async || {
            select_share(session, &bit, &x, &y).await
        })
        .await?;
        let expected = || {
            (0..n)
                .map(|e| if c[e].as_i64() >= 0 { b[e] } else { a[e] })
                .collect()
        };
        (check(session, &out, expected, 0).await?, seconds, stats)
    };
    Ok(outcome)
}

/// PrivateCompare (Algorithm 3): P2 learns (x > r) ⊕ β.
pub(super) async fn compare(session: &Session, w: &Workload) -> securenn_dsl::Result<Outcome> {
    let (n, seed) = (w.size, w.seed);
    let outcome = {
        let (x, r, beta) = (
            inputs::<Z64>(seed, 0, n),
            inputs::<Z64>(seed, 1, n),
            inputs::<Z64>(seed, 2, n),
        );
        let bits: Vec<Zp> = x.iter().flat_map(|v| decompose::<Zp>(v.value())).collect();
        let bits: Shared<Zp, U0> =
            input_from::<P0, _, _>(session, bits, &Shape::from([n, 64])).await?;
        let threshold = Common::new(session.role(), || r.iter().map(|v| v.value()).collect());
        let mask = Common::new(session.role(), || {
            beta.iter().map(|v| v.value() & 1 == 1).collect()
        });
        let (out, seconds, stats) = timed(session, w, async || {
            private_compare(session, &bits, &threshold, &mask).await
        })
        .await?;
        let correct = out.into_inner().map(|got| {
            got.iter()
                .enumerate()
                .all(|(e, &g)| g == ((beta[e].value() & 1 == 1) ^ (x[e].value() > r[e].value())))
        });
        (correct, seconds, stats)
    };
    Ok(outcome)
}

/// ShareConvert (Algorithm 4) to Z_2^64−1.
pub(super) async fn convert(session: &Session, w: &Workload) -> securenn_dsl::Result<Outcome> {
    let (n, seed) = (w.size, w.seed);
    let vector = Shape::from([n]);
    let outcome = {
        let a: Vec<Z64> = inputs::<Z64>(seed, 0, n)
            .into_iter()
            .map(|v| Z64::new(v.value().min(u64::MAX - 1)))
            .collect();
        let x: Shared<Z64, U0> = input_from::<P0, _, _>(session, a.clone(), &vector).await?;
        let (out, seconds, stats) =
            timed(session, w, async || share_convert(session, &x).await).await?;
        let revealed = reveal_to::<P0, _>(session, &out).await?.into_inner();
        let correct = revealed.map(|got| {
            got.data()
                .iter()
                .zip(&a)
                .all(|(g, e)| g.value() == e.value())
        });
        (correct, seconds, stats)
    };
    Ok(outcome)
}

/// ComputeMSB (Algorithm 5) of odd-ring shares.
pub(super) async fn msb(session: &Session, w: &Workload) -> securenn_dsl::Result<Outcome> {
    let (n, seed) = (w.size, w.seed);
    let vector = Shape::from([n]);
    let outcome = {
        let a = inputs::<ZOdd>(seed, 0, n);
        let x: Shared<ZOdd, U0> = input_from::<P0, _, _>(session, a.clone(), &vector).await?;
        let (out, seconds, stats) =
            timed(session, w, async || compute_msb(session, &x).await).await?;
        let expected = || a.iter().map(|v| Z64::new(v.value() >> 63)).collect();
        (
            check(session, out.as_shared(), expected, 0).await?,
            seconds,
            stats,
        )
    };
    Ok(outcome)
}

/// DReLU (Algorithm 7): the bit x ≥ 0.
pub(super) async fn derivative(session: &Session, w: &Workload) -> securenn_dsl::Result<Outcome> {
    let (n, seed) = (w.size, w.seed);
    let vector = Shape::from([n]);
    let outcome = {
        let a = signed_inputs(seed, 0, n, 1 << 40);
        let x: Shared<Z64> = input_from::<P0, _, _>(session, a.clone(), &vector).await?;
        let (out, seconds, stats) = timed(session, w, async || drelu(session, &x).await).await?;
        let expected = || {
            a.iter()
                .map(|v| Z64::new(u64::from(v.as_i64() >= 0)))
                .collect()
        };
        (
            check(session, out.as_shared(), expected, 0).await?,
            seconds,
            stats,
        )
    };
    Ok(outcome)
}

/// ReLU (Algorithm 8).
pub(super) async fn rectifier(session: &Session, w: &Workload) -> securenn_dsl::Result<Outcome> {
    let (n, seed) = (w.size, w.seed);
    let vector = Shape::from([n]);
    let outcome = {
        let a = signed_inputs(seed, 0, n, 1 << 40);
        let x: Shared<Z64> = input_from::<P0, _, _>(session, a.clone(), &vector).await?;
        let (out, seconds, stats) = timed(session, w, async || relu(session, &x).await).await?;
        let expected = || a.iter().map(|v| Z64::from_i64(v.as_i64().max(0))).collect();
        (
            check(session, &out.value, expected, 0).await?,
            seconds,
            stats,
        )
    };
    Ok(outcome)
}

/// Division (Algorithm 6): ⌊x·2^13 / y⌋.
pub(super) async fn quotient(session: &Session, w: &Workload) -> securenn_dsl::Result<Outcome> {
    let (n, seed) = (w.size, w.seed);
    let vector = Shape::from([n]);
    let outcome = {
        let y: Vec<Z64> = inputs::<Z64>(seed, 0, n)
            .iter()
            .map(|v| Z64::new(v.value() % (1 << 30) + 1))
            .collect();
        let x: Vec<Z64> = inputs::<Z64>(seed, 1, n)
            .iter()
            .zip(&y)
            .map(|(v, y)| Z64::new(v.value() % (y.value() + 1)))
            .collect();
        let xs: Shared<Z64> = input_from::<P0, _, _>(session, x.clone(), &vector).await?;
        let ys: Shared<Z64> = input_from::<P1, _, _>(session, y.clone(), &vector).await?;
        let (out, seconds, stats) =
            timed(session, w, async || division(session, &xs, &ys).await).await?;
        let expected = || {
            x.iter()
                .zip(&y)
                .map(|(x, y)| Z64::new((x.value() << 13) / y.value()))
                .collect()
        };
        (check(session, &out, expected, 0).await?, seconds, stats)
    };
    Ok(outcome)
}

/// Maxpool (Algorithm 9) or DMaxpool (Algorithm 10), by `w.name`, against a plaintext max pooling.
pub(super) async fn pooling(session: &Session, w: &Workload) -> securenn_dsl::Result<Outcome> {
    let (n, seed, d) = (w.size, w.seed, &w.dims);
    let outcome = {
        let (h, wd, c, k) = (d[0], d[1], d[2], d[3]);
        let a = signed_inputs(seed, 0, n, 1 << 40);
        let x: Shared<Z64> =
            input_from::<P0, _, _>(session, a.clone(), &Shape::from([1, h, wd, c])).await?;
        let (max, argmax) = plain_maxpool(&a, h, wd, c, k).await?;
        if w.name == ProtocolName::Maxpool {
            let pool = Pool2d { kernel: k };
            let (out, seconds, stats) =
                timed(session, w, async || maxpool(session, &x, pool).await).await?;
            let max_ok = check(session, &out.max, || max, 0).await?;
            let argmax_ok = check(session, &out.argmax, || argmax, 0).await?;
            (max_ok.zip(argmax_ok).map(|(a, b)| a && b), seconds, stats)
        } else {
            let index: Shared<Z64, U0> =
                input_from::<P0, _, _>(session, argmax.clone(), &Shape::from([argmax.len()]))
                    .await?;
            let (out, seconds, stats) =
                timed(session, w, async || dmaxpool(session, &index, k * k).await).await?;
            let expected = || {
                argmax
                    .iter()
                    .flat_map(|i| {
                        (0..(k * k) as u64).map(move |p| Z64::new(u64::from(p == i.value())))
                    })
                    .collect()
            };
            (check(session, &out, expected, 0).await?, seconds, stats)
        }
    };
    Ok(outcome)
}
