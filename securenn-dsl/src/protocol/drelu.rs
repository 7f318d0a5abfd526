//! Algorithm 6, DReLU: shares of ReLU′(a) = 1 − MSB(a), the bit that says a ≥ 0. 8 rounds;
//! the paper's 664 bytes per element (8ℓ log p + 19ℓ) are 496 here: ShareConvert (224) and
//! ComputeMSB (272), with ComputeMSB's dealt randomness travelling in ShareConvert's first
//! round.
//!
//! c = 2a is even, so it is never 2^64 − 1 and ShareConvert applies; MSB(2a) = MSB(a)
//! whenever |a| < 2^62, the protocol's range (with 13 fractional bits, reals of magnitude
//! below 2^49). DReLU(0) = 1.

use typenum::Unsigned;

use super::check_holder;
use super::compute_msb;
use super::share_convert::share_convert_in;
use crate::error::Result;
use crate::ring::Z64;
use crate::session::{Call, Context};
use crate::share::{Bit, Shared};

/// Shares of 1 where a ≥ 0 and 0 where a < 0, for |a| < 2^62 (Algorithm 6).
///
/// # Errors
///
/// The transport's errors.
///
/// # Examples
///
/// ```
/// use securenn_dsl::prelude::*;
/// use securenn_dsl::protocol::drelu;
/// use securenn_dsl::tensor::fixed;
///
/// let [signs, _, _] = run_local(|session| async move {
///     let role = session.role();
///     let a = Private::<P0, _>::try_new(role, || fixed::encode_tensor([3], &[-2.5, 0.0, 7.0], 13))?;
///     let a: Shared<Z64> = share(&session, &a, [3]).await?;
///     let positive = drelu(&session, &a).await?;
///     Ok(reveal_to::<P0, _>(&session, positive.as_shared()).await?.into_inner())
/// })?;
/// assert_eq!(signs.unwrap().data(), &[Z64::new(0), Z64::new(1), Z64::new(1)]);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub async fn drelu<C: Context + ?Sized, F: Unsigned>(ctx: &C, a: &Shared<Z64, F>) -> Result<Bit> {
    let call = ctx.open("drelu");
    check_holder(ctx.session(), "drelu", a)?;
    drelu_in(&call, a).await
}

/// DReLU within `call`.
async fn drelu_in<F: Unsigned>(call: &Call<'_>, a: &Shared<Z64, F>) -> Result<Bit> {
    let n = a.len();
    let doubled: Vec<Z64> = a.data().iter().map(|&x| x + x).collect();
    let convert = call.open("share_convert");
    let msb = call.open("compute_msb");
    let (converted, dealt) = futures::try_join!(
        share_convert_in(&convert, &doubled, n, |_| {}),
        compute_msb::deal(&msb, n)
    )?;
    // ComputeMSB goes on with ShareConvert's result.
    msb.depends_on(call);
    let sign = compute_msb::finish(&msb, dealt, &converted, n).await?;
    Ok(Bit::from_shared(Shared::from_parts(call.role(), a.shape().clone(), sign)).not())
}
