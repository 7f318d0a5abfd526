//! Who the other end of a connection is, and why a handshake with it failed.

use std::time::Duration;

use crate::party::Role;

/// Who the other end of a failed handshake was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerDescription {
    /// A known party.
    Party(Role),
    /// A connection that has not identified itself as a valid party.
    Unknown,
}

impl core::fmt::Display for PeerDescription {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PeerDescription::Party(role) => role.fmt(f),
            PeerDescription::Unknown => f.write_str("an unidentified peer"),
        }
    }
}

/// Why a connection handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeFailure {
    /// The first bytes are not a securenn hello.
    #[error("the peer did not send a securenn hello")]
    NotSecurenn,
    /// The peer speaks another protocol version.
    #[error("protocol version {theirs} does not match ours ({ours})")]
    Version {
        /// Our version.
        ours: u32,
        /// Theirs.
        theirs: u32,
    },
    /// The peer belongs to another session.
    #[error("the peer belongs to another session")]
    SessionId,
    /// The peer uses another maximum frame size, so long messages would be split differently.
    #[error("maximum frame size {theirs} does not match ours ({ours})")]
    MaxFrame {
        /// Our maximum frame size.
        ours: u64,
        /// Theirs.
        theirs: u64,
    },
    /// The peer claims an identity this party does not expect on this connection.
    #[error("the peer claims to be {claimed} but {expected}")]
    WrongParty {
        /// The claimed role, as sent (may be out of range).
        claimed: ClaimedRole,
        /// What was expected instead.
        expected: &'static str,
    },
    /// The connection ended, or failed, during the handshake.
    #[error("the connection ended during the handshake")]
    Disconnected,
    /// The hello message is malformed.
    #[error("malformed hello message")]
    Malformed,
    /// The peer did not complete the handshake in time.
    #[error("the peer did not complete the handshake within {0:?}")]
    Timeout(Duration),
    /// The TLS handshake failed, or the peer's certificate does not name the party it
    /// claims to be.
    #[error("TLS: {0}")]
    Tls(String),
    /// No connection to the peer could be established in time.
    #[error("could not connect within {0:?}")]
    Connect(Duration),
    /// The peer was started for another job: the parties disagree on `field`.
    #[error("the parties disagree on the job: {field} is {theirs} there but {ours} here")]
    Job {
        /// The parameter they disagree on.
        field: String,
        /// Its value at this party.
        ours: String,
        /// Its value at the peer.
        theirs: String,
    },
}

/// A role as claimed by a remote peer: a valid party, or a raw out-of-range index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimedRole {
    /// A valid role.
    Valid(Role),
    /// An index that names no party.
    Invalid(u8),
}

impl core::fmt::Display for ClaimedRole {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClaimedRole::Valid(role) => role.fmt(f),
            ClaimedRole::Invalid(index) => write!(f, "party #{index}, which does not exist"),
        }
    }
}
