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
//! Each dᵢ = sᵢ·cᵢ is multiplied by a fresh sᵢ ∈ Z_p*, and the 64 values of a comparison are
//! permuted by a fresh permutation, both from the P0-P1 key and drawn anew for every
//! comparison (the reference code's parallel version used the constant 1 for both). The two
//! shares of each dᵢ are also re-randomized with a fresh sharing of zero, so that the pair
//! P2 receives is uniform given dᵢ even though P2 dealt the bit shares itself.
//!
//! The permutation is a uniformly random rotation of the 64 positions: one random byte per
//! comparison instead of 63 bounded draws, and it hides exactly what a uniform permutation
//! of S₆₄ would. The non-zero dᵢ are independent and uniform in Z_p* (each sᵢ is fresh and
//! uniform, and multiplying by a non-zero cᵢ permutes Z_p*), and at most one cᵢ is zero; so
//! the vector P2 sees is "i.i.d. uniform non-zero values, with a zero at a uniform position
//! if x > r (β = 0)", whether the positions are rotated or fully shuffled. That is the
//! distribution the paper's simulator for P2 samples, so its proof applies unchanged; the
//! helper-view test checks that the zero's position is uniform.

use typenum::U0;

use super::check_holder;

use crate::error::{Error, MaterialProblem, Result};
use crate::party::{Common, P2, Revealed, Role};
use crate::prg::Prg;
use crate::ring::{Ring, Zp};
use crate::session::{Call, Context, DrawKind, DrawRequest};
use crate::share::Shared;

/// Bits of each compared value: ℓ = 64.
pub const BIT_WIDTH: usize = 64;

/// Stream labels (P0-P1 key).
const MULTIPLIERS: u8 = 0;
const CORNER: u32 = 1;
const ROTATIONS: u32 = 2;
const ZERO_MASKS: u8 = 3;

/// Message step: the masked, rotated dᵢ to P2.
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
/// use securenn_dsl::dsl::share;
/// use securenn_dsl::share::Shared;
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
pub async fn private_compare<C: Context + ?Sized>(
    ctx: &C,
    bits: &Shared<Zp, U0>,
    threshold: &Common<Vec<u64>>,
    beta: &Common<Vec<bool>>,
) -> Result<Revealed<P2, Vec<bool>>> {
    let call = ctx.open("private_compare");
    check_holder(ctx.session(), "private_compare", bits)?;
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
    let holders = threshold
        .get()
        .map(Vec::as_slice)
        .zip(beta.get().map(Vec::as_slice));
    let bits = bit_major(bits.data(), n);
    let result = private_compare_in(&call, &bits, n, holders).await?;
    Ok(Revealed::new(result))
}

