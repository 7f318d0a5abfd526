//! Max pooling over NHWC images, over shares and in the clear: each window's maximum and
//! argmax (the earliest among equals, in row-major window order); backward, δ routed to
//! each window's argmax.
//!
//! Algorithm 9 of the paper pools windows that tile the image. Windows that overlap
//! (AlexNet's 3×3 with stride 2) or leave a remainder are first gathered, locally, into an
//! image that they tile ([`Pooling::gather`]): the protocol then runs unchanged, with as
//! many comparisons as the windows hold. Padded windows (ResNet's 3×3 with padding 1) are
//! gathered the same way, a padded position holding a copy of the nearest value inside the
//! image, so that the maximum and its argmax are the image's. Backward, the routed
//! gradients are added back into the input's positions, summing where windows overlap. A
//! window of a size that is not a power of two (3×3) routes through DMaxpool's next power
//! of two (16): the index is the same, the extra positions stay zero.

use typenum::U0;

use crate::dsl::local::map_linear;
use crate::dsl::{dmaxpool, maxpool_with_argmax};
use crate::error::{Error, Result};
use core::time::Duration;

use crate::net::Link;
use crate::nn::backend::Window;
use crate::nn::layers::window::Pooling;
use crate::nn::local::repeat_each;
use crate::nn::number::Number;
use crate::protocol;
use crate::protocol::cost;
use crate::ring::Z64;
use crate::session::Context;
use crate::share::Shared;
use crate::tensor::{Shape, Tensor};

const OPERATION: &str = "max pooling";

/// Max pooling and the argmax of each window, over shares (Algorithm 9 of the paper).
///
/// # Errors
///
/// [`Error::InvalidShape`] for a window that does not fit, or the transport's errors.
pub(crate) async fn forward(
    ctx: &(impl Context + ?Sized),
    x: &Shared<Z64>,
    window: Window,
) -> Result<(Shared<Z64>, Shared<Z64, U0>)> {
    let pooling = Pooling::new(OPERATION, x.shape(), window)?;
    if pooling.tiles() {
        let pooled = maxpool_with_argmax(ctx, x, window.kernel).await?;
        return Ok((pooled.max, pooled.argmax));
    }
    let gathered = map_linear(x, pooling.gathered_shape(), |data| pooling.gather(data))?;
    let pooled = maxpool_with_argmax(ctx, &gathered, window.kernel).await?;
    let out = pooling.output_shape();
    Ok((
        pooled.max.reshape(out.clone())?,
        pooled.argmax.reshape(out)?,
    ))
}

/// Whether fusing max pooling with the ReLU after it ([`forward_relu`]) is faster over
/// `link` for an input of `shape`: it saves 8 rounds and sends more bytes (one DReLU more
/// per window, no index selections), so it pays where latency outweighs bandwidth (a WAN
/// at small batches), not on a LAN or at large batches.
pub(crate) fn fusion_pays(link: Link, shape: &Shape, window: Window) -> bool {
    let Ok(pooling) = Pooling::new(OPERATION, shape, window) else {
        return false;
    };
    let (windows, k) = (pooling.output_shape().numel() as u64, window.kernel as u64);
    if k < 2 {
        return false;
    }
    let fused = cost::maxpool_relu(windows, k).ours;
    let apart = [cost::maxpool(windows, k).ours, cost::relu(windows).ours];
    let apart_bytes: u64 = apart.iter().map(|c| c.bytes).sum();
    let apart_rounds: u64 = apart.iter().map(|c| c.rounds).sum();
    // All the extra bytes counted on one link: cautious, they spread over several.
    let saved_rounds = u32::try_from(apart_rounds.saturating_sub(fused.rounds)).unwrap_or(0);
    let saved = link
        .latency
        .checked_mul(saved_rounds)
        .unwrap_or(Duration::MAX);
    let extra = link.transmit_time(fused.bytes.saturating_sub(apart_bytes));
    saved > extra
}

/// Max pooling then ReLU over shares, for inference: the windows (gathered as for
/// [`forward`]) through the fused protocol, `max(0, max(window))`.
///
/// # Errors
///
/// [`Error::InvalidShape`] for a window that does not fit, or the transport's errors.
pub(crate) async fn forward_relu(
    ctx: &(impl Context + ?Sized),
    x: &Shared<Z64>,
    window: Window,
) -> Result<Shared<Z64>> {
    let pooling = Pooling::new(OPERATION, x.shape(), window)?;
    let pool = protocol::Pool2d {
        kernel: window.kernel,
    };
    if pooling.tiles() {
        return protocol::maxpool_relu(ctx, x, pool).await;
    }
    let gathered = map_linear(x, pooling.gathered_shape(), |data| pooling.gather(data))?;
    protocol::maxpool_relu(ctx, &gathered, pool)
        .await?
        .reshape(pooling.output_shape())
}

/// δ routed to each window's argmax, into the pooling's `input` shape.
#[protocol(crate = crate, name = "maxpool backward")]
pub(crate) fn backward(
    delta: &Shared<Z64>,
    argmax: &Shared<Z64, U0>,
    input: &Shape,
    window: Window,
) -> Shared<Z64> {
    let pooling = Pooling::new(OPERATION, input, window)?;
    pooling.check_gradient("max pooling backward", delta.shape())?;
    // DMaxpool's one-hot vectors have a power-of-two length: a 3×3 window's index (0..9)
    // is one of 16 positions, of which the last 7 are never set and are dropped (locally)
    // before the product.
    let k2 = pooling.window_len();
    let padded = k2.next_power_of_two();
    let one_hot = dmaxpool(argmax, padded);
    let one_hot = keep_positions(&one_hot, padded, k2)?;
    let routed = repeat_each(delta, k2) * &one_hot;
    map_linear(&routed, input.clone(), |data| pooling.scatter_add(data, k2))?
}

