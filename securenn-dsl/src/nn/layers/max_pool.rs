//! Max pooling over NHWC images, over shares and in the clear: each window's maximum and
//! argmax (the earliest among equals, in row-major window order); backward, δ routed to
//! each window's argmax. Windows do not overlap (the stride is the kernel).

use typenum::U0;

use crate::dsl::{dmaxpool, maxpool_with_argmax};
use crate::error::{Error, Result};
use crate::nn::backend::Window;
use crate::nn::local::{repeat_each, scatter_windows};
use crate::nn::number::Number;
use crate::protocol;
use crate::ring::Z64;
use crate::session::Context;
use crate::share::Shared;
use crate::tensor::{Shape, Tensor};

/// The window's kernel, if the windows do not overlap.
fn kernel_of(window: Window, shape: &Shape) -> Result<usize> {
    if window.stride != window.kernel || window.kernel == 0 {
        return Err(Error::InvalidShape {
            operation: "max pooling",
            shape: shape.clone(),
            reason: "max pooling needs non-overlapping windows (stride = kernel)",
        });
    }
    Ok(window.kernel)
}

/// The NHWC dimensions of `shape`.
fn nhwc(shape: &Shape) -> Result<[usize; 4]> {
    match *shape.dims() {
        [batch, height, width, channels] => Ok([batch, height, width, channels]),
        _ => Err(Error::InvalidShape {
            operation: "max pooling",
            shape: shape.clone(),
            reason: "max pooling needs NHWC images",
        }),
    }
}

/// Max pooling and the argmax of each window, over shares (Algorithm 9 of the paper).
///
/// # Errors
///
/// [`Error::InvalidShape`] for overlapping windows, or the transport's errors.
pub(crate) async fn forward(
    ctx: &(impl Context + ?Sized),
    x: &Shared<Z64>,
    window: Window,
) -> Result<(Shared<Z64>, Shared<Z64, U0>)> {
    let kernel = kernel_of(window, x.shape())?;
    let pooled = maxpool_with_argmax(ctx, x, kernel).await?;
    Ok((pooled.max, pooled.argmax))
}

/// δ routed to each window's argmax.
#[protocol(crate = crate, name = "maxpool backward")]
pub(crate) fn backward(
    delta: &Shared<Z64>,
    argmax: &Shared<Z64, U0>,
    input: &Shape,
    kernel: usize,
) -> Shared<Z64> {
    let n = kernel * kernel;
    let one_hot = dmaxpool(argmax, n);
    let routed = repeat_each(delta, n) * &one_hot;
    scatter_windows(&routed, input.clone(), kernel)?
}

/// Max pooling in the clear: the maxima and the flat input index of each.
pub(crate) fn forward_plain<N: Number>(
    x: &Tensor<N>,
    window: Window,
) -> Result<(Tensor<N>, Vec<usize>)> {
    let kernel = kernel_of(window, x.shape())?;
    let [batch, height, width, channels] = nhwc(x.shape())?;
    let (oh, ow) = (height / kernel, width / kernel);
    let x = x.data();
    let mut out = Vec::with_capacity(batch * oh * ow * channels);
    let mut positions = Vec::with_capacity(out.capacity());
    for b in 0..batch {
        for oy in 0..oh {
            for ox in 0..ow {
                for c in 0..channels {
                    let index = |ky: usize, kx: usize| {
                        ((b * height + oy * kernel + ky) * width + ox * kernel + kx) * channels + c
                    };
                    let mut best = index(0, 0);
                    for ky in 0..kernel {
                        for kx in 0..kernel {
                            let i = index(ky, kx);
                            if x[i] != x[best] && x[i].minus(x[best]).is_nonnegative() {
                                best = i;
                            }
                        }
                    }
                    out.push(x[best]);
                    positions.push(best);
                }
            }
        }
    }
    let pooled = Tensor::from_vec([batch, oh, ow, channels], out)?;
    Ok((pooled, positions))
}

/// Max pooling's backward pass in the clear.
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
        dx[position] = d;
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
        };
        let (out, positions) = forward_plain(&x, window).unwrap();
        assert_eq!(out.data(), [3.0, 5.0]);
        assert_eq!(positions, [0, 7]);
    }
}
