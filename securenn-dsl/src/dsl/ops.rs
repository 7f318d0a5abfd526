//! The operations of a [`#[protocol]`](crate::protocol) function, with the shapes the macro
//! calls them with: the context first, then the operands, owned or borrowed.
//!
//! Inside a `#[protocol]` function write `relu(&x)`; the macro passes the context and
//! awaits the call. Outside, call them as any async function: `relu(&session, &x).await?`.

use core::ops::Add;

use typenum::{Sum, U0, Unsigned};

use super::operators::{AsBit, AsShare};
use super::rules::{
    ArithmeticRing, HelperParty, OddRing, PrimeRing, ProductScale, SameRing, SameScale,
};
use crate::error::Result;
use crate::party::{Common, P2, Revealed};
use crate::protocol::{self, MaxPool, Pool2d, Relu, Triple};
use crate::ring::{Z64, ZOdd};
use crate::session::Context;
use crate::share::{Bit, Shared};
use crate::tensor::Shape;

/// The share over `Z64`, as the arithmetic protocols take it.
fn arithmetic<X: AsShare>(x: &X) -> &Shared<Z64, X::Scale>
where
    X::Ring: ArithmeticRing,
{
    <X::Ring as ArithmeticRing>::share_as(x.as_share())
}

/// `y` over `Z64` with the scale of `x`, which the bounds say it has.
fn like<X: AsShare, Y: AsShare>(y: &Y) -> &Shared<Z64, X::Scale>
where
    X::Ring: ArithmeticRing,
    Y::Ring: SameRing<X::Ring>,
    Y::Scale: SameScale<X::Scale>,
{
    <X::Ring as ArithmeticRing>::share_as(<Y::Scale as SameScale<X::Scale>>::share_as(
        <Y::Ring as SameRing<X::Ring>>::share_as(y.as_share()),
    ))
}

/// max(x, 0) elementwise (ReLU, Algorithm 7), for |x| < 2^62. 9 rounds.
///
/// # Errors
///
/// The transport's errors.
pub async fn relu<C, X>(ctx: &C, x: X) -> Result<Shared<Z64, X::Scale>>
where
    C: Context + ?Sized,
    X: AsShare,
    X::Ring: ArithmeticRing,
{
    Ok(protocol::relu(ctx, arithmetic(&x)).await?.value)
}

/// max(x, 0) and its derivative, the bit [x ≥ 0] (ReLU, Algorithm 7), for training.
///
/// # Errors
///
/// The transport's errors.
pub async fn relu_with_derivative<C, X>(ctx: &C, x: X) -> Result<Relu<X::Scale>>
where
    C: Context + ?Sized,
    X: AsShare,
    X::Ring: ArithmeticRing,
{
    protocol::relu(ctx, arithmetic(&x)).await
}

/// The bit [x ≥ 0] elementwise (DReLU, Algorithm 6), for |x| < 2^62. 8 rounds.
///
/// # Errors
///
/// The transport's errors.
pub async fn drelu<C, X>(ctx: &C, x: X) -> Result<Bit>
where
    C: Context + ?Sized,
    X: AsShare,
    X::Ring: ArithmeticRing,
{
    protocol::drelu(ctx, arithmetic(&x)).await
}

/// `b ? x : y` elementwise: x where the secret bit is 1, y where it is 0 (SelectShare,
/// Algorithm 2). 1 round. `x` and `y` must have the same ring and scale.
///
/// # Errors
///
/// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes differ, or the
/// transport's errors.
pub async fn select<C, B, X, Y>(ctx: &C, b: B, x: X, y: Y) -> Result<Shared<Z64, X::Scale>>
where
    C: Context + ?Sized,
    B: AsBit,
    X: AsShare,
    Y: AsShare,
    X::Ring: ArithmeticRing,
    Y::Ring: SameRing<X::Ring>,
    Y::Scale: SameScale<X::Scale>,
{
    // SelectShare(α, x, y) is (1 − α)·x + α·y: α = 1 picks its third argument.
    protocol::select_share(ctx, b.as_bit(), like::<X, Y>(&y), arithmetic(&x)).await
}

/// The matrix product X·Y (MatMul, Algorithm 1), with the sum of the scales. 1 round.
///
/// # Errors
///
/// [`Error::InvalidShape`](crate::Error::InvalidShape) or
/// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) for shapes that do not multiply,
/// or the transport's errors.
pub async fn matmul<C, X, Y>(ctx: &C, x: X, y: Y) -> Result<Shared<Z64, Sum<X::Scale, Y::Scale>>>
where
    C: Context + ?Sized,
    X: AsShare,
    Y: AsShare,
    X::Ring: ArithmeticRing,
    Y::Ring: SameRing<X::Ring>,
    X::Scale: Add<Y::Scale>,
    Sum<X::Scale, Y::Scale>: Unsigned,
{
    let y = <X::Ring as ArithmeticRing>::share_as(<Y::Ring as SameRing<X::Ring>>::share_as(
        y.as_share(),
    ));
    protocol::matmul(ctx, arithmetic(&x), y).await
}

/// The convolution of an NHWC `input` with HWIO `weights`, with `stride` and zero
/// `padding` (im2col and MatMul), with the sum of the scales. 1 round.
///
/// # Errors
///
/// [`Error::InvalidShape`](crate::Error::InvalidShape) for shapes that do not fit a
/// convolution, or the transport's errors.
pub async fn conv2d<C, X, W>(
    ctx: &C,
    input: X,
    weights: W,
    stride: usize,
    padding: usize,
) -> Result<Shared<Z64, Sum<X::Scale, W::Scale>>>
where
    C: Context + ?Sized,
    X: AsShare,
    W: AsShare,
    X::Ring: ArithmeticRing,
    W::Ring: SameRing<X::Ring>,
    X::Scale: Add<W::Scale>,
    Sum<X::Scale, W::Scale>: Unsigned,
{
    let weights = <X::Ring as ArithmeticRing>::share_as(<W::Ring as SameRing<X::Ring>>::share_as(
        weights.as_share(),
    ));
    protocol::conv2d(ctx, arithmetic(&input), weights, stride, padding).await
}

