//! A fully connected layer, over shares and in the clear: z = trunc(x·W) + b.
//!
//! Backward: ∂W = trunc(xᵀ·δ / 2^batch_log2), ∂b = Σδ / 2^batch_log2 and, unless the layer
//! is the first, ∂x = trunc(δ·Wᵀ); over shares the two products share one round.

use crate::dsl::{matmul, truncate};
use crate::error::{Error, Result};
use crate::nn::backend::{Backward, Gradients};
use crate::nn::local::{add_rows, rescale, shift, sum_rows, transpose};
use crate::nn::number::{self, Number, Rounding};
use crate::protocol;
use crate::protocol::WeightMask;
use crate::ring::Z64;
use crate::session::Context;
use crate::share::Shared;
use crate::tensor::{Shape, Tensor};
use typenum::U13;

/// z = trunc(x·W) + b.
#[protocol(crate = crate, name = "linear")]
pub(crate) fn forward(x: &Shared<Z64>, w: &Shared<Z64>, b: &Shared<Z64>) -> Shared<Z64> {
    let z = truncate(matmul(x, w));
    add_rows(&z, b)?
}

/// [`forward`] for inference with weights that serve many: their mask is opened once
/// ([`protocol::matmul_with_mask`]).
pub(crate) async fn forward_with_mask<C: Context + ?Sized>(
    ctx: &C,
    x: &Shared<Z64>,
    w: &Shared<Z64>,
    b: &Shared<Z64>,
    mask: WeightMask,
) -> Result<Shared<Z64>> {
    let call = ctx.open("linear");
    let z = protocol::matmul_with_mask(&call, x, w, mask).await?;
    add_rows(&z.truncate::<U13>(), b)
}

/// The gradients and, unless `first`, ∂x.
#[protocol(crate = crate, name = "linear backward")]
pub(crate) fn backward(
    x: &Shared<Z64>,
    delta: &Shared<Z64>,
    w: &Shared<Z64>,
    batch_log2: u32,
    first: bool,
) -> (Gradients<Shared<Z64>>, Option<Shared<Z64>>) {
    let x_t = transpose(x)?;
    let w_t = transpose(w)?;
    let weight_product = matmul(&x_t, delta);
    let input_product = if first {
        None
    } else {
        Some(matmul(delta, &w_t))
    };
    let width = w.shape().dims().get(1).copied().unwrap_or(0);
    let gradients = Gradients {
        weights: rescale(&weight_product, batch_log2),
        biases: shift(&sum_rows(delta, width)?, batch_log2),
    };
    (gradients, input_product.map(truncate))
}

/// z = trunc(x·W) + b, in the clear.
pub(crate) fn forward_plain<N: Number>(
    x: &Tensor<N>,
    w: &Tensor<N>,
    b: &Tensor<N>,
    rounding: &mut Rounding,
) -> Result<Tensor<N>> {
    let (rows, inputs) = x.shape().as_matrix("linear")?;
    let (w_rows, outputs) = w.shape().as_matrix("linear")?;
    if w_rows != inputs || b.len() != outputs {
        return Err(Error::ShapeMismatch {
            operation: "linear",
            left: x.shape().clone(),
            right: w.shape().clone(),
        });
    }
    let mut z = N::matmul(x.data(), w.data(), rows, inputs, outputs);
    N::rescale(&mut z, 0, rounding);
    number::add_bias(&mut z, b.data());
    Tensor::from_vec([rows, outputs], z)
}

/// The backward pass in the clear, on `x` of `rows × inputs` (a convolution's im2col
/// matrix) and `delta` of `rows × outputs`; ∂x is the `rows × inputs` matrix.
pub(crate) fn backward_plain<N: Number>(
    x: &[N],
    delta: &[N],
    w: &Tensor<N>,
    batch_log2: u32,
    first: bool,
    rounding: &mut Rounding,
) -> Result<Backward<Tensor<N>>> {
    let (inputs, outputs) = w.shape().as_matrix("linear backward")?;
    let rows = delta.len() / outputs.max(1);
    if x.len() != rows * inputs || delta.len() != rows * outputs {
        return Err(Error::InvalidShape {
            operation: "linear backward",
            shape: w.shape().clone(),
            reason: "the input or the gradient does not fit the weights",
        });
    }
    let x_t = number::transpose(x, rows, inputs);
    let mut weights = N::matmul(&x_t, delta, inputs, rows, outputs);
    N::rescale(&mut weights, batch_log2, rounding);
    let mut biases = number::sum_rows(delta, outputs);
    N::shift(&mut biases, batch_log2, rounding);
    let gradients = Gradients {
        weights: Tensor::from_vec([inputs, outputs], weights)?,
        biases: Tensor::from_vec(Shape::from([1, outputs]), biases)?,
    };
    if first {
        return Ok((gradients, None));
    }
    let w_t = number::transpose(w.data(), inputs, outputs);
    let mut dx = N::matmul(delta, &w_t, rows, outputs, inputs);
    N::rescale(&mut dx, 0, rounding);
    Ok((gradients, Some(Tensor::from_vec([rows, inputs], dx)?)))
}
