//! Draws made offline: the Z_p randomness P0 and P1 would draw from their keys in the
//! online phase (PrivateCompare's multipliers and zero masks, P0's shares of the bits P2
//! deals), drawn in the offline phase instead and kept in their material.
//!
//! In its recording run P2 requests each such draw for the party that makes it: P2 takes
//! part in every comparison and deals every bit, so it knows each draw's call and size,
//! and nothing else about it (the values come from the P0-P1 key, which P2 does not hold,
//! or are P0's shares of what P2 deals, which P2 knows anyway). A request travels with the
//! run's material as a message of a draw step; the party that gets it replaces it with the
//! values, drawn from the same stream as online, and keeps them under the same call and
//! step. The online phase takes them instead of drawing: the same values, so the same
//! results and the same messages.

use crate::error::{Error, MaterialProblem, Result};
use crate::party::Role;
use crate::prg::{Prg, StreamId};
use crate::ring::{Ring, Zp};

use super::{DealerKeys, MAX_RUN_BYTES, RunMessages};

/// Steps at and above this one hold draws, not messages (every protocol's message steps
/// are small numbers).
const DRAW_STEPS: u16 = 0xF000;

/// Bytes of a request: the party that draws (1), the kind (1), the number of values (8)
/// and the size of the pieces they are drawn in (8).
const REQUEST_LEN: usize = 18;

/// Bytes before a draw's values where it is kept: its kind (1) and its pieces' size (8),
/// which the online phase checks against its own (P2 chose them).
pub(crate) const DRAWN_HEADER_LEN: usize = 9;

/// The smallest piece a request may name (unless it names one piece for all its values):
/// each piece costs at least a kilobyte of keystream, so smaller ones would let a request
/// multiply the offline work.
const MIN_PIECE: u64 = 4096;

/// What a draw's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DrawKind {
    /// Uniform in Z_p ([`Ring::fill_random`]).
    Uniform,
    /// Uniform in Z_p* ([`Zp::fill_random_nonzero`]).
    NonZero,
}

/// A draw P2 requests for `holder`: `len` values of Z_p from stream `label` of the call's
/// key with `peer`, drawn in pieces of `piece` values (as the online phase draws them: a
/// piece's leftover randomness is not carried into the next).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DrawRequest {
    pub(crate) holder: Role,
    pub(crate) peer: Role,
    pub(crate) label: u8,
    pub(crate) kind: DrawKind,
    pub(crate) len: u64,
    pub(crate) piece: u64,
}

/// The step under which draw `label` of the key with `peer` is kept.
pub(crate) fn drawn_step(peer: Role, label: u8) -> u16 {
    DRAW_STEPS | (u16::from(peer.id()) << 8) | u16::from(label)
}

/// Whether a material message of this step is a draw (or a request for one).
pub(crate) fn is_draw(step: u16) -> bool {
    step & DRAW_STEPS == DRAW_STEPS
}

impl DrawKind {
    fn id(self) -> u8 {
        match self {
            DrawKind::Uniform => 0,
            DrawKind::NonZero => 1,
        }
    }
}

/// The header a draw of `kind` in pieces of `piece` is kept with.
pub(crate) fn drawn_header(kind: DrawKind, piece: u64) -> [u8; DRAWN_HEADER_LEN] {
    let mut header = [0u8; DRAWN_HEADER_LEN];
    header[0] = kind.id();
    header[1..].copy_from_slice(&piece.to_le_bytes());
    header
}

impl DrawRequest {
    /// The request as a material message: its step and bytes.
    pub(crate) fn encode(&self) -> (u16, Vec<u8>) {
        let mut bytes = Vec::with_capacity(REQUEST_LEN);
        bytes.push(self.holder.id());
        bytes.push(self.kind.id());
        bytes.extend_from_slice(&self.len.to_le_bytes());
        bytes.extend_from_slice(&self.piece.to_le_bytes());
        (drawn_step(self.peer, self.label), bytes)
    }

    /// The party a request message is for, if it is one.
    pub(crate) fn holder_of(step: u16, bytes: &[u8]) -> Option<Role> {
        if !is_draw(step) || bytes.len() != REQUEST_LEN {
            return None;
        }
        Role::from_index(usize::from(bytes[0]))
    }