/// Max pooling of an NHWC tensor over `kernel`×`kernel` windows with stride `kernel`
/// (Maxpool, Algorithm 9).
///
/// # Errors
///
/// [`Error::InvalidShape`](crate::Error::InvalidShape) if the height or width is not a
/// multiple of the kernel, or the transport's errors.
pub async fn maxpool<C, X>(ctx: &C, input: X, kernel: usize) -> Result<Shared<Z64, X::Scale>>
where
    C: Context + ?Sized,
    X: AsShare,
    X::Ring: ArithmeticRing,
{
    Ok(maxpool_with_argmax(ctx, input, kernel).await?.max)
}

/// Max pooling with the index of each window's maximum, for training (Algorithm 9).
///
/// # Errors
///
/// As [`maxpool`].
pub async fn maxpool_with_argmax<C, X>(
    ctx: &C,
    input: X,
    kernel: usize,
) -> Result<MaxPool<X::Scale>>
where
    C: Context + ?Sized,
    X: AsShare,
    X::Ring: ArithmeticRing,
{
    protocol::maxpool(ctx, arithmetic(&input), Pool2d { kernel }).await
}

/// The one-hot expansion of each window's argmax into `window_len` positions (DMaxpool,
/// Algorithm 10). 2 rounds.
///
/// # Errors
///
/// [`Error::InvalidShape`](crate::Error::InvalidShape) unless `window_len` is a power of two
/// up to 64, or the transport's errors.
pub async fn dmaxpool<C, X>(ctx: &C, argmax: X, window_len: usize) -> Result<Shared<Z64, U0>>
where
    C: Context + ?Sized,
    X: AsShare<Scale = U0>,
    X::Ring: ArithmeticRing,
{
    protocol::dmaxpool(ctx, arithmetic(&argmax), window_len).await
}

/// x / y elementwise for 0 ≤ x ≤ y, y > 0, of one scale (Division, Algorithm 8); the same
/// as `x / y` on shares.
///
/// # Errors
///
/// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes differ, or the
/// transport's errors.
pub async fn divide<C, X, Y>(ctx: &C, x: X, y: Y) -> Result<Shared<Z64, X::Scale>>
where
    C: Context + ?Sized,
    X: AsShare,
    Y: AsShare,
    X::Ring: ArithmeticRing,
    Y::Ring: SameRing<X::Ring>,
    Y::Scale: SameScale<X::Scale>,
{
    protocol::division(ctx, arithmetic(&x), like::<X, Y>(&y)).await
}

/// Brings a product of two base-scale values (`Shared<Z64, U26>`) back to the base scale
/// (SecureML's local truncation, Algorithm 11). Local: no context, no message.
///
/// Truncating a value that is not such a product, or truncating twice, does not compile.
pub fn truncate<X>(x: X) -> Shared<Z64, <X::Scale as ProductScale>::Truncated>
where
    X: AsShare,
    X::Ring: ArithmeticRing,
    X::Scale: ProductScale,
{
    <X::Scale as ProductScale>::truncate(arithmetic(&x))
}

/// Shares of x over Z_2^64 converted to shares of x over Z_2^64−1 (ShareConvert,
/// Algorithm 4), for x ≠ 2^64 − 1, which ComputeMSB then takes. 4 rounds.
///
/// # Errors
///
/// The transport's errors.
pub async fn share_convert<C, X>(ctx: &C, x: X) -> Result<Shared<ZOdd, X::Scale>>
where
    C: Context + ?Sized,
    X: AsShare,
    X::Ring: ArithmeticRing,
{
    protocol::share_convert(ctx, arithmetic(&x)).await
}

/// The most significant bit of x, from shares over Z_2^64−1 (ComputeMSB, Algorithm 5).
/// 5 rounds.
///
/// # Errors
///
/// The transport's errors.
pub async fn compute_msb<C, X>(ctx: &C, x: X) -> Result<Bit>
where
    C: Context + ?Sized,
    X: AsShare,
    X::Ring: OddRing,
{
    protocol::compute_msb(ctx, <X::Ring as OddRing>::share_as(x.as_share())).await
}

/// β ⊕ (x > r) for each element, revealed to the helper only (PrivateCompare,
/// Algorithm 3), from the 64 bits of each x shared over Z_p. 1 round.
///
/// # Errors
///
/// [`Error::InvalidShape`](crate::Error::InvalidShape) for bit tensors of the wrong size,
/// or the transport's errors.
pub async fn private_compare<C, X>(
    ctx: &C,
    bits: X,
    threshold: &Common<Vec<u64>>,
    beta: &Common<Vec<bool>>,
) -> Result<Revealed<P2, Vec<bool>>>
where
    C: Context + ?Sized,
    X: AsShare<Scale = U0>,
    X::Ring: PrimeRing,
{
    let bits = <X::Ring as PrimeRing>::share_as(bits.as_share());
    protocol::private_compare(ctx, bits, threshold, beta).await
}

/// An elementwise Beaver triple of the given shape, dealt by the helper `P` (which must be
/// `P2`: a holder dealing would know the masks of its peer's values). 1 round.
///
/// # Errors
///
/// The transport's errors.
pub async fn deal<P: HelperParty>(
    ctx: &(impl Context + ?Sized),
    shape: impl Into<Shape>,
) -> Result<Triple> {
    protocol::beaver_triple(ctx, shape).await
}
