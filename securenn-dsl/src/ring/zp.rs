//! Z_p, the small prime field of PrivateCompare; p = 67 by default, carried in the type.

use core::fmt;
use core::hash::{Hash, Hasher};
use core::marker::PhantomData;

use generic_array::GenericArray;
use generic_array::typenum::U1;
use rand_core::Rng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use super::{Ring, Sealed, impl_ring_ops};

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Mod67 {}
}

/// Z_67, the field of SecureNN's PrivateCompare.
pub type Zp = ZMod<Mod67>;

/// The modulus 67, as a type: `Zp` is `ZMod<Mod67>`, which compiler messages print as is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Mod67;

/// A prime modulus below 256, as a marker type (arkworks' config-trait pattern). Sealed:
/// the protocols are analysed for p = 67 (p must exceed ℓ + 2 = 66 so that
/// PrivateCompare's sums never wrap to zero).
pub trait PrimeModulus:
    sealed::Sealed + Copy + Default + fmt::Debug + Send + Sync + 'static
{
    /// The modulus as a byte.
    const P: u8;
    /// The largest multiple of p that fits in a byte: bytes below it are accepted by
    /// rejection sampling, so that every residue is equally likely.
    const REJECTION_BOUND: u16;
}

impl PrimeModulus for Mod67 {
    const P: u8 = 67;
    const REJECTION_BOUND: u16 = 256 / 67 * 67;
}

/// An element of Z_p for the prime modulus `P`. SecureNN uses [`Zp`], that is
/// `ZMod<Mod67>`.
///
/// The modulus is a type parameter, so shares over different fields cannot be mixed, and
/// the arithmetic needs no tables and no set-up step that could be forgotten (the reference
/// code's `initializeMPC()` bug).
///
/// # Examples
///
/// ```
/// use securenn_dsl::ring::{Ring, Zp};
///
/// let a = Zp::new(60).unwrap();
/// assert_eq!(a + Zp::new(10).unwrap(), Zp::new(3).unwrap());
/// assert_eq!(-a, Zp::new(7).unwrap());
/// assert_eq!(Zp::new(67), None);
/// ```
pub struct ZMod<P: PrimeModulus> {
    value: u8,
    modulus: PhantomData<P>,
}

impl<P: PrimeModulus> ZMod<P> {
    /// The modulus p.
    pub const MODULUS: u8 = P::P;

    /// The element `x`, if `x < p`.
    pub const fn new(x: u8) -> Option<Self> {
        if x < P::P {
            Some(Self::reduced(x))
        } else {
            None
        }
    }

    const fn reduced(value: u8) -> Self {
        ZMod {
            value,
            modulus: PhantomData,
        }
    }

    /// The element `value` of a computation that guarantees `value < p`.
    #[inline(always)]
    pub(crate) const fn from_reduced(value: u8) -> Self {
        debug_assert!(value < P::P);
        Self::reduced(value)
    }

    /// The canonical representative in `0..p`.
    pub const fn value(self) -> u8 {
        self.value
    }

    /// A uniformly random non-zero element (an element of Z_p*).
    pub fn random_nonzero<G: Rng + ?Sized>(rng: &mut G) -> Self {
        let mut one = [Self::reduced(1)];
        Self::fill_random_nonzero(rng, &mut one);
        one[0]
    }

    /// Fills `out` with uniformly random non-zero elements.
    pub fn fill_random_nonzero<G: Rng + ?Sized>(rng: &mut G, out: &mut [Self]) {
        fill_below(rng, out, u32::from(P::P) - 1, 1);
    }

    #[inline(always)]
    const fn ring_add(self, rhs: Self) -> Self {
        // Both below p < 128, so the sum fits in a byte.
        let sum = self.value + rhs.value;
        Self::reduced(if sum >= P::P { sum - P::P } else { sum })
    }

    #[inline(always)]
    const fn ring_neg(self) -> Self {
        Self::reduced(if self.value == 0 {
            0
        } else {
            P::P - self.value
        })
    }

    #[inline(always)]
    const fn ring_sub(self, rhs: Self) -> Self {
        self.ring_add(rhs.ring_neg())
    }

    #[inline(always)]
    const fn ring_mul(self, rhs: Self) -> Self {
        let wide = self.value as u16 * rhs.value as u16;
        // The remainder is below p, which fits in a byte.
        #[allow(
            clippy::cast_possible_truncation,
            reason = "the remainder is below p < 256"
        )]
        Self::reduced((wide % P::P as u16) as u8)
    }
}

impl_ring_ops!(ZMod<P: PrimeModulus>);

impl<P: PrimeModulus> Clone for ZMod<P> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P: PrimeModulus> Copy for ZMod<P> {}

impl<P: PrimeModulus> Default for ZMod<P> {
    fn default() -> Self {
        Self::reduced(0)
    }
}

impl<P: PrimeModulus> PartialEq for ZMod<P> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}
impl<P: PrimeModulus> Eq for ZMod<P> {}

impl<P: PrimeModulus> Hash for ZMod<P> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl<P: PrimeModulus> fmt::Debug for ZMod<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Z{}({})", P::P, self.value)
    }
}

impl<P: PrimeModulus> ConstantTimeEq for ZMod<P> {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.value.ct_eq(&other.value)
    }
}

