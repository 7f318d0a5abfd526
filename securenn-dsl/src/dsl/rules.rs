//! The rules the compiler checks in a [`#[protocol]`](macro@crate::protocol) function, as traits.
//!
//! Each trait is implemented exactly where its rule holds, and carries the sentence rustc
//! prints where it does not (`#[diagnostic::on_unimplemented]`). They appear in the bounds
//! of the DSL's operations; a user never implements them.

use typenum::{U13, U26, Unsigned};

use crate::party::{P2, Party};
use crate::ring::{Ring, Z64, ZOdd, Zp};
use crate::share::{Bit, Public, Shared};

pub use crate::party::SameParty;

/// `Self` is the ring `R`: two shares over different rings cannot be combined.
#[diagnostic::on_unimplemented(
    message = "cannot mix shares over `{R}` and `{Self}`",
    label = "this share is over `{Self}`, the other one over `{R}`",
    note = "shares over different rings never combine; to go from `Z64` to `ZOdd`, convert explicitly with `share_convert(x)`"
)]
pub trait SameRing<R: Ring>: Ring {
    /// The common ring: `R`, which is `Self`. Results are typed over it, so that a broken
    /// rule leaves no type to cascade into further errors.
    type Common: Ring;

    /// The left operand, over the common ring.
    #[doc(hidden)]
    fn left<F: Unsigned>(x: &Shared<R, F>) -> &Shared<Self::Common, F>;

    /// The right operand, over the common ring.
    #[doc(hidden)]
    fn right<F: Unsigned>(x: &Shared<Self, F>) -> &Shared<Self::Common, F>;

    /// A public left operand, over the common ring.
    #[doc(hidden)]
    fn left_public<F: Unsigned>(x: &Public<R, F>) -> &Public<Self::Common, F>;

    /// A public right operand, over the common ring.
    #[doc(hidden)]
    fn right_public<F: Unsigned>(x: &Public<Self, F>) -> &Public<Self::Common, F>;
}
impl<R: Ring> SameRing<R> for R {
    type Common = R;

    fn left<F: Unsigned>(x: &Shared<R, F>) -> &Shared<R, F> {
        x
    }

    fn right<F: Unsigned>(x: &Shared<R, F>) -> &Shared<R, F> {
        x
    }

    fn left_public<F: Unsigned>(x: &Public<R, F>) -> &Public<R, F> {
        x
    }

    fn right_public<F: Unsigned>(x: &Public<R, F>) -> &Public<R, F> {
        x
    }
}

/// `Self` is the scale `F`: values with different numbers of fractional bits cannot be
/// added, subtracted, compared or selected between.
#[diagnostic::on_unimplemented(
    message = "cannot combine fixed-point values of different scales",
    label = "this value has another number of fractional bits",
    note = "a product has the scales of its factors added up: truncate it with `truncate(x)` before combining it with a value of the base scale"
)]
pub trait SameScale<F: Unsigned>: Unsigned {
    /// The common scale: `F`, which is `Self`.
    type Common: Unsigned;

    /// The left operand, with the common scale.
    #[doc(hidden)]
    fn left<R: Ring>(x: &Shared<R, F>) -> &Shared<R, Self::Common>;

    /// The right operand, with the common scale.
    #[doc(hidden)]
    fn right<R: Ring>(x: &Shared<R, Self>) -> &Shared<R, Self::Common>;

    /// A public left operand, with the common scale.
    #[doc(hidden)]
    fn left_public<R: Ring>(x: &Public<R, F>) -> &Public<R, Self::Common>;

    /// A public right operand, with the common scale.
    #[doc(hidden)]
    fn right_public<R: Ring>(x: &Public<R, Self>) -> &Public<R, Self::Common>;
}
impl<F: Unsigned> SameScale<F> for F {
    type Common = F;

    fn left<R: Ring>(x: &Shared<R, F>) -> &Shared<R, F> {
        x
    }

    fn right<R: Ring>(x: &Shared<R, F>) -> &Shared<R, F> {
        x
    }

    fn left_public<R: Ring>(x: &Public<R, F>) -> &Public<R, F> {
        x
    }

    fn right_public<R: Ring>(x: &Public<R, F>) -> &Public<R, F> {
        x
    }
}

/// A ring whose shares the arithmetic protocols (products, comparisons, ReLU, Maxpool,
/// Division, ShareConvert) accept: Z_2^64 only.
#[diagnostic::on_unimplemented(
    message = "this protocol computes on shares over `Z64`, not over `{Self}`",
    label = "a share over `{Self}`",
    note = "SecureNN's arithmetic protocols run over Z_2^64 (`Shared<Z64>`); `ZOdd` shares only feed `compute_msb` and `Zp` bit shares only feed `private_compare`"
)]
pub trait ArithmeticRing: Ring {
    /// The share, seen over `Z64` (which is `Self`).
    #[doc(hidden)]
    fn share_as<F: Unsigned>(x: &Shared<Self, F>) -> &Shared<Z64, F>;

    /// The public tensor, seen over `Z64` (which is `Self`).
    #[doc(hidden)]
    fn public_as<F: Unsigned>(x: &Public<Self, F>) -> &Public<Z64, F>;
}
impl ArithmeticRing for Z64 {
    fn share_as<F: Unsigned>(x: &Shared<Z64, F>) -> &Shared<Z64, F> {
        x
    }

    fn public_as<F: Unsigned>(x: &Public<Z64, F>) -> &Public<Z64, F> {
        x
    }
}

