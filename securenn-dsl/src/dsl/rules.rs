//! The rules the compiler checks in a [`#[protocol]`](crate::protocol) function, as traits.
//!
//! Each trait is implemented exactly where its rule holds, and carries the sentence rustc
//! prints where it does not (`#[diagnostic::on_unimplemented]`). They appear in the bounds
//! of the DSL's operations; a user never implements them.

use typenum::{U13, U26, Unsigned};

use crate::party::{P2, Party};
use crate::ring::{Ring, Z64, ZOdd, Zp};
use crate::share::{Bit, Public, Shared};

/// `Self` is the ring `R`: two shares over different rings cannot be combined.
#[diagnostic::on_unimplemented(
    message = "cannot mix shares over `{R}` and `{Self}`",
    label = "this share is over `{Self}`, the other one over `{R}`",
    note = "shares over different rings never combine; to go from `Z64` to `ZOdd`, convert explicitly with `share_convert(x)`"
)]
pub trait SameRing<R: Ring>: Ring {
    /// The share, seen over `R` (which is `Self`).
    #[doc(hidden)]
    fn share_as<F: Unsigned>(x: &Shared<Self, F>) -> &Shared<R, F>;

    /// The public tensor, seen over `R` (which is `Self`).
    #[doc(hidden)]
    fn public_as<F: Unsigned>(x: &Public<Self, F>) -> &Public<R, F>;
}
impl<R: Ring> SameRing<R> for R {
    fn share_as<F: Unsigned>(x: &Shared<R, F>) -> &Shared<R, F> {
        x
    }

    fn public_as<F: Unsigned>(x: &Public<R, F>) -> &Public<R, F> {
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
    /// The share, seen with scale `F` (which is `Self`).
    #[doc(hidden)]
    fn share_as<R: Ring>(x: &Shared<R, Self>) -> &Shared<R, F>;

    /// The public tensor, seen with scale `F` (which is `Self`).
    #[doc(hidden)]
    fn public_as<R: Ring>(x: &Public<R, Self>) -> &Public<R, F>;
}
impl<F: Unsigned> SameScale<F> for F {
    fn share_as<R: Ring>(x: &Shared<R, F>) -> &Shared<R, F> {
        x
    }

    fn public_as<R: Ring>(x: &Public<R, F>) -> &Public<R, F> {
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
    /// The scale after truncation.
    type Truncated: Unsigned;

    /// Truncates `x` by the base scale's number of bits, locally.
    #[doc(hidden)]
    fn truncate(x: &Shared<Z64, Self>) -> Shared<Z64, Self::Truncated>;
}
impl ProductScale for U26 {
    type Truncated = U13;

    fn truncate(x: &Shared<Z64, U26>) -> Shared<Z64, U13> {
        x.truncate::<U13>()
    }
}

/// Party `Self` is party `P`: one party's private values exist only in that party's code.
#[diagnostic::on_unimplemented(
    message = "a value private to `{Self}` cannot be used in `{P}`'s code",
    label = "this value exists only at `{Self}`",
    note = "each party's private values stay at that party; to compute on values of two parties, share both with `share(x)`"
)]
pub trait SameParty<P: Party>: Party {}
impl<P: Party> SameParty<P> for P {}

/// The helper: the only party that may run a helper-only step such as dealing correlated
/// randomness.
#[diagnostic::on_unimplemented(
    message = "only the helper `P2` can run this step, not `{Self}`",
    label = "`{Self}` holds shares: dealing their correlated randomness would let it unmask them",
    note = "correlated randomness comes from the helper: write `deal::<P2>(shape)`"
)]
pub trait HelperParty: Party {}
impl HelperParty for P2 {}

/// The value of a branch condition or a `match` scrutinee, which must be public. A type
/// of kind `K` implements it for the values the program may branch on; for a secret
/// (a [`Bit`] or a [`Shared`]) nothing does.
#[diagnostic::on_unimplemented(
    message = "cannot branch on a secret `{T}`; use `select(b, x, y)`",
    label = "this value is secret at every party",
    note = "every party runs the same code, and none of them knows the value of a secret: compute both sides and pick one with `select(b, x, y)`"
)]
pub trait PublicBranch<T: ?Sized> {
    /// The value the branch sees: `T` itself.
    type Value: ?Sized;

    /// Passes `value` through.
    #[doc(hidden)]
    fn value(value: T) -> Self::Value
    where
        T: Sized,
        Self::Value: Sized;
}

/// The kind of a public value (anything but a share or a secret bit).
#[derive(Debug, Clone, Copy)]
pub struct PublicValue;

/// The kind of a secret: a [`Shared`] or a [`Bit`], owned or borrowed.
#[derive(Debug, Clone, Copy)]
pub struct SecretValue;

impl<T: ?Sized> PublicBranch<T> for PublicValue {
    type Value = T;

    fn value(value: T) -> T
    where
        T: Sized,
    {
        value
    }
}

/// A secret value: a share or a secret bit, owned or borrowed.
pub trait Secret {}
impl<R: Ring, F: Unsigned> Secret for Shared<R, F> {}
impl<R: Ring, F: Unsigned> Secret for &Shared<R, F> {}
impl Secret for Bit {}
impl Secret for &Bit {}
