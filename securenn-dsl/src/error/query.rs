//! What is wrong with a private query: a malformed or oversized message, a query only one
//! server received, a server too busy to take it, or answers that do not belong together.

/// What is wrong with a query or its answer ([`Error::Query`](super::Error::Query)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryProblem {
    /// A message does not start as a query or an answer of this version does.
    #[error("not a securenn query message of this version: {0}")]
    Malformed(&'static str),
    /// A message announces more values than the network takes (nothing was allocated).
    #[error("the message announces {len} values, over the maximum of {max}")]
    TooLarge {
        /// Values announced.
        len: u64,
        /// The most a message may hold.
        max: u64,
    },
    /// A query id a server already holds: each query has a fresh one.
    #[error("the query id is already waiting at this server (each query needs a fresh id)")]
    DuplicateId,
    /// The server's queue is full: try again later.
    #[error("the server is busy (its queue of waiting queries is full)")]
    Busy,
    /// Only one of the two servers received the query, so neither computes on it.
    #[error("only one server received the query (its other half never reached the peer)")]
    Unpaired,
    /// The servers stopped, or failed, before answering.
    #[error("the servers stopped before answering")]
    ServerStopped,
    /// A server's connection failed, or it sent what is not a reply.
    #[error("the connection with {server} failed: {reason}")]
    Connection {
        /// The server.
        server: crate::party::Role,
        /// What happened.
        reason: String,
    },
    /// A server did not reply in time.
    #[error("{server} did not reply within {waited:?}")]
    NoReply {
        /// The server.
        server: crate::party::Role,
        /// How long the client waited.
        waited: core::time::Duration,
    },
    /// The two answers are not the two halves of one query's answer.
    #[error("the two answers do not belong together: {0}")]
    Mismatched(&'static str),
}
