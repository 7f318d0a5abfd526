//! What every case of `securenn bench protocol` uses: public random inputs, sharing them,
//! timing calls after a warm-up, and checking the revealed result.

use super::*;

/// The public random input `label` of the workload: `n` elements.
pub(super) fn inputs<R: Ring>(seed: u64, label: u32, n: usize) -> Vec<R> {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let mut prg = securenn_dsl::prg::Prg::derive(
        &securenn_dsl::prg::Key::from_bytes(key),
        securenn_dsl::prg::StreamId {
            call: CallId::ROOT.child(0),
            label,
        },
    );
    let mut out = vec![R::ZERO; n];
    R::fill_random(&mut prg, &mut out);
    out
}

/// Signed inputs in −bound..bound.
pub(super) fn signed_inputs(seed: u64, label: u32, n: usize, bound: u64) -> Vec<Z64> {
    inputs::<Z64>(seed, label, n)
        .into_iter()
        .map(|v| Z64::new(v.value() % (2 * bound)) - Z64::new(bound))
        .collect()
}

/// Shares `values` (shape `shape`) from party `P`.
pub(super) async fn input_from<
    P: securenn_dsl::party::InputParty,
    R: Ring,
    F: typenum::Unsigned,
>(
    session: &Session,
    values: Vec<R>,
    shape: &Shape,
) -> securenn_dsl::Result<Shared<R, F>> {
    let private =
        Private::<P, _>::try_new(session.role(), || Tensor::from_vec(shape.clone(), values))?;
    share(session, &private, shape.clone()).await
}

/// Runs untimed calls for `warmup` (P0 keeps time and tells the others when to stop), then
/// times `repeat` calls of `call`; returns the last result, the times and the last traffic.
pub(super) async fn timed<T>(
    session: &Session,
    workload: &Workload,
    call: impl AsyncFn() -> securenn_dsl::Result<T>,
) -> securenn_dsl::Result<(T, Vec<f64>, Stats)> {
    let started = Instant::now();
    loop {
        call().await?;
        let control = session.call("bench warm-up");
        let more = match session.role() {
            Role::P0 => {
                let more = started.elapsed() < workload.warmup;
                let flag = [Z2::from(more)];
                control.send(Role::P1, 0, &flag).await?;
                control.send(Role::P2, 0, &flag).await?;
                more
            }
            _ => control.recv::<Z2>(Role::P0, 0, 1).await?[0].as_bool(),
        };
        if !more {
            break;
        }
    }
    let repeat = workload.repeat;
    let mut seconds = Vec::with_capacity(repeat);
    let mut last = None;
    for _ in 0..repeat {
        session.reset_stats();
        let started = Instant::now();
        let out = call().await?;
        seconds.push(started.elapsed().as_secs_f64());
        last = Some((out, session.stats()));
    }
    match last {
        Some((out, stats)) => Ok((out, seconds, stats)),
        None => Err(securenn_dsl::Error::Internal("a timing of no calls")),
    }
}

/// Reveals `result` to P0, which compares it with `expected` within `tolerance` units.
pub(super) async fn check<F: typenum::Unsigned>(
    session: &Session,
    result: &Shared<Z64, F>,
    expected: impl FnOnce() -> Vec<Z64>,
    tolerance: i64,
) -> securenn_dsl::Result<Option<bool>> {
    let revealed = reveal_to::<P0, _>(session, result).await?.into_inner();
    Ok(revealed.map(|got| {
        let expected = expected();
        got.len() == expected.len()
            && got
                .data()
                .iter()
                .zip(&expected)
                .all(|(&g, &e)| (g - e).as_i64().abs() <= tolerance)
    }))
}

/// Max pooling of an H×W×C image in the clear, as the plaintext twin computes it (the
/// network's reference, `nn::plain::Plain`): the maxima and each window's argmax as a
/// position in the window (row-major), NHWC.
pub(super) async fn plain_maxpool(
    values: &[Z64],
    h: usize,
    w: usize,
    c: usize,
    k: usize,
) -> securenn_dsl::Result<(Vec<Z64>, Vec<Z64>)> {
    use securenn_dsl::nn::backend::{Backend, Window};
    use securenn_dsl::nn::plain::Plain;
    let image = Tensor::from_vec([1, h, w, c], values.to_vec())?;
    let window = Window {
        kernel: k,
        stride: k,
        padding: 0,
    };
    let (max, inputs) = Plain::<Z64>::new(0).max_pool(&image, window).await?;
    let argmax = inputs
        .iter()
        .map(|&input| {
            let (y, x) = (input / c / w, input / c % w);
            Z64::new(((y % k) * k + x % k) as u64)
        })
        .collect();
    Ok((max.into_data(), argmax))
}
