//! Algorithm 5, ComputeMSB: shares over Z_2^64 of the most significant bit of a value
//! shared over the odd ring Z_2^64-1. 5 rounds; the paper's 360 bytes per element
//! (4ℓ log p + 13ℓ) are 272 here, because P2 sends only P1's share of each value it deals:
//! 8 + 64 + 8 (shares of x, of its bits and of LSB(x) to P1) + 2·8 (reveal r) + 2·64
//! (PrivateCompare) + 8 (shares of β′ to P1) + 40 (one product).
//!
//! Over an odd modulus N, MSB(a) = LSB(2a mod N). P2 deals a random x ∈ Z_N with shares of
//! its bits and of its least significant bit; P0 and P1 open r = 2a + x mod N, which is
//! uniform. Then LSB(2a) = LSB(r) ⊕ LSB(x) ⊕ wrap(2a, x, N), and wrap(2a, x, N) = (x > r),
//! which PrivateCompare hands to P2 masked by a common bit β. With γ = β ⊕ β′ = (x > r) and
//! δ = LSB(r) ⊕ LSB(x) (both linear in shares), MSB(a) = γ ⊕ δ = γ + δ − 2γδ: one product.
//!
//! P2's dealing does not depend on a, so DReLU sends it in the first round of ShareConvert.

use typenum::{U0, Unsigned};

use super::check_holder;
use super::matmul::{Product, beaver};
use super::private_compare::{BIT_WIDTH, bits_bit_major, private_compare_in};
use super::{
    add_zero_share, deal_offline_to_p1, deal_to_p1, public_share, random_bits, random_vec,
    receive_dealt, receive_offline_dealt, request_p0_shares,
};
use crate::error::Result;
use crate::party::Role;
use crate::ring::{Z64, ZOdd, Zp};
use crate::session::{Call, Context};
use crate::share::{Bit, Shared};

/// Stream labels, P0-P2 key: P0's shares of what P2 deals.
const DEALT_X: u32 = 0;
const DEALT_BITS: u32 = 1;
const DEALT_LSB: u32 = 2;
const DEALT_BETA: u32 = 3;
/// Stream labels, P0-P1 key.
const BETA: u32 = 4;
const ZERO: u32 = 5;
/// Stream label, P2's private key: x.
const HELPER_X: u32 = 6;

/// Message steps.
const STEP_X: u16 = 0;
const STEP_BITS: u16 = 1;
const STEP_LSB: u16 = 2;
const STEP_R: u16 = 3;
const STEP_BETA: u16 = 4;

/// A holder's shares of P2's random x: over Z_N, of its bits over Z_p, and of LSB(x) over
/// Z_2^64. Empty at P2.
#[derive(Debug, Default)]
pub(crate) struct Dealt {
    x: Vec<ZOdd>,
    bits: Vec<Zp>,
    lsb: Vec<Z64>,
}

/// Shares of the most significant bit of each element of `a`, a value shared over
/// Z_2^64-1 (Algorithm 5): 1 where the value is at least 2^63.
///
/// # Errors
///
/// The transport's errors.
///
/// # Examples
///
/// ```
/// use securenn_dsl::prelude::*;
/// use securenn_dsl::protocol::{compute_msb, share_convert};
/// use typenum::U0;
///
/// let [msb, _, _] = run_local(|session| async move {
///     let role = session.role();
///     let a = Private::<P1, _>::try_new(role, || Tensor::from_vec([2], vec![Z64::new(7), Z64::new(1 << 63)]))?;
///     let a: Shared<Z64, U0> = share(&session, &a, [2]).await?;
///     let odd = share_convert(&session, &a).await?;
///     let msb = compute_msb(&session, &odd).await?;
///     Ok(reveal_to::<P0, _>(&session, msb.as_shared()).await?.into_inner())
/// })?;
/// assert_eq!(msb.unwrap().data(), &[Z64::new(0), Z64::new(1)]);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub async fn compute_msb<C: Context + ?Sized, F: Unsigned>(
    ctx: &C,
    a: &Shared<ZOdd, F>,
) -> Result<Bit> {
    let call = ctx.open("compute_msb");
    check_holder(ctx.session(), "compute_msb", a)?;
    let n = a.len();
    let dealt = deal(&call, n).await?;
    let msb = finish(&call, dealt, a.data(), n).await?;
    Ok(Bit::from_shared(Shared::<Z64, U0>::from_parts(
        call.role(),
        a.shape().clone(),
        msb,
    )))
}

