//! Z_2^64-1: the odd ring of ShareConvert and ComputeMSB.

use generic_array::GenericArray;
use generic_array::typenum::U8;
use rand_core::Rng;
use serde::{Deserialize, Serialize};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use super::z64::le8;
use super::{Ring, Sealed, impl_ring_ops};

/// The modulus 2^64 - 1.
const N: u64 = u64::MAX;

/// An element of Z_2^64-1, held in `0..2^64-1`.
///
/// The modulus is odd, so doubling is invertible and MSB(a) = LSB(2a): this is what lets
/// ComputeMSB turn a sign test into a parity test. ShareConvert moves shares from
/// [`Z64`](super::Z64) into this ring.
///
/// # Examples
///
/// ```
/// use securenn_dsl::ring::{Ring, ZOdd};
///
/// let max = ZOdd::new(u64::MAX - 1).unwrap(); // -1
/// assert_eq!(max + ZOdd::ONE, ZOdd::ZERO);
/// assert_eq!(ZOdd::new(u64::MAX), None); // 2^64 - 1 is not canonical
/// assert_eq!(ZOdd::from_u64(u64::MAX), ZOdd::ZERO);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct ZOdd(u64);

impl ZOdd {
    /// The modulus, 2^64 - 1.
    pub const MODULUS: u64 = N;

    /// The element `x`, if `x < 2^64 - 1`.
    pub const fn new(x: u64) -> Option<Self> {
        if x < N { Some(ZOdd(x)) } else { None }
    }

    /// The canonical representative in `0..2^64-1`.
    pub const fn value(self) -> u64 {
        self.0
    }

    #[inline(always)]
    const fn ring_add(self, rhs: Self) -> Self {
        let (sum, carry) = self.0.overflowing_add(rhs.0);
        // With a carry, the true sum is sum + 2^64 = sum + N + 1 ≡ sum + 1, and
        // sum <= 2^64 - 4 so sum + 1 < N. Without one, only sum == N needs reducing.
        if carry {
            ZOdd(sum + 1)
        } else if sum == N {
            ZOdd(0)
        } else {
            ZOdd(sum)
        }
    }

    #[inline(always)]
    const fn ring_neg(self) -> Self {
        if self.0 == 0 { self } else { ZOdd(N - self.0) }
    }

    #[inline(always)]
    const fn ring_sub(self, rhs: Self) -> Self {
        self.ring_add(rhs.ring_neg())
    }

    #[inline(always)]
    const fn ring_mul(self, rhs: Self) -> Self {
        let wide = self.0 as u128 * rhs.0 as u128;
        // 2^64 ≡ 1 (mod N): fold the high word onto the low word.
        #[allow(
            clippy::cast_possible_truncation,
            reason = "splitting a u128 into its two words"
        )]
        let (high, low) = ((wide >> 64) as u64, wide as u64);
        ZOdd(high % N).ring_add(ZOdd(low % N))
    }
}

impl_ring_ops!(ZOdd);

impl core::fmt::Debug for ZOdd {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ZOdd({})", self.0)
    }
}

impl TryFrom<u64> for ZOdd {
    type Error = &'static str;
    fn try_from(x: u64) -> Result<Self, Self::Error> {
        ZOdd::new(x).ok_or("2^64 - 1 is not an element of Z_2^64-1")
    }
}

impl From<ZOdd> for u64 {
    fn from(x: ZOdd) -> u64 {
        x.0
    }
}

impl ConstantTimeEq for ZOdd {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl ConditionallySelectable for ZOdd {
    fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
        ZOdd(u64::conditional_select(&a.0, &b.0, choice))
    }
}

impl Sealed for ZOdd {}

impl Ring for ZOdd {
    const ZERO: Self = ZOdd(0);
    const ONE: Self = ZOdd(1);
    const NAME: &'static str = "Z_2^64-1";
    type WireLen = U8;

    #[inline]
    fn from_u64(x: u64) -> Self {
        ZOdd(if x == N { 0 } else { x })
    }

    #[inline]
    fn to_u64(self) -> u64 {
        self.0
    }

    /// Rejection sampling: a draw of 2^64 - 1 (probability 2^-64) is redrawn.
    fn random<G: Rng + ?Sized>(rng: &mut G) -> Self {
        loop {
            let x = rng.next_u64();
            if x != N {
                return ZOdd(x);
            }
        }
    }

    #[inline]
    fn to_wire(self) -> GenericArray<u8, U8> {
        GenericArray::from_array(self.0.to_le_bytes())
    }

    #[inline]
    fn from_wire(bytes: &GenericArray<u8, U8>) -> Option<Self> {
        ZOdd::new(u64::from_le_bytes(le8(bytes)))
    }
}
