//! Algorithm 1, MatMul: the product of two secret matrices (or, elementwise, of two secret
//! tensors) with a Beaver triple. 1 round; (2mn + 2nv + mv)·8 bytes for an (m×n)(n×v)
//! product, 40 bytes per element for the elementwise product.
//!
//! P2 deals a triple (U, V, Z = U·V) without sending most of it: P0 derives ⟨U⟩₀, ⟨V⟩₀
//! and ⟨Z⟩₀ from the P0-P2 key, P1 derives ⟨U⟩₁ and ⟨V⟩₁ from the P1-P2 key, and P2 sends
//! only ⟨Z⟩₁ = U·V − ⟨Z⟩₀ to P1. P1 never holds the P0-P2 key, so it cannot derive P0's
//! triple shares. P0 and P1 open E = X − U and F = Y − V (one message each way, in the same
//! round as P2's) and output
//!
//! ⟨W⟩ⱼ = ⟨X⟩ⱼ·F + E·(⟨Y⟩ⱼ − j·F) + ⟨Z⟩ⱼ,
//!
//! which adds up to (E + U)(F + V) = X·Y, a fresh sharing. E and F are uniformly random to
//! whoever sees them, because U and V are.

use core::ops::Add;

use typenum::{Sum, Unsigned};

use super::check_holder;
use super::{holder_index, random_vec};
use crate::error::{Error, Result};
use crate::party::Role;
use crate::ring::{Ring, Z64};
use crate::session::{Call, Context};
use crate::share::Shared;
use crate::tensor::{Conv2dGeometry, Shape, check_same_shape, im2col, matmul_into};

/// Stream labels of a Beaver call.
pub(crate) const U_SHARE: u32 = 0;
const V_SHARE: u32 = 1;
pub(crate) const Z_SHARE: u32 = 2;

/// Message steps of a Beaver call.
pub(crate) const STEP_Z: u16 = 0;
pub(crate) const STEP_EF: u16 = 1;

/// What kind of product a triple is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Product {
    /// (m×n)·(n×v).
    Matrix { m: usize, n: usize, v: usize },
    /// Elementwise, `len` elements.
    Elementwise { len: usize },
    /// A convolution: the left operand is an NHWC input, multiplied through its im2col matrix
    /// by `(patch × out_channels)` filters. The triple's U has the input's shape, so the
    /// parties open E = X − U on the input rather than on its much larger im2col matrix.
    Convolution {
        geometry: Conv2dGeometry,
        out_channels: usize,
    },
}

impl Product {
    /// The lengths of the left operand, the right operand and the product.
    pub(crate) fn lens(self) -> (usize, usize, usize) {
        match self {
            Product::Matrix { m, n, v } => (m * n, n * v, m * v),
            Product::Elementwise { len } => (len, len, len),
            Product::Convolution {
                geometry,
                out_channels,
            } => (
                geometry.input_shape().numel(),
                geometry.patch_len() * out_channels,
                geometry.rows() * out_channels,
            ),
        }
    }

    /// The plaintext product of `a` and `b`, into a new vector.
    pub(crate) fn apply(self, a: &[Z64], b: &[Z64]) -> Result<Vec<Z64>> {
        Ok(match self {
            Product::Matrix { m, n, v } => {
                let mut out = vec![Z64::ZERO; m * v];
                matmul_into(a, b, m, n, v, &mut out);
                out
            }
            Product::Elementwise { .. } => a.iter().zip(b).map(|(&x, &y)| x * y).collect(),
            Product::Convolution {
                geometry,
                out_channels,
            } => {
                let columns = im2col(a, &geometry)?;
                let (rows, patch) = (geometry.rows(), geometry.patch_len());
                let mut out = vec![Z64::ZERO; rows * out_channels];
                matmul_into(&columns, b, rows, patch, out_channels, &mut out);
                out
            }
        })
    }
}

