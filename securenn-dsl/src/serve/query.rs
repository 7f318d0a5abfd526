//! The messages between a client and a server: a query's half (one server's share of an
//! input), and a server's reply (its share of the answer, or why there is none), as raw
//! little-endian bytes.
//!
//! ```text
//! query half:  "SNQ1" | id (16 bytes) | n: u32 | n × u64        one server's input share
//! reply:       "SNA1" | id (16 bytes) | status: u8 | class: u64 | n: u32 | n × u64
//! ```
//!
//! A reply's status is 0 for an answer (the class share and the score shares) or a
//! [`Refusal`]'s code (then the class share is 0 and n is 0). Every length is checked
//! against a bound before anything is allocated.

use crate::error::{Error, QueryProblem, Result};
use crate::ring::{Ring, Z64};

const QUERY_MAGIC: &[u8; 4] = b"SNQ1";
const REPLY_MAGIC: &[u8; 4] = b"SNA1";
const ID_LEN: usize = 16;
/// Bytes before a query half's values: magic, id, count.
pub const QUERY_HEADER_LEN: usize = 4 + ID_LEN + 4;
/// Bytes before a reply's score shares: magic, id, status, class share, count.
pub const REPLY_HEADER_LEN: usize = 4 + ID_LEN + 1 + 8 + 4;

/// A query's identity: 16 random bytes the client chooses and sends to both servers, so
/// that each server can tell that its peer holds the other half of the same query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueryId(pub [u8; ID_LEN]);

impl QueryId {
    /// The id as two words (for the servers' batch messages).
    pub(crate) fn words(self) -> [u64; 2] {
        let (low, high) = self.0.split_at(8);
        [word(low), word(high)]
    }

    /// The id in a query's or a reply's header (after the magic).
    pub(crate) fn in_header(header: &[u8]) -> QueryId {
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&header[4..4 + ID_LEN]);
        QueryId(id)
    }

    /// The id of two words.
    pub(crate) fn from_words([low, high]: [u64; 2]) -> QueryId {
        let mut id = [0u8; ID_LEN];
        id[..8].copy_from_slice(&low.to_le_bytes());
        id[8..].copy_from_slice(&high.to_le_bytes());
        QueryId(id)
    }
}

fn word(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(bytes);
    u64::from_le_bytes(word)
}

/// One server's half of a query: its additive share of the input. Either half alone is
/// uniformly random: it says nothing of the input.
#[derive(Clone, PartialEq, Eq)]
pub struct QueryHalf {
    /// The query's identity, the same in both halves.
    pub id: QueryId,
    /// This server's share of the input (fixed point, the network's input size).
    pub shares: Vec<Z64>,
}

impl core::fmt::Debug for QueryHalf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QueryHalf")
            .field("id", &self.id)
            .field("shares", &format_args!("[{} shares]", self.shares.len()))
            .finish()
    }
}

impl QueryHalf {
    /// The half on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(QUERY_HEADER_LEN + 8 * self.shares.len());
        out.extend_from_slice(QUERY_MAGIC);
        out.extend_from_slice(&self.id.0);
        out.extend_from_slice(&count(self.shares.len()).to_le_bytes());
        for share in &self.shares {
            out.extend_from_slice(&share.value().to_le_bytes());
        }
        out
    }

    /// The values a query half's header announces, checked against `max` before anything
    /// is allocated (for a reader that reads the header first, then the values).
    ///
    /// # Errors
    ///
    /// [`QueryProblem::Malformed`] for another magic, [`QueryProblem::TooLarge`] over `max`.
    pub fn announced_len(header: &[u8; QUERY_HEADER_LEN], max: usize) -> Result<usize> {
        if &header[..4] != QUERY_MAGIC {
            return Err(problem(QueryProblem::Malformed(
                "it does not start with SNQ1",
            )));
        }
        bounded(word32(&header[4 + ID_LEN..]), max)
    }

    /// A half from its bytes: exactly a header and the values it announces, at most `max`.
    ///
    /// # Errors
    ///
    /// [`Error::Query`] if the bytes are not such a message.
    pub fn decode(bytes: &[u8], max: usize) -> Result<QueryHalf> {
        let header = header::<QUERY_HEADER_LEN>(bytes, "shorter than a query's header")?;
        let len = Self::announced_len(header, max)?;
        let id = QueryId::in_header(header);
        let shares = values(&bytes[QUERY_HEADER_LEN..], len)?;
        Ok(QueryHalf { id, shares })
    }
}

