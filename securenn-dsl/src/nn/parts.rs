//! Pipelining a layer over a wide-area link: the batch is split into parts that run side
//! by side, so that while one part's messages cross one link (P0 and P1 to P2), another's
//! cross the next (P2 back to P1). The rounds are the same (the parts share them); what
//! falls is the time the links stand idle while a dependent message waits for the one
//! before it, which on a link of 40 MB/s is most of a large layer's time.
//!
//! The parts are whole examples, or, for a batch smaller than the parts wanted and a layer
//! that works on each channel apart (ReLU, pooling in inference), groups of channels.
//! Every part runs the same protocol on its values as the whole would, in its own call:
//! the split is public (it depends on the link and the layer's shape only) and changes
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

/// How many parts a layer whose protocol sends `bytes` in all is split into over `link`:
/// about one part per latency that the busiest link (about a quarter of the bytes) takes
/// to carry them, at most [`MAX_PARTS`]. One without a link: on a LAN the parts would
/// only add overhead.
pub(crate) fn parts(link: Option<Link>, bytes: u64) -> usize {
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
    wanted.clamp(1, MAX_PARTS)
}

/// Which axis a layer's parts divide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Axis {
    /// The batch: each part is whole examples.
    Examples,
    /// The last axis (an NHWC tensor's channels, a row's features): for layers that work
    /// on each channel apart (ReLU, pooling).
    Channels,
}

impl Axis {
    /// The length of this axis of `shape`, and the number of elements per step along it
    /// and per block it repeats in (`inner`, `outer`).
    fn layout(self, shape: &Shape) -> (usize, usize, usize) {
        let dims = shape.dims();
        let numel = shape.numel();
        match self {
            Axis::Examples => {
                let len = dims.first().copied().unwrap_or(1).max(1);
                (len, numel / len, 1)
            }
            Axis::Channels => {
                let len = dims.last().copied().unwrap_or(1).max(1);
                (len, 1, numel / len)
            }
        }
    }

    fn index(self, shape: &Shape) -> usize {
        match self {
            Axis::Examples => 0,
            Axis::Channels => shape.dims().len().saturating_sub(1),
        }
    }
}

/// `x`'s entries `range` along `axis`, as a share of its own.
fn slice<F: Unsigned>(
    x: &Shared<Z64, F>,
    axis: Axis,
    range: core::ops::Range<usize>,
) -> Result<Shared<Z64, F>> {
    let (len, inner, outer) = axis.layout(x.shape());
    let mut shape = x.shape().dims().to_vec();
    if let Some(dim) = shape.get_mut(axis.index(x.shape())) {
        *dim = range.len();
    }
    let data = x
        .local_share()
        .map(|data| {
            let mut part = Vec::with_capacity(range.len() * inner * outer);
            for block in data.chunks_exact(len * inner).take(outer) {
                part.extend_from_slice(&block[range.start * inner..range.end * inner]);
            }
            part
        })
        .unwrap_or_default();
    Shared::from_share(x.role(), Shape::from(shape), data)
}

/// The parts, joined back along `axis`.
fn join<F: Unsigned>(parts: Vec<Shared<Z64, F>>, axis: Axis) -> Result<Shared<Z64, F>> {
    let Some(first) = parts.first() else {
        return Err(Error::Internal("a layer split into no parts"));
    };
    let role = first.role();
    let at = axis.index(first.shape());
    let mut shape = first.shape().dims().to_vec();
    let total: usize = parts
        .iter()
        .map(|p| p.shape().dims().get(at).copied().unwrap_or(0))
        .sum();
    if let Some(dim) = shape.get_mut(at) {
        *dim = total;
    }
    let shape = Shape::from(shape);
    let (_, inner, outer) = axis.layout(&shape);
    let mut data = Vec::with_capacity(parts.iter().map(Shared::len).sum());
    if !role.is_helper() {
        for block in 0..outer {
            for part in &parts {
                let (len, _, _) = axis.layout(part.shape());
                let step = len * inner;
                let share = part.local_share().unwrap_or_default();
                data.extend_from_slice(
                    share
                        .get(block * step..(block + 1) * step)
                        .unwrap_or_default(),
                );
            }
        }
    }
    Shared::from_share(role, shape, data)
}

