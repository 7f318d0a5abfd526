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
use crate::net::CallId;
use crate::party::Role;
use crate::prg::StreamId;
use crate::ring::{Ring, Zp};

use super::{DealerKeys, MAX_RUN_BYTES, RunMessages};

/// Steps at and above this one hold draws, not messages (every protocol's message steps
/// are small numbers).
const DRAW_STEPS: u16 = 0xF000;

/// Bytes of a request: the party that draws (1), the kind (1), the number of values (8)
/// and the size of the pieces they are drawn in (8).
const REQUEST_LEN: usize = 18;

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

impl DrawRequest {
    /// The request as a material message: its step and bytes.
    pub(crate) fn encode(&self) -> (u16, Vec<u8>) {
        let mut bytes = Vec::with_capacity(REQUEST_LEN);
        bytes.push(self.holder.id());
        bytes.push(match self.kind {
            DrawKind::Uniform => 0,
            DrawKind::NonZero => 1,
        });
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
        *bytes = draw(keys, call, &request)
            .ok_or_else(|| malformed(format!("a draw of call {call} from a key not held")))?;
    }
    Ok(())
}

/// The values of `request`, as their bytes, if this party holds the key.
fn draw(keys: &DealerKeys, call: CallId, request: &DrawRequest) -> Option<Vec<u8>> {
    let stream = StreamId {
        call,
        label: u32::from(request.label),
    };
    let mut prg = keys.shared_prg(request.peer, stream)?;
    let len = usize::try_from(request.len).ok()?;
    let piece = usize::try_from(request.piece).unwrap_or(usize::MAX).max(1);
    let mut values = vec![Zp::ZERO; len];
    for chunk in values.chunks_mut(piece) {
        match request.kind {
            DrawKind::Uniform => Zp::fill_random(&mut prg, chunk),
            DrawKind::NonZero => Zp::fill_random_nonzero(&mut prg, chunk),
        }
    }
    Some(values.iter().map(|v| v.value()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prg::{Key, Prg};

    fn request(holder: Role) -> DrawRequest {
        DrawRequest {
            holder,
            peer: Role::P1,
            label: 3,
            kind: DrawKind::NonZero,
            len: 1000,
            piece: 300,
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
        let mut online = vec![Zp::ZERO; 1000];
        for chunk in online.chunks_mut(300) {
            Zp::fill_random_nonzero(&mut prg, chunk);
        }
        let online: Vec<u8> = online.iter().map(|v| v.value()).collect();
        assert_eq!(messages[&(call, step)], online);
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