/// Step 1: P2 draws x ∈ Z_N and deals shares of x, of its bits and of LSB(x).
pub(crate) async fn deal(call: &Call<'_>, n: usize) -> Result<Dealt> {
    if call.role() == Role::P2 && call.dealt_offline() {
        return Ok(Dealt::default());
    }
    if call.role() == Role::P2 {
        let x: Vec<ZOdd> = random_vec(&mut call.private_prg(HELPER_X), n);
        let bits = bits_bit_major(&x.iter().map(|x| x.value()).collect::<Vec<u64>>());
        let lsb: Vec<Z64> = x.iter().map(|x| Z64::new(x.value() & 1)).collect();
        deal_offline_to_p1(call, DEALT_X, STEP_X, x).await?;
        request_p0_shares(call, DEALT_BITS, bits.len());
        deal_offline_to_p1(call, DEALT_BITS, STEP_BITS, bits).await?;
        deal_offline_to_p1(call, DEALT_LSB, STEP_LSB, lsb).await?;
        return Ok(Dealt::default());
    }
    Ok(Dealt {
        x: receive_offline_dealt(call, DEALT_X, STEP_X, n).await?,
        bits: receive_offline_dealt(call, DEALT_BITS, STEP_BITS, n * BIT_WIDTH).await?,
        lsb: receive_offline_dealt(call, DEALT_LSB, STEP_LSB, n).await?,
    })
}

/// Steps 2-8, given the dealt randomness: shares over Z_2^64 of MSB(a). Empty at P2.
pub(crate) async fn finish(
    call: &Call<'_>,
    dealt: Dealt,
    a: &[ZOdd],
    n: usize,
) -> Result<Vec<Z64>> {
    let role = call.role();
    let Some(other) = role.other_holder() else {
        let compare = call.open("private_compare");
        let beta_prime = private_compare_in(&compare, &[], n, None)
            .await?
            .unwrap_or_default();
        let beta_prime = beta_prime
            .into_iter()
            .map(|b| Z64::new(u64::from(b)))
            .collect();
        deal_to_p1(call, DEALT_BETA, STEP_BETA, beta_prime).await?;
        let product = call.open("mul_elementwise");
        beaver(&product, &[], &[], Product::Elementwise { len: n }).await?;
        return Ok(Vec::new());
    };
    let beta = random_bits(&mut call.shared_prg(other, BETA)?, n);

    // 2. Open r = 2a + x over Z_N.
    let mut r: Vec<ZOdd> = a.iter().zip(&dealt.x).map(|(&a, &x)| a + a + x).collect();
    call.send(other, STEP_R, &r).await?;
    let theirs = call.recv::<ZOdd>(other, STEP_R, n).await?;
    for (mine, &other) in r.iter_mut().zip(&theirs) {
        *mine += other;
    }

    // 3. PrivateCompare(x, r, β): P2 learns β′ = β ⊕ (x > r).
    let threshold: Vec<u64> = r.iter().map(|r| r.value()).collect();
    let compare = call.open("private_compare");
    private_compare_in(&compare, &dealt.bits, n, Some((&threshold, &beta))).await?;

    // 4. Shares of β′ over Z_2^64, dealt by P2.
    let beta_prime = receive_dealt::<Z64>(call, DEALT_BETA, STEP_BETA, n).await?;

    // 5.-6. γ = β ⊕ β′ = (x > r) and δ = r[0] ⊕ x[0], linear in the shares.
    let two = Z64::new(2);
    let mut gamma = Vec::with_capacity(n);
    let mut delta = Vec::with_capacity(n);
    for i in 0..n {
        let b = Z64::new(u64::from(beta[i]));
        gamma.push(beta_prime[i] + public_share(role, b) - two * b * beta_prime[i]);
        let r0 = Z64::new(threshold[i] & 1);
        delta.push(dealt.lsb[i] + public_share(role, r0) - two * r0 * dealt.lsb[i]);
    }

    // 7.-8. θ = γ·δ and MSB(a) = γ + δ − 2θ, re-randomized.
    let product = call.open("mul_elementwise");
    let theta = beaver(&product, &gamma, &delta, Product::Elementwise { len: n }).await?;
    let mut msb: Vec<Z64> = (0..n)
        .map(|i| gamma[i] + delta[i] - two * theta[i])
        .collect();
    add_zero_share(role, &mut call.shared_prg(other, ZERO)?, &mut msb);
    Ok(msb)
}
