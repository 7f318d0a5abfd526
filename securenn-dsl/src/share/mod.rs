//! Shares: [`Shared<R, F>`], one party's additive share of a whole tensor over ring `R` with
//! `F` fractional bits; [`Public<R, F>`], a tensor every party knows; and the local
//! operations. Input sharing and reveal, which talk, are the DSL's
//! ([`share`](crate::dsl::share), [`reveal_to`](crate::dsl::reveal_to)).
//!
//! A secret tensor x over Z_2^64 is held as ⟨x⟩₀ at P0 and ⟨x⟩₁ at P1 with
//! ⟨x⟩₀ + ⟨x⟩₁ = x (mod 2^64); each share alone is uniformly random. The helper P2 holds
//! no share: at P2 a `Shared` carries the tensor's shape only, so that the same program
//! runs at every party.
//!
//! Addition, subtraction, negation and multiplication by a public value are local. The
//! fixed-point scale is part of the type: a product of scales `F` and `G` has scale
//! `F + G` until it is [truncated](Shared::truncate), and adding values of different
//! scales does not compile.
//!
//! Its layer (the book's "Architecture" page): it may import only from `tensor`, `ring`,
//! `error`, `party`, `shape` and `tag`.

mod bit;
mod truncate;

pub use bit::Bit;

use core::fmt;
use core::marker::PhantomData;
use core::ops::{Add, Neg, Sub};

use typenum::{Sum, U13, Unsigned};

use crate::error::{Error, Result};
use crate::party::Role;
use crate::ring::{Ring, Z64};
use crate::tensor::fixed;
use crate::tensor::{Shape, Tensor, check_same_shape};

/// One party's additive share of a secret tensor over ring `R`, with `F` fractional bits
/// (13 by default; integers and bits have scale `U0`).
///
/// Its `Debug` output shows the role, ring and shape, never the share.
///
/// # Examples
///
/// ```
/// use securenn_dsl::party::{P0, P1, Private};
/// use securenn_dsl::ring::Z64;
/// use securenn_dsl::tensor::fixed;
/// use securenn_dsl::session::run_local;
/// use securenn_dsl::dsl::{reveal_to, share};
/// use securenn_dsl::share::Shared;
///
/// let [at_p0, _, _] = run_local(|session| async move {
///     let role = session.role();
///     // P0's input is 1.5 and P1's is -4.0; each exists only at its owner.
///     let x = Private::<P0, _>::try_new(role, || fixed::encode_tensor([1], &[1.5], 13))?;
///     let y = Private::<P1, _>::try_new(role, || fixed::encode_tensor([1], &[-4.0], 13))?;
///     let x: Shared<Z64> = share(&session, &x, [1]).await?;
///     let y: Shared<Z64> = share(&session, &y, [1]).await?;
///     let sum = reveal_to::<P0, _>(&session, &(&x + &y)).await?;
///     Ok(sum.into_inner().map(|t| fixed::decode(t.data()[0], 13)))
/// })?;
/// assert_eq!(at_p0, Some(-2.5));
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub struct Shared<R: Ring, F: Unsigned = U13> {
    role: Role,
    shape: Shape,
    /// The share, row-major; empty at the helper.
    data: Vec<R>,
    /// The scale, as a type only: `fn() -> F` keeps the share `Send` and `Sync` for any `F`.
    scale: PhantomData<fn() -> F>,
}

impl<R: Ring, F: Unsigned> Shared<R, F> {
    /// Wraps this party's share. At the helper `data` must be empty; at P0 and P1 it must
    /// hold `shape.numel()` elements.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if the length does not fit the role and shape.
    pub fn from_share(role: Role, shape: impl Into<Shape>, data: Vec<R>) -> Result<Self> {
        let shape = shape.into();
        let expected = if role.is_helper() {
            Some(0)
        } else {
            shape.checked_numel()
        };
        if expected != Some(data.len()) {
            return Err(Error::InvalidShape {
                operation: "Shared::from_share",
                shape,
                reason: "the share's length does not fit the shape (the helper holds none)",
            });
        }
        Ok(Self::from_parts(role, shape, data))
    }

