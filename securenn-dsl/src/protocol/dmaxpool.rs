//! Algorithm 10, DMaxpool: the one-hot vector of each window's argmax, shared over Z_2^64,
//! for routing gradients back through max pooling. 2 rounds; 8n + 2 bytes per window of n
//! values, against the paper's 16(n + 1): P0 and P1 send one byte each (their index shares
//! reduced mod n, as the reference code does) and P2 sends only P1's share of the one-hot
//! vector (P0's comes from the P0-P2 key).
//!
//! P0 and P1 hide the index with common random offsets r and s: P0 sends its share plus r,
//! P1 its share plus s (each mod n), so P2 sees two independent uniform values whatever the
//! index sharing, learns k = ind + r + s mod n, and deals shares of the one-hot vector e_k;
//! P0 and P1 rotate their shares left by r + s mod n, which moves the 1 to position ind. Reducing mod n is exact
//! because n divides 2^64, so n must be a power of two (at most 64 here, so that an index
//! travels as one element of Z_67).

use typenum::U0;

use super::check_holder;
use super::{deal_to_p1, random_vec, receive_dealt};
use crate::error::{Error, Result};
use crate::party::Role;
use crate::ring::{Ring, Z64, Zp};
use crate::session::Context;
use crate::share::Shared;
use crate::tensor::Shape;

/// Stream labels.
const OFFSETS: u32 = 0;
const DEALT_ONE_HOT: u32 = 1;

/// Message steps.
const STEP_INDEX: u16 = 0;
const STEP_ONE_HOT: u16 = 1;

/// The largest window this protocol handles.
const MAX_WINDOW: usize = 64;

/// Shares of the one-hot vector of each secret index in `argmax` (values in
/// 0..`window_len`), shape `argmax.shape() + [window_len]` (Algorithm 10). `window_len` must
/// be a power of two up to 64 (2×2, 4×4 and 8×8 pooling).
///
/// # Errors
///
/// [`Error::InvalidShape`] for another window size, or the transport's errors.
///
/// # Examples
///
/// ```
/// use securenn_dsl::prelude::*;
/// use securenn_dsl::protocol::dmaxpool;
/// use typenum::U0;
///
/// let [one_hot, _, _] = run_local(|session| async move {
///     let role = session.role();
///     let index = Private::<P0, _>::try_new(role, || Tensor::from_vec([2], vec![Z64::new(2), Z64::new(0)]))?;
///     let index: Shared<Z64, U0> = share(&session, &index, [2]).await?;
///     let one_hot = dmaxpool(&session, &index, 4).await?;
///     Ok(reveal_to::<P0, _>(&session, &one_hot).await?.into_inner())
/// })?;
/// let expected: Vec<Z64> = [0u64, 0, 1, 0, 1, 0, 0, 0].map(Z64::new).to_vec();
/// assert_eq!(one_hot.unwrap().data(), expected.as_slice());
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub async fn dmaxpool<C: Context + ?Sized>(
    ctx: &C,
    argmax: &Shared<Z64, U0>,
    window_len: usize,
) -> Result<Shared<Z64, U0>> {
    let call = ctx.open("dmaxpool");
    let session = ctx.session();
    check_holder(session, "dmaxpool", argmax)?;
    let n = window_len;
    if !n.is_power_of_two() || n > MAX_WINDOW {
        return Err(Error::InvalidShape {
            operation: "dmaxpool",
            shape: argmax.shape().clone(),
            reason: "the window size must be a power of two up to 64",
        });
    }
    let windows = argmax.len();
    let mut out_dims = argmax.shape().dims().to_vec();
    out_dims.push(n);
    let out_shape = Shape::from(out_dims);
    let role = session.role();
    let modulus = n as u64;

    let Some(other) = role.other_holder() else {
        let k0 = call.recv::<Zp>(Role::P0, STEP_INDEX, windows).await?;
        let k1 = call.recv::<Zp>(Role::P1, STEP_INDEX, windows).await?;
        let mut one_hot = vec![Z64::ZERO; windows * n];
        for (w, (a, b)) in k0.iter().zip(&k1).enumerate() {
            let k = (a.to_u64() + b.to_u64()) % modulus;
            #[allow(clippy::cast_possible_truncation, reason = "k < n <= 64")]
            let k = k as usize;
            one_hot[w * n + k] = Z64::ONE;
        }
        deal_to_p1(&call, DEALT_ONE_HOT, STEP_ONE_HOT, one_hot).await?;
        return Ok(Shared::from_parts(role, out_shape, Vec::new()));
    };

    // r for P0's share, s for P1's: both parties draw both, in this order.
    let mut prg = call.shared_prg(other, OFFSETS)?;
    let r: Vec<Z64> = random_vec(&mut prg, windows);
    let s: Vec<Z64> = random_vec(&mut prg, windows);
    let mine = if role == Role::P0 { &r } else { &s };
    let masked: Vec<Zp> = argmax
        .data()
        .iter()
        .zip(mine)
        .map(|(&index, &offset)| Zp::from_u64((index + offset).value() % modulus))
        .collect();
    let offsets: Vec<Z64> = r.iter().zip(&s).map(|(&a, &b)| a + b).collect();
    call.send(Role::P2, STEP_INDEX, &masked).await?;
    let dealt = receive_dealt::<Z64>(&call, DEALT_ONE_HOT, STEP_ONE_HOT, windows * n).await?;

    let mut one_hot = vec![Z64::ZERO; windows * n];
    for (w, r) in offsets.iter().enumerate() {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "the offset is reduced mod n <= 64"
        )]
        let shift = (r.value() % modulus) as usize;
        let source = &dealt[w * n..(w + 1) * n];
        for (i, slot) in one_hot[w * n..(w + 1) * n].iter_mut().enumerate() {
            *slot = source[(i + shift) % n];
        }
    }
    Ok(Shared::from_parts(role, out_shape, one_hot))
}