/// The Beaver product of this party's shares `x` and `y` within `call`; the helper passes
/// empty slices and gets an empty vector.
pub(crate) async fn beaver(
    call: &Call<'_>,
    x: &[Z64],
    y: &[Z64],
    product: Product,
) -> Result<Vec<Z64>> {
    let (x_len, y_len, out_len) = product.lens();
    let role = call.role();
    if role == Role::P2 && call.dealt_offline() {
        // ⟨Z⟩₁ was dealt in the offline phase.
        return Ok(Vec::new());
    }
    if role == Role::P2 {
        let mut p0 = call.shared_prg(Role::P0, U_SHARE)?;
        let mut p1 = call.shared_prg(Role::P1, U_SHARE)?;
        let u = add(random_vec(&mut p0, x_len), &random_vec(&mut p1, x_len));
        let mut p0 = call.shared_prg(Role::P0, V_SHARE)?;
        let mut p1 = call.shared_prg(Role::P1, V_SHARE)?;
        let v = add(random_vec(&mut p0, y_len), &random_vec(&mut p1, y_len));
        let z0: Vec<Z64> = random_vec(&mut call.shared_prg(Role::P0, Z_SHARE)?, out_len);
        let mut z1 = product.apply(&u, &v)?;
        for (z, r) in z1.iter_mut().zip(&z0) {
            *z -= *r;
        }
        call.send_dealt(STEP_Z, &z1).await?;
        return Ok(Vec::new());
    }

    let other = role.other_holder().unwrap_or(Role::P0);
    let u: Vec<Z64> = random_vec(&mut call.shared_prg(Role::P2, U_SHARE)?, x_len);
    let v: Vec<Z64> = random_vec(&mut call.shared_prg(Role::P2, V_SHARE)?, y_len);
    let mut opening = Vec::with_capacity(x_len + y_len);
    opening.extend(x.iter().zip(&u).map(|(&a, &b)| a - b));
    opening.extend(y.iter().zip(&v).map(|(&a, &b)| a - b));
    call.send(other, STEP_EF, &opening).await?;

    let theirs = call.recv::<Z64>(other, STEP_EF, x_len + y_len).await?;
    for (mine, other) in opening.iter_mut().zip(&theirs) {
        *mine += *other;
    }
    let (e, f) = opening.split_at(x_len);

    // W_j = X_j·F + E·(Y_j − j·F) + Z_j; P1 takes ⟨Z⟩₁ last, so that its products overlap
    // with P2's.
    let j = Z64::new(holder_index(role));
    let y_minus_jf: Vec<Z64> = y.iter().zip(f).map(|(&yv, &fv)| yv - j * fv).collect();
    combine(call, product, (x, f), (e, &y_minus_jf), out_len).await
}

/// A holder's last step of a Beaver product: A·B + C·D + ⟨Z⟩ⱼ, with ⟨Z⟩ⱼ derived from the
/// P0-P2 key at P0 and dealt to P1 (read from its material in the online phase).
pub(crate) async fn combine(
    call: &Call<'_>,
    product: Product,
    (a, b): (&[Z64], &[Z64]),
    (c, d): (&[Z64], &[Z64]),
    out_len: usize,
) -> Result<Vec<Z64>> {
    let mut w = product.apply(a, b)?;
    for (w, cd) in w.iter_mut().zip(product.apply(c, d)?) {
        *w += cd;
    }
    let z = if call.role() == Role::P0 {
        random_vec(&mut call.shared_prg(Role::P2, Z_SHARE)?, out_len)
    } else {
        call.recv_dealt::<Z64>(STEP_Z, out_len).await?
    };
    for (w, z) in w.iter_mut().zip(z) {
        *w += z;
    }
    Ok(w)
}

