//! Z_2^64: native `u64` arithmetic, wrapping.

use generic_array::GenericArray;
use generic_array::typenum::U8;
use rand_core::Rng;
use serde::{Deserialize, Serialize};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use super::{Ring, Sealed, impl_ring_ops};

/// An element of Z_2^64, the ring every secret is shared over.
///
/// Arithmetic wraps: `Z64::new(u64::MAX) + Z64::ONE == Z64::ZERO`. Fixed-point reals are
/// encoded in two's complement ([`fixed`](super::fixed)), so `Z64::new(u64::MAX)` is -1 in
/// integer terms and -2^-13 with 13 fractional bits.
///
/// # Examples
///
/// ```
/// use securenn_dsl::ring::{Ring, Z64};
///
/// let x = Z64::new(3);
/// let r = Z64::new(u64::MAX - 1); // 2^64 - 2
/// // Shares 5 and 2^64 - 2 reconstruct to 3.
/// assert_eq!(Z64::new(5) + r, x);
/// assert_eq!((-x).as_i64(), -3);
/// ```
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    bytemuck::Pod,
    bytemuck::Zeroable,
)]
#[serde(transparent)]
#[repr(transparent)]
pub struct Z64(pub u64);

impl Z64 {
    /// The element `x`.
    pub const fn new(x: u64) -> Self {
        Z64(x)
    }

    /// The element as an unsigned integer in `0..2^64`.
    pub const fn value(self) -> u64 {
        self.0
    }

    /// The element read as a two's-complement signed integer.
    pub const fn as_i64(self) -> i64 {
        self.0 as i64
    }

    /// The element whose two's-complement reading is `x`.
    pub const fn from_i64(x: i64) -> Self {
        Z64(x as u64)
    }

    /// Most significant bit (the sign in two's complement).
    pub const fn msb(self) -> bool {
        self.0 >> 63 == 1
    }

    /// Arithmetic (sign-extending) right shift by `bits`.
    pub const fn arithmetic_shr(self, bits: u32) -> Self {
        Z64(((self.0 as i64) >> bits) as u64)
    }

    #[inline(always)]
    const fn ring_add(self, rhs: Self) -> Self {
        Z64(self.0.wrapping_add(rhs.0))
    }

    #[inline(always)]
    const fn ring_sub(self, rhs: Self) -> Self {
        Z64(self.0.wrapping_sub(rhs.0))
    }

    #[inline(always)]
    const fn ring_mul(self, rhs: Self) -> Self {
        Z64(self.0.wrapping_mul(rhs.0))
    }

    #[inline(always)]
    const fn ring_neg(self) -> Self {
        Z64(self.0.wrapping_neg())
    }
}

impl_ring_ops!(Z64);

impl core::fmt::Debug for Z64 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Z64({})", self.0)
    }
}

impl ConstantTimeEq for Z64 {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl ConditionallySelectable for Z64 {
    fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
        Z64(u64::conditional_select(&a.0, &b.0, choice))
    }
}

impl Sealed for Z64 {}

/// Random draws go through a stack buffer of this many bytes.
const FILL_CHUNK_BYTES: usize = 4096;

impl Ring for Z64 {
    const ZERO: Self = Z64(0);
    const ONE: Self = Z64(1);
    const NAME: &'static str = "Z_2^64";
    type WireLen = U8;

    #[inline]
    fn from_u64(x: u64) -> Self {
        Z64(x)
    }

    #[inline]
    fn to_u64(self) -> u64 {
        self.0
    }

    #[inline]
    fn random<G: Rng + ?Sized>(rng: &mut G) -> Self {
        Z64(rng.next_u64())
    }

    fn fill_random<G: Rng + ?Sized>(rng: &mut G, out: &mut [Self]) {
        let mut buf = [0u8; FILL_CHUNK_BYTES];
        for block in out.chunks_mut(FILL_CHUNK_BYTES / 8) {
            let bytes = &mut buf[..block.len() * 8];
            rng.fill_bytes(bytes);
            for (x, chunk) in block.iter_mut().zip(bytes.chunks_exact(8)) {
                *x = Z64(u64::from_le_bytes(le8(chunk)));
            }
        }
    }

    #[inline]
    fn to_wire(self) -> GenericArray<u8, U8> {
        GenericArray::from_array(self.0.to_le_bytes())
    }

    #[inline]
    fn from_wire(bytes: &GenericArray<u8, U8>) -> Option<Self> {
        Some(Z64(u64::from_le_bytes(le8(bytes))))
    }

    /// On little-endian machines the wire format is the memory layout: one copy.
    fn encode_slice(values: &[Self], out: &mut Vec<u8>) {
        if cfg!(target_endian = "little") {
            out.extend_from_slice(bytemuck::cast_slice(values));
        } else {
            out.reserve(values.len() * 8);
            for x in values {
                out.extend_from_slice(&x.0.to_le_bytes());
            }
        }
    }

    /// On little-endian machines, one copy when the buffer is 8-byte aligned.
    fn decode_slice(bytes: &[u8], out: &mut Vec<Self>) -> bool {
        if !bytes.len().is_multiple_of(8) {
            return false;
        }
        match bytemuck::try_cast_slice::<u8, Z64>(bytes) {
            Ok(values) if cfg!(target_endian = "little") => out.extend_from_slice(values),
            _ => out.extend(
                bytes
                    .chunks_exact(8)
                    .map(|chunk| Z64(u64::from_le_bytes(le8(chunk)))),
            ),
        }
        true
    }
}

/// The first eight bytes of `chunk` as an array (callers pass exactly eight).
#[inline(always)]
pub(super) fn le8(chunk: &[u8]) -> [u8; 8] {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&chunk[..8]);
    bytes
}
