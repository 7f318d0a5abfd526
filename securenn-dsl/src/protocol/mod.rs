//! The SecureNN protocols, one file each, every one vectorized over whole tensors.
//!
//! | Protocol | Paper | Rounds (paper / here) | Bytes per element (paper / here) |
//! |---|---|---|---|
//! | [`matmul`] (m×n)(n×v) | Alg. 1 | 2 / 1 | 16(mn + nv) + 8mv / same |
//! | [`matmul_with_mask`], weights masked once | Alg. 1 | 2 / 1 | first as [`matmul`], then (2mn + mv)·8 |
//! | [`mul_elementwise`] | Alg. 1, 1×1 | 2 / 1 | 40 / 40 |
//! | [`conv2d`], input of s elements | im2col + Alg. 1 | 2 / 1 | (2m²f²i + 2f²oi + m²o)·8 / (2s + 2f²oi + m²o)·8 |
//! | [`truncate`] | Alg. 11 | 0 | 0 |
//! | [`select_share`] | Alg. 2 | 2 / 1 | 40 / 40 |
//! | [`private_compare`] | Alg. 3 | 1 / 1 | 128 / 128 |
//! | [`share_convert`] | Alg. 4 | 4 / 4 | 304 / 224 |
//! | [`compute_msb`] | Alg. 5 | 5 / 5 | 360 / 272 |
//! | [`drelu`] | Alg. 6 | 8 / 8 | 664 / 496 |
//! | [`relu`] | Alg. 7 | 10 / 9 | 704 / 536 |
//! | [`division`] | Alg. 8 | 10·13 / 9·14 | 704·13 / 536·14 |
//! | [`maxpool`], n values per window | Alg. 9 | 9(n−1) / 9⌈log₂ n⌉ | 744(n−1) / 576(n−1) |
//! | [`dmaxpool`] | Alg. 10 | 2 / 2 | 16(n+1) per window / 8n + 2 |
//! | [`deal::<P2>`](crate::dsl::deal), a triple alone | Alg. 1, P2's step | 1 / 1 | 8 per element, P2 to P1 |
//!
//! Where we send less than the paper, it is for one of two reasons, both kept within the
//! paper's security argument:
//! - **The helper's shares for P0 come from the P0-P2 key.** Whenever P2 deals a sharing
//!   (bit shares of x, shares of δ, of η′, of β′, of x and LSB(x), of a one-hot vector),
//!   P0's share is drawn from the stream P0 and P2 share, and P2 sends only P1's share:
//!   the same PRF trick the paper uses for Beaver triples, applied to every dealt value.
//! - **Convolution triples are taken on the input.** im2col is linear, so the parties open
//!   the masked input rather than its im2col matrix, which repeats each pixel f² times.
//! - **Independent messages share a round**, e.g. ComputeMSB's dealt randomness travels in
//!   the first round of ShareConvert inside DReLU, and Maxpool compares values in a
//!   tournament tree rather than a chain.
//!
//! **Offline dealing.** What P2 deals without looking at any input (every Beaver triple's
//! ⟨Z⟩₁, ComputeMSB's x with its bits and LSB) goes through `Call::send_dealt` and
//! `Call::recv_dealt`: inline it travels as it is dealt; in a run of offline
//! [`Material`](crate::session::Material) P2 skips it and P1 reads it from its material.
//! What P2 deals from values it received (ShareConvert's bits and δ, η′, β′, DMaxpool's
//! one-hot vectors) is online by nature.
//!
//! Every protocol opens its own [`Call`], so its random streams and
//! message tags are its own; P0 and P1 draw their common randomness (masks, comparison
//! bits, PrivateCompare's s_i and permutations) from their pairwise key, fresh per call.
//!
//! Its layer (the book's "Architecture" page): it may import only from `session`, `net`,
//! `prg`, `share`, `tensor`, `ring`, `error`, `party`, `shape` and `tag`.

mod argmax;
mod compute_msb;
mod conv2d;
pub mod cost;
mod division;
mod dmaxpool;
mod drelu;
mod matmul;
mod matmul_with_mask;
mod maxpool;
mod maxpool_relu;
mod private_compare;
mod relu;
mod select_share;
mod share_convert;
mod triple;
mod truncate;

pub use argmax::{MAX_ALL_PAIRS, argmax};
pub use compute_msb::compute_msb;
pub use conv2d::conv2d;
pub use division::division;
pub use dmaxpool::dmaxpool;
pub use drelu::drelu;
pub use matmul::{matmul, mul_elementwise};
pub use matmul_with_mask::{WeightMask, conv2d_with_mask, matmul_with_mask};
pub use maxpool::{MaxPool, Pool2d, maxpool};
pub use maxpool_relu::maxpool_relu;
pub use private_compare::{BIT_WIDTH, private_compare};
pub use relu::{Relu, relu};
pub use select_share::select_share;
pub use share_convert::share_convert;
pub use triple::Triple;
pub(crate) use triple::beaver_triple;
pub use truncate::truncate;

use crate::error::Result;
use crate::party::Role;
use crate::prg::Prg;
use crate::ring::{Ring, Z64};
use crate::session::{Call, DrawKind, DrawRequest};

/// [`Error::WrongRole`] unless `shared` is this session's party's share: a share built for
/// another role (with another length) would desynchronize the parties.
pub(crate) fn check_holder<R: Ring, F: typenum::Unsigned>(
    session: &crate::session::Session,
    operation: &'static str,
    shared: &crate::share::Shared<R, F>,
) -> Result<()> {
    if shared.role() == session.role() {
        Ok(())
    } else {
        Err(crate::error::Error::WrongRole {
            operation,
            role: session.role(),
            reason: "the share was made for another party",
        })
    }
}

