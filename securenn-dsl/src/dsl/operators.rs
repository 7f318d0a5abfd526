//! The operators of a [`#[protocol]`](macro@crate::protocol) function: `+`, `-`, `*`, `/` and
//! the comparisons on shares.
//!
//! The macro turns `a + b` into a call of [`AddOp::add`] on the operands' kind: for shares
//! and public tensors ([`DslOperands`]) the operator is a protocol step, checked by the
//! [rules](super::rules); for anything else ([`PlainOperands`]) it is Rust's own operator,
//! so integer arithmetic on shapes and counters is unchanged.
//!
//! | Operator | Shares | Cost |
//! |---|---|---|
//! | `x + y`, `x - y` | same ring and scale; or a share and a [`Public`] | local |
//! | `x * y` | shares over `Z64`: a Beaver product (Algorithm 1), scales add up | 1 round |
//! | `x * c`, `c * x` | a share and a [`Public`], scales add up | local |
//! | `x / y` | shares over `Z64` of one scale, 0 ≤ x ≤ y: Division (Algorithm 8) | (f+1)·9 rounds |
//! | `x >= y`, `x > y`, `x <= y`, `x < y` | shares over `Z64` of one scale: a [`Bit`] by DReLU (Algorithm 6) | 8 rounds |

use core::future::{Future, ready};
use core::ops::{Add, Div, Mul, Sub};

use typenum::{Sum, Unsigned};

use super::rules::{ArithmeticRing, SameRing, SameScale};
use crate::error::Result;
use crate::protocol::{division, drelu, mul_elementwise};
use crate::ring::{Ring, Z64};
use crate::session::Context;
use crate::share::{Bit, Public, Shared};

/// A share or a public tensor, owned or borrowed: a value the DSL's operators act on.
pub trait Operand: Send + Sync {
    /// [`ShareClass`] or [`PublicClass`].
    type Class;
}

/// The class of [`Shared`] operands.
#[derive(Debug, Clone, Copy)]
pub struct ShareClass;

/// The class of [`Public`] operands.
#[derive(Debug, Clone, Copy)]
pub struct PublicClass;

/// A share, owned or borrowed: the operations of the DSL accept both, as Rust's operators
/// do.
pub trait AsShare: Send + Sync {
    /// The ring of the share.
    type Ring: Ring;
    /// The fixed-point scale (fractional bits) of the share.
    type Scale: Unsigned;

    /// The share.
    fn as_share(&self) -> &Shared<Self::Ring, Self::Scale>;
}

/// A public tensor, owned or borrowed.
pub trait AsPublic: Send + Sync {
    /// The ring of the tensor.
    type Ring: Ring;
    /// The fixed-point scale (fractional bits) of the tensor.
    type Scale: Unsigned;

    /// The tensor.
    fn as_public(&self) -> &Public<Self::Ring, Self::Scale>;
}

/// A secret bit, owned or borrowed.
pub trait AsBit: Send + Sync {
    /// The bit.
    fn as_bit(&self) -> &Bit;
}

impl<R: Ring, F: Unsigned> AsShare for Shared<R, F> {
    type Ring = R;
    type Scale = F;
    fn as_share(&self) -> &Shared<R, F> {
        self
    }
}

impl<X: AsShare + ?Sized> AsShare for &X {
    type Ring = X::Ring;
    type Scale = X::Scale;
    fn as_share(&self) -> &Shared<X::Ring, X::Scale> {
        (**self).as_share()
    }
}

impl<R: Ring, F: Unsigned> AsPublic for Public<R, F> {
    type Ring = R;
    type Scale = F;
    fn as_public(&self) -> &Public<R, F> {
        self
    }
}

impl<X: AsPublic + ?Sized> AsPublic for &X {
    type Ring = X::Ring;
    type Scale = X::Scale;
    fn as_public(&self) -> &Public<X::Ring, X::Scale> {
        (**self).as_public()
    }
}