    fn decode(step: u16, bytes: &[u8]) -> core::result::Result<DrawRequest, String> {
        if bytes.len() != REQUEST_LEN {
            return Err(format!(
                "a draw request of {} bytes ({REQUEST_LEN} expected)",
                bytes.len()
            ));
        }
        let role = |id: u8| Role::from_index(usize::from(id)).ok_or(format!("a party {id}"));
        let word = |at: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(word)
        };
        let kind = match bytes[1] {
            0 => DrawKind::Uniform,
            1 => DrawKind::NonZero,
            other => return Err(format!("a draw kind {other}")),
        };
        #[allow(clippy::cast_possible_truncation, reason = "the step's two low bytes")]
        let (peer, label) = ((step >> 8) as u8 & 0x0F, step as u8);
        Ok(DrawRequest {
            holder: role(bytes[0])?,
            peer: role(peer)?,
            label,
            kind,
            len: word(2),
            piece: word(10),
        })
    }
}

/// Replaces the draw requests among a run's messages, which P2 sent to `role`, with the
/// values they ask for, drawn with this party's material keys.
///
/// # Errors
///
/// [`Error::Material`] if a request is malformed, is for another party, names a key this
/// party does not hold, or the draws would exceed [`MAX_RUN_BYTES`].
pub(crate) fn draw_requested(
    messages: &mut RunMessages,
    keys: &DealerKeys,
    role: Role,
) -> Result<()> {
    let malformed = |problem: String| Error::Material {
        source_name: "from P2".to_owned(),
        problem: MaterialProblem::Malformed(problem),
    };
    // The run's bytes, dealt and drawn, stay within the bound on a run.
    let mut total: u64 = messages
        .iter()
        .filter(|((_, step), _)| !is_draw(*step))
        .map(|(_, bytes)| bytes.len() as u64)
        .sum();
    for (&(call, step), bytes) in messages.iter_mut() {
        if !is_draw(step) {
            continue;
        }
        let request = DrawRequest::decode(step, bytes).map_err(malformed)?;
        if request.holder != role {
            return Err(malformed(format!(
                "a draw of call {call} requested for {} sent to {role}",
                request.holder
            )));
        }
        if request.piece < MIN_PIECE.min(request.len) {
            return Err(malformed(format!(
                "a draw of call {call} in pieces of {} values",
                request.piece
            )));
        }
        total = total.saturating_add(request.len);
        if total > MAX_RUN_BYTES {
            return Err(Error::Material {
                source_name: "from P2".to_owned(),
                problem: MaterialProblem::TooLarge {
                    bytes: total,
                    limit: MAX_RUN_BYTES,
                },
            });
        }
        let stream = StreamId {
            call,
            label: u32::from(request.label),
        };
        let prg = keys
            .shared_prg(request.peer, stream)
            .ok_or_else(|| malformed(format!("a draw of call {call} from a key not held")))?;
        let len = usize::try_from(request.len).map_err(|_| Error::Material {
            source_name: "from P2".to_owned(),
            problem: MaterialProblem::TooLarge {
                bytes: request.len,
                limit: MAX_RUN_BYTES,
            },
        })?;
        *bytes = draw(prg, &request, len);
    }
    Ok(())
}

