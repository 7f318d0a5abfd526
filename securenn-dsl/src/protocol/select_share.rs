//! Algorithm 2, SelectShare: ⟨(1 − α)·x + α·y⟩ for a secret bit α. 1 round (the paper
//! counts 2), 40 bytes per element (5ℓ).
//!
//! With w = y − x, the result is x + α·w: one elementwise Beaver product, and the bit's
//! integer encoding (scale 0) keeps the scale of x and y.

use typenum::Unsigned;

use super::check_holder;
use super::matmul::{Product, beaver};
use crate::error::Result;
use crate::ring::Z64;
use crate::session::Context;
use crate::share::{Bit, Shared};
use crate::tensor::check_same_shape;

/// Selects elementwise: x where `choice` is 0 and y where it is 1, without learning
/// `choice`.
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
/// use securenn_dsl::protocol::{drelu, select_share};
/// use securenn_dsl::tensor::fixed;
///
/// let [picked, _, _] = run_local(|session| async move {
///     let role = session.role();
///     let v = Private::<P0, _>::try_new(role, || fixed::encode_tensor([2], &[-3.0, 4.0], 13))?;
///     let v: Shared<Z64> = share(&session, &v, [2]).await?;
///     let positive = drelu(&session, &v).await?; // [0, 1]
///     let zero = Shared::from_share(role, [2], if role.is_helper() { vec![] } else { vec![Z64::new(0); 2] })?;
///     let relu = select_share(&session, &positive, &zero, &v).await?;
///     Ok(reveal_to::<P0, _>(&session, &relu).await?.into_inner())
/// })?;
/// assert_eq!(fixed::decode_tensor(&picked.unwrap(), 13), [0.0, 4.0]);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub async fn select_share<C: Context + ?Sized, F: Unsigned>(
    ctx: &C,
    choice: &Bit,
    x: &Shared<Z64, F>,
    y: &Shared<Z64, F>,
) -> Result<Shared<Z64, F>> {
    let call = ctx.open("select_share");
    let session = ctx.session();
    check_holder(session, "select_share", x)?;
    check_holder(session, "select_share", y)?;
    check_holder(session, "select_share", choice.as_shared())?;
    check_same_shape("select_share", x.shape(), y.shape())?;
    check_same_shape("select_share", choice.shape(), x.shape())?;
    let difference: Vec<Z64> = y
        .data()
        .iter()
        .zip(x.data())
        .map(|(&b, &a)| b - a)
        .collect();
    let product = Product::Elementwise { len: x.len() };
    let mut selected = beaver(&call, choice.as_shared().data(), &difference, product).await?;
    for (s, &a) in selected.iter_mut().zip(x.data()) {
        *s += a;
    }
    Ok(Shared::from_parts(
        session.role(),
        x.shape().clone(),
        selected,
    ))
}