impl AsBit for Bit {
    fn as_bit(&self) -> &Bit {
        self
    }
}

impl<X: AsBit + ?Sized> AsBit for &X {
    fn as_bit(&self) -> &Bit {
        (**self).as_bit()
    }
}

impl<R: Ring, F: Unsigned> Operand for Shared<R, F> {
    type Class = ShareClass;
}
impl<R: Ring, F: Unsigned> Operand for Public<R, F> {
    type Class = PublicClass;
}
impl<X: Operand + ?Sized> Operand for &X {
    type Class = X::Class;
}

/// The kind of a binary operation whose left operand is a share or a public tensor.
#[derive(Debug, Clone, Copy)]
pub struct DslOperands;

/// The kind of a binary operation on anything else: Rust's own operator.
#[derive(Debug, Clone, Copy)]
pub struct PlainOperands;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
}

/// `a + b`, for operands of kind `Self`.
pub trait AddOp<A, B> {
    /// The sum's type.
    type Output;

    /// The sum.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if two tensors' shapes differ.
    fn add(a: A, b: B) -> Result<Self::Output>;
}

/// `a - b`, for operands of kind `Self`.
pub trait SubOp<A, B> {
    /// The difference's type.
    type Output;

    /// The difference.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if two tensors' shapes differ.
    fn sub(a: A, b: B) -> Result<Self::Output>;
}

/// `a * b`, for operands of kind `Self`.
pub trait MulOp<A, B> {
    /// The product's type.
    type Output: Send;

    /// The product, in context `ctx`.
    ///
    /// # Errors
    ///
    /// Shape mismatches, or the transport's errors.
    fn mul<C: Context + ?Sized>(
        ctx: &C,
        a: A,
        b: B,
    ) -> impl Future<Output = Result<Self::Output>> + Send;
}

/// `a / b`, for operands of kind `Self`.
pub trait DivOp<A, B> {
    /// The quotient's type.
    type Output: Send;

    /// The quotient, in context `ctx`.
    ///
    /// # Errors
    ///
    /// Shape mismatches, or the transport's errors.
    fn div<C: Context + ?Sized>(
        ctx: &C,
        a: A,
        b: B,
    ) -> impl Future<Output = Result<Self::Output>> + Send;
}

/// `a < b` and the other comparisons, for operands of kind `Self`.
pub trait CompareOp<A, B> {
    /// `bool`, or a [`Bit`] for shares.
    type Output: Send;

    /// The comparison, in context `ctx`.
    ///
    /// # Errors
    ///
    /// Shape mismatches, or the transport's errors.
    fn compare<C: Context + ?Sized>(
        ctx: &C,
        comparison: Comparison,
        a: A,
        b: B,
    ) -> impl Future<Output = Result<Self::Output>> + Send;
}

// ---------------------------------------------------------------------------------------
// Rust's own operators.

impl<A: Add<B>, B> AddOp<A, B> for PlainOperands {
    type Output = A::Output;
    fn add(a: A, b: B) -> Result<A::Output> {
        Ok(a + b)
    }
}

impl<A: Sub<B>, B> SubOp<A, B> for PlainOperands {
    type Output = A::Output;
    fn sub(a: A, b: B) -> Result<A::Output> {
        Ok(a - b)
    }
}

impl<A: Mul<B>, B> MulOp<A, B> for PlainOperands
where
    A::Output: Send,
{
    type Output = A::Output;
    fn mul<C: Context + ?Sized>(
        _: &C,
        a: A,
        b: B,
    ) -> impl Future<Output = Result<A::Output>> + Send {
        ready(Ok(a * b))
    }
}

impl<A: Div<B>, B> DivOp<A, B> for PlainOperands
where
    A::Output: Send,
{
    type Output = A::Output;
    fn div<C: Context + ?Sized>(
        _: &C,
        a: A,
        b: B,
    ) -> impl Future<Output = Result<A::Output>> + Send {
        ready(Ok(a / b))
    }
}

