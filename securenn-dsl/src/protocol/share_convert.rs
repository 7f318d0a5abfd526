//! Algorithm 4, ShareConvert: shares of a over Z_2^64 become shares of the same integer over
//! the odd ring Z_2^64-1. 4 rounds; the paper's 304 bytes per element (4ℓ log p + 6ℓ) are
//! 224 here, because P2 sends only P1's share of each value it deals (P0's comes from the
//! P0-P2 key): 2·8 (ã to P2) + 64 + 8 (bit shares of x and shares of δ to P1) + 2·64
//! (PrivateCompare) + 8 (shares of η′ to P1).
//!
//! P0 and P1 share a mask r = r₀ + r₁ (both know r₀ and r₁, P2 knows neither) and a bit η″.
//! Each sends ãⱼ = aⱼ + rⱼ to P2, which learns x = a + r mod 2^64, its wrap δ, and deals
//! shares of x's bits and of δ. PrivateCompare against r − 1 tells P2 η′ = η″ ⊕ (x > r − 1),
//! which it deals back; η = η′ ⊕ η″ = 1 − wrap(a, r). Then, over Z_2^64-1, the wrap of the
//! two input shares is, as in the paper's proof (its printed Algorithm 4 has a sign error),
//!
//! θ = β₀ + β₁ − α + δ + η − 1, with βⱼ = wrap(aⱼ, rⱼ) and α = wrap(r₀, r₁),
//!
//! and yⱼ = aⱼ − θⱼ are the new shares, re-randomized with a sharing of zero. When r = 0 the
//! threshold r − 1 wraps to 2^64 − 1 and "x > r − 1" must read "x ≥ 0", which is true: the
//! parties flip η″ for that element, which the reference code forgot (it is wrong with
//! probability 2^-64 there). The input must not be 2^64 − 1, which DReLU guarantees by
//! doubling.

use typenum::Unsigned;

use super::check_holder;
use super::private_compare::{BIT_WIDTH, bits_bit_major, private_compare_in};
use super::{
    add_zero_share, deal_to_p1, public_share, random_bits, random_vec, receive_dealt,
    request_p0_shares, wraps,
};
use crate::error::Result;
use crate::party::Role;
use crate::ring::{Ring, Z64, ZOdd, Zp};
use crate::session::{Call, Context};
use crate::share::Shared;

/// Stream labels, P0-P1 key.
const MASKS: u32 = 0;
const ZERO: u32 = 1;
/// Stream labels, P0-P2 key: P0's shares of what P2 deals.
const DEALT_BITS: u32 = 2;
const DEALT_DELTA: u32 = 3;
const DEALT_ETA: u32 = 4;

/// Message steps.
const STEP_MASKED: u16 = 0;
const STEP_BITS: u16 = 1;
const STEP_DELTA: u16 = 2;
const STEP_ETA: u16 = 3;

/// The common randomness of P0 and P1 for one ShareConvert: the mask r = r₀ + r₁ and the
/// comparison bit η″, per element.
#[derive(Debug, Clone)]
pub(crate) struct Masks {
    pub(crate) r0: Vec<u64>,
    pub(crate) r1: Vec<u64>,
    pub(crate) eta: Vec<bool>,
}

/// Converts shares over Z_2^64 into shares of the same value over Z_2^64-1 (Algorithm 4).
/// The value must not be 2^64 − 1.
///
/// # Errors
///
/// The transport's errors.
///
/// # Examples
///
/// ```
/// use securenn_dsl::prelude::*;
/// use securenn_dsl::protocol::share_convert;
/// use typenum::U0;
///
/// let [converted, _, _] = run_local(|session| async move {
///     let role = session.role();
///     let a = Private::<P0, _>::try_new(role, || Tensor::from_vec([2], vec![Z64::new(5), Z64::new(u64::MAX - 1)]))?;
///     let a: Shared<Z64, U0> = share(&session, &a, [2]).await?;
///     let odd: Shared<ZOdd, U0> = share_convert(&session, &a).await?;
///     Ok(reveal_to::<P0, _>(&session, &odd).await?.into_inner())
/// })?;
/// let values: Vec<u64> = converted.unwrap().data().iter().map(|x| x.value()).collect();
/// assert_eq!(values, [5, u64::MAX - 1]);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub async fn share_convert<C: Context + ?Sized, F: Unsigned>(
    ctx: &C,
    a: &Shared<Z64, F>,
) -> Result<Shared<ZOdd, F>> {
    let call = ctx.open("share_convert");
    check_holder(ctx.session(), "share_convert", a)?;
    let y = share_convert_in(&call, a.data(), a.len(), |_| {}).await?;
    Ok(Shared::from_parts(call.role(), a.shape().clone(), y))
}