/// PrivateCompare within `call` on n comparisons. P0 and P1 pass their bit shares
/// **bit-major** (bit i of comparison e at `i·n + e`, i = 0 the least significant) and
/// `Some((r, β))`; P2 passes an empty slice and `None`, and gets `Some(β′)`.
pub(crate) async fn private_compare_in(
    call: &Call<'_>,
    bits: &[Zp],
    n: usize,
    holders: Option<(&[u64], &[bool])>,
) -> Result<Option<Vec<bool>>> {
    let role = call.role();
    let Some((threshold, beta)) = holders.filter(|_| !role.is_helper()) else {
        request_randomness(call, n);
        let d0 = call.recv::<Zp>(Role::P0, STEP_D, n * BIT_WIDTH).await?;
        let d1 = call.recv::<Zp>(Role::P1, STEP_D, n * BIT_WIDTH).await?;
        let found_zero = d0
            .chunks_exact(BIT_WIDTH)
            .zip(d1.chunks_exact(BIT_WIDTH))
            .map(|(a, b)| has_zero_sum(a, b))
            .collect();
        return Ok(Some(found_zero));
    };
    let other = role.other_holder().unwrap_or(Role::P0);
    // The randomness is drawn a block at a time, in the blocks' order, so that it stays in
    // cache with the block's values; the online phase takes it from the material instead.
    let mut multipliers = Randomness::new(call, other, MULTIPLIERS, DrawKind::NonZero, n)?;
    let mut zero_masks = Randomness::new(call, other, ZERO_MASKS, DrawKind::Uniform, n)?;
    let mut corner_prg = call.shared_prg(other, CORNER)?;
    let mut rotations = call.shared_prg(other, ROTATIONS)?;

    let j = u16::from(role == Role::P1);
    let mut d = vec![Zp::ZERO; n * BIT_WIDTH];
    let mut block = Block::default();
    let mut offsets = [0u8; BLOCK];
    for start in (0..n).step_by(BLOCK) {
        let len = BLOCK.min(n - start);
        block.differences(
            bits,
            n,
            start,
            len,
            &threshold[start..start + len],
            &beta[start..start + len],
            j,
        );
        for (k, e) in (start..start + len).enumerate() {
            if beta[e] && threshold[e] == u64::MAX {
                block.corner_case(role, k, &mut corner_prg);
            }
        }
        // dᵢ = sᵢ·cᵢ ± zᵢ mod p (the random sᵢ and zᵢ are used in the block's order).
        block.mask(
            len,
            multipliers.block(start, len),
            zero_masks.block(start, len),
            role == Role::P0,
        );
        // A fresh uniform rotation of each comparison's 64 values: 64 divides 256, so the
        // low six bits of a random byte are an exactly uniform offset.
        rotations.fill(&mut offsets[..len]);
        let out = &mut d[start * BIT_WIDTH..(start + len) * BIT_WIDTH];
        transpose_rotated(&block.masked, len, &offsets[..len], out);
    }
    call.send(Role::P2, STEP_D, &d).await?;
    Ok(None)
}

/// Comparisons processed together: their 64 × BLOCK working values stay in cache. A
/// multiple of 8, for the tiled transpose.
const BLOCK: usize = 256;
const _: () = assert!(BLOCK.is_multiple_of(8));

/// At P2, in its offline run: requests that P0 and P1 draw the multipliers and zero masks
/// of `n` comparisons in the offline phase, block by block as [`Randomness`] draws them.
fn request_randomness(call: &Call<'_>, n: usize) {
    for (holder, peer) in [(Role::P0, Role::P1), (Role::P1, Role::P0)] {
        for (label, kind) in [
            (MULTIPLIERS, DrawKind::NonZero),
            (ZERO_MASKS, DrawKind::Uniform),
        ] {
            call.request_draw(&DrawRequest {
                holder,
                peer,
                label,
                kind,
                len: n as u64 * BIT_WIDTH as u64,
                piece: (BLOCK * BIT_WIDTH) as u64,
            });
        }
    }
}

/// One stream of a comparison's randomness (P0-P1 key): drawn a block at a time, or all
/// of it taken from the material's offline draws.
enum Randomness {
    Drawn(Vec<Zp>),
    Inline {
        prg: Box<Prg>,
        kind: DrawKind,
        block: Vec<Zp>,
    },
}

impl Randomness {
    fn new(call: &Call<'_>, other: Role, label: u8, kind: DrawKind, n: usize) -> Result<Self> {
        let pieces = (kind, BLOCK * BIT_WIDTH);
        if let Some(values) = call.drawn::<Zp>(other, u32::from(label), pieces, n * BIT_WIDTH)? {
            // A zero multiplier would reveal nothing, but would make the comparison wrong:
            // material whose multipliers are not all in Z_p* is refused.
            let smallest = values.iter().fold(u8::MAX, |min, v| min.min(v.value()));
            if kind == DrawKind::NonZero && smallest == 0 {
                return Err(Error::Material {
                    source_name: "online run".to_owned(),
                    problem: MaterialProblem::Malformed(format!(
                        "a zero among the multipliers of comparison call {}",
                        call.id()
                    )),
                });
            }
            return Ok(Randomness::Drawn(values));
        }
        Ok(Randomness::Inline {
            prg: Box::new(call.shared_prg(other, u32::from(label))?),
            kind,
            block: vec![Zp::ZERO; BLOCK * BIT_WIDTH],
        })
    }

