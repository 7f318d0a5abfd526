//! Pipelining a layer over a wide-area link: the batch is split into parts that run side
//! by side, so that while one part's messages cross one link (P0 and P1 to P2), another's
//! cross the next (P2 back to P1). The rounds are the same (the parts share them); what
//! falls is the time the links stand idle while a dependent message waits for the one
//! before it, which on a link of 40 MB/s is most of a large layer's time.
//!
//! Every part runs the same protocol on its examples as the whole batch would, in its own
//! call: the split is public (it depends on the batch and the link only) and changes
//! nothing of what any party learns.

use core::future::Future;

use typenum::Unsigned;

use crate::error::{Error, Result};
use crate::net::Link;
use crate::ring::Z64;
use crate::session::{Call, Context};
use crate::share::{Bit, Shared};
use crate::tensor::Shape;

/// The most parts a layer is split into.
pub(crate) const MAX_PARTS: usize = 8;

/// How many parts a layer whose protocol sends `bytes` in all, on `batch` examples, is
/// split into over `link`: about one part per latency that the busiest link (about a
/// quarter of the bytes) takes to carry them, at most [`MAX_PARTS`] and at most one per
/// example. One without a link: on a LAN the parts would only add overhead.
pub(crate) fn parts(link: Option<Link>, batch: usize, bytes: u64) -> usize {
    let Some(link) = link else {
        return 1;
    };
    let latency = link.latency.as_secs_f64();
    if latency <= 0.0 {
        return 1;
    }
    let transmit = link.transmit_time(bytes / 4).as_secs_f64();
    let wanted = (transmit / latency).ceil();
    let wanted = if wanted.is_finite() && wanted >= 1.0 {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "clamped to at most MAX_PARTS below, and at least 1"
        )]
        let wanted = wanted.min(MAX_PARTS as f64) as usize;
        wanted
    } else {
        1
    };
    wanted.clamp(1, MAX_PARTS).min(batch.max(1))
}

/// `x`'s examples `range` (along its first axis), as a share of its own.
fn examples<F: Unsigned>(
    x: &Shared<Z64, F>,
    range: core::ops::Range<usize>,
) -> Result<Shared<Z64, F>> {
    let dims = x.shape().dims();
    let batch = dims.first().copied().unwrap_or(1).max(1);
    let per_example = x.shape().numel() / batch;
    let mut shape = dims.to_vec();
    if let Some(first) = shape.first_mut() {
        *first = range.len();
    }
    let data = x
        .local_share()
        .map(|data| data[range.start * per_example..range.end * per_example].to_vec())
        .unwrap_or_default();
    Shared::from_share(x.role(), Shape::from(shape), data)
}

/// The parts, joined back along the first axis.
fn join<F: Unsigned>(parts: Vec<Shared<Z64, F>>) -> Result<Shared<Z64, F>> {
    let Some(first) = parts.first() else {
        return Err(Error::Internal("a layer split into no parts"));
    };
    let role = first.role();
    let mut shape = first.shape().dims().to_vec();
    let total: usize = parts
        .iter()
        .map(|p| p.shape().dims().first().copied().unwrap_or(0))
        .sum();
    if let Some(first) = shape.first_mut() {
        *first = total;
    }
    let mut data = Vec::with_capacity(parts.iter().map(Shared::len).sum());
    for part in &parts {
        data.extend_from_slice(part.local_share().unwrap_or_default());
    }
    Shared::from_share(role, Shape::from(shape), data)
}

/// Runs `op` on `parts` parts of `x`'s batch side by side, each in a call of its own
/// opened in `ctx` before any starts, and returns their results in order.
pub(crate) async fn in_parts<'c, C, T, Op, Fut>(
    ctx: &'c C,
    x: &Shared<Z64>,
    parts: usize,
    op: Op,
) -> Result<Vec<T>>
where
    C: Context + ?Sized,
    Op: Fn(Call<'c>, Shared<Z64>) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let batch = x.shape().dims().first().copied().unwrap_or(1).max(1);
    let parts = parts.clamp(1, batch);
    let mut runs = Vec::with_capacity(parts);
    for i in 0..parts {
        let range = (i * batch / parts)..((i + 1) * batch / parts);
        runs.push(op(ctx.open("part"), examples(x, range)?));
    }
    futures::future::try_join_all(runs).await
}

/// The values of parts, joined.
pub(crate) fn join_values(parts: Vec<Shared<Z64>>) -> Result<Shared<Z64>> {
    join(parts)
}

/// Pairs of parts (a value and its bits, or its argmax), joined.
pub(crate) fn join_pairs<F: Unsigned, G: Unsigned>(
    parts: Vec<(Shared<Z64, F>, Shared<Z64, G>)>,
) -> Result<(Shared<Z64, F>, Shared<Z64, G>)> {
    let (a, b): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
    Ok((join(a)?, join(b)?))
}

/// A value and its ReLU bits, per part, joined.
pub(crate) fn join_signs(parts: Vec<(Shared<Z64>, Bit)>) -> Result<(Shared<Z64>, Bit)> {
    let (values, bits) = join_pairs(
        parts
            .into_iter()
            .map(|(value, bit)| (value, bit.into_shared()))
            .collect(),
    )?;
    Ok((values, Bit::from_shared(bits)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn a_layer_is_split_only_over_a_link_and_never_past_its_batch() {
        let wan = Link {
            latency: Duration::from_millis(29),
            bandwidth: 40_000_000,
        };
        assert_eq!(parts(None, 128, 1 << 30), 1);
        assert_eq!(parts(Some(wan), 128, 1 << 30), MAX_PARTS);
        assert_eq!(parts(Some(wan), 3, 1 << 30), 3);
        // 1.16 MB / 4 takes about 7 ms: one part.
        assert_eq!(parts(Some(wan), 128, 1_160_000), 1);
        // 16 MB / 4 takes 100 ms: four parts.
        assert_eq!(parts(Some(wan), 128, 16_000_000), 4);
    }
}