impl<A: PartialOrd<B>, B> CompareOp<A, B> for PlainOperands {
    type Output = bool;
    fn compare<C: Context + ?Sized>(
        _: &C,
        comparison: Comparison,
        a: A,
        b: B,
    ) -> impl Future<Output = Result<bool>> + Send {
        ready(Ok(match comparison {
            Comparison::Less => a < b,
            Comparison::LessOrEqual => a <= b,
            Comparison::Greater => a > b,
            Comparison::GreaterOrEqual => a >= b,
        }))
    }
}

// ---------------------------------------------------------------------------------------
// Shares and public tensors: dispatched on the classes of the two operands.

/// A local, linear operation on shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linear {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
}

/// `a + b` and `a - b` for operands of classes `Self`.
pub trait LinearClasses<A, B> {
    /// The result's type.
    type Output;
    /// The sum or difference.
    #[doc(hidden)]
    fn combine(operation: Linear, a: A, b: B) -> Result<Self::Output>;
}

/// `a * b` for operands of classes `Self`.
pub trait MulClasses<A, B> {
    /// The product's type.
    type Output: Send;
    /// The product.
    #[doc(hidden)]
    fn mul<C: Context + ?Sized>(
        ctx: &C,
        a: A,
        b: B,
    ) -> impl Future<Output = Result<Self::Output>> + Send;
}

impl<A: Operand, B: Operand> AddOp<A, B> for DslOperands
where
    (A::Class, B::Class): LinearClasses<A, B>,
{
    type Output = <(A::Class, B::Class) as LinearClasses<A, B>>::Output;
    fn add(a: A, b: B) -> Result<Self::Output> {
        <(A::Class, B::Class)>::combine(Linear::Add, a, b)
    }
}

impl<A: Operand, B: Operand> SubOp<A, B> for DslOperands
where
    (A::Class, B::Class): LinearClasses<A, B>,
{
    type Output = <(A::Class, B::Class) as LinearClasses<A, B>>::Output;
    fn sub(a: A, b: B) -> Result<Self::Output> {
        <(A::Class, B::Class)>::combine(Linear::Sub, a, b)
    }
}

impl<A: Operand, B: Operand> MulOp<A, B> for DslOperands
where
    (A::Class, B::Class): MulClasses<A, B>,
{
    type Output = <(A::Class, B::Class) as MulClasses<A, B>>::Output;
    fn mul<C: Context + ?Sized>(
        ctx: &C,
        a: A,
        b: B,
    ) -> impl Future<Output = Result<Self::Output>> + Send {
        <(A::Class, B::Class)>::mul(ctx, a, b)
    }
}

// The common ring and scale of two operands: each rule's associated type, so that when a
// rule is broken the result has no type and the one error does not cascade.

/// The common ring of shares `A` and `B`.
pub(crate) type RingOf<A, B> = <<B as AsShare>::Ring as SameRing<<A as AsShare>::Ring>>::Common;
/// The common scale of shares `A` and `B`.
pub(crate) type ScaleOf<A, B> = <<B as AsShare>::Scale as SameScale<<A as AsShare>::Scale>>::Common;
/// The common ring of share `A` and public `B`.
type RingOfPublic<A, B> = <<B as AsPublic>::Ring as SameRing<<A as AsShare>::Ring>>::Common;
/// The common scale of share `A` and public `B`.
type ScaleOfPublic<A, B> = <<B as AsPublic>::Scale as SameScale<<A as AsShare>::Scale>>::Common;

/// Two shares of one ring and scale.
pub(crate) type SharePair<'x, R, F> = (&'x Shared<R, F>, &'x Shared<R, F>);