    /// The values of comparisons `start..start + len` (a block: called in order).
    fn block(&mut self, start: usize, len: usize) -> &[Zp] {
        match self {
            Randomness::Drawn(values) => &values[start * BIT_WIDTH..(start + len) * BIT_WIDTH],
            Randomness::Inline { prg, kind, block } => {
                let block = &mut block[..len * BIT_WIDTH];
                match kind {
                    DrawKind::Uniform => Zp::fill_random(prg, block),
                    DrawKind::NonZero => Zp::fill_random_nonzero(prg, block),
                }
                block
            }
        }
    }
}

/// The prime p, for arithmetic that reduces once at the end.
const P: u16 = 67;

/// The cᵢ of a block of comparisons, bit-major (`c[i·BLOCK + k]`), as integers congruent to
/// this party's shares mod p.
struct Block {
    c: Vec<u16>,
    suffix: Vec<u16>,
    /// t = r + β of each comparison as four 16-bit limbs, least significant first.
    limbs: [Vec<u16>; 4],
    /// β of each comparison, 0 or 1.
    beta: Vec<u16>,
    /// The masked dᵢ, bit-major like `c` (each below p).
    masked: Vec<u8>,
}

impl Default for Block {
    fn default() -> Self {
        Block {
            c: vec![0; BIT_WIDTH * BLOCK],
            suffix: vec![0; BLOCK],
            limbs: core::array::from_fn(|_| vec![0; BLOCK]),
            beta: vec![0; BLOCK],
            masked: vec![0; BIT_WIDTH * BLOCK],
        }
    }
}

impl Block {
    /// This party's shares of the cᵢ of comparisons `start..start + len`:
    /// β = 0: cᵢ = tᵢ − xᵢ + 1 + Σ_{k>i} w_k with t = r; β = 1: cᵢ = xᵢ − tᵢ + 1 + Σ_{k>i} w_k
    /// with t = r + 1; wᵢ = xᵢ ⊕ tᵢ. The constants are added at P1 (j = 1), and p where a
    /// difference could go below zero, so every value stays a small non-negative integer
    /// (below 2^13) and the loops over comparisons vectorize.
    #[allow(clippy::too_many_arguments, reason = "a block of one protocol step")]
    fn differences(
        &mut self,
        bits: &[Zp],
        n: usize,
        start: usize,
        len: usize,
        r: &[u64],
        beta: &[bool],
        j: u16,
    ) {
        // t = r + β, split into four 16-bit limbs so that the loop below works on u16 lanes.
        for (k, (&r, &b)) in r.iter().zip(beta).enumerate() {
            let t = r.wrapping_add(u64::from(b));
            for (q, limb) in self.limbs.iter_mut().enumerate() {
                #[allow(clippy::cast_possible_truncation, reason = "one 16-bit limb")]
                let part = (t >> (16 * q)) as u16;
                limb[k] = part;
            }
            self.beta[k] = u16::from(b);
        }
        self.suffix[..len].fill(0);
        for i in (0..BIT_WIDTH).rev() {
            let x_row = &bits[i * n + start..i * n + start + len];
            let c_row = &mut self.c[i * BLOCK..i * BLOCK + len];
            let suffix = &mut self.suffix[..len];
            let limb = &self.limbs[i / 16][..len];
            let beta = &self.beta[..len];
            difference_row(c_row, suffix, x_row, limb, beta, i % 16, j);
        }
    }

    /// dᵢ = sᵢ·cᵢ + zᵢ (at P0) or sᵢ·cᵢ − zᵢ (at P1) mod p for the first `len` comparisons,
    /// with sᵢ and zᵢ taken row by row from `multipliers` and `zero_masks`.
    fn mask(&mut self, len: usize, multipliers: &[Zp], zero_masks: &[Zp], adds: bool) {
        for i in 0..BIT_WIDTH {
            let c = &self.c[i * BLOCK..i * BLOCK + len];
            let s = &multipliers[i * len..(i + 1) * len];
            let z = &zero_masks[i * len..(i + 1) * len];
            let out = &mut self.masked[i * BLOCK..i * BLOCK + len];
            for k in 0..len {
                let z = u16::from(z[k].value());
                let z = if adds { z } else { P - z };
                let value = (u16::from(s[k].value()) * (c[k] % P) + z) % P;
                #[allow(clippy::cast_possible_truncation, reason = "the remainder is below 67")]
                let value = value as u8;
                out[k] = value;
            }
        }
    }