/// Why a server returns no answer to a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The message was not a query of this network.
    Malformed,
    /// The queue was full.
    Busy,
    /// The other server never received the other half.
    Unpaired,
    /// The same id was already waiting.
    DuplicateId,
    /// The servers stopped or failed before answering.
    Stopped,
}

impl Refusal {
    fn code(self) -> u8 {
        match self {
            Refusal::Malformed => 1,
            Refusal::Busy => 2,
            Refusal::Unpaired => 3,
            Refusal::DuplicateId => 4,
            Refusal::Stopped => 5,
        }
    }

    fn from_code(code: u8) -> Option<Refusal> {
        Some(match code {
            1 => Refusal::Malformed,
            2 => Refusal::Busy,
            3 => Refusal::Unpaired,
            4 => Refusal::DuplicateId,
            5 => Refusal::Stopped,
            _ => return None,
        })
    }

    /// The error a client reports for it.
    pub fn problem(self) -> QueryProblem {
        match self {
            Refusal::Malformed => QueryProblem::Malformed("the server could not read the query"),
            Refusal::Busy => QueryProblem::Busy,
            Refusal::Unpaired => QueryProblem::Unpaired,
            Refusal::DuplicateId => QueryProblem::DuplicateId,
            Refusal::Stopped => QueryProblem::ServerStopped,
        }
    }
}

/// One server's share of a query's answer.
#[derive(Clone, PartialEq, Eq)]
pub struct AnswerHalf {
    /// The query it answers.
    pub id: QueryId,
    /// This server's share of the predicted class's index.
    pub class: Z64,
    /// This server's shares of the network's outputs (fixed point), if the servers send
    /// scores; empty otherwise.
    pub scores: Vec<Z64>,
}

impl core::fmt::Debug for AnswerHalf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AnswerHalf")
            .field("id", &self.id)
            .field("scores", &format_args!("[{} shares]", self.scores.len()))
            .finish_non_exhaustive()
    }
}

/// A server's reply to one query half.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Its share of the answer.
    Answer(AnswerHalf),
    /// No answer, and why.
    Refused {
        /// The query.
        id: QueryId,
        /// Why.
        refusal: Refusal,
    },
}

impl Reply {
    /// The query it replies to.
    pub fn id(&self) -> QueryId {
        match self {
            Reply::Answer(answer) => answer.id,
            Reply::Refused { id, .. } => *id,
        }
    }

    /// The reply on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let (status, class, scores): (u8, u64, &[Z64]) = match self {
            Reply::Answer(answer) => (0, answer.class.value(), &answer.scores),
            Reply::Refused { refusal, .. } => (refusal.code(), 0, &[]),
        };
        let mut out = Vec::with_capacity(REPLY_HEADER_LEN + 8 * scores.len());
        out.extend_from_slice(REPLY_MAGIC);
        out.extend_from_slice(&self.id().0);
        out.push(status);
        out.extend_from_slice(&class.to_le_bytes());
        out.extend_from_slice(&count(scores.len()).to_le_bytes());
        for score in scores {
            out.extend_from_slice(&score.value().to_le_bytes());
        }
        out
    }

    /// The score shares a reply's header announces, checked against `max`.
    ///
    /// # Errors
    ///
    /// As [`QueryHalf::announced_len`].
    pub fn announced_len(header: &[u8; REPLY_HEADER_LEN], max: usize) -> Result<usize> {
        if &header[..4] != REPLY_MAGIC {
            return Err(problem(QueryProblem::Malformed(
                "it does not start with SNA1",
            )));
        }
        bounded(word32(&header[REPLY_HEADER_LEN - 4..]), max)
    }

    /// A reply from its bytes, with at most `max` score shares.
    ///
    /// # Errors
    ///
    /// [`Error::Query`] if the bytes are not such a message.
    pub fn decode(bytes: &[u8], max: usize) -> Result<Reply> {
        let header = header::<REPLY_HEADER_LEN>(bytes, "shorter than a reply's header")?;
        let len = Self::announced_len(header, max)?;
        let id = QueryId::in_header(header);
        let status = header[4 + ID_LEN];
        let class = Z64::new(word(&header[4 + ID_LEN + 1..4 + ID_LEN + 9]));
        let scores = values(&bytes[REPLY_HEADER_LEN..], len)?;
        if status == 0 {
            return Ok(Reply::Answer(AnswerHalf { id, class, scores }));
        }
        match Refusal::from_code(status) {
            Some(refusal) if len == 0 && class == Z64::ZERO => Ok(Reply::Refused { id, refusal }),
            _ => Err(problem(QueryProblem::Malformed("an unknown status"))),
        }
    }
}

