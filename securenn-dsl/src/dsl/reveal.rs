//! Reveal: the two shares of a secret are added up at the one party the program names.

use typenum::Unsigned;

use super::operators::AsShare;
use super::ops::Step;
use crate::error::Result;
use crate::party::{OutputParty, Revealed, Role};
use crate::ring::Ring;
use crate::session::Context;
use crate::share::Shared;
use crate::tensor::Tensor;

/// Reveals `x` to party `P` only: the other share holder sends its share to `P`, which adds
/// the two. `P` must be P0 or P1: revealing to the helper does not compile.
///
/// Costs one message of `x.len()` elements and one round.
///
/// # Errors
///
/// The transport's errors.
///
/// # Examples
///
/// ```
/// use securenn_dsl::party::{P0, P1, Private};
/// use securenn_dsl::ring::Z64;
/// use securenn_dsl::session::run_local;
/// use securenn_dsl::dsl::{reveal_to, share};
/// use securenn_dsl::share::Shared;
/// use securenn_dsl::tensor::Tensor;
///
/// let revealed = run_local(|session| async move {
///     let input = Private::<P0, _>::try_new(session.role(), || {
///         Tensor::from_vec([1], vec![Z64::new(42)])
///     })?;
///     let x: Shared<Z64> = share(&session, &input, [1]).await?;
///     Ok(reveal_to::<P1, _>(&session, &x).await?.into_inner())
/// })?;
/// assert_eq!(revealed[1].as_ref().map(|t| t.data()[0]), Some(Z64::new(42)));
/// assert!(revealed[0].is_none() && revealed[2].is_none());
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub fn reveal_to<'a, P, X>(
    ctx: &'a (impl Context + ?Sized),
    x: X,
) -> Step<'a, Revealed<P, Tensor<X::Ring>>>
where
    P: OutputParty,
    X: AsShare + 'a,
{
    Box::pin(async move { reveal(ctx, x.as_share()).await })
}

async fn reveal<P: OutputParty, R: Ring, F: Unsigned>(
    ctx: &(impl Context + ?Sized),
    x: &Shared<R, F>,
) -> Result<Revealed<P, Tensor<R>>> {
    let call = ctx.open("reveal");
    let role = call.role();
    if role.is_helper() {
        return Ok(Revealed::new(None));
    }
    if role != P::ROLE {
        call.send(P::ROLE, 0, x.data()).await?;
        return Ok(Revealed::new(None));
    }
    let sender = role.other_holder().unwrap_or(Role::P1);
    let theirs = call.recv::<R>(sender, 0, x.len()).await?;
    let data = x.data().iter().zip(&theirs).map(|(&a, &b)| a + b).collect();
    Ok(Revealed::new(Some(Tensor::from_vec(
        x.shape().clone(),
        data,
    )?)))
}

impl<R: Ring, F: Unsigned> Shared<R, F> {
    /// Reveals this value to party `P` only: the same as [`reveal_to`], as a method
    /// (`x.reveal_to::<P1>(&session)`).
    ///
    /// # Errors
    ///
    /// The transport's errors.
    pub async fn reveal_to<P: OutputParty>(
        &self,
        ctx: &(impl Context + ?Sized),
    ) -> Result<Revealed<P, Tensor<R>>> {
        reveal(ctx, self).await
    }
}