    /// β = 1 and r = 2^64 − 1 for comparison k of the block: x ≤ r always holds, so the
    /// shares reconstruct to cᵢ = 1 for i ≠ 0 and c₀ = 0, from fresh uᵢ ∈ Z_p*.
    fn corner_case(&mut self, role: Role, k: usize, prg: &mut Prg) {
        let mut u = [Zp::ZERO; BIT_WIDTH];
        Zp::fill_random_nonzero(prg, &mut u);
        for (i, &u_i) in u.iter().enumerate() {
            let value = match (role, i) {
                (Role::P0, 0) => u_i,
                (_, 0) => -u_i,
                (Role::P0, _) => u_i + Zp::ONE,
                _ => -u_i,
            };
            self.c[i * BLOCK + k] = u16::from(value.value());
        }
    }
}

/// One bit position of [`Block::differences`] for a row of comparisons. A function of its
/// own so that the slices are known not to overlap and the loop vectorizes.
#[inline(never)]
fn difference_row(
    c: &mut [u16],
    suffix: &mut [u16],
    x: &[Zp],
    limb: &[u16],
    beta: &[u16],
    shift: usize,
    j: u16,
) {
    let len = c.len();
    let (suffix, x, limb, beta) = (&mut suffix[..len], &x[..len], &limb[..len], &beta[..len]);
    for k in 0..len {
        let t_i = (limb[k] >> shift) & 1;
        let x_i = u16::from(x[k].value());
        let jt = j & t_i;
        // wᵢ = xᵢ (tᵢ = 0) or j + p − xᵢ (tᵢ = 1), without a branch.
        let w_i = x_i.wrapping_add(t_i.wrapping_mul((j + P).wrapping_sub(2 * x_i)));
        let below = (jt + P).wrapping_sub(x_i);
        let above = (x_i + P).wrapping_sub(jt);
        let c_i = below.wrapping_add(beta[k].wrapping_mul(above.wrapping_sub(below)));
        c[k] = c_i.wrapping_add(j).wrapping_add(suffix[k]);
        suffix[k] = suffix[k].wrapping_add(w_i);
    }
}

/// Whether two shares of a comparison's 64 values sum to zero anywhere: a + b is 0 or p
/// (both are below p). Without an early exit, so that the loop vectorizes.
fn has_zero_sum(a: &[Zp], b: &[Zp]) -> bool {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let sum = x.value() + y.value();
            u8::from(sum == 0) | u8::from(sum == Zp::MODULUS)
        })
        .fold(0, |any, zero| any | zero)
        != 0
}

/// The first `len` comparisons of a block's values, bit-major (`masked[i·BLOCK + k]`, each
/// below p), comparison-major into `out` (`len × 64`), the 64 values of comparison k
/// rotated by `offsets[k] mod 64` positions (value i to position (i + offset) mod 64).
/// Eight comparisons at a time: 8×8 tiles of bytes transposed in registers into rows that
/// hold each comparison's values twice over, so that its rotation is one loop of fixed
/// length from position 64 − offset, not two of variable length.
fn transpose_rotated(masked: &[u8], len: usize, offsets: &[u8], out: &mut [Zp]) {
    for start in (0..len).step_by(8) {
        let mut rows = [[0u8; 2 * BIT_WIDTH]; 8];
        for i0 in (0..BIT_WIDTH).step_by(8) {
            // Word r: bit i0 + r of comparisons start..start + 8 (BLOCK is a multiple of 8).
            let mut words: [u64; 8] = core::array::from_fn(|r| {
                let at = (i0 + r) * BLOCK + start;
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&masked[at..at + 8]);
                u64::from_le_bytes(bytes)
            });
            transpose_8x8(&mut words);
            for (row, word) in rows.iter_mut().zip(words) {
                row[i0..i0 + 8].copy_from_slice(&word.to_le_bytes());
                row[BIT_WIDTH + i0..][..8].copy_from_slice(&word.to_le_bytes());
            }
        }
        for (k, row) in (start..len.min(start + 8)).zip(&rows) {
            // Value i moves to (i + offset) mod 64.
            let offset = usize::from(offsets[k]) % BIT_WIDTH;
            let rotated = &row[BIT_WIDTH - offset..][..BIT_WIDTH];
            let out = &mut out[k * BIT_WIDTH..][..BIT_WIDTH];
            for (slot, &value) in out.iter_mut().zip(rotated) {
                *slot = Zp::from_reduced(value);
            }
        }
    }
}