/// ShareConvert within `call` on n elements; P2 passes an empty slice and gets an empty
/// vector. `adjust` may change the drawn masks (identically at P0 and P1): tests use it to
/// reach r = 0.
pub(crate) async fn share_convert_in(
    call: &Call<'_>,
    a: &[Z64],
    n: usize,
    adjust: impl FnOnce(&mut Masks),
) -> Result<Vec<ZOdd>> {
    let role = call.role();
    let Some(other) = role.other_holder() else {
        return helper(call, n).await;
    };
    let mut prg = call.shared_prg(other, MASKS)?;
    let mut masks = Masks {
        r0: random_vec::<Z64>(&mut prg, n)
            .into_iter()
            .map(Z64::value)
            .collect(),
        r1: random_vec::<Z64>(&mut prg, n)
            .into_iter()
            .map(Z64::value)
            .collect(),
        eta: random_bits(&mut prg, n),
    };
    adjust(&mut masks);
    let mine = if role == Role::P0 {
        &masks.r0
    } else {
        &masks.r1
    };

    // 1. ãⱼ = aⱼ + rⱼ to P2; βⱼ = wrap(aⱼ, rⱼ).
    let masked: Vec<Z64> = a.iter().zip(mine).map(|(&x, &r)| x + Z64::new(r)).collect();
    call.send(Role::P2, STEP_MASKED, &masked).await?;

    // 2. Shares of the bits of x and of δ, dealt by P2.
    let bits = receive_dealt::<Zp>(call, DEALT_BITS, STEP_BITS, n * BIT_WIDTH).await?;
    let delta = receive_dealt::<ZOdd>(call, DEALT_DELTA, STEP_DELTA, n).await?;

    // 3. PrivateCompare(x, r − 1, η″): P2 learns η′ = η″ ⊕ (x > r − 1).
    let r: Vec<u64> = masks
        .r0
        .iter()
        .zip(&masks.r1)
        .map(|(&a, &b)| a.wrapping_add(b))
        .collect();
    let threshold: Vec<u64> = r.iter().map(|&r| r.wrapping_sub(1)).collect();
    let compare = call.open("private_compare");
    private_compare_in(&compare, &bits, n, Some((&threshold, &masks.eta))).await?;

    // 4. Shares of η′, dealt by P2.
    let eta_prime = receive_dealt::<ZOdd>(call, DEALT_ETA, STEP_ETA, n).await?;

    // 5.-7. η = η′ ⊕ η″ (η″ flipped where r = 0), θ, and y = a − θ, over Z_2^64-1.
    let two = ZOdd::from_u64(2);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let eta_bit = ZOdd::from_u64(u64::from(masks.eta[i] ^ (r[i] == 0)));
        let eta = eta_prime[i] + public_share(role, eta_bit) - two * eta_bit * eta_prime[i];
        let beta = ZOdd::from_u64(u64::from(wraps(a[i].value(), mine[i])));
        let alpha = ZOdd::from_u64(u64::from(wraps(masks.r0[i], masks.r1[i])));
        let theta = beta + public_share(role, -alpha - ZOdd::ONE) + delta[i] + eta;
        y.push(ZOdd::from_u64(a[i].value()) - theta);
    }
    add_zero_share(role, &mut call.shared_prg(other, ZERO)?, &mut y);
    Ok(y)
}