/// The `len` values of `request` from `prg`, after their header.
fn draw(mut prg: Prg, request: &DrawRequest, len: usize) -> Vec<u8> {
    let piece = usize::try_from(request.piece).unwrap_or(usize::MAX).max(1);
    let mut bytes = Vec::with_capacity(DRAWN_HEADER_LEN + len);
    bytes.extend_from_slice(&drawn_header(request.kind, request.piece));
    let mut values = vec![Zp::ZERO; piece.min(len)];
    let mut left = len;
    while left > 0 {
        let chunk = &mut values[..piece.min(left)];
        match request.kind {
            DrawKind::Uniform => Zp::fill_random(&mut prg, chunk),
            DrawKind::NonZero => Zp::fill_random_nonzero(&mut prg, chunk),
        }
        bytes.extend(chunk.iter().map(|v| v.value()));
        left -= chunk.len();
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::CallId;
    use crate::prg::Key;

    fn request(holder: Role) -> DrawRequest {
        DrawRequest {
            holder,
            peer: Role::P1,
            label: 3,
            kind: DrawKind::NonZero,
            len: 10_000,
            piece: 5000,
        }
    }

    fn keys(role: Role) -> DealerKeys {
        let mut keys = [None, None, None];
        keys[Role::P1.index()] = Some(Key::from_bytes([9; 16]));
        DealerKeys {
            role,
            keys,
            masks: crate::session::masks::OpenedMasks::default(),
        }
    }

    #[test]
    fn a_request_round_trips_and_is_drawn_as_online() {
        let call = CallId::ROOT.child(4);
        let (step, bytes) = request(Role::P0).encode();
        assert_eq!(DrawRequest::decode(step, &bytes), Ok(request(Role::P0)));
        assert_eq!(DrawRequest::holder_of(step, &bytes), Some(Role::P0));
        let mut messages = RunMessages::new();
        messages.insert((call, step), bytes);
        draw_requested(&mut messages, &keys(Role::P0), Role::P0).unwrap();

        // Online: the same stream, drawn in the same pieces.
        let mut prg = Prg::derive(&Key::from_bytes([9; 16]), StreamId { call, label: 3 });
        let mut online = vec![Zp::ZERO; 10_000];
        for chunk in online.chunks_mut(5000) {
            Zp::fill_random_nonzero(&mut prg, chunk);
        }
        let mut expected = drawn_header(DrawKind::NonZero, 5000).to_vec();
        expected.extend(online.iter().map(|v| v.value()));
        assert_eq!(messages[&(call, step)], expected);
    }

    #[test]
    fn a_request_for_another_party_or_a_key_not_held_is_refused() {
        let call = CallId::ROOT.child(4);
        let (step, bytes) = request(Role::P1).encode();
        let mut messages = RunMessages::from([((call, step), bytes)]);
        let refused = draw_requested(&mut messages, &keys(Role::P0), Role::P0);
        assert!(matches!(refused, Err(Error::Material { .. })));

        let mut keyless = request(Role::P0);
        keyless.peer = Role::P2;
        let (step, bytes) = keyless.encode();
        let mut messages = RunMessages::from([((call, step), bytes)]);
        let refused = draw_requested(&mut messages, &keys(Role::P0), Role::P0);
        assert!(matches!(refused, Err(Error::Material { .. })));
    }

    #[test]
    fn online_a_draw_made_otherwise_than_the_protocol_draws_it_is_refused() {
        use crate::session::material::{Dealing, Phase};
        use std::sync::{Arc, Mutex};
        // A zero mask drawn non-zero (P2 named the kind): the online phase refuses it.
        let outcomes = crate::session::run_local(|session| async move {
            let id = CallId::ROOT.child(7);
            let step = drawn_step(Role::P1, 3);
            let mut bytes = drawn_header(DrawKind::NonZero, 4096).to_vec();
            bytes.extend([1u8; 64]);
            let phase = Phase {
                keys: None,
                dealing: Dealing::Replay(Arc::new(Mutex::new(RunMessages::from([(
                    (id, step),
                    bytes,
                )])))),
            };
            let call = session.scope_with_id("test", id, phase);
            let uniform = call.drawn::<Zp>(Role::P1, 3, (DrawKind::Uniform, 4096), 64);
            Ok(matches!(uniform, Err(Error::Material { .. })))
        })
        .unwrap();
        assert!(outcomes[0]);
    }

    #[test]
    fn an_oversized_or_malformed_request_is_refused() {
        let call = CallId::ROOT.child(4);
        let mut huge = request(Role::P0);
        huge.len = MAX_RUN_BYTES + 1;
        let (step, bytes) = huge.encode();
        let mut messages = RunMessages::from([((call, step), bytes)]);
        let refused = draw_requested(&mut messages, &keys(Role::P0), Role::P0);
        assert!(matches!(
            refused,
            Err(Error::Material {
                problem: MaterialProblem::TooLarge { .. },
                ..
            })
        ));
        // Pieces so small that they would multiply the work.
        let mut tiny = request(Role::P0);
        tiny.len = 100_000;
        tiny.piece = 1;
        let (step, bytes) = tiny.encode();
        let mut messages = RunMessages::from([((call, step), bytes)]);
        let refused = draw_requested(&mut messages, &keys(Role::P0), Role::P0);
        assert!(
            matches!(
                refused,
                Err(Error::Material {
                    problem: MaterialProblem::Malformed(_),
                    ..
                })
            ),
            "{refused:?}"
        );
        let (step, mut bytes) = request(Role::P0).encode();
        bytes[1] = 7;
        let mut messages = RunMessages::from([((call, step), bytes)]);
        let refused = draw_requested(&mut messages, &keys(Role::P0), Role::P0);
        assert!(matches!(
            refused,
            Err(Error::Material {
                problem: MaterialProblem::Malformed(_),
                ..
            })
        ));
    }
}
