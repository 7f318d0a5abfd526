//! The loss's gradient at the outputs and the predicted class, over shares and in the
//! clear.
//!
//! - [`Loss::Hinge`] (the default): with v = u − y for outputs u and one-hot labels y,
//!   δ = v where [v ≥ 0] ≠ y, else 0: the squared hinge ½Σ relu(v)² on the wrong classes
//!   and ½ min(v, 0)² on the right one. One DReLU per output, no division.
//! - [`Loss::Asm`], the paper's: δ = ASM(u) − y with ASM(u) = relu(u)/(Σrelu(u) + 2^−13).
//!
//! The predicted class is the argmax of an example's outputs, the earliest among equals;
//! over shares, a Maxpool (Algorithm 9) over the outputs padded with −2^27 to a square
//! window, of which only the index is kept.

use typenum::U0;

use crate::dsl::{divide, drelu, relu};
use crate::error::{Error, Result};
use crate::nn::config::Loss;
use crate::nn::local::{bits_to_fixed, repeat_each, reshape};
use crate::nn::number::Number;
use crate::party::Role;
use crate::protocol;
use crate::ring::{Ring, Z64};
use crate::session::Context;
use crate::share::Shared;
use crate::tensor::{Shape, Tensor};

/// The squared hinge's gradient: v = u − y, δ = v where [v ≥ 0] ≠ y.
#[protocol(crate = crate, name = "hinge loss")]
pub(crate) fn hinge(u: &Shared<Z64>, labels: &Shared<Z64, U0>) -> Shared<Z64> {
    let v = u - &bits_to_fixed(labels);
    let positive = drelu(&v);
    let both = positive.as_shared() * labels;
    // b ⊕ y = b + y − 2·b·y.
    let flip = positive.as_shared() + labels - &both - &both;
    v * flip
}

/// The paper's gradient: δ = relu(u)/(Σrelu(u) + 2^−13) − y, per example.
#[protocol(crate = crate, name = "asm loss")]
pub(crate) fn asm(u: &Shared<Z64>, labels: &Shared<Z64, U0>, classes: usize) -> Shared<Z64> {
    let positive = relu(u);
    let sums = repeat_each(&sum_per_example(&positive, classes)?, classes);
    let sums = reshape(&sums, positive.shape().clone())?;
    let ratio = divide(&positive, &sums);
    ratio - &bits_to_fixed(labels)
}

/// The loss's gradient over shares, for one-hot `labels` (`[batch, classes]`).
///
/// # Errors
///
/// [`Error::InvalidShape`] if the labels do not fit the outputs, or the transport's errors.
pub(crate) async fn gradient_shared(
    ctx: &(impl Context + ?Sized),
    u: &Shared<Z64>,
    labels: &Shared<Z64, U0>,
    classes: usize,
    loss: Loss,
) -> Result<Shared<Z64>> {
    let batch = u.shape().dims().first().copied().unwrap_or(0);
    if labels.shape().dims() != [batch, classes] {
        return Err(Error::InvalidShape {
            operation: "private training step",
            shape: labels.shape().clone(),
            reason: "the labels must be one-hot rows, one per example of the batch",
        });
    }
    match loss {
        Loss::Hinge => hinge(ctx, u, labels).await,
        Loss::Asm => asm(ctx, u, labels, classes).await,
    }
}

/// Each example's sum of its `classes` values, plus one unit in the last place (so that
/// the ASM's divisor is positive).
fn sum_per_example(x: &Shared<Z64>, classes: usize) -> Result<Shared<Z64>> {
    let role = x.role();
    let examples = x.len() / classes.max(1);
    let data = if role.is_helper() {
        Vec::new()
    } else {
        x.data()
            .chunks_exact(classes.max(1))
            .map(|row| {
                let sum = row.iter().fold(Z64::ZERO, |s, &v| s + v);
                if role == Role::P0 {
                    sum + Z64::ONE
                } else {
                    sum
                }
            })
            .collect()
    };
    Ok(Shared::from_parts(role, Shape::from([examples]), data))
}