/// Transposes the 8×8 matrix of bytes whose row r is `words[r]` (byte j is column j):
/// swaps of 4×4, then 2×2, then 1×1 blocks.
fn transpose_8x8(words: &mut [u64; 8]) {
    const STAGES: [(usize, u32, u64); 3] = [
        (4, 32, 0x0000_0000_FFFF_FFFF),
        (2, 16, 0x0000_FFFF_0000_FFFF),
        (1, 8, 0x00FF_00FF_00FF_00FF),
    ];
    for (distance, shift, low) in STAGES {
        for r in 0..8 {
            if r & distance == 0 {
                let (a, b) = (words[r], words[r + distance]);
                words[r] = (a & low) | ((b & low) << shift);
                words[r + distance] = ((a >> shift) & low) | (b & !low);
            }
        }
    }
}

/// Bit shares laid out comparison-major (`[n, 64]`) rearranged bit-major.
pub(crate) fn bit_major(bits: &[Zp], n: usize) -> Vec<Zp> {
    let mut out = vec![Zp::ZERO; bits.len()];
    for (e, row) in bits.chunks_exact(BIT_WIDTH).enumerate() {
        for (i, &bit) in row.iter().enumerate() {
            out[i * n + e] = bit;
        }
    }
    out
}

/// The 64 bits of each value, as elements of Z_p, bit-major. A block of values at a time,
/// so that each value is read from cache for its 64 bits.
pub(crate) fn bits_bit_major(values: &[u64]) -> Vec<Zp> {
    const VALUES_PER_BLOCK: usize = 2048;
    let n = values.len();
    let mut out = vec![Zp::ZERO; n * BIT_WIDTH];
    for (block, chunk) in values.chunks(VALUES_PER_BLOCK).enumerate() {
        let start = block * VALUES_PER_BLOCK;
        for i in 0..BIT_WIDTH {
            let row = &mut out[i * n + start..i * n + start + chunk.len()];
            for (bit, &value) in row.iter_mut().zip(chunk) {
                *bit = if (value >> i) & 1 == 1 {
                    Zp::ONE
                } else {
                    Zp::ZERO
                };
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tiled_transpose_rotates_each_comparison_as_the_definition_says() {
        // Every length from one comparison to a full block with a partial tile, and every
        // offset (taken modulo 64).
        for len in [1, 7, 8, 9, 63, 200, BLOCK] {
            let masked: Vec<u8> = (0..BIT_WIDTH * BLOCK)
                .map(|i| u8::try_from((i * 31 + i / 7) % 67).unwrap_or(0))
                .collect();
            let offsets: Vec<u8> = (0..len)
                .map(|k| u8::try_from(k * 37 % 256).unwrap_or(0))
                .collect();
            let mut out = vec![Zp::ZERO; len * BIT_WIDTH];
            transpose_rotated(&masked, len, &offsets, &mut out);
            for k in 0..len {
                let offset = usize::from(offsets[k]) % BIT_WIDTH;
                for i in 0..BIT_WIDTH {
                    assert_eq!(
                        out[k * BIT_WIDTH + (i + offset) % BIT_WIDTH].value(),
                        masked[i * BLOCK + k],
                        "comparison {k}, value {i}, length {len}"
                    );
                }
            }
        }
    }
}
