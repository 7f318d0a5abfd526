//! The rings shares live in: [`Z64`] (Z_2^64), [`ZOdd`] (Z_2^64-1), [`Zp`] (Z_67) and
//! [`Z2`], behind one sealed [`Ring`] trait; and the fixed-point encoding of reals
//! ([`fixed`]).
//!
//! SecureNN shares every secret additively over Z_2^64, where native `u64` arithmetic is the
//! ring arithmetic. Comparisons need an odd modulus (MSB(a) = LSB(2a) holds only in an odd
//! ring), hence ShareConvert to Z_2^64-1; PrivateCompare works on bit shares over the small
//! field Z_p with p = 67 > 64 + 2, so that its sums never wrap to zero.
//!
//! Each ring is a distinct type, so `Shared<Z64>` and `Shared<Zp>` cannot be mixed by
//! accident. Elements travel as raw little-endian bytes ([`Ring::WireLen`] bytes each); a
//! received byte string that is not a canonical element is rejected.
//!
//! Its layer (the book's "Architecture" page): it may import only from `error`, `party`,
//! `shape` and `tag`.

pub mod bits;
pub mod fixed;
mod z2;
mod z64;
mod zodd;
mod zp;

pub use z2::Z2;
pub use z64::Z64;
pub use zodd::ZOdd;
pub use zp::{Mod67, PrimeModulus, ZMod, Zp};

use core::fmt::Debug;
use core::iter::Sum;
use core::ops::{Add, AddAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use generic_array::{ArrayLength, GenericArray};
use rand_core::Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;
use subtle::{ConditionallySelectable, ConstantTimeEq};
use typenum::Unsigned as _;

mod sealed {
    pub trait Sealed {}
}
pub(crate) use sealed::Sealed;

/// A finite commutative ring that shares live in.
///
/// Sealed: implemented by [`Z64`], [`ZOdd`], [`Zp`] and [`Z2`] only, because the protocols
/// rely on each ring's exact modulus.
///
/// # Examples
///
/// ```
/// use securenn_dsl::ring::{Ring, Z64, Zp};
///
/// // Z_2^64 wraps around.
/// assert_eq!(Z64::new(u64::MAX) + Z64::ONE, Z64::ZERO);
/// // Z_67 reduces modulo 67.
/// assert_eq!(Zp::from_u64(66) + Zp::from_u64(3), Zp::from_u64(2));
/// ```
pub trait Ring:
    Sealed
    + Copy
    + Eq
    + Debug
    + Default
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + AddAssign
    + Sub<Output = Self>
    + SubAssign
    + Mul<Output = Self>
    + MulAssign
    + Neg<Output = Self>
    + Sum
    + ConstantTimeEq
    + ConditionallySelectable
    + Serialize
    + DeserializeOwned
{
    /// The additive identity.
    const ZERO: Self;
    /// The multiplicative identity.
    const ONE: Self;
    /// The ring's name, for messages: `"Z_2^64"`, `"Z_2^64-1"`, `"Z_67"`, `"Z_2"`.
    const NAME: &'static str;
    /// Bytes of one element on the wire.
    type WireLen: ArrayLength;

    /// The canonical element congruent to `x` modulo the ring's modulus.
    fn from_u64(x: u64) -> Self;

    /// The canonical representative, in `0..modulus`.
    fn to_u64(self) -> u64;

    /// A uniformly random element (no modulo bias).
    fn random<G: Rng + ?Sized>(rng: &mut G) -> Self;

    /// Fills `out` with uniformly random elements. Faster than calling [`Ring::random`] in a
    /// loop for the rings that override it.
    fn fill_random<G: Rng + ?Sized>(rng: &mut G, out: &mut [Self]) {
        for x in out {
            *x = Self::random(rng);
        }
    }

    /// The element's wire encoding (little-endian).
    fn to_wire(self) -> GenericArray<u8, Self::WireLen>;

    /// Decodes one element; `None` if the bytes are not a canonical element.
    fn from_wire(bytes: &GenericArray<u8, Self::WireLen>) -> Option<Self>;

    /// Appends the wire encoding of `values` to `out`.
    fn encode_slice(values: &[Self], out: &mut Vec<u8>) {
        out.reserve(values.len() * Self::WireLen::USIZE);
        for x in values {
            out.extend_from_slice(&x.to_wire());
        }
    }

    /// Decodes a whole buffer of elements, appending them to `out`.
    ///
    /// Returns `false` (leaving `out` in an unspecified state) if the buffer's length is not
    /// a multiple of the element size or if any element is not canonical.
    fn decode_slice(bytes: &[u8], out: &mut Vec<Self>) -> bool {
        let width = Self::WireLen::USIZE;
        if !bytes.len().is_multiple_of(width) {
            return false;
        }
        out.reserve(bytes.len() / width);
        for chunk in bytes.chunks_exact(width) {
            match Self::from_wire(GenericArray::from_slice(chunk)) {
                Some(x) => out.push(x),
                None => return false,
            }
        }
        true
    }
}

/// Implements the operator traits of a ring from its inherent `add`, `sub`, `mul` and `neg`
/// functions (named `ring_add` and so on), so that each ring file holds only its arithmetic.
macro_rules! impl_ring_ops {
    ($ty:ident $(<$param:ident: $bound:path>)?) => {
        impl$(<$param: $bound>)? core::ops::Add for $ty$(<$param>)? {
            type Output = Self;
            #[inline(always)]
            fn add(self, rhs: Self) -> Self {
                self.ring_add(rhs)
            }
        }
        impl$(<$param: $bound>)? core::ops::Sub for $ty$(<$param>)? {
            type Output = Self;
            #[inline(always)]
            fn sub(self, rhs: Self) -> Self {
                self.ring_sub(rhs)
            }
        }
        impl$(<$param: $bound>)? core::ops::Mul for $ty$(<$param>)? {
            type Output = Self;
            #[inline(always)]
            fn mul(self, rhs: Self) -> Self {
                self.ring_mul(rhs)
            }
        }
        impl$(<$param: $bound>)? core::ops::Neg for $ty$(<$param>)? {
            type Output = Self;
            #[inline(always)]
            fn neg(self) -> Self {
                self.ring_neg()
            }
        }
        impl$(<$param: $bound>)? core::ops::AddAssign for $ty$(<$param>)? {
            #[inline(always)]
            fn add_assign(&mut self, rhs: Self) {
                *self = self.ring_add(rhs);
            }
        }
        impl$(<$param: $bound>)? core::ops::SubAssign for $ty$(<$param>)? {
            #[inline(always)]
            fn sub_assign(&mut self, rhs: Self) {
                *self = self.ring_sub(rhs);
            }
        }
        impl$(<$param: $bound>)? core::ops::MulAssign for $ty$(<$param>)? {
            #[inline(always)]
            fn mul_assign(&mut self, rhs: Self) {
                *self = self.ring_mul(rhs);
            }
        }
        impl$(<$param: $bound>)? core::iter::Sum for $ty$(<$param>)? {
            fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
                iter.fold(<Self as $crate::ring::Ring>::ZERO, |acc, x| acc.ring_add(x))
            }
        }
        impl<'a $(, $param: $bound)?> core::iter::Sum<&'a Self> for $ty$(<$param>)? {
            fn sum<I: Iterator<Item = &'a Self>>(iter: I) -> Self {
                iter.fold(<Self as $crate::ring::Ring>::ZERO, |acc, x| acc.ring_add(*x))
            }
        }
    };
}
pub(crate) use impl_ring_ops;