    pub(crate) fn from_parts(role: Role, shape: Shape, data: Vec<R>) -> Self {
        Shared {
            role,
            shape,
            data,
            scale: PhantomData,
        }
    }

    /// This party's share (empty at the helper), for the protocols.
    pub(crate) fn data(&self) -> &[R] {
        &self.data
    }

    /// The share by value, for the protocols.
    pub(crate) fn into_data(self) -> Vec<R> {
        self.data
    }

    /// The party holding this share.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The shape of the secret tensor.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The number of elements of the secret tensor.
    pub fn len(&self) -> usize {
        self.shape.numel()
    }

    /// Whether the secret tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The fractional bits `F`.
    pub fn fractional_bits(&self) -> u32 {
        F::U32
    }

    /// This party's share, row-major; `None` at the helper, which holds none.
    pub fn local_share(&self) -> Option<&[R]> {
        (!self.role.is_helper()).then_some(self.data.as_slice())
    }

    /// The same secret under another shape with the same number of elements.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if the numbers of elements differ.
    pub fn reshape(self, shape: impl Into<Shape>) -> Result<Self> {
        let shape = shape.into();
        if shape.checked_numel() != Some(self.len()) {
            return Err(Error::InvalidShape {
                operation: "reshape",
                shape,
                reason: "the number of elements differs from the shared tensor's",
            });
        }
        Ok(Self::from_parts(self.role, shape, self.data))
    }

    /// Combines two shares of the same shape elementwise (a local operation).
    fn zip_with(
        &self,
        other: &Self,
        operation: &'static str,
        f: impl Fn(R, R) -> R,
    ) -> Result<Self> {
        check_same_shape(operation, &self.shape, &other.shape)?;
        let data = self
            .data
            .iter()
            .zip(&other.data)
            .map(|(&a, &b)| f(a, b))
            .collect();
        Ok(Self::from_parts(self.role, self.shape.clone(), data))
    }

    /// ⟨x + y⟩ = ⟨x⟩ + ⟨y⟩, locally.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if the shapes differ.
    pub fn try_add(&self, other: &Self) -> Result<Self> {
        self.zip_with(other, "add", |a, b| a + b)
    }

    /// ⟨x − y⟩ = ⟨x⟩ − ⟨y⟩, locally.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if the shapes differ.
    pub fn try_sub(&self, other: &Self) -> Result<Self> {
        self.zip_with(other, "sub", |a, b| a - b)
    }

    /// ⟨−x⟩ = −⟨x⟩, locally.
    pub fn negate(&self) -> Self {
        let data = self.data.iter().map(|&a| -a).collect();
        Self::from_parts(self.role, self.shape.clone(), data)
    }

    /// ⟨x + c⟩ for a public tensor c of the same scale: P0 adds c to its share, P1 keeps its
    /// share.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if the shapes differ.
    pub fn add_public(&self, c: &Public<R, F>) -> Result<Self> {
        check_same_shape("add_public", &self.shape, c.tensor.shape())?;
        let data = match self.role {
            Role::P0 => self
                .data
                .iter()
                .zip(c.tensor.data())
                .map(|(&a, &b)| a + b)
                .collect(),
            Role::P1 | Role::P2 => self.data.clone(),
        };
        Ok(Self::from_parts(self.role, self.shape.clone(), data))
    }

    /// ⟨x ⊙ c⟩ for a public tensor c, elementwise and locally: each party multiplies its
    /// share. The scales add up: the result has `F + G` fractional bits until it is
    /// truncated.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if the shapes differ.
    pub fn mul_public<G>(&self, c: &Public<R, G>) -> Result<Shared<R, Sum<F, G>>>
    where
        G: Unsigned,
        F: Add<G>,
        Sum<F, G>: Unsigned,
    {
        check_same_shape("mul_public", &self.shape, c.tensor.shape())?;
        let data = self
            .data
            .iter()
            .zip(c.tensor.data())
            .map(|(&a, &b)| a * b)
            .collect();
        Ok(Shared::from_parts(self.role, self.shape.clone(), data))
    }

