//! Fixed-point encoding of whole tensors, and (re-exported) of scalars
//! ([`ring::fixed`](crate::ring::fixed)): `use securenn_dsl::tensor::fixed;` gives both.

pub use crate::ring::fixed::*;

use super::{Shape, Tensor};
use crate::error::Result;
use crate::ring::Z64;

/// A tensor of reals encoded with `fractional_bits` fractional bits.
///
/// # Errors
///
/// [`Error::FixedPointOverflow`](crate::Error::FixedPointOverflow) if a value cannot be encoded,
/// [`Error::InvalidShape`](crate::Error::InvalidShape) if
/// `values` does not fit `shape`.
///
/// # Examples
///
/// ```
/// use securenn_dsl::tensor::fixed::{decode_tensor, encode_tensor};
///
/// let t = encode_tensor([2], &[0.25, -3.0], 13)?;
/// assert_eq!(decode_tensor(&t, 13), [0.25, -3.0]);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub fn encode_tensor(
    shape: impl Into<Shape>,
    values: &[f64],
    fractional_bits: u32,
) -> Result<Tensor<Z64>> {
    let data = values
        .iter()
        .map(|&x| encode(x, fractional_bits))
        .collect::<Result<Vec<_>>>()?;
    Tensor::from_vec(shape, data)
}

/// The reals a fixed-point tensor encodes, row-major.
pub fn decode_tensor(tensor: &Tensor<Z64>, fractional_bits: u32) -> Vec<f64> {
    tensor
        .data()
        .iter()
        .map(|&x| decode(x, fractional_bits))
        .collect()
}
