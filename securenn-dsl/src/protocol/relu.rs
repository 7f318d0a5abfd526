//! Algorithm 7, ReLU: ReLU(a) = ReLU′(a)·a. 9 rounds (the paper counts 10); 536 bytes per
//! element against the paper's 704 (8ℓ log p + 24ℓ): DReLU (496) and one product (40).
//!
//! The derivative bit is returned too: backpropagation reuses it instead of recomputing it
//! (the paper's Section 9.2 optimization).

use typenum::Unsigned;

use super::drelu;
use super::matmul::{Product, beaver};
use crate::error::Result;
use crate::ring::Z64;
use crate::session::Context;
use crate::share::{Bit, Shared};

/// ReLU of a secret tensor and its derivative.
#[derive(Debug, Clone)]
pub struct Relu<F: Unsigned> {
    /// max(a, 0), with the scale of a.
    pub value: Shared<Z64, F>,
    /// ReLU′(a): 1 where a ≥ 0.
    pub derivative: Bit,
}

/// max(a, 0) elementwise, for |a| < 2^62, with the derivative bits (Algorithm 7).
///
/// # Errors
///
/// The transport's errors.
///
/// # Examples
///
/// ```
/// use securenn_dsl::prelude::*;
/// use securenn_dsl::protocol::relu;
/// use securenn_dsl::tensor::fixed;
///
/// let [out, _, _] = run_local(|session| async move {
///     let role = session.role();
///     let a = Private::<P1, _>::try_new(role, || fixed::encode_tensor([3], &[-1.5, 0.25, 3.0], 13))?;
///     let a: Shared<Z64> = share(&session, &a, [3]).await?;
///     let r = relu(&session, &a).await?;
///     Ok(reveal_to::<P0, _>(&session, &r.value).await?.into_inner())
/// })?;
/// assert_eq!(fixed::decode_tensor(&out.unwrap(), 13), [0.0, 0.25, 3.0]);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub async fn relu<C: Context + ?Sized, F: Unsigned>(
    ctx: &C,
    a: &Shared<Z64, F>,
) -> Result<Relu<F>> {
    let call = ctx.open("relu");
    let derivative = drelu(&call, a).await?;
    let product_call = call.open("mul_elementwise");
    let product = Product::Elementwise { len: a.len() };
    let value = beaver(
        &product_call,
        derivative.as_shared().data(),
        a.data(),
        product,
    )
    .await?;
    Ok(Relu {
        value: Shared::from_parts(call.role(), a.shape().clone(), value),
        derivative,
    })
}