/// The first `kept` of every `stride` values, in a shape ending in `kept`.
fn keep_positions(
    one_hot: &Shared<Z64, U0>,
    stride: usize,
    kept: usize,
) -> Result<Shared<Z64, U0>> {
    if stride == kept {
        return Ok(one_hot.clone());
    }
    let mut dims = one_hot.shape().dims().to_vec();
    if let Some(last) = dims.last_mut() {
        *last = kept;
    }
    map_linear(one_hot, Shape::from(dims), |data| {
        data.chunks_exact(stride)
            .flat_map(|window| window[..kept].iter().copied())
            .collect()
    })
}

/// Max pooling in the clear: the maxima and the flat input index of each.
pub(crate) fn forward_plain<N: Number>(
    x: &Tensor<N>,
    window: Window,
) -> Result<(Tensor<N>, Vec<usize>)> {
    let pooling = Pooling::new(OPERATION, x.shape(), window)?;
    let windows = pooling.output_shape().numel();
    let x = x.data();
    let mut positions = vec![usize::MAX; windows];
    pooling.for_each(|w, _, i, _| {
        let best = &mut positions[w];
        if *best == usize::MAX || (x[i] != x[*best] && x[i].minus(x[*best]).is_nonnegative()) {
            *best = i;
        }
    });
    let out = positions.iter().map(|&p| x[p]).collect();
    let pooled = Tensor::from_vec(pooling.output_shape(), out)?;
    Ok((pooled, positions))
}

/// Max pooling's backward pass in the clear: each δ added at its window's argmax.
pub(crate) fn backward_plain<N: Number>(
    delta: &Tensor<N>,
    argmax: &[usize],
    input: &Shape,
) -> Result<Tensor<N>> {
    let mut dx = vec![N::default(); input.numel()];
    if argmax.len() != delta.len() || argmax.iter().any(|&p| p >= dx.len()) {
        return Err(Error::InvalidShape {
            operation: "max pooling backward",
            shape: input.clone(),
            reason: "the gradient does not have the forward pass's shape",
        });
    }
    for (&position, &d) in argmax.iter().zip(delta.data()) {
        dx[position] += d;
    }
    Tensor::from_vec(input.clone(), dx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_pool_keeps_the_earliest_maximum() {
        // One 2×2 window, two channels: channel 0 ties at 3, channel 1 peaks last.
        let x = Tensor::from_vec(
            [1, 2, 2, 2],
            vec![3.0f32, 0.0, 1.0, 1.0, 3.0, 2.0, 0.0, 5.0],
        )
        .unwrap();
        let window = Window {
            kernel: 2,
            stride: 2,
            padding: 0,
        };
        let (out, positions) = forward_plain(&x, window).unwrap();
        assert_eq!(out.data(), [3.0, 5.0]);
        assert_eq!(positions, [0, 7]);
    }

    #[test]
    fn padded_max_pool_is_the_maximum_over_the_image_part_of_each_window() {
        // 5×5 images of two channels, ResNet's 3×3 windows with stride 2 and padding 1:
        // the definition pads with −∞, so only positions inside the image compete.
        let (h, w, c) = (5usize, 5usize, 2usize);
        let values: Vec<f32> = (0..h * w * c)
            .map(|i| ((i * 37 + 11) % 23) as f32 - 11.0)
            .collect();
        let x = Tensor::from_vec([1, h, w, c], values.clone()).unwrap();
        let window = Window {
            kernel: 3,
            stride: 2,
            padding: 1,
        };
        let (out, positions) = forward_plain(&x, window).unwrap();
        assert_eq!(out.shape().dims(), [1, 3, 3, c]);
        for oy in 0..3 {
            for ox in 0..3 {
                for ch in 0..c {
                    let mut best = f32::NEG_INFINITY;
                    let mut inside = Vec::new();
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (y, x) = ((oy * 2 + ky) as isize - 1, (ox * 2 + kx) as isize - 1);
                            if (0..h as isize).contains(&y) && (0..w as isize).contains(&x) {
                                let i = (y as usize * w + x as usize) * c + ch;
                                best = best.max(values[i]);
                                inside.push(i);
                            }
                        }
                    }
                    let o = (oy * 3 + ox) * c + ch;
                    assert_eq!(out.data()[o], best, "window ({oy}, {ox}, {ch})");
                    assert!(inside.contains(&positions[o]), "argmax outside the window");
                    assert_eq!(values[positions[o]], best);
                }
            }
        }
    }

    #[test]
    fn fusion_pays_on_a_wan_at_small_batches_only() {
        // Network B's first pooling: 24×24×16 maps, 2×2 windows.
        let window = Window {
            kernel: 2,
            stride: 2,
            padding: 0,
        };
        let maps = |batch| Shape::from([batch, 24, 24, 16]);
        let lan = Link {
            latency: Duration::from_micros(100),
            bandwidth: 1_000_000_000,
        };
        assert!(fusion_pays(Link::PAPER_WAN, &maps(1), window));
        assert!(!fusion_pays(Link::PAPER_WAN, &maps(128), window));
        assert!(!fusion_pays(lan, &maps(1), window));
    }
}
