//! The argmax of each row (a classifier's predicted class), in few rounds: where Algorithm
//! 9 (Maxpool) finds a window's argmax by comparisons one after another (a tournament here,
//! 9 rounds a level), this compares every pair of the row's values at once, one DReLU
//! depth, and then keeps the value that won all its comparisons by a tree of Beaver
//! products of those bits.
//!
//! For a row of n values, candidate i wins against j when `DReLU(uᵢ − uⱼ) = 1` for j > i
//! and `DReLU(uⱼ − uᵢ) = 0` for j < i: ties go to the earliest index, as in Algorithm 9, and
//! exactly one candidate wins every comparison. Its one-hot bit is the product of its n − 1
//! bits, ⌈log₂(n − 1)⌉ rounds of elementwise products, and the index is Σ i·eᵢ, local.
//! Rounds: 8 + ⌈log₂(n − 1)⌉ (12 for 10 classes, against 36 for the tournament); bytes:
//! n(n − 1)/2 DReLUs and the products ([`cost::argmax`](super::cost::argmax)), more than
//! the tournament's n − 1 comparisons, so rows of more than [`MAX_ALL_PAIRS`] values (an
//! ImageNet classifier's 1,000) go through Maxpool's tournament instead.
//!
//! Security is that of DReLU and of the Beaver product: every bit and every product stays
//! shared between P0 and P1, P2 sees only masked values, and only the index is revealed,
//! to the party the caller names.

use typenum::{U0, Unsigned};

use super::matmul::{Product, beaver};
use super::{check_holder, drelu, public_share};
use crate::error::{Error, Result};
use crate::ring::{Ring, Z64};
use crate::session::Context;
use crate::share::Shared;
use crate::tensor::Shape;

/// The longest row compared pair by pair.
pub const MAX_ALL_PAIRS: usize = 16;

/// Shares of the index of the largest of each row of `classes` values of `input` (the
/// earliest among equals), all pairs compared at once: rows of at most
/// [`MAX_ALL_PAIRS`] values.
///
/// # Errors
///
/// [`Error::InvalidShape`] if `input` does not split into rows of `classes` values or a row
/// is longer than [`MAX_ALL_PAIRS`], or the transport's errors.
pub async fn argmax<C: Context + ?Sized, F: Unsigned>(
    ctx: &C,
    input: &Shared<Z64, F>,
    classes: usize,
) -> Result<Shared<Z64, U0>> {
    let call = ctx.open("argmax");
    let session = ctx.session();
    check_holder(session, "argmax", input)?;
    if classes == 0 || classes > MAX_ALL_PAIRS || !input.len().is_multiple_of(classes) {
        return Err(Error::InvalidShape {
            operation: "argmax",
            shape: input.shape().clone(),
            reason: "rows of 1 to 16 values",
        });
    }
    let rows = input.len() / classes;
    let role = session.role();
    let holds = !role.is_helper();
    let out_shape = Shape::from([rows]);
    if classes == 1 {
        let zeros = if holds {
            vec![Z64::ZERO; rows]
        } else {
            Vec::new()
        };
        return Ok(Shared::from_parts(role, out_shape, zeros));
    }
    let pairs: Vec<(usize, usize)> = (0..classes)
        .flat_map(|i| (i + 1..classes).map(move |j| (i, j)))
        .collect();
    // uᵢ − uⱼ for every pair i < j of every row, pair-major.
    let differences = if holds {
        let u = input.data();
        pairs
            .iter()
            .flat_map(|&(i, j)| (0..rows).map(move |r| u[r * classes + i] - u[r * classes + j]))
            .collect()
    } else {
        Vec::new()
    };
    let compared =
        Shared::<Z64, F>::from_parts(role, Shape::from([pairs.len() * rows]), differences);
    let wins = drelu(&call, &compared).await?;
    let wins = wins.as_shared().data();

    // Factor t of candidate i, for every row: its bit against its t-th opponent, as a
    // vector over (i, row).
    let one = public_share(role, Z64::ONE);
    let mut factors: Vec<Vec<Z64>> = (0..classes - 1)
        .map(|t| {
            if !holds {
                return Vec::new();
            }
            (0..classes)
                .flat_map(|i| {
                    // The t-th opponent of i, skipping i itself.
                    let j = if t < i { t } else { t + 1 };
                    let pair = pair_index(i.min(j), i.max(j), classes);
                    let bits = wins.get(pair * rows..(pair + 1) * rows).unwrap_or(&[]);
                    bits.iter()
                        .map(move |&b| if i < j { b } else { one - b })
                        .collect::<Vec<_>>()
                })
                .collect()
        })
        .collect();
    // The product of each candidate's factors: a tree, each level one Beaver call.
    let len = classes * rows;
    while factors.len() > 1 {
        let carried = (factors.len() % 2 == 1).then(|| factors.pop()).flatten();
        let products = factors.len() / 2;
        let (mut left, mut right) = (Vec::new(), Vec::new());
        for pair in factors.chunks_exact(2) {
            left.extend_from_slice(&pair[0]);
            right.extend_from_slice(&pair[1]);
        }
        let level = call.open("mul_elementwise");
        let product = Product::Elementwise {
            len: products * len,
        };
        let multiplied = beaver(&level, &left, &right, product).await?;
        factors = if holds {
            multiplied.chunks_exact(len).map(<[Z64]>::to_vec).collect()
        } else {
            vec![Vec::new(); products]
        };
        factors.extend(carried);
    }
    let one_hot = factors.pop().unwrap_or_default();
    let indices = if holds {
        (0..rows)
            .map(|r| {
                (1..classes).fold(Z64::ZERO, |sum, i| {
                    sum + one_hot[i * rows + r] * Z64::new(i as u64)
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Shared::from_parts(role, out_shape, indices))
}

/// The position of the pair `(i, j)`, i < j, among a row's pairs in the order
/// (0, 1), (0, 2), …, (0, n − 1), (1, 2), …: the `i` rows before it hold
/// i·n − i(i + 1)/2 pairs.
fn pair_index(i: usize, j: usize, n: usize) -> usize {
    i * n - i * (i + 1) / 2 + (j - i - 1)
}

#[cfg(test)]
mod tests {
    use super::pair_index;

    #[test]
    fn pair_indices_count_the_pairs_in_order() {
        let n = 7;
        let pairs: Vec<(usize, usize)> = (0..n)
            .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
            .collect();
        for (at, &(i, j)) in pairs.iter().enumerate() {
            assert_eq!(pair_index(i, j, n), at);
        }
    }
}
