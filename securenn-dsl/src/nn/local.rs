//! Local steps on shares that the layers need: each party transforms its own share, with
//! no message, because the transformation is linear (or, for truncation, SecureML's local
//! truncation).

use typenum::{U13, U26, Unsigned};

use crate::error::{Error, Result};
use crate::party::Role;
use crate::ring::{Ring, Z64};
use crate::share::Shared;
use crate::tensor::{Conv2dGeometry, Shape, col2im, im2col};

/// x / 2^bits, keeping the scale type: a division by a public power of two (the learning
/// rate, the momentum, the batch size), by local truncation.
pub(crate) fn shift<F: Unsigned>(x: &Shared<Z64, F>, bits: u32) -> Shared<Z64, F> {
    let data = truncate_data(x.role(), x.data(), bits);
    Shared::from_parts(x.role(), x.shape().clone(), data)
}

/// A product (scale 26) back to scale 13 and divided by 2^`extra`, by local truncation of
/// 13 + `extra` bits.
pub(crate) fn rescale(x: &Shared<Z64, U26>, extra: u32) -> Shared<Z64, U13> {
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

/// x + b for every row of the matrix x (`rows × b.len()`), or every position of an NHWC
/// tensor whose channels are b's.
pub(crate) fn add_rows<F: Unsigned>(
    x: &Shared<Z64, F>,
    b: &Shared<Z64, F>,
) -> Result<Shared<Z64, F>> {
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

/// The sum of the rows of a `rows × width` matrix: a `1 × width` row.
pub(crate) fn sum_rows<F: Unsigned>(x: &Shared<Z64, F>, width: usize) -> Shared<Z64, F> {
    let mut sum = vec![Z64::ZERO; if x.role().is_helper() { 0 } else { width }];
    for row in x.data().chunks_exact(width.max(1)) {
        for (s, &v) in sum.iter_mut().zip(row) {
            *s += v;
        }
    }
    Shared::from_parts(x.role(), Shape::from([1, width]), sum)
}

/// The transpose of a matrix.
pub(crate) fn transpose<F: Unsigned>(x: &Shared<Z64, F>) -> Result<Shared<Z64, F>> {
    let (rows, cols) = x.shape().as_matrix("transpose")?;
    let data = if x.role().is_helper() {
        Vec::new()
    } else {
        let mut out = vec![Z64::ZERO; rows * cols];
        for (r, row) in x.data().chunks_exact(cols.max(1)).enumerate() {
            for (c, &v) in row.iter().enumerate() {
                out[c * rows + r] = v;
            }
        }
        out
    };
    Ok(Shared::from_parts(
        x.role(),
        Shape::from([cols, rows]),
        data,
    ))
}

/// A share under another shape with the same number of elements.
pub(crate) fn reshape<F: Unsigned>(x: &Shared<Z64, F>, shape: Shape) -> Result<Shared<Z64, F>> {
    x.clone().reshape(shape)
}

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

/// The one-hot routing of max pooling's backward pass: `one_hot` holds, for each window
/// of an NHWC output `[batch, oh, ow, channels]`, k² indicator shares in row-major window
/// order; the result puts `delta·one_hot` at each window's input positions.
pub(crate) fn scatter_windows<F: Unsigned>(
    routed: &Shared<Z64, F>,
    input: Shape,
    kernel: usize,
) -> Result<Shared<Z64, F>> {
    let dims = input.dims();
    let &[batch, height, width, channels] = dims else {
        return Err(Error::InvalidShape {
            operation: "max pooling backward",
            shape: input.clone(),
            reason: "max pooling needs NHWC images",
        });
    };
    if routed.role().is_helper() {
        return Ok(Shared::from_parts(routed.role(), input, Vec::new()));
    }
    let (oh, ow, n) = (height / kernel, width / kernel, kernel * kernel);
    let mut out = vec![Z64::ZERO; input.numel()];
    let data = routed.data();
    let mut window = 0;
    for b in 0..batch {
        for oy in 0..oh {
            for ox in 0..ow {
                for c in 0..channels {
                    for k in 0..n {
                        let (ky, kx) = (k / kernel, k % kernel);
                        let i = ((b * height + oy * kernel + ky) * width + ox * kernel + kx)
                            * channels
                            + c;
                        out[i] = data[window * n + k];
                    }
                    window += 1;
                }
            }
        }
    }
    Ok(Shared::from_parts(routed.role(), input, out))
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