/// The product of an `x`-shaped and a `y`-shaped matrix, and its shape.
pub(crate) fn matrix_product(x: &Shape, y: &Shape) -> Result<(Product, Shape)> {
    let (m, n) = x.as_matrix("matmul")?;
    let (n2, v) = y.as_matrix("matmul")?;
    if n != n2 {
        return Err(Error::ShapeMismatch {
            operation: "matmul",
            left: x.clone(),
            right: y.clone(),
        });
    }
    if m.checked_mul(v).is_none() {
        return Err(Error::InvalidShape {
            operation: "matmul",
            shape: Shape::from([m, v]),
            reason: "the product has more elements than memory can hold",
        });
    }
    Ok((Product::Matrix { m, n, v }, Shape::from([m, v])))
}

pub(crate) fn add(mut a: Vec<Z64>, b: &[Z64]) -> Vec<Z64> {
    for (x, &y) in a.iter_mut().zip(b) {
        *x += y;
    }
    a
}

/// The product X·Y of two secret matrices (Algorithm 1): a fresh sharing with the sum of
/// their scales (truncate it with [`truncate`](super::truncate)).
///
/// Costs one round and (2mn + 2nv + mv)·8 bytes for X m×n and Y n×v.
///
/// # Errors
///
/// [`Error::InvalidShape`] if an operand is not a matrix, [`Error::ShapeMismatch`] if the
/// inner dimensions differ, or the transport's errors.
///
/// # Examples
///
/// ```
/// use securenn_dsl::prelude::*;
/// use securenn_dsl::protocol::matmul;
/// use typenum::U0;
///
/// let [product, _, _] = run_local(|session| async move {
///     let role = session.role();
///     let a = Private::<P0, _>::try_new(role, || Tensor::from_vec([1, 2], vec![Z64::new(2), Z64::new(3)]))?;
///     let b = Private::<P1, _>::try_new(role, || Tensor::from_vec([2, 1], vec![Z64::new(5), Z64::new(7)]))?;
///     let a: Shared<Z64, U0> = share(&session, &a, [1, 2]).await?;
///     let b: Shared<Z64, U0> = share(&session, &b, [2, 1]).await?;
///     let c = matmul(&session, &a, &b).await?;
///     Ok(reveal_to::<P0, _>(&session, &c).await?.into_inner())
/// })?;
/// assert_eq!(product.unwrap().data(), &[Z64::new(31)]); // 2·5 + 3·7
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub async fn matmul<C, F, G>(
    ctx: &C,
    x: &Shared<Z64, F>,
    y: &Shared<Z64, G>,
) -> Result<Shared<Z64, Sum<F, G>>>
where
    C: Context + ?Sized,
    F: Unsigned + Add<G>,
    G: Unsigned,
    Sum<F, G>: Unsigned,
{
    let call = ctx.open("matmul");
    let session = ctx.session();
    check_holder(session, "matmul", x)?;
    check_holder(session, "matmul", y)?;
    let (product, shape) = matrix_product(x.shape(), y.shape())?;
    let w = beaver(&call, x.data(), y.data(), product).await?;
    Ok(Shared::from_parts(session.role(), shape, w))
}

/// The elementwise (Hadamard) product of two secret tensors of the same shape (Algorithm 1
/// on 1×1 matrices, vectorized): a fresh sharing with the sum of their scales.
///
/// Costs one round and 40 bytes per element.
///
/// # Errors
///
/// [`Error::ShapeMismatch`] if the shapes differ, or the transport's errors.
pub async fn mul_elementwise<C, F, G>(
    ctx: &C,
    x: &Shared<Z64, F>,
    y: &Shared<Z64, G>,
) -> Result<Shared<Z64, Sum<F, G>>>
where
    C: Context + ?Sized,
    F: Unsigned + Add<G>,
    G: Unsigned,
    Sum<F, G>: Unsigned,
{
    let call = ctx.open("mul_elementwise");
    let session = ctx.session();
    check_holder(session, "mul_elementwise", x)?;
    check_holder(session, "mul_elementwise", y)?;
    check_same_shape("mul_elementwise", x.shape(), y.shape())?;
    let product = Product::Elementwise { len: x.len() };
    let w = beaver(&call, x.data(), y.data(), product).await?;
    Ok(Shared::from_parts(session.role(), x.shape().clone(), w))
}