/// Whether `a + b` overflows 64 bits: wrap(a, b, 2^64) of the paper.
#[inline(always)]
pub(crate) fn wraps(a: u64, b: u64) -> bool {
    a.overflowing_add(b).1
}

/// j of the paper: 0 at P0, 1 at P1.
#[inline(always)]
pub(crate) fn holder_index(role: Role) -> u64 {
    u64::from(role == Role::P1)
}

/// A public constant as a share: P0 holds it, P1 holds zero.
#[inline(always)]
pub(crate) fn public_share<R: Ring>(role: Role, value: R) -> R {
    if role == Role::P0 { value } else { R::ZERO }
}

/// `n` uniform elements of `R` from `prg`.
pub(crate) fn random_vec<R: Ring>(prg: &mut Prg, n: usize) -> Vec<R> {
    let mut out = vec![R::ZERO; n];
    R::fill_random(prg, &mut out);
    out
}

/// `n` uniform bits from `prg`.
pub(crate) fn random_bits(prg: &mut Prg, n: usize) -> Vec<bool> {
    let mut words = vec![Z64::ZERO; n.div_ceil(64)];
    Z64::fill_random(prg, &mut words);
    (0..n)
        .map(|i| (words[i / 64].value() >> (i % 64)) & 1 == 1)
        .collect()
}

/// Shares of zero between P0 and P1 from their common stream: P0 adds the mask, P1
/// subtracts it, so adding them re-randomizes a sharing without changing its value.
pub(crate) fn add_zero_share<R: Ring>(role: Role, prg: &mut Prg, values: &mut [R]) {
    let mut mask = vec![R::ZERO; values.len()];
    R::fill_random(prg, &mut mask);
    for (v, m) in values.iter_mut().zip(mask) {
        if role == Role::P0 {
            *v += m;
        } else {
            *v -= m;
        }
    }
}

/// P1's shares of `values` that P2 deals: `values` minus P0's shares, which are stream
/// `label` of the P0-P2 key.
fn p1_shares<R: Ring>(call: &Call<'_>, label: u32, mut values: Vec<R>) -> Result<Vec<R>> {
    let p0_shares: Vec<R> = random_vec(&mut call.shared_prg(Role::P0, label)?, values.len());
    for (v, s) in values.iter_mut().zip(p0_shares) {
        *v -= s;
    }
    Ok(values)
}

/// P0's share of `len` values P2 deals: stream `label` of the P0-P2 key (drawn in the
/// offline phase where P2 requested it).
fn p0_shares<R: Ring>(call: &Call<'_>, label: u32, len: usize) -> Result<Vec<R>> {
    if let Some(values) = call.drawn(Role::P2, label, (DrawKind::Uniform, len), len)? {
        return Ok(values);
    }
    Ok(random_vec(&mut call.shared_prg(Role::P2, label)?, len))
}

/// At P2, in its offline run: requests that P0 draw its shares of `len` values of Z_p
/// that P2 deals from stream `label` in the offline phase.
pub(crate) fn request_p0_shares(call: &Call<'_>, label: u32, len: usize) {
    if let Ok(label) = u8::try_from(label) {
        call.request_draw(&DrawRequest {
            holder: Role::P0,
            peer: Role::P2,
            label,
            kind: DrawKind::Uniform,
            len: len as u64,
            piece: len as u64,
        });
    }
}

/// P2 deals `values`: P0's shares are stream `label` of the P0-P2 key, and P1's shares
/// (`values` minus P0's) are sent to P1 as message `step`. P0 and P1 get theirs with
/// [`receive_dealt`].
pub(crate) async fn deal_to_p1<R: Ring>(
    call: &Call<'_>,
    label: u32,
    step: u16,
    values: Vec<R>,
) -> Result<()> {
    call.send(Role::P1, step, &p1_shares(call, label, values)?)
        .await
}

/// This holder's share of `len` values dealt by P2 with [`deal_to_p1`]: P0 derives it from
/// the P0-P2 key, P1 receives it.
pub(crate) async fn receive_dealt<R: Ring>(
    call: &Call<'_>,
    label: u32,
    step: u16,
    len: usize,
) -> Result<Vec<R>> {
    if call.role() == Role::P0 {
        p0_shares(call, label, len)
    } else {
        call.recv::<R>(Role::P2, step, len).await
    }
}

/// [`deal_to_p1`] for values that do not depend on the inputs: dealt in the offline
/// phase where there is one ([`Material`](crate::session::Material)), inline otherwise.
pub(crate) async fn deal_offline_to_p1<R: Ring>(
    call: &Call<'_>,
    label: u32,
    step: u16,
    values: Vec<R>,
) -> Result<()> {
    call.send_dealt(step, &p1_shares(call, label, values)?)
        .await
}

/// This holder's share of `len` values dealt with [`deal_offline_to_p1`]: P0 derives it
/// from the P0-P2 key, P1 receives it or reads it from its material.
pub(crate) async fn receive_offline_dealt<R: Ring>(
    call: &Call<'_>,
    label: u32,
    step: u16,
    len: usize,
) -> Result<Vec<R>> {
    if call.role() == Role::P0 {
        p0_shares(call, label, len)
    } else {
        call.recv_dealt::<R>(step, len).await
    }
}