/// Shares `a` and `b` over their common ring and scale.
pub(crate) fn common<'x, A, B>(a: &'x A, b: &'x B) -> SharePair<'x, RingOf<A, B>, ScaleOf<A, B>>
where
    A: AsShare,
    B: AsShare,
    B::Ring: SameRing<A::Ring>,
    B::Scale: SameScale<A::Scale>,
{
    let left =
        <B::Scale as SameScale<A::Scale>>::left(<B::Ring as SameRing<A::Ring>>::left(a.as_share()));
    let right = <B::Scale as SameScale<A::Scale>>::right(<B::Ring as SameRing<A::Ring>>::right(
        b.as_share(),
    ));
    (left, right)
}

/// A share and a public tensor of one ring and scale.
type MixedPair<'x, R, F> = (&'x Shared<R, F>, &'x Public<R, F>);

/// Share `a` and public `b` over their common ring and scale.
fn common_public<'x, A, B>(
    a: &'x A,
    b: &'x B,
) -> MixedPair<'x, RingOfPublic<A, B>, ScaleOfPublic<A, B>>
where
    A: AsShare,
    B: AsPublic,
    B::Ring: SameRing<A::Ring>,
    B::Scale: SameScale<A::Scale>,
{
    let left =
        <B::Scale as SameScale<A::Scale>>::left(<B::Ring as SameRing<A::Ring>>::left(a.as_share()));
    let right = <B::Scale as SameScale<A::Scale>>::right_public(
        <B::Ring as SameRing<A::Ring>>::right_public(b.as_public()),
    );
    (left, right)
}

impl<A, B> LinearClasses<A, B> for (ShareClass, ShareClass)
where
    A: AsShare,
    B: AsShare,
    B::Ring: SameRing<A::Ring>,
    B::Scale: SameScale<A::Scale>,
{
    type Output = Shared<RingOf<A, B>, ScaleOf<A, B>>;
    fn combine(operation: Linear, a: A, b: B) -> Result<Self::Output> {
        let (a, b) = common(&a, &b);
        match operation {
            Linear::Add => a.try_add(b),
            Linear::Sub => a.try_sub(b),
        }
    }
}

impl<A, B> LinearClasses<A, B> for (ShareClass, PublicClass)
where
    A: AsShare,
    B: AsPublic,
    B::Ring: SameRing<A::Ring>,
    B::Scale: SameScale<A::Scale>,
{
    type Output = Shared<RingOfPublic<A, B>, ScaleOfPublic<A, B>>;
    fn combine(operation: Linear, a: A, b: B) -> Result<Self::Output> {
        let (a, b) = common_public(&a, &b);
        match operation {
            Linear::Add => a.add_public(b),
            Linear::Sub => a.add_public(&Public::new(negate(b.tensor()))),
        }
    }
}

impl<A, B> LinearClasses<A, B> for (PublicClass, ShareClass)
where
    A: AsPublic,
    B: AsShare,
    A::Ring: SameRing<B::Ring>,
    A::Scale: SameScale<B::Scale>,
{
    type Output = Shared<RingOfPublic<B, A>, ScaleOfPublic<B, A>>;
    fn combine(operation: Linear, a: A, b: B) -> Result<Self::Output> {
        let (b, a) = common_public(&b, &a);
        match operation {
            Linear::Add => b.add_public(a),
            Linear::Sub => b.negate().add_public(a),
        }
    }
}

impl<A, B> MulClasses<A, B> for (ShareClass, ShareClass)
where
    A: AsShare,
    B: AsShare,
    B::Ring: SameRing<A::Ring>,
    RingOf<A, B>: ArithmeticRing,
    A::Scale: Add<B::Scale>,
    Sum<A::Scale, B::Scale>: Unsigned,
{
    type Output = Shared<Z64, Sum<A::Scale, B::Scale>>;
    async fn mul<C: Context + ?Sized>(ctx: &C, a: A, b: B) -> Result<Self::Output> {
        let x = <RingOf<A, B> as ArithmeticRing>::share_as(<B::Ring as SameRing<A::Ring>>::left(
            a.as_share(),
        ));
        let y = <RingOf<A, B> as ArithmeticRing>::share_as(<B::Ring as SameRing<A::Ring>>::right(
            b.as_share(),
        ));
        mul_elementwise(ctx, x, y).await
    }
}

