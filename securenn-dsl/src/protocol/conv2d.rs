//! Conv2d as im2col followed by Algorithm 1 (MatMul). 1 round (the paper counts 2); the
//! paper's (2m²f²i + 2f²oi + m²o)·8 bytes for an m×m output, f×f filters, i input and o
//! output channels (batch 1) are (2s + 2f²oi + m²o)·8 here, where s is the size of the
//! input: for Table 8's 28×28 input with 5×5 filters and 20 channels, 112,704 bytes instead
//! of 330,560.
//!
//! The convolution is the product of the input's im2col matrix (each output position's
//! patch, `(batch·m²) × (f²·i)`, zero padding included) with the `(f²·i) × o` filter matrix.
//! im2col is linear, so the Beaver triple can be taken on the input itself: P2 deals U of
//! the input's shape and Z = im2col(U)·V, the parties open E = X − U (s elements rather than
//! the m²f²i of E = im2col(X) − U′) and F = W − V, and output
//! im2col(Xⱼ)·F + im2col(E)·(Wⱼ − j·F) + Zⱼ, which adds up to im2col(X)·W. E is uniformly
//! random because U is.

use core::ops::Add;

use typenum::{Sum, Unsigned};

use super::check_holder;
use super::matmul::{Product, beaver};
use crate::error::{Error, Result};
use crate::ring::Z64;
use crate::session::Context;
use crate::share::Shared;
use crate::tensor::{Conv2dGeometry, Shape};

/// The convolution of a secret NHWC batch `input` (`[batch, height, width, channels]`) with
/// secret filters `weights` (`[kernel, kernel, channels, out_channels]`, HWIO), with the
/// given stride and zero padding; the output is `[batch, out_height, out_width,
/// out_channels]` with the sum of the scales.
///
/// # Errors
///
/// [`Error::InvalidShape`] for shapes that do not fit a convolution, or the transport's
/// errors.
///
/// # Examples
///
/// ```
/// use securenn_dsl::prelude::*;
/// use securenn_dsl::protocol::conv2d;
/// use typenum::U0;
///
/// // A 3×3 image of ones, a 2×2 filter of ones, stride 1, no padding: every output is 4.
/// let [out, _, _] = run_local(|session| async move {
///     let role = session.role();
///     let image = Private::<P0, _>::try_new(role, || Tensor::from_vec([1, 3, 3, 1], vec![Z64::new(1); 9]))?;
///     let filter = Private::<P1, _>::try_new(role, || Tensor::from_vec([2, 2, 1, 1], vec![Z64::new(1); 4]))?;
///     let image: Shared<Z64, U0> = share(&session, &image, [1, 3, 3, 1]).await?;
///     let filter: Shared<Z64, U0> = share(&session, &filter, [2, 2, 1, 1]).await?;
///     let out = conv2d(&session, &image, &filter, 1, 0).await?;
///     Ok(reveal_to::<P0, _>(&session, &out).await?.into_inner())
/// })?;
/// let out = out.unwrap();
/// assert_eq!(out.shape().dims(), &[1, 2, 2, 1]);
/// assert!(out.data().iter().all(|&v| v == Z64::new(4)));
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub async fn conv2d<C, F, G>(
    ctx: &C,
    input: &Shared<Z64, F>,
    weights: &Shared<Z64, G>,
    stride: usize,
    padding: usize,
) -> Result<Shared<Z64, Sum<F, G>>>
where
    C: Context + ?Sized,
    F: Unsigned + Add<G>,
    G: Unsigned,
    Sum<F, G>: Unsigned,
{
    let call = ctx.open("conv2d");
    let session = ctx.session();
    check_holder(session, "conv2d", input)?;
    check_holder(session, "conv2d", weights)?;
    let (product, shape) = convolution(input.shape(), weights.shape(), stride, padding)?;
    let out = beaver(&call, input.data(), weights.data(), product).await?;
    Ok(Shared::from_parts(session.role(), shape, out))
}

/// The convolution of an `input`-shaped tensor by `weights`-shaped filters, and the
/// output's shape.
pub(crate) fn convolution(
    input: &Shape,
    weights: &Shape,
    stride: usize,
    padding: usize,
) -> Result<(Product, Shape)> {
    let invalid = |shape: &Shape, reason| Error::InvalidShape {
        operation: "conv2d",
        shape: shape.clone(),
        reason,
    };
    let &[batch, height, width, channels] = input.dims() else {
        return Err(invalid(
            input,
            "the input must be [batch, height, width, channels]",
        ));
    };
    let &[kernel, kernel_w, in_channels, out_channels] = weights.dims() else {
        return Err(invalid(
            weights,
            "the filters must be [kernel, kernel, in, out]",
        ));
    };
    if kernel != kernel_w || in_channels != channels {
        return Err(Error::ShapeMismatch {
            operation: "conv2d",
            left: input.clone(),
            right: weights.clone(),
        });
    }
    let geometry = Conv2dGeometry::new(batch, height, width, channels, kernel, stride, padding)?;
    if geometry.rows().checked_mul(out_channels).is_none() {
        return Err(invalid(
            weights,
            "the output has more elements than memory can hold",
        ));
    }
    let product = Product::Convolution {
        geometry,
        out_channels,
    };
    let shape = Shape::from([
        batch,
        geometry.out_height(),
        geometry.out_width(),
        out_channels,
    ]);
    Ok((product, shape))
}