impl<P: PrimeModulus> ConditionallySelectable for ZMod<P> {
    fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
        Self::reduced(u8::conditional_select(&a.value, &b.value, choice))
    }
}

impl<P: PrimeModulus> Serialize for ZMod<P> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.value)
    }
}

impl<'de, P: PrimeModulus> Deserialize<'de> for ZMod<P> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = u8::deserialize(deserializer)?;
        Self::new(value).ok_or_else(|| serde::de::Error::custom("value is not below the modulus"))
    }
}

impl<P: PrimeModulus> Sealed for ZMod<P> {}

impl<P: PrimeModulus> Ring for ZMod<P> {
    const ZERO: Self = Self::reduced(0);
    const ONE: Self = Self::reduced(1);
    const NAME: &'static str = "Z_67";
    type WireLen = U1;

    fn from_u64(x: u64) -> Self {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "the remainder is below p < 256"
        )]
        Self::reduced((x % u64::from(P::P)) as u8)
    }

    fn to_u64(self) -> u64 {
        u64::from(self.value)
    }

    /// Rejection sampling on bytes: bytes at or above the largest multiple of p are redrawn,
    /// so there is no modulo bias.
    fn random<G: Rng + ?Sized>(rng: &mut G) -> Self {
        loop {
            let mut byte = [0u8];
            rng.fill_bytes(&mut byte);
            if u16::from(byte[0]) < P::REJECTION_BOUND {
                return Self::reduced(byte[0] % P::P);
            }
        }
    }

    /// Lemire's multiply-shift on 32-bit draws, with the rejection that makes it exactly
    /// uniform (taken with probability below 2^-25).
    fn fill_random<G: Rng + ?Sized>(rng: &mut G, out: &mut [Self]) {
        fill_below(rng, out, u32::from(P::P), 0);
    }

    fn to_wire(self) -> GenericArray<u8, U1> {
        GenericArray::from_array([self.value])
    }

    fn encode_slice(values: &[Self], out: &mut Vec<u8>) {
        out.extend(values.iter().map(|v| v.value));
    }

    fn decode_slice(bytes: &[u8], out: &mut Vec<Self>) -> bool {
        /// Bytes checked, then copied, while they are in the L1 cache.
        const CHUNK: usize = 4096;
        out.reserve(bytes.len());
        for chunk in bytes.chunks(CHUNK) {
            // The largest byte, without an early exit, so that the check vectorizes.
            if chunk.iter().fold(0, |max, &b| max.max(b)) >= P::P {
                return false;
            }
            out.extend(chunk.iter().map(|&b| Self::reduced(b)));
        }
        true
    }

    fn from_wire(bytes: &GenericArray<u8, U1>) -> Option<Self> {
        Self::new(bytes[0])
    }
}

/// Fills `out` with `offset + v` for v uniform in `0..bound` (bound < 256): the high half of
/// a 16×16-bit product of a random 16-bit word and `bound` (Lemire), rejecting the low
/// halves that would bias it (probability below 2^-8), so every value is exactly equally
/// likely.
fn fill_below<P: PrimeModulus, G: Rng + ?Sized>(
    rng: &mut G,
    out: &mut [ZMod<P>],
    bound: u32,
    offset: u8,
) {
    const WORDS: usize = 512;
    let threshold = (0x1_0000 - bound) % bound; // 2^16 mod bound
    let mut words = [0u16; WORDS];
    let mut values = [0u8; WORDS];
    let mut filled = 0;
    while filled < out.len() {
        rng.fill_bytes(bytemuck::cast_slice_mut(&mut words));
        for word in &mut words {
            *word = u16::from_le(*word);
        }
        let rejected = candidates(&words, bound, threshold, offset, &mut values);
        if rejected == 0 {
            let take = (out.len() - filled).min(WORDS);
            for (slot, &value) in out[filled..filled + take].iter_mut().zip(&values) {
                *slot = ZMod::reduced(value);
            }
            filled += take;
        } else {
            // Keep the accepted values, in order (a batch with a rejection).
            for (&word, &value) in words.iter().zip(&values) {
                if (u32::from(word) * bound) & 0xFFFF >= threshold && filled < out.len() {
                    out[filled] = ZMod::reduced(value);
                    filled += 1;
                }
            }
        }
    }
}

/// The candidate values `offset + ⌊w·bound / 2^16⌋` of a batch of 16-bit words, and how
/// many of them must be rejected; separate so that the loop vectorizes.
#[inline(never)]
fn candidates(words: &[u16], bound: u32, threshold: u32, offset: u8, values: &mut [u8]) -> u16 {
    #[allow(
        clippy::cast_possible_truncation,
        reason = "bound < 256 and threshold < bound"
    )]
    let (bound, threshold) = (bound as u16, threshold as u16);
    let mut rejected = 0u16;
    let values = &mut values[..words.len()];
    for (value, &word) in values.iter_mut().zip(words) {
        // High and low halves of the 16×16-bit product (pmulhuw and pmullw).
        #[allow(
            clippy::cast_possible_truncation,
            reason = "the high half of a 32-bit product"
        )]
        let high = ((u32::from(word) * u32::from(bound)) >> 16) as u16;
        let low = word.wrapping_mul(bound);
        #[allow(
            clippy::cast_possible_truncation,
            reason = "the high half is below bound < 256"
        )]
        let high = high as u8;
        *value = high + offset;
        rejected += u16::from(low < threshold);
    }
    rejected
}
