//! The operations of a [`#[protocol]`](macro@crate::protocol) function, with the shapes the macro
//! calls them with: the context first, then the operands, owned or borrowed.
//!
//! Inside a `#[protocol]` function write `relu(&x)`; the macro passes the context and
//! awaits the call. Outside, call them as any async function: `relu(&session, &x).await?`.
//!
//! Each returns a boxed [`Step`], whose type does not carry the operation's rules: a broken
//! rule is reported once, where the operation is called.

use core::future::Future;
use core::ops::Add;
use core::pin::Pin;

use typenum::{Sum, U0, U13, Unsigned};

use super::operators::{AsBit, AsShare, RingOf, ScaleOf, SharePair, common};
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

/// A protocol step in progress: a boxed future of its result.
pub type Step<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// The share over `Z64`, as the arithmetic protocols take it.
fn arithmetic<X: AsShare>(x: &X) -> &Shared<Z64, X::Scale>
where
    X::Ring: ArithmeticRing,
{
    <X::Ring as ArithmeticRing>::share_as(x.as_share())
}

/// Shares `x` and `y` over `Z64` with their common scale.
fn arithmetic_pair<'x, X: AsShare, Y: AsShare>(
    x: &'x X,
    y: &'x Y,
) -> SharePair<'x, Z64, ScaleOf<X, Y>>
where
    Y::Ring: SameRing<X::Ring>,
    Y::Scale: SameScale<X::Scale>,
    RingOf<X, Y>: ArithmeticRing,
{
    let (x, y) = common(x, y);
    (
        <RingOf<X, Y> as ArithmeticRing>::share_as(x),
        <RingOf<X, Y> as ArithmeticRing>::share_as(y),
    )
}

/// Two factors over `Z64`, each with its own scale.
type Factors<'x, X, Y> = (
    &'x Shared<Z64, <X as AsShare>::Scale>,
    &'x Shared<Z64, <Y as AsShare>::Scale>,
);

/// The product of shares `X` and `Y`, with the sum of their scales.
type Product<X, Y> = Shared<Z64, Sum<<X as AsShare>::Scale, <Y as AsShare>::Scale>>;

/// Shares `x` and `y` over `Z64`, each with its own scale (for products).
fn arithmetic_factors<'x, X: AsShare, Y: AsShare>(x: &'x X, y: &'x Y) -> Factors<'x, X, Y>
where
    Y::Ring: SameRing<X::Ring>,
    RingOf<X, Y>: ArithmeticRing,
{
    let left = <Y::Ring as SameRing<X::Ring>>::left(x.as_share());
    let right = <Y::Ring as SameRing<X::Ring>>::right(y.as_share());
    (
        <RingOf<X, Y> as ArithmeticRing>::share_as(left),
        <RingOf<X, Y> as ArithmeticRing>::share_as(right),
    )
}

/// max(x, 0) elementwise (ReLU, Algorithm 7), for |x| < 2^62. 9 rounds.
///
/// # Errors
///
/// The transport's errors.
pub fn relu<'a, C, X>(ctx: &'a C, x: X) -> Step<'a, Shared<Z64, X::Scale>>
where
    C: Context + ?Sized,
    X: AsShare + 'a,
    X::Ring: ArithmeticRing,
{
    Box::pin(async move { Ok(protocol::relu(ctx, arithmetic(&x)).await?.value) })
}

/// max(x, 0) and its derivative, the bit [x ≥ 0] (ReLU, Algorithm 7), for training.
///
/// # Errors
///
/// The transport's errors.
pub fn relu_with_derivative<'a, C, X>(ctx: &'a C, x: X) -> Step<'a, Relu<X::Scale>>
where
    C: Context + ?Sized,
    X: AsShare + 'a,
    X::Ring: ArithmeticRing,
{
    Box::pin(async move { protocol::relu(ctx, arithmetic(&x)).await })
}

/// The bit [x ≥ 0] elementwise (DReLU, Algorithm 6), for |x| < 2^62. 8 rounds.
///
/// # Errors
///
/// The transport's errors.
pub fn drelu<'a, C, X>(ctx: &'a C, x: X) -> Step<'a, Bit>
where
    C: Context + ?Sized,
    X: AsShare + 'a,
    X::Ring: ArithmeticRing,
{
    Box::pin(async move { protocol::drelu(ctx, arithmetic(&x)).await })
}