/// The first `N` bytes of a message, its header.
fn header<'a, const N: usize>(bytes: &'a [u8], too_short: &'static str) -> Result<&'a [u8; N]> {
    bytes
        .get(..N)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| problem(QueryProblem::Malformed(too_short)))
}

fn problem(problem: QueryProblem) -> Error {
    Error::Query(problem)
}

fn count(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

fn word32(bytes: &[u8]) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[..4]);
    u32::from_le_bytes(word)
}

fn bounded(len: u32, max: usize) -> Result<usize> {
    match usize::try_from(len) {
        Ok(len) if len <= max => Ok(len),
        _ => Err(problem(QueryProblem::TooLarge {
            len: u64::from(len),
            max: max as u64,
        })),
    }
}

/// Exactly `len` little-endian words.
fn values(bytes: &[u8], len: usize) -> Result<Vec<Z64>> {
    if bytes.len() != len * 8 {
        return Err(problem(QueryProblem::Malformed(
            "its length differs from the count it announces",
        )));
    }
    Ok(bytes.chunks_exact(8).map(|w| Z64::new(word(w))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn half() -> QueryHalf {
        QueryHalf {
            id: QueryId([7; ID_LEN]),
            shares: (0..5).map(|i| Z64::new(u64::MAX - i)).collect(),
        }
    }

    #[test]
    fn a_half_and_a_reply_decode_to_what_was_encoded() {
        let half = half();
        assert_eq!(
            QueryHalf::decode(&half.encode(), 5).ok(),
            Some(half.clone())
        );
        let answer = Reply::Answer(AnswerHalf {
            id: half.id,
            class: Z64::new(3),
            scores: half.shares.clone(),
        });
        assert_eq!(Reply::decode(&answer.encode(), 10).ok(), Some(answer));
        for refusal in [
            Refusal::Malformed,
            Refusal::Busy,
            Refusal::Unpaired,
            Refusal::DuplicateId,
            Refusal::Stopped,
        ] {
            let reply = Reply::Refused {
                id: half.id,
                refusal,
            };
            assert_eq!(Reply::decode(&reply.encode(), 0).ok(), Some(reply));
        }
    }

    #[test]
    fn every_malformed_message_is_an_error() {
        let bytes = half().encode();
        let too_large = QueryHalf::decode(&bytes, 4);
        assert!(matches!(
            too_large,
            Err(Error::Query(QueryProblem::TooLarge { len: 5, max: 4 }))
        ));
        for cut in 0..bytes.len() {
            assert!(QueryHalf::decode(&bytes[..cut], 5).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(QueryHalf::decode(&longer, 5).is_err());
        let mut other_magic = bytes;
        other_magic[0] = b'X';
        assert!(QueryHalf::decode(&other_magic, 5).is_err());
        let mut unknown_status = Reply::Refused {
            id: QueryId([0; ID_LEN]),
            refusal: Refusal::Busy,
        }
        .encode();
        unknown_status[4 + ID_LEN] = 99;
        assert!(Reply::decode(&unknown_status, 0).is_err());
    }

    #[test]
    fn an_id_survives_its_words() {
        let id = QueryId([3, 250, 17, 0, 1, 2, 255, 128, 64, 9, 8, 7, 6, 5, 4, 33]);
        assert_eq!(QueryId::from_words(id.words()), id);
    }
}
