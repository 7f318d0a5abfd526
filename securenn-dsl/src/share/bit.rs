//! [`Bit`]: a secret bit, shared over Z_2^64 as the integer 0 or 1.

use core::fmt;

use typenum::U0;

use super::Shared;
use crate::error::Result;
use crate::party::Role;
use crate::ring::{Ring, Z64};
use crate::tensor::Shape;

/// A tensor of secret bits, each shared over Z_2^64 as the integer 0 or 1 (scale 0).
///
/// Only protocols make a `Bit` ([`drelu`](crate::protocol::drelu),
/// [`compute_msb`](crate::protocol::compute_msb)), so its values are always 0 or 1; it is
/// what [`select_share`](crate::protocol::select_share) consumes. Branching on it is
/// impossible: its value is secret.
pub struct Bit {
    shared: Shared<Z64, U0>,
}

impl Bit {
    /// Wraps shares whose reconstruction is known to be 0 or 1.
    pub(crate) fn from_shared(shared: Shared<Z64, U0>) -> Bit {
        Bit { shared }
    }

    /// The shares, as integers 0 or 1.
    pub fn as_shared(&self) -> &Shared<Z64, U0> {
        &self.shared
    }

    /// The shares, as integers 0 or 1, by value.
    pub fn into_shared(self) -> Shared<Z64, U0> {
        self.shared
    }

    /// The shape of the tensor of bits.
    pub fn shape(&self) -> &Shape {
        self.shared.shape()
    }

    /// The number of bits.
    pub fn len(&self) -> usize {
        self.shared.len()
    }

    /// Whether there are no bits.
    pub fn is_empty(&self) -> bool {
        self.shared.is_empty()
    }

    /// ¬b = 1 − b, locally: P0 computes 1 − ⟨b⟩₀, P1 computes −⟨b⟩₁.
    pub fn not(&self) -> Bit {
        let role = self.shared.role();
        let data = self
            .shared
            .data()
            .iter()
            .map(|&b| match role {
                Role::P0 => Z64::ONE - b,
                Role::P1 | Role::P2 => -b,
            })
            .collect();
        Bit::from_shared(Shared::from_parts(role, self.shape().clone(), data))
    }

    /// The same bits under another shape with the same number of elements.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`](crate::Error::InvalidShape) if the numbers of elements differ.
    pub fn reshape(self, shape: impl Into<Shape>) -> Result<Bit> {
        Ok(Bit::from_shared(self.shared.reshape(shape)?))
    }
}

impl core::ops::Not for Bit {
    type Output = Bit;

    /// ¬b, locally.
    fn not(self) -> Bit {
        Bit::not(&self)
    }
}

impl core::ops::Not for &Bit {
    type Output = Bit;

    /// ¬b, locally.
    fn not(self) -> Bit {
        Bit::not(self)
    }
}

impl Clone for Bit {
    fn clone(&self) -> Self {
        Bit::from_shared(self.shared.clone())
    }
}

impl fmt::Debug for Bit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bit")
            .field("role", &self.shared.role())
            .field("shape", self.shape())
            .finish_non_exhaustive()
    }
}
