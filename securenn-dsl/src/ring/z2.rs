//! Z_2: bits, with XOR as addition and AND as multiplication.

use generic_array::GenericArray;
use generic_array::typenum::U1;
use rand_core::Rng;
use serde::{Deserialize, Serialize};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use super::{Ring, Sealed, impl_ring_ops};

/// An element of Z_2, a bit. Its own type, not `bool`, so that it takes part in the
/// [`Ring`] machinery (shares, wire encoding, law tests).
///
/// # Examples
///
/// ```
/// use securenn_dsl::ring::{Ring, Z2};
///
/// assert_eq!(Z2::ONE + Z2::ONE, Z2::ZERO); // XOR
/// assert_eq!(Z2::ONE * Z2::ZERO, Z2::ZERO); // AND
/// assert!(Z2::from(true).as_bool());
/// ```
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord, Debug, Serialize, Deserialize,
)]
#[serde(try_from = "u8", into = "u8")]
pub struct Z2(u8);

impl Z2 {
    /// The bit as a `bool`.
    pub const fn as_bool(self) -> bool {
        self.0 == 1
    }

    #[inline(always)]
    const fn ring_add(self, rhs: Self) -> Self {
        Z2(self.0 ^ rhs.0)
    }

    #[inline(always)]
    const fn ring_sub(self, rhs: Self) -> Self {
        Z2(self.0 ^ rhs.0)
    }

    #[inline(always)]
    const fn ring_mul(self, rhs: Self) -> Self {
        Z2(self.0 & rhs.0)
    }

    #[inline(always)]
    const fn ring_neg(self) -> Self {
        self
    }
}

impl_ring_ops!(Z2);

impl From<bool> for Z2 {
    fn from(bit: bool) -> Self {
        Z2(u8::from(bit))
    }
}

impl TryFrom<u8> for Z2 {
    type Error = &'static str;
    fn try_from(x: u8) -> Result<Self, Self::Error> {
        if x <= 1 {
            Ok(Z2(x))
        } else {
            Err("a bit must be 0 or 1")
        }
    }
}

impl From<Z2> for u8 {
    fn from(x: Z2) -> u8 {
        x.0
    }
}

impl ConstantTimeEq for Z2 {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl ConditionallySelectable for Z2 {
    fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
        Z2(u8::conditional_select(&a.0, &b.0, choice))
    }
}

impl Sealed for Z2 {}

impl Ring for Z2 {
    const ZERO: Self = Z2(0);
    const ONE: Self = Z2(1);
    const NAME: &'static str = "Z_2";
    type WireLen = U1;

    fn from_u64(x: u64) -> Self {
        Z2(u8::from(x & 1 == 1))
    }

    fn to_u64(self) -> u64 {
        u64::from(self.0)
    }

    fn random<G: Rng + ?Sized>(rng: &mut G) -> Self {
        Z2(u8::from(rng.next_u32() & 1 == 1))
    }

    fn fill_random<G: Rng + ?Sized>(rng: &mut G, out: &mut [Self]) {
        for block in out.chunks_mut(64) {
            let bits = rng.next_u64();
            for (i, x) in block.iter_mut().enumerate() {
                *x = Z2(u8::from((bits >> i) & 1 == 1));
            }
        }
    }

    fn to_wire(self) -> GenericArray<u8, U1> {
        GenericArray::from_array([self.0])
    }

    fn from_wire(bytes: &GenericArray<u8, U1>) -> Option<Self> {
        Z2::try_from(bytes[0]).ok()
    }
}
