//! Fixed-point encoding of reals in Z_2^64: two's complement with `f` fractional bits
//! (13 by default, as in SecureNN).
//!
//! A real x is encoded as round(x · 2^f) read as a two's-complement 64-bit integer, so
//! 2^15 encodes 4.0 and 2^64 − 2^13 encodes −1.0. Encoding rounds to nearest (ties away from
//! zero), so decoding an encoding is within half an ulp (2^−f−1) of the original, negatives
//! included. Values must satisfy |x| < 2^(63−f); SecureNN's comparisons further need
//! |x| < 2^(62−f) (see DReLU).
//!
//! Scalars only: the encoding of whole tensors is [`tensor::fixed`](crate::tensor::fixed),
//! which re-exports this module.

use typenum::{U13, Unsigned};

use super::Z64;
use crate::error::{Error, Result};

/// The default number of fractional bits, ℓ_D = 13.
pub const FRACTIONAL_BITS: u32 = 13;

/// The default scale as a type (13 fractional bits), the default of
/// [`Shared<R, F>`](crate::share::Shared).
pub type DefaultScale = U13;

/// Encodes `x` with `fractional_bits` fractional bits, rounding to nearest.
///
/// # Errors
///
/// [`Error::FixedPointOverflow`] if `x` is not finite or |x| · 2^f does not fit in 63 bits.
///
/// # Examples
///
/// ```
/// use securenn_dsl::ring::Z64;
/// use securenn_dsl::ring::fixed::{decode, encode};
///
/// assert_eq!(encode(4.0, 13)?, Z64::new(1 << 15));
/// assert_eq!(encode(-1.0, 13)?, Z64::new(0u64.wrapping_sub(1 << 13)));
/// assert_eq!(decode(encode(-2.5, 13)?, 13), -2.5);
/// assert!(encode(f64::NAN, 13).is_err());
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub fn encode(x: f64, fractional_bits: u32) -> Result<Z64> {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    let scaled = (x * pow2(fractional_bits)).round();
    if scaled.is_finite() && scaled.abs() < TWO_POW_63 {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "checked to fit in an i64 above"
        )]
        Ok(Z64::from_i64(scaled as i64))
    } else {
        Err(Error::FixedPointOverflow {
            fractional_bits,
            limit_log2: 63u32.saturating_sub(fractional_bits),
        })
    }
}

/// Decodes a fixed-point element with `fractional_bits` fractional bits.
pub fn decode(x: Z64, fractional_bits: u32) -> f64 {
    #[allow(
        clippy::cast_precision_loss,
        reason = "decoding to f64 is lossy by design"
    )]
    let integer = x.as_i64() as f64;
    integer / pow2(fractional_bits)
}

/// Encodes every value of `xs` with `F` fractional bits.
///
/// # Errors
///
/// [`Error::FixedPointOverflow`] if any value cannot be encoded.
pub fn encode_all<F: Unsigned>(xs: &[f64]) -> Result<Vec<Z64>> {
    xs.iter().map(|&x| encode(x, F::U32)).collect()
}

/// Decodes every element of `xs` with `F` fractional bits.
pub fn decode_all<F: Unsigned>(xs: &[Z64]) -> Vec<f64> {
    xs.iter().map(|&x| decode(x, F::U32)).collect()
}

/// 2^bits as an `f64` (exact).
fn pow2(bits: u32) -> f64 {
    f64::from(bits).exp2()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_encodings() {
        assert_eq!(encode(1.0, 13).unwrap(), Z64::new(8192));
        assert_eq!(encode(0.5 / 8192.0, 13).unwrap(), Z64::new(1)); // tie rounds away from 0
        assert_eq!(encode(-0.5 / 8192.0, 13).unwrap(), Z64::from_i64(-1));
        assert_eq!(encode(0.49 / 8192.0, 13).unwrap(), Z64::new(0));
        assert!(encode(2f64.powi(50), 13).is_err());
        assert!(encode(2f64.powi(50) - 1.0, 13).is_ok());
        assert!(encode(f64::INFINITY, 13).is_err());
    }
}
