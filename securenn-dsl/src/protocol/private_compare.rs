//! Algorithm 3, PrivateCompare: P2 learns β′ = β ⊕ (x > r) for a secret x, given as shares
//! of its 64 bits over Z_p, a threshold r and a bit β known to P0 and P1. 1 round, 128
//! bytes per comparison (2ℓ log p: each of P0 and P1 sends 64 elements of Z_67).
//!
//! For β = 0 each party computes, for every bit i from the most significant down,
//! shares of wᵢ = xᵢ ⊕ rᵢ and of cᵢ = rᵢ − xᵢ + 1 + Σ_{k>i} w_k, which is 0 exactly at the
//! first bit where x and r differ with xᵢ = 1, i.e. iff x > r (p = 67 > 64 + 2, so the sum
//! never wraps to 0). For β = 1 the same is done with t = r + 1 and the roles of x and t
//! swapped, giving a zero iff x < t, i.e. iff x ≤ r. When β = 1 and r = 2^64 − 1, t would
//! wrap, and x ≤ r holds for every x, so the parties output shares with exactly one zero.
//!
//! Each dᵢ = sᵢ·cᵢ is multiplied by a fresh sᵢ ∈ Z_p* and the 64 values of a comparison are
//! shuffled by a fresh permutation, both from the P0-P1 key, so that P2 learns only whether
//! a zero is present, never where, nor the other values. Unlike the reference code (whose
//! parallel version used the constant 1 for both) they are drawn anew for every comparison.
//! The two shares of each dᵢ are also re-randomized with a fresh sharing of zero, so that
//! the pair P2 receives is uniform given dᵢ even though P2 dealt the bit shares itself.

use typenum::U0;

use super::{RandomBytes, holder_index};
use crate::error::{Error, Result};
use crate::party::{Common, P2, Revealed, Role};
use crate::ring::{Ring, Zp};
use crate::session::{Call, Session};
use crate::share::Shared;

/// Bits of each compared value: ℓ = 64.
pub const BIT_WIDTH: usize = 64;

/// Stream labels (P0-P1 key).
const MULTIPLIERS: u32 = 0;
const CORNER: u32 = 1;
const PERMUTATIONS: u32 = 2;
const ZERO_MASKS: u32 = 3;

/// Message step: the masked, shuffled dᵢ to P2.
const STEP_D: u16 = 0;

/// P2 learns, for each comparison, β′ = β ⊕ (x > r), where `bits` holds shares over Z_p of
/// the 64 bits of each x (shape `[n, 64]`, least significant bit first), and `threshold`
/// (r) and `beta` (β) are known to P0 and P1 only.
///
/// # Errors
///
/// [`Error::InvalidShape`] if `bits` is not `[n, 64]` or the thresholds and bits do not
/// number n, or the transport's errors.
///
/// # Examples
///
/// ```
/// use securenn_dsl::party::{Common, P0, Private};
/// use securenn_dsl::protocol::private_compare;
/// use securenn_dsl::ring::bits::decompose;
/// use securenn_dsl::ring::Zp;
/// use securenn_dsl::session::run_local;
/// use securenn_dsl::share::{Shared, share};
/// use securenn_dsl::tensor::Tensor;
///
/// // Is 9 > 5? Is 9 > 9? P2 learns the answers, masked by β = 0 here.
/// let results = run_local(|session| async move {
///     let role = session.role();
///     let bits = Private::<P0, _>::try_new(role, || {
///         let bits: Vec<Zp> = [9u64, 9].iter().flat_map(|&x| decompose::<Zp>(x)).collect();
///         Tensor::from_vec([2, 64], bits)
///     })?;
///     let bits: Shared<Zp, typenum::U0> = share(&session, &bits, [2, 64]).await?;
///     let threshold = Common::new(role, || vec![5u64, 9]);
///     let beta = Common::new(role, || vec![false, false]);
///     Ok(private_compare(&session, &bits, &threshold, &beta).await?.into_inner())
/// })?;
/// assert_eq!(results[2], Some(vec![true, false]));
/// assert_eq!(results[0], None);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub async fn private_compare(
    session: &Session,
    bits: &Shared<Zp, U0>,
    threshold: &Common<Vec<u64>>,
    beta: &Common<Vec<bool>>,
) -> Result<Revealed<P2, Vec<bool>>> {
    let &[n, BIT_WIDTH] = bits.shape().dims() else {
        return Err(Error::InvalidShape {
            operation: "private_compare",
            shape: bits.shape().clone(),
            reason: "bit shares must have shape [n, 64]",
        });
    };
    let wrong_count = |values: Option<usize>| values.is_some_and(|len| len != n);
    if wrong_count(threshold.get().map(Vec::len)) || wrong_count(beta.get().map(Vec::len)) {
        return Err(Error::InvalidShape {
            operation: "private_compare",
            shape: bits.shape().clone(),
            reason: "one threshold and one bit β per compared value",
        });
    }
    let call = session.call("private_compare");
    let holders = threshold
        .get()
        .map(Vec::as_slice)
        .zip(beta.get().map(Vec::as_slice));
    let result = private_compare_in(&call, bits.data(), n, holders).await?;
    Ok(Revealed::new(result))
}

