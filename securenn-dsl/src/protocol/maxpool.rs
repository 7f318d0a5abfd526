//! Algorithm 9, Maxpool: the maximum of each window and its index. For n values per window,
//! n − 1 comparisons, each a DReLU and two selections: 576 bytes per comparison against
//! the paper's 744 (8ℓ log p + 29ℓ); 9⌈log₂ n⌉ rounds against 9(n − 1).
//!
//! The paper scans each window left to right; here the window's values meet in a
//! tournament: level by level, value 2t is compared with value 2t + 1 (a carried odd value
//! waits for the next level), all windows and pairs of a level at once. The comparisons are
//! the same in number, the rounds fall from 9(n − 1) to 9⌈log₂ n⌉. A pair keeps its left
//! (earlier) value when the two are equal, so ties go to the earliest index, as in the paper.
//! Each comparison's two selections (value and index) share one Beaver call.

use typenum::{U0, Unsigned};

use super::check_holder;
use super::drelu;
use super::matmul::{Product, beaver};
use super::public_share;
use crate::error::{Error, Result};
use crate::ring::Z64;
use crate::session::Context;
use crate::share::Shared;
use crate::tensor::Shape;

/// Non-overlapping square pooling windows: `kernel`×`kernel`, stride `kernel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool2d {
    /// Window height and width (and stride).
    pub kernel: usize,
}

impl Pool2d {
    /// Values per window: kernel².
    pub fn window_len(&self) -> usize {
        self.kernel * self.kernel
    }
}

/// The maxima of each window and where they are.
#[derive(Debug, Clone)]
pub struct MaxPool<F: Unsigned> {
    /// `[batch, height / k, width / k, channels]`: each window's maximum.
    pub max: Shared<Z64, F>,
    /// Same shape: the index in 0..k² (row-major within the window) of each maximum, the
    /// earliest among equals.
    pub argmax: Shared<Z64, U0>,
}

/// One candidate per window: its values and its index, as shares.
struct Candidates {
    values: Vec<Z64>,
    indices: Vec<Z64>,
}

/// Max pooling of a secret NHWC tensor `[batch, height, width, channels]` over `kernel`×
/// `kernel` windows, with the argmax of each window (Algorithm 9). Height and width must be
/// multiples of the kernel; values must satisfy |v| < 2^61, so that their differences stay
/// in DReLU's range.
///
/// # Errors
///
/// [`Error::InvalidShape`] for a shape that does not tile into windows, or the transport's
/// errors.
///
/// # Examples
///
/// ```
/// use securenn_dsl::prelude::*;
/// use securenn_dsl::protocol::{Pool2d, maxpool};
/// use typenum::U0;
///
/// // One 2×2 window holding 3, 9, 9, 1: the max is 9, first at index 1.
/// let [out, _, _] = run_local(|session| async move {
///     let role = session.role();
///     let x = Private::<P0, _>::try_new(role, || {
///         Tensor::from_vec([1, 2, 2, 1], [3u64, 9, 9, 1].map(Z64::new).to_vec())
///     })?;
///     let x: Shared<Z64, U0> = share(&session, &x, [1, 2, 2, 1]).await?;
///     let pooled = maxpool(&session, &x, Pool2d { kernel: 2 }).await?;
///     let max = reveal_to::<P0, _>(&session, &pooled.max).await?.into_inner();
///     let argmax = reveal_to::<P0, _>(&session, &pooled.argmax).await?.into_inner();
///     Ok(max.zip(argmax))
/// })?;
/// let (max, argmax) = out.unwrap();
/// assert_eq!((max.data(), argmax.data()), (&[Z64::new(9)][..], &[Z64::new(1)][..]));
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub async fn maxpool<C: Context + ?Sized, F: Unsigned>(
    ctx: &C,
    input: &Shared<Z64, F>,
    pool: Pool2d,
) -> Result<MaxPool<F>> {
    let call = ctx.open("maxpool");
    let session = ctx.session();
    check_holder(session, "maxpool", input)?;
    let k = pool.kernel;
    // Candidate p of every window, p = ky·k + kx, windows in NHWC output order.
    let values = candidates(input, k)?;
    let out_shape = pooled_shape(input.shape(), k);
    let windows = out_shape.numel();
    let role = session.role();
    let holds = !role.is_helper();
    let mut groups: Vec<Candidates> = values
        .into_iter()
        .enumerate()
        .map(|(p, values)| {
            let index = public_share(role, Z64::new(p as u64));
            let indices = if holds {
                vec![index; windows]
            } else {
                Vec::new()
            };
            Candidates { values, indices }
        })
        .collect();

    while groups.len() > 1 {
        let pairs = groups.len() / 2;
        let carried = (groups.len() % 2 == 1).then(|| groups.pop());
        let mut iter = groups.into_iter();
        let mut lefts = Vec::with_capacity(pairs);
        let mut rights = Vec::with_capacity(pairs);
        while let (Some(left), Some(right)) = (iter.next(), iter.next()) {
            lefts.push(left);
            rights.push(right);
        }
        // left ≥ right ⇔ DReLU(left − right) = 1; all pairs of all windows at once.
        let differences: Vec<Z64> = lefts
            .iter()
            .zip(&rights)
            .flat_map(|(l, r)| l.values.iter().zip(&r.values).map(|(&a, &b)| a - b))
            .collect();
        let compared =
            Shared::<Z64, F>::from_parts(role, Shape::from([pairs * windows]), differences);
        let keep_left = drelu(&call, &compared).await?;

        // right + β·(left − right), for values and indices, in one product.
        let bits = keep_left.as_shared().data();
        let choice: Vec<Z64> = bits.iter().chain(bits).copied().collect();
        let mut gaps = compared.into_data();
        gaps.extend(
            lefts
                .iter()
                .zip(&rights)
                .flat_map(|(l, r)| l.indices.iter().zip(&r.indices).map(|(&a, &b)| a - b)),
        );
        let product_call = call.open("mul_elementwise");
        let len = 2 * pairs * windows;
        let chosen = beaver(&product_call, &choice, &gaps, Product::Elementwise { len }).await?;
        let (chosen_values, chosen_indices) = chosen.split_at(chosen.len() / 2);

        groups = rights
            .into_iter()
            .enumerate()
            .map(|(t, right)| {
                let part = |all: &[Z64]| {
                    all.get(t * windows..(t + 1) * windows)
                        .unwrap_or(&[])
                        .to_vec()
                };
                let mut values = part(chosen_values);
                let mut indices = part(chosen_indices);
                for (v, r) in values.iter_mut().zip(&right.values) {
                    *v += *r;
                }
                for (i, r) in indices.iter_mut().zip(&right.indices) {
                    *i += *r;
                }
                Candidates { values, indices }
            })
            .collect();
        groups.extend(carried.flatten());
    }
    let winner = groups.pop().unwrap_or(Candidates {
        values: Vec::new(),
        indices: Vec::new(),
    });
    Ok(MaxPool {
        max: Shared::from_parts(role, out_shape.clone(), winner.values),
        argmax: Shared::from_parts(role, out_shape, winner.indices),
    })
}