/// Shares of each example's predicted class: all pairs of its `classes` outputs compared
/// at once ([`protocol::argmax`], 12 rounds for 10 classes), or for more than
/// [`protocol::MAX_ALL_PAIRS`] classes the argmax of a Maxpool over them, padded to a
/// square window with a value below any output.
///
/// # Errors
///
/// The transport's errors.
pub(crate) async fn argmax_shared(
    ctx: &(impl Context + ?Sized),
    u: &Shared<Z64>,
    classes: usize,
) -> Result<Shared<Z64, U0>> {
    let classes = classes.max(1);
    if classes <= protocol::MAX_ALL_PAIRS {
        return protocol::argmax(ctx, u, classes).await;
    }
    let batch = u.len() / classes;
    let side = (1..).find(|s| s * s >= classes).unwrap_or(1);
    let window = side * side;
    let role = u.role();
    let padded_data = if role.is_helper() {
        Vec::new()
    } else {
        let low = match role {
            Role::P0 => Z64::from_i64(-(1 << 40)),
            _ => Z64::ZERO,
        };
        u.data()
            .chunks_exact(classes)
            .flat_map(|row| {
                row.iter()
                    .copied()
                    .chain(core::iter::repeat_n(low, window - classes))
            })
            .collect()
    };
    let padded: Shared<Z64> =
        Shared::from_parts(role, Shape::from([batch, side, side, 1]), padded_data);
    let pooled = protocol::maxpool(ctx, &padded, protocol::Pool2d { kernel: side }).await?;
    // One index per example, as the all-pairs argmax gives them.
    pooled.argmax.reshape([batch])
}

/// The loss's gradient in the clear, for class indices `labels`.
///
/// # Errors
///
/// [`Error::InvalidShape`] if there is not one label per example, or a label is not a
/// class.
pub(crate) fn gradient_plain<N: Number>(
    u: &Tensor<N>,
    labels: &[u8],
    classes: usize,
    loss: Loss,
) -> Result<Tensor<N>> {
    if labels.len() * classes != u.len() || labels.iter().any(|&l| usize::from(l) >= classes) {
        return Err(Error::InvalidShape {
            operation: "training step",
            shape: u.shape().clone(),
            reason: "one label per example of the batch, each a class, is needed",
        });
    }
    let one = N::encode(1.0);
    let mut delta = Vec::with_capacity(u.len());
    for (row, &label) in u.data().chunks_exact(classes.max(1)).zip(labels) {
        let label = usize::from(label);
        match loss {
            Loss::Hinge => {
                for (j, &value) in row.iter().enumerate() {
                    let target = j == label;
                    let v = if target { value.minus(one) } else { value };
                    delta.push(if v.is_nonnegative() != target {
                        v
                    } else {
                        N::default()
                    });
                }
            }
            Loss::Asm => {
                let relu: Vec<N> = row
                    .iter()
                    .map(|&v| if v.is_nonnegative() { v } else { N::default() })
                    .collect();
                let mut sum = N::default();
                for &r in &relu {
                    sum += r;
                }
                for (j, &r) in relu.iter().enumerate() {
                    let p = N::divide(r, sum);
                    delta.push(if j == label { p.minus(one) } else { p });
                }
            }
        }
    }
    Tensor::from_vec(u.shape().clone(), delta)
}

/// The index of each row's largest value, the earliest among equals.
pub(crate) fn argmax_plain<N: Number>(u: &Tensor<N>, classes: usize) -> Vec<usize> {
    u.data().chunks_exact(classes.max(1)).map(argmax).collect()
}

/// The index of the largest value, the earliest among equals.
pub(crate) fn argmax<N: Number>(row: &[N]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate().skip(1) {
        if v.minus(row[best]).is_nonnegative() && v != row[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hinge_gradient_follows_its_definition() {
        let u = Tensor::from_vec([1, 4], vec![0.5f32, 1.5, -0.25, 0.25]).unwrap();
        // Label 1: wrong classes 0, 2, 3 give relu(u); the right one min(u − 1, 0).
        let label_1 = gradient_plain(&u, &[1], 4, Loss::Hinge).unwrap();
        assert_eq!(label_1.data(), [0.5, 0.0, 0.0, 0.25]);
        let label_0 = gradient_plain(&u, &[0], 4, Loss::Hinge).unwrap();
        assert_eq!(label_0.data(), [-0.5, 1.5, 0.0, 0.25]);
    }

    #[test]
    fn a_label_that_is_not_a_class_is_refused() {
        let u = Tensor::from_vec([1, 4], vec![0.0f32; 4]).unwrap();
        assert!(gradient_plain(&u, &[4], 4, Loss::Hinge).is_err());
        assert!(gradient_plain(&u, &[0, 1], 4, Loss::Hinge).is_err());
    }
}