/// The ring of ComputeMSB's input: Z_2^64−1, the odd ring ShareConvert produces.
#[diagnostic::on_unimplemented(
    message = "`compute_msb` takes shares over Z_2^64-1 (`ZOdd`), not over `{Self}`",
    label = "a share over `{Self}`",
    note = "convert a `Shared<Z64>` with `share_convert(x)` first, or use `drelu(x)`, which does both"
)]
pub trait OddRing: Ring {
    /// The share, seen over `ZOdd` (which is `Self`).
    #[doc(hidden)]
    fn share_as<F: Unsigned>(x: &Shared<Self, F>) -> &Shared<ZOdd, F>;
}
impl OddRing for ZOdd {
    fn share_as<F: Unsigned>(x: &Shared<ZOdd, F>) -> &Shared<ZOdd, F> {
        x
    }
}

/// The ring of PrivateCompare's bit shares: Z_p with p = 67.
#[diagnostic::on_unimplemented(
    message = "`private_compare` takes bit shares over Z_p (`Zp`), not over `{Self}`",
    label = "a share over `{Self}`",
    note = "PrivateCompare needs the 64 bits of x shared over Z_p, as `Shared<Zp, U0>` with 64 values per element"
)]
pub trait PrimeRing: Ring {
    /// The share, seen over `Zp` (which is `Self`).
    #[doc(hidden)]
    fn share_as<F: Unsigned>(x: &Shared<Self, F>) -> &Shared<Zp, F>;
}
impl PrimeRing for Zp {
    fn share_as<F: Unsigned>(x: &Shared<Zp, F>) -> &Shared<Zp, F> {
        x
    }
}

/// The scale of a product of two values of the base scale (2·13 fractional bits), which
/// truncation brings back to the base scale.
#[diagnostic::on_unimplemented(
    message = "only a fixed-point product can be truncated, and only once",
    label = "this value does not have the doubled scale of a product",
    note = "`truncate(x)` takes a product of two base-scale values (`Shared<Z64, U26>`) back to `Shared<Z64>`; truncating a value of the base scale would divide it by 2^13"
)]
pub trait ProductScale: Unsigned {
    /// Truncates `x` by the base scale's number of bits, locally.
    #[doc(hidden)]
    fn truncate(x: &Shared<Z64, Self>) -> Shared<Z64, U13>;
}
impl ProductScale for U26 {
    fn truncate(x: &Shared<Z64, U26>) -> Shared<Z64, U13> {
        x.truncate::<U13>()
    }
}

/// The helper: the only party that may run a helper-only step such as dealing correlated
/// randomness.
#[diagnostic::on_unimplemented(
    message = "only the helper `P2` can run this step, not `{Self}`",
    label = "`{Self}` holds shares: dealing their correlated randomness would let it unmask them",
    note = "correlated randomness comes from the helper: write `deal::<P2>(shape)`"
)]
pub trait HelperParty: Party {}
impl HelperParty for P2 {}

/// A branch condition of kind `Self`, which must be public: [`PublicValue`] passes a
/// `bool` through; for a secret the leaf rules [`NoBranchOnBit`] and [`NoBranchOnShare`]
/// fail with their sentence.
pub trait PublicBranch<T> {
    /// The condition's value.
    #[doc(hidden)]
    fn value(value: T) -> bool;
}

/// A `match` scrutinee of kind `Self`, which must be public, as [`PublicBranch`].
pub trait PublicScrutinee<T> {}

/// Never implemented: branching on a secret bit.
#[diagnostic::on_unimplemented(
    message = "cannot branch on a secret `Bit`; use `select(b, x, y)`",
    label = "this bit is secret at every party",
    note = "every party runs the same code, and none of them knows a secret bit: compute both sides and pick one with `select(b, x, y)`"
)]
pub trait NoBranchOnBit {
    /// Nothing: no type implements the trait.
    #[doc(hidden)]
    fn never(self) -> bool;
}

/// Never implemented: branching on a secret share.
#[diagnostic::on_unimplemented(
    message = "cannot branch on a secret share; use `select(b, x, y)`",
    label = "this value is secret at every party",
    note = "every party runs the same code, and none of them knows a shared value: compare with `x >= y` or `drelu(x)` and pick with `select(b, x, y)`"
)]
pub trait NoBranchOnShare {
    /// Nothing: no type implements the trait.
    #[doc(hidden)]
    fn never(self) -> bool;
}

/// The kind of a public value (anything but a share or a secret bit).
#[derive(Debug, Clone, Copy)]
pub struct PublicValue;

/// The kind of a secret bit, owned or borrowed.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecretBit;

/// The kind of a share, owned or borrowed.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecretShare;

impl<T: Into<bool>> PublicBranch<T> for PublicValue {
    fn value(value: T) -> bool {
        value.into()
    }
}

impl<T: NoBranchOnBit> PublicBranch<T> for SecretBit {
    fn value(value: T) -> bool {
        value.never()
    }
}

impl<T: NoBranchOnShare> PublicBranch<T> for SecretShare {
    fn value(value: T) -> bool {
        value.never()
    }
}

impl<T> PublicScrutinee<T> for PublicValue {}
impl<T: NoBranchOnBit> PublicScrutinee<T> for SecretBit {}
impl<T: NoBranchOnShare> PublicScrutinee<T> for SecretShare {}

/// A secret value, owned or borrowed, and its kind.
pub trait Secret {
    /// [`SecretBit`] or [`SecretShare`].
    type Kind: Default;
}
impl<R: Ring, F: Unsigned> Secret for Shared<R, F> {
    type Kind = SecretShare;
}
impl Secret for Bit {
    type Kind = SecretBit;
}
impl<X: Secret + ?Sized> Secret for &X {
    type Kind = X::Kind;
}
