//! Local steps on shares that the layers need beyond the public ones of
//! [`dsl::local`](crate::dsl::local): each party transforms its own share, with no message,
//! because the transformation is linear.

use typenum::{U13, Unsigned};

use crate::error::Result;
use crate::party::Role;
use crate::ring::{Ring, Z64};
use crate::share::Shared;
use crate::tensor::{Conv2dGeometry, Shape, col2im, im2col};

pub(crate) use crate::dsl::local::{
    add_bias as add_rows, rescale, reshape, shift, sum_rows, transpose,
};

/// The im2col matrix of a shared NHWC input (linear, so local).
pub(crate) fn im2col_shared<F: Unsigned>(
    x: &Shared<Z64, F>,
    g: &Conv2dGeometry,
) -> Result<Shared<Z64, F>> {
    let shape = Shape::from([g.rows(), g.patch_len()]);
    if x.role().is_helper() {
        return Ok(Shared::from_parts(x.role(), shape, Vec::new()));
    }
    Ok(Shared::from_parts(x.role(), shape, im2col(x.data(), g)?))
}

/// col2im of a shared patch matrix (linear, so local).
pub(crate) fn col2im_shared<F: Unsigned>(
    x: &Shared<Z64, F>,
    g: &Conv2dGeometry,
) -> Result<Shared<Z64, F>> {
    if x.role().is_helper() {
        return Ok(Shared::from_parts(x.role(), g.input_shape(), Vec::new()));
    }
    Ok(Shared::from_parts(
        x.role(),
        g.input_shape(),
        col2im(x.data(), g)?,
    ))
}

/// A shared public constant `value` (already encoded) of `shape`: P0 holds it, P1 zeros.
pub(crate) fn constant<F: Unsigned>(role: Role, shape: Shape, value: Z64) -> Shared<Z64, F> {
    let data = match role {
        Role::P0 => vec![value; shape.numel()],
        Role::P1 => vec![Z64::ZERO; shape.numel()],
        Role::P2 => Vec::new(),
    };
    Shared::from_parts(role, shape, data)
}

/// Each value of `delta` repeated `n` times: the gradient of every window, next to the
/// window's one-hot vector.
pub(crate) fn repeat_each<F: Unsigned>(delta: &Shared<Z64, F>, n: usize) -> Shared<Z64, F> {
    let mut dims = delta.shape().dims().to_vec();
    dims.push(n);
    let data = delta
        .data()
        .iter()
        .flat_map(|&d| core::iter::repeat_n(d, n))
        .collect();
    Shared::from_parts(delta.role(), Shape::from(dims), data)
}

/// The shares of a bit tensor (0/1 at scale 0) times 2^13: the same bits at scale 13.
pub(crate) fn bits_to_fixed(bits: &Shared<Z64, typenum::U0>) -> Shared<Z64, U13> {
    let data = bits.data().iter().map(|&b| b * Z64::new(1 << 13)).collect();
    Shared::from_parts(bits.role(), bits.shape().clone(), data)
}