    /// ⟨k·x⟩ for a public integer k (scale unchanged), locally.
    pub fn mul_integer(&self, k: R) -> Self {
        let data = self.data.iter().map(|&a| a * k).collect();
        Self::from_parts(self.role, self.shape.clone(), data)
    }
}

impl<R: Ring, F: Unsigned> Clone for Shared<R, F> {
    fn clone(&self) -> Self {
        Self::from_parts(self.role, self.shape.clone(), self.data.clone())
    }
}

impl<R: Ring, F: Unsigned> fmt::Debug for Shared<R, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("role", &self.role)
            .field("ring", &R::NAME)
            .field("fractional_bits", &F::U32)
            .field("shape", &self.shape)
            .finish_non_exhaustive()
    }
}

/// Implements `+` and `-` for owned and borrowed shares, and unary `-`.
macro_rules! impl_share_operators {
    ($($trait:ident $method:ident $checked:ident),*) => {$(
        impl<R: Ring, F: Unsigned> $trait<&Shared<R, F>> for &Shared<R, F> {
            type Output = Shared<R, F>;

            /// # Panics
            ///
            /// If the shapes differ; use the `try_` method to get an error instead.
            fn $method(self, rhs: &Shared<R, F>) -> Shared<R, F> {
                match self.$checked(rhs) {
                    Ok(result) => result,
                    Err(error) => panic!("{error}"),
                }
            }
        }

        impl<R: Ring, F: Unsigned> $trait for Shared<R, F> {
            type Output = Shared<R, F>;

            /// # Panics
            ///
            /// If the shapes differ; use the `try_` method to get an error instead.
            fn $method(self, rhs: Shared<R, F>) -> Shared<R, F> {
                (&self).$method(&rhs)
            }
        }
    )*};
}

impl_share_operators!(Add add try_add, Sub sub try_sub);

impl<R: Ring, F: Unsigned> Neg for &Shared<R, F> {
    type Output = Shared<R, F>;
    fn neg(self) -> Shared<R, F> {
        self.negate()
    }
}

impl<R: Ring, F: Unsigned> Neg for Shared<R, F> {
    type Output = Shared<R, F>;
    fn neg(self) -> Shared<R, F> {
        self.negate()
    }
}

/// A tensor every party knows (weights made public, constants), over ring `R` with `F`
/// fractional bits.
///
/// # Examples
///
/// ```
/// use securenn_dsl::share::Public;
///
/// let half = Public::<_>::encode([2], &[0.5, -0.25])?;
/// assert_eq!(half.decode(), [0.5, -0.25]);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Public<R: Ring, F: Unsigned = U13> {
    tensor: Tensor<R>,
    /// The scale, as a type only: `fn() -> F` keeps the share `Send` and `Sync` for any `F`.
    scale: PhantomData<fn() -> F>,
}

impl<R: Ring, F: Unsigned> Public<R, F> {
    /// A public tensor holding these ring elements (already at scale `F`).
    pub fn new(tensor: Tensor<R>) -> Self {
        Public {
            tensor,
            scale: PhantomData,
        }
    }

    /// The tensor.
    pub fn tensor(&self) -> &Tensor<R> {
        &self.tensor
    }

    /// The tensor, by value.
    pub fn into_tensor(self) -> Tensor<R> {
        self.tensor
    }
}

impl<F: Unsigned> Public<Z64, F> {
    /// Encodes reals in fixed point with `F` fractional bits.
    ///
    /// # Errors
    ///
    /// [`Error::FixedPointOverflow`] if a value cannot be encoded,
    /// [`Error::InvalidShape`] if `values` does not fit `shape`.
    pub fn encode(shape: impl Into<Shape>, values: &[f64]) -> Result<Self> {
        Ok(Public::new(Tensor::from_vec(
            shape,
            fixed::encode_all::<F>(values)?,
        )?))
    }

    /// Decodes the fixed-point values.
    pub fn decode(&self) -> Vec<f64> {
        fixed::decode_all::<F>(self.tensor.data())
    }
}
