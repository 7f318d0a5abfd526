//! Local operations on shares: each party transforms its own share and sends nothing,
//! because the transformation is linear over Z_2^64 (or, for [`shift`] and [`rescale`],
//! SecureML's local truncation, exact up to one unit in the last place). These are what the
//! library's own layers are built from; a user's `#[protocol]` layer calls them like any
//! other function (they take no context and are not awaited).
//!
//! ```
//! use securenn_dsl::dsl::local::{add_bias, rescale};
//! use securenn_dsl::prelude::*;
//!
//! /// x·W + b for a batch of rows x, at any batch size.
//! #[protocol]
//! fn dense(x: &Shared<Z64>, w: &Shared<Z64>, b: &Shared<Z64>) -> Shared<Z64> {
//!     add_bias(&rescale(&matmul(x, w), 0), b)?
//! }
//! ```

use typenum::{U13, U26, Unsigned};

use crate::error::{Error, Result};
use crate::party::Role;
use crate::ring::{Ring, Z64};
use crate::share::Shared;
use crate::tensor::Shape;

/// x / 2^`bits`, keeping the scale type: a division by a public power of two (a learning
/// rate, a batch size, a pooling window of four), by local truncation.
pub fn shift<F: Unsigned>(x: &Shared<Z64, F>, bits: u32) -> Shared<Z64, F> {
    let data = truncate_data(x.role(), x.data(), bits);
    Shared::from_parts(x.role(), x.shape().clone(), data)
}

/// A product (scale 26) back to scale 13 and divided by 2^`extra`, by local truncation of
/// 13 + `extra` bits. `rescale(p, 0)` is [`truncate`](crate::dsl::truncate) without its
/// round.
pub fn rescale(x: &Shared<Z64, U26>, extra: u32) -> Shared<Z64, U13> {
    let data = truncate_data(x.role(), x.data(), 13 + extra);
    Shared::from_parts(x.role(), x.shape().clone(), data)
}

/// SecureML's local truncation of one party's share: P0 shifts, P1 negates, shifts and
/// negates.
fn truncate_data(role: Role, data: &[Z64], bits: u32) -> Vec<Z64> {
    match role {
        Role::P0 => data.iter().map(|&a| a.arithmetic_shr(bits)).collect(),
        Role::P1 => data.iter().map(|&a| -((-a).arithmetic_shr(bits))).collect(),
        Role::P2 => Vec::new(),
    }
}

/// x + b for every row of the matrix x (`batch × b.len()`), or every position of an NHWC
/// tensor whose channels are b's: a bias broadcast over a batch.
///
/// # Errors
///
/// [`Error::ShapeMismatch`] if x does not split into rows of b's length.
pub fn add_bias<F: Unsigned>(x: &Shared<Z64, F>, b: &Shared<Z64, F>) -> Result<Shared<Z64, F>> {
    let width = b.len();
    if width == 0 || !x.len().is_multiple_of(width) {
        return Err(Error::ShapeMismatch {
            operation: "add a bias",
            left: x.shape().clone(),
            right: b.shape().clone(),
        });
    }
    let mut data = x.data().to_vec();
    if !x.role().is_helper() {
        for row in data.chunks_exact_mut(width) {
            for (v, &bias) in row.iter_mut().zip(b.data()) {
                *v += bias;
            }
        }
    }
    Ok(Shared::from_parts(x.role(), x.shape().clone(), data))
}

/// The sum of the rows of x, taken as rows of `width` values: a `1 × width` row (the
/// gradient of a bias over a batch).
///
/// # Errors
///
/// [`Error::InvalidShape`] if x does not split into rows of `width` values.
pub fn sum_rows<F: Unsigned>(x: &Shared<Z64, F>, width: usize) -> Result<Shared<Z64, F>> {
    if width == 0 || !x.shape().numel().is_multiple_of(width) {
        return Err(Error::InvalidShape {
            operation: "sum rows",
            shape: x.shape().clone(),
            reason: "the values do not split into rows of the width",
        });
    }
    let mut sum = vec![Z64::ZERO; if x.role().is_helper() { 0 } else { width }];
    for row in x.data().chunks_exact(width) {
        for (s, &v) in sum.iter_mut().zip(row) {
            *s += v;
        }
    }
    Ok(Shared::from_parts(x.role(), Shape::from([1, width]), sum))
}

/// The transpose of a matrix.
///
/// # Errors
///
/// [`Error::InvalidShape`] if x is not a matrix.
pub fn transpose<F: Unsigned>(x: &Shared<Z64, F>) -> Result<Shared<Z64, F>> {
    let (rows, cols) = x.shape().as_matrix("transpose")?;
    map_linear(x, Shape::from([cols, rows]), |data| {
        let mut out = vec![Z64::ZERO; rows * cols];
        for (r, row) in data.chunks_exact(cols.max(1)).enumerate() {
            for (c, &v) in row.iter().enumerate() {
                out[c * rows + r] = v;
            }
        }
        out
    })
}

/// x under another shape with the same number of values.
///
/// # Errors
///
/// [`Error::InvalidShape`] if the counts differ.
pub fn reshape<F: Unsigned>(x: &Shared<Z64, F>, shape: impl Into<Shape>) -> Result<Shared<Z64, F>> {
    x.clone().reshape(shape.into())
}

/// A local map over a share: each of P0 and P1 applies `f` to the values of its own share
/// and gets a share of `shape` (P2 holds nothing and calls nothing).
///
/// `f` must be **linear** over Z_2^64, f(a + b) = f(a) + f(b): a permutation, a selection
/// or repetition of values (a gather, a crop, a padding with zeros), sums of values, or a
/// product with public integers. Then the two results are shares of f(x). Anything else
/// (adding a constant, a comparison, a division) gives shares of garbage: for those, use
/// the protocols of [`ops`](crate::dsl::ops).
///
/// # Errors
///
/// [`Error::InvalidShape`] if `f` returns a number of values other than `shape`'s.
pub fn map_linear<F: Unsigned>(
    x: &Shared<Z64, F>,
    shape: impl Into<Shape>,
    f: impl FnOnce(&[Z64]) -> Vec<Z64>,
) -> Result<Shared<Z64, F>> {
    let shape = shape.into();
    if x.role().is_helper() {
        return Ok(Shared::from_parts(x.role(), shape, Vec::new()));
    }
    let data = f(x.data());
    if data.len() != shape.numel() {
        return Err(Error::InvalidShape {
            operation: "map a share",
            shape,
            reason: "the map returned a different number of values than the shape holds",
        });
    }
    Ok(Shared::from_parts(x.role(), shape, data))
}