/// Runs `op` on `parts` parts of `x` along `axis` side by side, each in a call of its own
/// opened in `ctx` before any starts, and returns their results in order.
pub(crate) async fn in_parts<'c, C, T, Op, Fut>(
    ctx: &'c C,
    x: &Shared<Z64>,
    (parts, axis): (usize, Axis),
    op: Op,
) -> Result<Vec<T>>
where
    C: Context + ?Sized,
    Op: Fn(Call<'c>, Shared<Z64>) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let (len, _, _) = axis.layout(x.shape());
    let parts = parts.clamp(1, len);
    let mut runs = Vec::with_capacity(parts);
    for i in 0..parts {
        let range = (i * len / parts)..((i + 1) * len / parts);
        runs.push(op(ctx.open("part"), slice(x, axis, range)?));
    }
    futures::future::try_join_all(runs).await
}

/// The values of parts along `axis`, joined.
pub(crate) fn join_values(parts: Vec<Shared<Z64>>, axis: Axis) -> Result<Shared<Z64>> {
    join(parts, axis)
}

/// Pairs of parts along `axis` (a value and its bits, or its argmax), joined.
pub(crate) fn join_pairs<F: Unsigned, G: Unsigned>(
    parts: Vec<(Shared<Z64, F>, Shared<Z64, G>)>,
    axis: Axis,
) -> Result<(Shared<Z64, F>, Shared<Z64, G>)> {
    let (a, b): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
    Ok((join(a, axis)?, join(b, axis)?))
}

/// A value and its ReLU bits, per part along `axis`, joined.
pub(crate) fn join_signs(parts: Vec<(Shared<Z64>, Bit)>, axis: Axis) -> Result<(Shared<Z64>, Bit)> {
    let (values, bits) = join_pairs(
        parts
            .into_iter()
            .map(|(value, bit)| (value, bit.into_shared()))
            .collect(),
        axis,
    )?;
    Ok((values, Bit::from_shared(bits)))
}

/// How a layer on `shape` is split into about `wanted` parts: along the batch if it has
/// enough examples, else (where the layer allows it) along the channels.
pub(crate) fn split(shape: &Shape, wanted: usize, channels_allowed: bool) -> (usize, Axis) {
    let batch = Axis::Examples.layout(shape).0;
    let channels = Axis::Channels.layout(shape).0;
    if wanted <= 1 || batch >= wanted || !channels_allowed || channels <= batch {
        (wanted.min(batch), Axis::Examples)
    } else {
        (wanted.min(channels), Axis::Channels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn a_layer_is_split_only_over_a_link() {
        let wan = Link {
            latency: Duration::from_millis(29),
            bandwidth: 40_000_000,
        };
        assert_eq!(parts(None, 1 << 30), 1);
        assert_eq!(parts(Some(wan), 1 << 30), MAX_PARTS);
        // 1.16 MB / 4 takes about 7 ms: one part.
        assert_eq!(parts(Some(wan), 1_160_000), 1);
        // 16 MB / 4 takes 100 ms: four parts.
        assert_eq!(parts(Some(wan), 16_000_000), 4);
    }

    #[test]
    fn parts_along_either_axis_join_back_to_the_whole() {
        use crate::party::Role;
        let shape = Shape::from([3, 2, 2, 5]);
        let data: Vec<Z64> = (0..60).map(Z64::new).collect();
        let x: Shared<Z64> = Shared::from_share(Role::P0, shape.clone(), data.clone()).unwrap();
        for axis in [Axis::Examples, Axis::Channels] {
            let len = axis.layout(&shape).0;
            for parts in 1..=len {
                let pieces: Vec<_> = (0..parts)
                    .map(|i| slice(&x, axis, (i * len / parts)..((i + 1) * len / parts)).unwrap())
                    .collect();
                let joined = join(pieces, axis).unwrap();
                assert_eq!(joined.shape(), &shape, "{axis:?} in {parts}");
                assert_eq!(
                    joined.local_share().unwrap(),
                    &data[..],
                    "{axis:?} in {parts}"
                );
            }
        }
        // A channel part holds that channel of every pixel.
        let second = slice(&x, Axis::Channels, 1..2).unwrap();
        let expected: Vec<Z64> = (0..12).map(|p| Z64::new(p * 5 + 1)).collect();
        assert_eq!(second.local_share().unwrap(), &expected[..]);
    }

    #[test]
    fn a_small_batch_is_split_along_its_channels_where_the_layer_allows() {
        let image = Shape::from([1, 24, 24, 20]);
        assert_eq!(split(&image, 4, true), (4, Axis::Channels));
        assert_eq!(split(&image, 4, false), (1, Axis::Examples));
        assert_eq!(
            split(&Shape::from([128, 24, 24, 20]), 8, true),
            (8, Axis::Examples)
        );
        assert_eq!(split(&image, 1, true), (1, Axis::Examples));
    }
}