/// The shape of the maxima of `k`×`k` windows of an NHWC input of `shape` (checked by
/// [`candidates`]).
pub(super) fn pooled_shape(shape: &Shape, k: usize) -> Shape {
    match *shape.dims() {
        [batch, height, width, channels] if k > 0 => {
            Shape::from([batch, height / k, width / k, channels])
        }
        _ => Shape::from([0]),
    }
}

/// Candidate p (p = ky·k + kx) of every `k`×`k` window of NHWC `input` (stride `k`), windows
/// in NHWC output order: k² vectors, empty at the helper.
///
/// # Errors
///
/// [`Error::InvalidShape`] unless `input` is NHWC with positive sizes, its height and width
/// multiples of `k`.
pub(super) fn candidates<F: Unsigned>(input: &Shared<Z64, F>, k: usize) -> Result<Vec<Vec<Z64>>> {
    let &[batch, height, width, channels] = input.shape().dims() else {
        return Err(Error::InvalidShape {
            operation: "maxpool",
            shape: input.shape().clone(),
            reason: "the input must be [batch, height, width, channels]",
        });
    };
    if k == 0
        || height == 0
        || width == 0
        || channels == 0
        || batch == 0
        || height % k != 0
        || width % k != 0
    {
        return Err(Error::InvalidShape {
            operation: "maxpool",
            shape: input.shape().clone(),
            reason: "all sizes must be positive, height and width multiples of the kernel",
        });
    }
    let windows = batch * (height / k) * (width / k) * channels;
    let holds = !input.role().is_helper();
    Ok((0..k * k)
        .map(|p| {
            if !holds {
                return Vec::new();
            }
            let (ky, kx) = (p / k, p % k);
            let mut values = Vec::with_capacity(windows);
            for b in 0..batch {
                for oy in 0..height / k {
                    for ox in 0..width / k {
                        let start = ((b * height + oy * k + ky) * width + ox * k + kx) * channels;
                        values.extend_from_slice(&input.data()[start..start + channels]);
                    }
                }
            }
            values
        })
        .collect())
}
