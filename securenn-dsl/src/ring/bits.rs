//! Bit decompositions of 64-bit values as fixed-length arrays over a ring.
//!
//! PrivateCompare works on the 64 bits of a value, each shared over Z_p. The length is a
//! function of the ring's bit width, so it is a [`GenericArray`] of length [`U64`] rather
//! than a `Vec` whose length every caller would have to check.

use generic_array::GenericArray;
use generic_array::sequence::GenericSequence;
use typenum::U64;

use super::Ring;

/// The 64 bits of a value, least significant first, each an element of ring `R`.
pub type Bits64<R> = GenericArray<R, U64>;

/// The bits of `x` as elements of `R`, least significant first: `decompose(x)[i]` is bit i.
///
/// # Examples
///
/// ```
/// use securenn_dsl::ring::bits::{compose, decompose};
/// use securenn_dsl::ring::{Ring, Zp};
///
/// let bits = decompose::<Zp>(6);
/// assert_eq!(bits[0], Zp::ZERO);
/// assert_eq!(bits[1], Zp::ONE);
/// assert_eq!(bits[2], Zp::ONE);
/// assert_eq!(compose(&bits), Some(6));
/// ```
pub fn decompose<R: Ring>(x: u64) -> Bits64<R> {
    GenericArray::generate(|i| R::from_u64((x >> i) & 1))
}

/// The value whose bits are `bits` (least significant first), or `None` if some element is
/// not 0 or 1.
pub fn compose<R: Ring>(bits: &Bits64<R>) -> Option<u64> {
    bits.iter().enumerate().try_fold(0u64, |acc, (i, &bit)| {
        if bit == R::ZERO {
            Some(acc)
        } else if bit == R::ONE {
            Some(acc | 1 << i)
        } else {
            None
        }
    })
}
