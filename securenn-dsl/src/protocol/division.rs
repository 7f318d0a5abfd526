//! Algorithm 8, Division: ⌊2^f·x / y⌋ for secret 0 ≤ x ≤ y, y > 0, in fixed point with f
//! fractional bits, by long division one quotient bit at a time. (f + 1)·9 rounds and
//! (f + 1)·536 bytes per element (f = 13: 126 rounds and 7504 bytes), within the paper's
//! 10f rounds and f·704 bytes (130 and 9152).
//!
//! The quotient of x ≤ y has f + 1 bits (x = y gives exactly 2^f, i.e. 1.0), so the loop
//! runs over bits f down to 0 where the paper's runs over f − 1 down to 0 and cannot reach
//! 1.0. With X = 2^f·x and u the part of X already accounted for: zᵢ = X − u − 2^i·y,
//! βᵢ = DReLU(zᵢ) is quotient bit i, u grows by βᵢ·2^i·y (one product) and the quotient by
//! 2^i·βᵢ (local). Every step is exact, so the result equals the plaintext ⌊2^f·x / y⌋; the
//! reference code's y/2^i by truncation loses the low bits of y instead.
//!
//! Range: DReLU needs |zᵢ| < 2^62, so 2^f·y < 2^62 (with f = 13, reals y below 2^36).

use typenum::Unsigned;

use super::check_holder;
use super::drelu;
use super::matmul::{Product, beaver};
use crate::error::Result;
use crate::ring::Z64;
use crate::session::Context;
use crate::share::Shared;
use crate::tensor::check_same_shape;

/// x / y elementwise for secret 0 ≤ x ≤ y, y > 0, with the common scale `F` (Algorithm 8):
/// exactly ⌊2^F·x / y⌋.
///
/// # Errors
///
/// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes differ, or the
/// transport's errors.
///
/// # Examples
///
/// ```
/// use securenn_dsl::prelude::*;
/// use securenn_dsl::protocol::division;
/// use securenn_dsl::tensor::fixed;
///
/// let [q, _, _] = run_local(|session| async move {
///     let role = session.role();
///     let x = Private::<P0, _>::try_new(role, || fixed::encode_tensor([3], &[1.0, 0.0, 2.5], 13))?;
///     let y = Private::<P1, _>::try_new(role, || fixed::encode_tensor([3], &[4.0, 3.0, 2.5], 13))?;
///     let x: Shared<Z64> = share(&session, &x, [3]).await?;
///     let y: Shared<Z64> = share(&session, &y, [3]).await?;
///     let q = division(&session, &x, &y).await?;
///     Ok(reveal_to::<P0, _>(&session, &q).await?.into_inner())
/// })?;
/// assert_eq!(fixed::decode_tensor(&q.unwrap(), 13), [0.25, 0.0, 1.0]);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub async fn division<C: Context + ?Sized, F: Unsigned>(
    ctx: &C,
    x: &Shared<Z64, F>,
    y: &Shared<Z64, F>,
) -> Result<Shared<Z64, F>> {
    let call = ctx.open("division");
    let session = ctx.session();
    check_holder(session, "division", x)?;
    check_holder(session, "division", y)?;
    check_same_shape("division", x.shape(), y.shape())?;
    let f = F::U32;
    if f >= 62 {
        return Err(crate::error::Error::InvalidArgument {
            name: "fractional bits",
            problem: format!("division needs fewer than 62 (2^f·y must stay below 2^62), not {f}"),
        });
    }
    let role = session.role();
    let scaled_x: Vec<Z64> = x.data().iter().map(|&v| v * Z64::new(1 << f)).collect();
    let mut accounted = vec![Z64::new(0); scaled_x.len()];
    let mut quotient = vec![Z64::new(0); scaled_x.len()];
    for i in (0..=f).rev() {
        let step = Z64::new(1 << i);
        let scaled_y: Vec<Z64> = y.data().iter().map(|&v| v * step).collect();
        let remainder: Vec<Z64> = (0..scaled_x.len())
            .map(|e| scaled_x[e] - accounted[e] - scaled_y[e])
            .collect();
        let remainder = Shared::<Z64, F>::from_parts(role, x.shape().clone(), remainder);
        let bit = drelu(&call, &remainder).await?;
        let product_call = call.open("mul_elementwise");
        let product = Product::Elementwise { len: x.len() };
        let taken = beaver(&product_call, bit.as_shared().data(), &scaled_y, product).await?;
        for (e, &b) in bit.as_shared().data().iter().enumerate() {
            accounted[e] += taken[e];
            quotient[e] += b * step;
        }
    }
    Ok(Shared::from_parts(role, x.shape().clone(), quotient))
}