/// P2's part: learn x and δ from the masked shares, deal their shares, take part in the
/// comparison, and deal η′.
async fn helper(call: &Call<'_>, n: usize) -> Result<Vec<ZOdd>> {
    let masked0 = call.recv::<Z64>(Role::P0, STEP_MASKED, n).await?;
    let masked1 = call.recv::<Z64>(Role::P1, STEP_MASKED, n).await?;

    let x: Vec<u64> = masked0
        .iter()
        .zip(&masked1)
        .map(|(&a0, &a1)| (a0 + a1).value())
        .collect();
    let bits = bits_bit_major(&x);
    let delta = masked0
        .iter()
        .zip(&masked1)
        .map(|(a0, a1)| ZOdd::from_u64(u64::from(wraps(a0.value(), a1.value()))))
        .collect();
    request_p0_shares(call, DEALT_BITS, bits.len());
    deal_to_p1(call, DEALT_BITS, STEP_BITS, bits).await?;
    deal_to_p1(call, DEALT_DELTA, STEP_DELTA, delta).await?;

    let compare = call.open("private_compare");
    let eta_prime = private_compare_in(&compare, &[], n, None)
        .await?
        .unwrap_or_default();
    let eta_prime = eta_prime
        .into_iter()
        .map(|b| ZOdd::from_u64(u64::from(b)))
        .collect();
    deal_to_p1(call, DEALT_ETA, STEP_ETA, eta_prime).await?;
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::{reveal_to, share};
    use crate::party::{P0, Private};
    use crate::session::run_local;
    use crate::tensor::Tensor;
    use typenum::U0;

    /// ShareConvert of `values` with the masks forced by `force(i, r0) -> r` for element i.
    fn convert_with_forced_masks(values: &[u64], force: fn(usize, u64) -> Option<u64>) -> Vec<u64> {
        let n = values.len();
        let [revealed, _, _] = run_local(|session| async move {
            let role = session.role();
            let input = Private::<P0, _>::try_new(role, || {
                Tensor::from_vec([n], values.iter().map(|&v| Z64::new(v)).collect())
            })?;
            let a: Shared<Z64, U0> = share(&session, &input, [n]).await?;
            let call = session.call("share_convert");
            let y = share_convert_in(&call, a.data(), n, |masks| {
                for i in 0..n {
                    if let Some(r) = force(i, masks.r0[i]) {
                        masks.r1[i] = r.wrapping_sub(masks.r0[i]);
                    }
                }
            })
            .await?;
            let y = Shared::<ZOdd, U0>::from_parts(role, a.shape().clone(), y);
            Ok(reveal_to::<P0, _>(&session, &y).await?.into_inner())
        })
        .unwrap();
        revealed.unwrap().data().iter().map(|v| v.value()).collect()
    }

    const EDGES: [u64; 6] = [0, 1, 5, 1 << 63, u64::MAX - 1, (1 << 63) - 1];

    #[test]
    fn a_zero_mask_is_handled() {
        // r = 0 makes the threshold r − 1 wrap to 2^64 − 1; the reference code is wrong here.
        // (Without the η″ flip for r = 0, this test fails.)
        assert_eq!(convert_with_forced_masks(&EDGES, |_, _| Some(0)), EDGES);
    }

    #[test]
    fn an_all_ones_mask_is_handled() {
        assert_eq!(
            convert_with_forced_masks(&EDGES, |_, _| Some(u64::MAX)),
            EDGES
        );
    }

    #[test]
    fn a_mask_that_makes_the_masked_value_equal_the_threshold_is_handled() {
        // r = 1: x = a + 1 and the threshold is r − 1 = 0; r = 2^63: the wrap is half-way;
        // r = −a: x = 0.
        assert_eq!(convert_with_forced_masks(&EDGES, |_, _| Some(1)), EDGES);
        assert_eq!(
            convert_with_forced_masks(&EDGES, |_, _| Some(1 << 63)),
            EDGES
        );
        assert_eq!(
            convert_with_forced_masks(&EDGES, |i, _| Some(EDGES[i].wrapping_neg())),
            EDGES
        );
    }
}