/// `b ? x : y` elementwise: x where the secret bit is 1, y where it is 0 (SelectShare,
/// Algorithm 2). 1 round. `x` and `y` must have the same ring and scale.
///
/// # Errors
///
/// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes differ, or the
/// transport's errors.
pub fn select<'a, C, B, X, Y>(ctx: &'a C, b: B, x: X, y: Y) -> Step<'a, Shared<Z64, ScaleOf<X, Y>>>
where
    C: Context + ?Sized,
    B: AsBit + 'a,
    X: AsShare + 'a,
    Y: AsShare + 'a,
    Y::Ring: SameRing<X::Ring>,
    Y::Scale: SameScale<X::Scale>,
    RingOf<X, Y>: ArithmeticRing,
{
    Box::pin(async move {
        let (x, y) = arithmetic_pair(&x, &y);
        // SelectShare(α, x, y) is (1 − α)·x + α·y: α = 1 picks its third argument.
        protocol::select_share(ctx, b.as_bit(), y, x).await
    })
}

/// The matrix product X·Y (MatMul, Algorithm 1), with the sum of the scales. 1 round.
///
/// # Errors
///
/// [`Error::InvalidShape`](crate::Error::InvalidShape) or
/// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) for shapes that do not multiply,
/// or the transport's errors.
pub fn matmul<'a, C, X, Y>(ctx: &'a C, x: X, y: Y) -> Step<'a, Product<X, Y>>
where
    C: Context + ?Sized,
    X: AsShare + 'a,
    Y: AsShare + 'a,
    Y::Ring: SameRing<X::Ring>,
    RingOf<X, Y>: ArithmeticRing,
    X::Scale: Add<Y::Scale>,
    Sum<X::Scale, Y::Scale>: Unsigned,
{
    Box::pin(async move {
        let (x, y) = arithmetic_factors(&x, &y);
        protocol::matmul(ctx, x, y).await
    })
}

/// The convolution of an NHWC `input` with HWIO `weights`, with `stride` and zero
/// `padding` (im2col and MatMul), with the sum of the scales. 1 round.
///
/// # Errors
///
/// [`Error::InvalidShape`](crate::Error::InvalidShape) for shapes that do not fit a
/// convolution, or the transport's errors.
pub fn conv2d<'a, C, X, W>(
    ctx: &'a C,
    input: X,
    weights: W,
    stride: usize,
    padding: usize,
) -> Step<'a, Product<X, W>>
where
    C: Context + ?Sized,
    X: AsShare + 'a,
    W: AsShare + 'a,
    W::Ring: SameRing<X::Ring>,
    RingOf<X, W>: ArithmeticRing,
    X::Scale: Add<W::Scale>,
    Sum<X::Scale, W::Scale>: Unsigned,
{
    Box::pin(async move {
        let (input, weights) = arithmetic_factors(&input, &weights);
        protocol::conv2d(ctx, input, weights, stride, padding).await
    })
}

/// Max pooling of an NHWC tensor over `kernel`×`kernel` windows with stride `kernel`
/// (Maxpool, Algorithm 9).
///
/// # Errors
///
/// [`Error::InvalidShape`](crate::Error::InvalidShape) if the height or width is not a
/// multiple of the kernel, or the transport's errors.
pub fn maxpool<'a, C, X>(ctx: &'a C, input: X, kernel: usize) -> Step<'a, Shared<Z64, X::Scale>>
where
    C: Context + ?Sized,
    X: AsShare + 'a,
    X::Ring: ArithmeticRing,
{
    Box::pin(async move {
        let pooled = protocol::maxpool(ctx, arithmetic(&input), Pool2d { kernel }).await?;
        Ok(pooled.max)
    })
}

/// Max pooling with the index of each window's maximum, for training (Algorithm 9).
///
/// # Errors
///
/// As [`maxpool`].
pub fn maxpool_with_argmax<'a, C, X>(
    ctx: &'a C,
    input: X,
    kernel: usize,
) -> Step<'a, MaxPool<X::Scale>>
where
    C: Context + ?Sized,
    X: AsShare + 'a,
    X::Ring: ArithmeticRing,
{
    Box::pin(async move { protocol::maxpool(ctx, arithmetic(&input), Pool2d { kernel }).await })
}

/// The one-hot expansion of each window's argmax into `window_len` positions (DMaxpool,
/// Algorithm 10). 2 rounds.
///
/// # Errors
///
/// [`Error::InvalidShape`](crate::Error::InvalidShape) unless `window_len` is a power of two
/// up to 64, or the transport's errors.
pub fn dmaxpool<'a, C, X>(ctx: &'a C, argmax: X, window_len: usize) -> Step<'a, Shared<Z64, U0>>
where
    C: Context + ?Sized,
    X: AsShare<Scale = U0> + 'a,
    X::Ring: ArithmeticRing,
{
    Box::pin(async move { protocol::dmaxpool(ctx, arithmetic(&argmax), window_len).await })
}

