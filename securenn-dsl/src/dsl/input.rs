//! Input sharing: a party's plaintext tensor becomes a fresh additive sharing between P0
//! and P1, without any message.
//!
//! The owner (P0 or P1) and the other share holder draw the same mask r from their common
//! stream for this call; the other holder keeps r as its share and the owner keeps x − r.
//! r is uniform and unknown to P2, so each share alone is uniformly random, and it is fresh
//! for every call. This is a true sharing, never the reference code's (x, 0), and it costs
//! no communication.

use rand_core::{CryptoRng, Rng};
use typenum::Unsigned;

use super::ops::Step;
use crate::error::{Error, Result};
use crate::party::{InputParty, Private};
use crate::ring::Ring;
use crate::session::Context;
use crate::share::Shared;
use crate::tensor::{Shape, Tensor};

/// Secret-shares `input`, a tensor only party `P` holds, between P0 and P1.
///
/// Every party calls it with the same public `shape`; only the owner's `input` holds a
/// value. `P` must be P0 or P1: giving the helper an input does not compile.
///
/// # Errors
///
/// [`Error::ShapeMismatch`] at the owner if its tensor does not have the declared shape;
/// [`Error::NotHeld`] at the owner if `input` was made for another party (it is empty).
///
/// # Examples
///
/// ```
/// use securenn_dsl::party::{P1, Private};
/// use securenn_dsl::ring::Z64;
/// use securenn_dsl::session::run_local;
/// use securenn_dsl::dsl::share;
/// use securenn_dsl::share::Shared;
/// use securenn_dsl::tensor::Tensor;
///
/// let shares = run_local(|session| async move {
///     let input = Private::<P1, _>::try_new(session.role(), || {
///         Tensor::from_vec([2], vec![Z64::new(10), Z64::new(20)])
///     })?;
///     let x: Shared<Z64, typenum::U0> = share(&session, &input, [2]).await?;
///     Ok(x.local_share().map(<[Z64]>::to_vec))
/// })?;
/// // P0's and P1's shares add up to the input; P2 holds none.
/// let (s0, s1) = (shares[0].clone().unwrap(), shares[1].clone().unwrap());
/// assert_eq!(s0[0] + s1[0], Z64::new(10));
/// assert_eq!(s0[1] + s1[1], Z64::new(20));
/// assert!(shares[2].is_none());
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub fn share<'a, P, R, F>(
    ctx: &'a (impl Context + ?Sized),
    input: &'a Private<P, Tensor<R>>,
    shape: impl Into<Shape>,
) -> Step<'a, Shared<R, F>>
where
    P: InputParty,
    R: Ring,
    F: Unsigned,
{
    let shape = shape.into();
    Box::pin(async move { share_input(ctx, input, shape).await })
}

async fn share_input<P: InputParty, R: Ring, F: Unsigned>(
    ctx: &(impl Context + ?Sized),
    input: &Private<P, Tensor<R>>,
    shape: Shape,
) -> Result<Shared<R, F>> {
    let call = ctx.open("share");
    let role = call.role();
    let Some(other) = role.other_holder() else {
        return Ok(Shared::from_parts(role, shape, Vec::new()));
    };
    let len = shape.checked_numel().ok_or(Error::InvalidShape {
        operation: "share",
        shape: shape.clone(),
        reason: "the number of elements overflows",
    })?;
    let mut mask = vec![R::ZERO; len];
    R::fill_random(&mut call.shared_prg(other, 0)?, &mut mask);
    if role != P::ROLE {
        return Ok(Shared::from_parts(role, shape, mask));
    }
    let value = input.get().ok_or(Error::NotHeld {
        owner: P::ROLE,
        what: "input",
    })?;
    if value.shape() != &shape {
        return Err(Error::ShapeMismatch {
            operation: "share",
            left: value.shape().clone(),
            right: shape,
        });
    }
    for (share, &x) in mask.iter_mut().zip(value.data()) {
        *share = x - *share;
    }
    Ok(Shared::from_parts(role, shape, mask))
}

/// Splits a tensor into two additive shares, for a data owner outside the three parties:
/// it sends the first share to P0 and the second to P1, which wrap them with
/// [`Shared::from_share`]. The mask is drawn from `rng`, which must be a cryptographic
/// generator (e.g. [`Prg::from_os_rng`](crate::prg::Prg::from_os_rng)).
///
/// # Examples
///
/// ```
/// use securenn_dsl::prg::Prg;
/// use securenn_dsl::ring::Z64;
/// use securenn_dsl::dsl::split_for_holders;
/// use securenn_dsl::tensor::Tensor;
///
/// let x = Tensor::from_vec([2], vec![Z64::new(7), Z64::new(9)])?;
/// let [for_p0, for_p1] = split_for_holders(&x, &mut Prg::from_os_rng()?);
/// assert_eq!(for_p0.try_add(&for_p1)?, x);
/// assert_ne!(for_p1, x);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub fn split_for_holders<R: Ring, G: Rng + CryptoRng + ?Sized>(
    value: &Tensor<R>,
    rng: &mut G,
) -> [Tensor<R>; 2] {
    let mask = Tensor::<R>::random(value.shape().clone(), rng);
    let mut rest = value.clone();
    for (x, &m) in rest.data_mut().iter_mut().zip(mask.data()) {
        *x -= m;
    }
    [mask, rest]
}
