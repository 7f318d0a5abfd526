//! Algorithm 1's correlated randomness on its own: an elementwise Beaver triple dealt by
//! the helper, for protocols written on top of SecureNN. 1 round, 8 bytes per element.
//!
//! P2 draws U and V as the sums of streams it shares with P0 and with P1, so that each
//! holder derives its own shares of U and V without a message; P0's share of Z = U ⊙ V
//! is a third P0-P2 stream, and P2 sends only ⟨Z⟩₁ = U ⊙ V − ⟨Z⟩₀ to P1. Neither holder
//! learns anything about U, V or Z beyond its own uniformly random shares.

use typenum::U0;

use super::random_vec;
use crate::error::{Error, Result};
use crate::party::Role;
use crate::ring::Z64;
use crate::session::Context;
use crate::share::Shared;
use crate::tensor::Shape;

/// Stream labels of a triple call.
const U_SHARE: u32 = 0;
const V_SHARE: u32 = 1;
const Z_SHARE: u32 = 2;

/// Message step of a triple call: ⟨Z⟩₁ from P2 to P1.
const STEP_Z: u16 = 0;

/// Shares of random tensors U and V and of their elementwise product Z = U ⊙ V (scale 0).
/// The helper holds empty shares.
#[derive(Debug, Clone)]
pub struct Triple {
    /// Shares of the uniformly random U.
    pub u: Shared<Z64, U0>,
    /// Shares of the uniformly random V.
    pub v: Shared<Z64, U0>,
    /// Shares of Z = U ⊙ V.
    pub z: Shared<Z64, U0>,
}

/// Deals an elementwise Beaver triple of the given shape (the helper's step of
/// Algorithm 1): 1 round and 8 bytes per element, from P2 to P1. Users call it as
/// [`deal::<P2>`](crate::dsl::deal), which states at the type level that the helper deals.
pub(crate) async fn beaver_triple<C: Context + ?Sized>(
    ctx: &C,
    shape: impl Into<Shape>,
) -> Result<Triple> {
    let shape = shape.into();
    let call = ctx.open("beaver_triple");
    let role = call.role();
    let len = shape.checked_numel().ok_or(Error::InvalidShape {
        operation: "beaver_triple",
        shape: shape.clone(),
        reason: "the number of elements overflows",
    })?;
    let wrap = |data: Vec<Z64>| Shared::from_parts(role, shape.clone(), data);
    if role == Role::P2 && call.dealt_offline() {
        return Ok(Triple {
            u: wrap(Vec::new()),
            v: wrap(Vec::new()),
            z: wrap(Vec::new()),
        });
    }
    if role == Role::P2 {
        let mut u: Vec<Z64> = random_vec(&mut call.shared_prg(Role::P0, U_SHARE)?, len);
        let u1: Vec<Z64> = random_vec(&mut call.shared_prg(Role::P1, U_SHARE)?, len);
        let mut v: Vec<Z64> = random_vec(&mut call.shared_prg(Role::P0, V_SHARE)?, len);
        let v1: Vec<Z64> = random_vec(&mut call.shared_prg(Role::P1, V_SHARE)?, len);
        let z0: Vec<Z64> = random_vec(&mut call.shared_prg(Role::P0, Z_SHARE)?, len);
        for i in 0..len {
            u[i] += u1[i];
            v[i] += v1[i];
        }
        let z1: Vec<Z64> = (0..len).map(|i| u[i] * v[i] - z0[i]).collect();
        call.send_dealt(STEP_Z, &z1).await?;
        return Ok(Triple {
            u: wrap(Vec::new()),
            v: wrap(Vec::new()),
            z: wrap(Vec::new()),
        });
    }
    let u = random_vec(&mut call.shared_prg(Role::P2, U_SHARE)?, len);
    let v = random_vec(&mut call.shared_prg(Role::P2, V_SHARE)?, len);
    let z = if role == Role::P0 {
        random_vec(&mut call.shared_prg(Role::P2, Z_SHARE)?, len)
    } else {
        call.recv_dealt::<Z64>(STEP_Z, len).await?
    };
    Ok(Triple {
        u: wrap(u),
        v: wrap(v),
        z: wrap(z),
    })
}