/// x / y elementwise for 0 ≤ x ≤ y, y > 0, of one scale (Division, Algorithm 8); the same
/// as `x / y` on shares.
///
/// # Errors
///
/// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes differ, or the
/// transport's errors.
pub fn divide<'a, C, X, Y>(ctx: &'a C, x: X, y: Y) -> Step<'a, Shared<Z64, ScaleOf<X, Y>>>
where
    C: Context + ?Sized,
    X: AsShare + 'a,
    Y: AsShare + 'a,
    Y::Ring: SameRing<X::Ring>,
    Y::Scale: SameScale<X::Scale>,
    RingOf<X, Y>: ArithmeticRing,
{
    Box::pin(async move {
        let (x, y) = arithmetic_pair(&x, &y);
        protocol::division(ctx, x, y).await
    })
}

/// Brings a product of two base-scale values (`Shared<Z64, U26>`) back to the base scale
/// (SecureML's local truncation, Algorithm 11). Local: no context, no message.
///
/// Truncating a value that is not such a product, or truncating twice, does not compile.
pub fn truncate<X>(x: X) -> Shared<Z64, U13>
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
pub fn share_convert<'a, C, X>(ctx: &'a C, x: X) -> Step<'a, Shared<ZOdd, X::Scale>>
where
    C: Context + ?Sized,
    X: AsShare + 'a,
    X::Ring: ArithmeticRing,
{
    Box::pin(async move { protocol::share_convert(ctx, arithmetic(&x)).await })
}

/// The most significant bit of x, from shares over Z_2^64−1 (ComputeMSB, Algorithm 5).
/// 5 rounds.
///
/// # Errors
///
/// The transport's errors.
pub fn compute_msb<'a, C, X>(ctx: &'a C, x: X) -> Step<'a, Bit>
where
    C: Context + ?Sized,
    X: AsShare + 'a,
    X::Ring: OddRing,
{
    Box::pin(async move {
        protocol::compute_msb(ctx, <X::Ring as OddRing>::share_as(x.as_share())).await
    })
}

/// β ⊕ (x > r) for each element, revealed to the helper only (PrivateCompare,
/// Algorithm 3), from the 64 bits of each x shared over Z_p. 1 round.
///
/// # Errors
///
/// [`Error::InvalidShape`](crate::Error::InvalidShape) for bit tensors of the wrong size,
/// or the transport's errors.
pub fn private_compare<'a, C, X>(
    ctx: &'a C,
    bits: X,
    threshold: &'a Common<Vec<u64>>,
    beta: &'a Common<Vec<bool>>,
) -> Step<'a, Revealed<P2, Vec<bool>>>
where
    C: Context + ?Sized,
    X: AsShare<Scale = U0> + 'a,
    X::Ring: PrimeRing,
{
    Box::pin(async move {
        let bits = <X::Ring as PrimeRing>::share_as(bits.as_share());
        protocol::private_compare(ctx, bits, threshold, beta).await
    })
}

/// An elementwise Beaver triple of the given shape, dealt by the helper `P`, which must be
/// `P2`: a holder that dealt would know the masks of its peer's values, so `deal::<P0>`
/// does not compile. 1 round, 8 bytes per element (P2 sends P1's share of the product;
/// every other share comes from the pairwise keys).
///
/// # Errors
///
/// [`Error::InvalidShape`](crate::Error::InvalidShape) if the number of elements
/// overflows, or the transport's errors.
///
/// # Examples
///
/// ```
/// use securenn_dsl::prelude::*;
///
/// let [at_p0, _, _] = run_local(|session| async move {
///     let triple = deal::<P2>(&session, [4]).await?;
///     let u = reveal_to::<P0, _>(&session, &triple.u).await?.into_inner();
///     let v = reveal_to::<P0, _>(&session, &triple.v).await?.into_inner();
///     let z = reveal_to::<P0, _>(&session, &triple.z).await?.into_inner();
///     Ok(u.zip(v).zip(z))
/// })?;
/// let ((u, v), z) = at_p0.unwrap();
/// for i in 0..4 {
///     assert_eq!(z.data()[i], u.data()[i] * v.data()[i]);
/// }
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub fn deal<'a, P: HelperParty>(
    ctx: &'a (impl Context + ?Sized),
    shape: impl Into<Shape>,
) -> Step<'a, Triple> {
    let shape = shape.into();
    Box::pin(async move { protocol::beaver_triple(ctx, shape).await })
}