/// PrivateCompare within `call` on n comparisons. P0 and P1 pass their bit shares (n×64,
/// least significant first) and `Some((r, β))`; P2 passes an empty slice and `None`, and
/// gets `Some(β′)`.
pub(crate) async fn private_compare_in(
    call: &Call<'_>,
    bits: &[Zp],
    n: usize,
    holders: Option<(&[u64], &[bool])>,
) -> Result<Option<Vec<bool>>> {
    let role = call.role();
    let Some((threshold, beta)) = holders.filter(|_| !role.is_helper()) else {
        let d0 = call.recv::<Zp>(Role::P0, STEP_D, n * BIT_WIDTH).await?;
        let d1 = call.recv::<Zp>(Role::P1, STEP_D, n * BIT_WIDTH).await?;
        let found_zero = d0
            .chunks_exact(BIT_WIDTH)
            .zip(d1.chunks_exact(BIT_WIDTH))
            .map(|(a, b)| a.iter().zip(b).any(|(&x, &y)| x + y == Zp::ZERO))
            .collect();
        return Ok(Some(found_zero));
    };
    let other = role.other_holder().unwrap_or(Role::P0);
    let mut multipliers = vec![Zp::ZERO; n * BIT_WIDTH];
    Zp::fill_random_nonzero(&mut call.shared_prg(other, MULTIPLIERS)?, &mut multipliers);
    let mut zero_masks = vec![Zp::ZERO; n * BIT_WIDTH];
    Zp::fill_random(&mut call.shared_prg(other, ZERO_MASKS)?, &mut zero_masks);
    let mut corner_prg = call.shared_prg(other, CORNER)?;
    let mut permutations = RandomBytes::new(call.shared_prg(other, PERMUTATIONS)?);

    let j = Zp::from_u64(holder_index(role));
    let mut d = vec![Zp::ZERO; n * BIT_WIDTH];
    let mut c = [Zp::ZERO; BIT_WIDTH];
    for (e, out) in d.chunks_exact_mut(BIT_WIDTH).enumerate() {
        let x = &bits[e * BIT_WIDTH..(e + 1) * BIT_WIDTH];
        let (r, b) = (threshold[e], beta[e]);
        if b && r == u64::MAX {
            corner_case(role, &mut corner_prg, &mut c);
        } else {
            differences(x, if b { r + 1 } else { r }, b, j, &mut c);
        }
        let s = &multipliers[e * BIT_WIDTH..(e + 1) * BIT_WIDTH];
        let z = &zero_masks[e * BIT_WIDTH..(e + 1) * BIT_WIDTH];
        for i in 0..BIT_WIDTH {
            let masked = s[i] * c[i];
            out[i] = if role == Role::P0 {
                masked + z[i]
            } else {
                masked - z[i]
            };
        }
        permutations.shuffle(out);
    }
    call.send(Role::P2, STEP_D, &d).await?;
    Ok(None)
}

/// This party's shares of the cᵢ for threshold `t` (r, or r + 1 when β = 1).
#[inline]
fn differences(x: &[Zp], t: u64, beta: bool, j: Zp, c: &mut [Zp; BIT_WIDTH]) {
    let mut suffix = Zp::ZERO;
    for i in (0..BIT_WIDTH).rev() {
        let t_i = (t >> i) & 1 == 1;
        let x_i = x[i];
        // wᵢ = xᵢ ⊕ tᵢ: xᵢ when tᵢ = 0, 1 − xᵢ (P1 adds the 1) when tᵢ = 1.
        let w_i = if t_i { j - x_i } else { x_i };
        let jt = if t_i { j } else { Zp::ZERO };
        // β = 0: cᵢ = tᵢ − xᵢ + 1 + Σw; β = 1: cᵢ = xᵢ − tᵢ + 1 + Σw (constants at P1).
        c[i] = if beta { x_i - jt } else { jt - x_i } + j + suffix;
        suffix += w_i;
    }
}

/// β = 1 and r = 2^64 − 1: x ≤ r always holds, so the shares reconstruct to cᵢ = 1 for
/// i ≠ 0 and c₀ = 0, from fresh uᵢ ∈ Z_p*.
fn corner_case(role: Role, prg: &mut crate::prg::Prg, c: &mut [Zp; BIT_WIDTH]) {
    let mut u = [Zp::ZERO; BIT_WIDTH];
    Zp::fill_random_nonzero(prg, &mut u);
    for (i, (c_i, &u_i)) in c.iter_mut().zip(&u).enumerate() {
        *c_i = match (role, i) {
            (Role::P0, 0) => u_i,
            (_, 0) => -u_i,
            (Role::P0, _) => u_i + Zp::ONE,
            _ => -u_i,
        };
    }
}
