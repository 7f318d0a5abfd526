//! ReLU, over shares and in the clear: max(x, 0), keeping the bits [x ≥ 0]; backward,
//! ∂x = δ where the bit is 1.

use crate::dsl::relu_with_derivative;
use crate::error::{Error, Result};
use crate::nn::number::Number;
use crate::protocol;
use crate::ring::Z64;
use crate::session::Context;
use crate::share::{Bit, Shared};
use crate::tensor::Tensor;

/// ReLU and its derivative bits, over shares (Algorithm 8 of the paper).
///
/// # Errors
///
/// The transport's errors.
pub(crate) async fn forward(
    ctx: &(impl Context + ?Sized),
    x: &Shared<Z64>,
) -> Result<(Shared<Z64>, Bit)> {
    let out = relu_with_derivative(ctx, x).await?;
    Ok((out.value, out.derivative))
}

/// δ where ReLU's input was at least 0.
#[protocol(crate = crate, name = "relu backward")]
pub(crate) fn backward(delta: &Shared<Z64>, signs: &Bit) -> Shared<Z64> {
    delta * signs.as_shared()
}

/// ReLU in the clear.
pub(crate) fn forward_plain<N: Number>(x: &Tensor<N>) -> (Tensor<N>, Vec<bool>) {
    let signs: Vec<bool> = x.data().iter().map(|v| v.is_nonnegative()).collect();
    let y = x.map(|&v| if v.is_nonnegative() { v } else { N::default() });
    (y, signs)
}

/// ReLU's backward pass in the clear.
pub(crate) fn backward_plain<N: Number>(delta: &Tensor<N>, signs: &[bool]) -> Result<Tensor<N>> {
    if signs.len() != delta.len() {
        return Err(Error::InvalidShape {
            operation: "relu backward",
            shape: delta.shape().clone(),
            reason: "the gradient does not have the forward pass's shape",
        });
    }
    let data = delta
        .data()
        .iter()
        .zip(signs)
        .map(|(&d, &s)| if s { d } else { N::default() })
        .collect();
    Tensor::from_vec(delta.shape().clone(), data)
}