impl<A, B> MulClasses<A, B> for (ShareClass, PublicClass)
where
    A: AsShare,
    B: AsPublic,
    B::Ring: SameRing<A::Ring>,
    A::Scale: Add<B::Scale>,
    Sum<A::Scale, B::Scale>: Unsigned,
{
    type Output = Shared<RingOfPublic<A, B>, Sum<A::Scale, B::Scale>>;
    fn mul<C: Context + ?Sized>(
        _: &C,
        a: A,
        b: B,
    ) -> impl Future<Output = Result<Self::Output>> + Send {
        let x = <B::Ring as SameRing<A::Ring>>::left(a.as_share());
        let c = <B::Ring as SameRing<A::Ring>>::right_public(b.as_public());
        ready(x.mul_public(c))
    }
}

impl<A, B> MulClasses<A, B> for (PublicClass, ShareClass)
where
    A: AsPublic,
    B: AsShare,
    A::Ring: SameRing<B::Ring>,
    B::Scale: Add<A::Scale>,
    Sum<B::Scale, A::Scale>: Unsigned,
{
    type Output = Shared<RingOfPublic<B, A>, Sum<B::Scale, A::Scale>>;
    fn mul<C: Context + ?Sized>(
        _: &C,
        a: A,
        b: B,
    ) -> impl Future<Output = Result<Self::Output>> + Send {
        let x = <A::Ring as SameRing<B::Ring>>::left(b.as_share());
        let c = <A::Ring as SameRing<B::Ring>>::right_public(a.as_public());
        ready(x.mul_public(c))
    }
}

impl<A, B> DivOp<A, B> for DslOperands
where
    A: AsShare,
    B: AsShare,
    B::Ring: SameRing<A::Ring>,
    B::Scale: SameScale<A::Scale>,
    RingOf<A, B>: ArithmeticRing,
{
    type Output = Shared<Z64, ScaleOf<A, B>>;
    async fn div<C: Context + ?Sized>(ctx: &C, a: A, b: B) -> Result<Self::Output> {
        let (x, y) = common(&a, &b);
        let x = <RingOf<A, B> as ArithmeticRing>::share_as(x);
        let y = <RingOf<A, B> as ArithmeticRing>::share_as(y);
        division(ctx, x, y).await
    }
}

impl<A, B> CompareOp<A, B> for DslOperands
where
    A: AsShare,
    B: AsShare,
    B::Ring: SameRing<A::Ring>,
    B::Scale: SameScale<A::Scale>,
    RingOf<A, B>: ArithmeticRing,
{
    type Output = Bit;
    async fn compare<C: Context + ?Sized>(
        ctx: &C,
        comparison: Comparison,
        a: A,
        b: B,
    ) -> Result<Bit> {
        let (x, y) = common(&a, &b);
        let x = <RingOf<A, B> as ArithmeticRing>::share_as(x);
        let y = <RingOf<A, B> as ArithmeticRing>::share_as(y);
        // DReLU(d) is [d ≥ 0]: a ≥ b is DReLU(a − b), a ≤ b is DReLU(b − a), and the
        // strict comparisons are their negations.
        let (difference, negate) = match comparison {
            Comparison::GreaterOrEqual => (x.try_sub(y)?, false),
            Comparison::Less => (x.try_sub(y)?, true),
            Comparison::LessOrEqual => (y.try_sub(x)?, false),
            Comparison::Greater => (y.try_sub(x)?, true),
        };
        let bit = drelu(ctx, &difference).await?;
        Ok(if negate { bit.not() } else { bit })
    }
}

/// −t, elementwise.
fn negate<R: Ring>(t: &crate::tensor::Tensor<R>) -> crate::tensor::Tensor<R> {
    let mut out = t.clone();
    for v in out.data_mut() {
        *v = -*v;
    }
    out
}
