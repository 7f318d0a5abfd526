//! A convolution over NHWC images (square kernel, stride, zero padding), plus a bias per
//! output channel, over shares and in the clear: the linear layer on the input's im2col
//! matrix. The weights are `patch × out_channels`, patch in `(ky, kx, channel)` order.
//!
//! Backward: the linear layer's on the im2col matrix; ∂x goes back through col2im.

use crate::dsl::{matmul, truncate};
use crate::error::Result;
use crate::nn::backend::{Backward, Gradients};
use crate::nn::layers::linear;
use crate::nn::local::{
    add_rows, col2im_shared, im2col_shared, rescale, reshape, shift, sum_rows, transpose,
};
use crate::nn::number::{Number, Rounding};
use crate::protocol;
use crate::protocol::WeightMask;
use crate::ring::Z64;
use crate::session::Context;
use crate::share::Shared;
use crate::tensor::{Conv2dGeometry, Shape, Tensor, col2im, im2col};
use typenum::U13;

/// The convolution of NHWC `x` with `w`, plus `b`.
#[protocol(crate = crate, name = "conv2d")]
pub(crate) fn forward(
    x: &Shared<Z64>,
    w: &Shared<Z64>,
    b: &Shared<Z64>,
    g: &Conv2dGeometry,
) -> Shared<Z64> {
    let kernel = g.kernel();
    let channels = g.channels();
    let out_channels = b.len();
    let filters = reshape(w, Shape::from([kernel, kernel, channels, out_channels]))?;
    let z = truncate(crate::dsl::conv2d(x, &filters, g.stride(), g.padding()));
    add_rows(&z, b)?
}

/// [`forward`] for inference with weights that serve many: their mask is opened once
/// ([`protocol::conv2d_with_mask`]).
pub(crate) async fn forward_with_mask<C: Context + ?Sized>(
    ctx: &C,
    x: &Shared<Z64>,
    w: &Shared<Z64>,
    b: &Shared<Z64>,
    g: &Conv2dGeometry,
    mask: WeightMask,
) -> Result<Shared<Z64>> {
    let call = ctx.open("conv2d");
    let filters = reshape(
        w,
        Shape::from([g.kernel(), g.kernel(), g.channels(), b.len()]),
    )?;
    let z = protocol::conv2d_with_mask(&call, x, &filters, (g.stride(), g.padding()), mask).await?;
    add_rows(&z.truncate::<U13>(), b)
}

/// The gradients and, unless `first`, ∂x.
#[protocol(crate = crate, name = "conv2d backward")]
pub(crate) fn backward(
    x: &Shared<Z64>,
    delta: &Shared<Z64>,
    w: &Shared<Z64>,
    g: &Conv2dGeometry,
    batch_log2: u32,
    first: bool,
) -> (Gradients<Shared<Z64>>, Option<Shared<Z64>>) {
    let out_channels = w.shape().dims().get(1).copied().unwrap_or(0);
    let columns = im2col_shared(x, g)?;
    let delta_rows = reshape(delta, Shape::from([g.rows(), out_channels]))?;
    let columns_t = transpose(&columns)?;
    let w_t = transpose(w)?;
    let weight_product = matmul(&columns_t, &delta_rows);
    let input_product = if first {
        None
    } else {
        Some(matmul(&delta_rows, &w_t))
    };
    let gradients = Gradients {
        weights: rescale(&weight_product, batch_log2),
        biases: shift(&sum_rows(&delta_rows, out_channels)?, batch_log2),
    };
    let input_gradient = match input_product {
        Some(product) => Some(col2im_shared(&truncate(product), g)?),
        None => None,
    };
    (gradients, input_gradient)
}

/// The output shape of a convolution with `out_channels` filters.
fn output_shape(g: &Conv2dGeometry, out_channels: usize) -> Shape {
    Shape::from([g.batch(), g.out_height(), g.out_width(), out_channels])
}

/// The convolution in the clear.
pub(crate) fn forward_plain<N: Number>(
    x: &Tensor<N>,
    w: &Tensor<N>,
    b: &Tensor<N>,
    g: &Conv2dGeometry,
    rounding: &mut Rounding,
) -> Result<Tensor<N>> {
    let columns = Tensor::from_vec([g.rows(), g.patch_len()], im2col(x.data(), g)?)?;
    let z = linear::forward_plain(&columns, w, b, rounding)?;
    z.reshape(output_shape(g, b.len()))
}

/// The backward pass in the clear.
pub(crate) fn backward_plain<N: Number>(
    x: &Tensor<N>,
    delta: &Tensor<N>,
    w: &Tensor<N>,
    g: &Conv2dGeometry,
    batch_log2: u32,
    first: bool,
    rounding: &mut Rounding,
) -> Result<Backward<Tensor<N>>> {
    let columns = im2col(x.data(), g)?;
    let (gradients, dcolumns) =
        linear::backward_plain(&columns, delta.data(), w, batch_log2, first, rounding)?;
    let dx = match dcolumns {
        Some(d) => Some(Tensor::from_vec(g.input_shape(), col2im(d.data(), g)?)?),
        None => None,
    };
    Ok((gradients, dx))
}
