//! The one error type of securenn, and its `Result` alias.
//!
//! Every fallible operation returns [`Result<T>`]. Variants carry typed fields (the
//! parties involved, the protocol step, the sizes), never a bare `String`, so that callers
//! can match on what went wrong and messages stay precise. No variant ever carries a secret
//! value or a share.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::net::Tag;
use crate::party::Role;
use crate::tensor::Shape;

/// `Result<T, securenn_dsl::Error>`.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong in securenn.
///
/// `Error` is `Clone` (I/O errors are shared behind an [`Arc`]) so that one failure of a
/// peer can be reported to every protocol step that was waiting on it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading from or writing to the connection with a peer failed.
    #[error("transport error between {local} and {peer}: {source}")]
    Transport {
        /// The party that saw the error.
        local: Role,
        /// The peer at the other end of the connection.
        peer: Role,
        /// The underlying I/O error.
        #[source]
        source: Arc<io::Error>,
    },

    /// A peer closed its connection (or its in-memory endpoint) between two messages while
    /// a message from it was still expected.
    #[error("peer {peer} closed the connection while {local} was waiting for message {tag}")]
    PeerClosed {
        /// The party that was waiting.
        local: Role,
        /// The peer that went away.
        peer: Role,
        /// The message that was expected.
        tag: Tag,
    },

    /// A peer closed its connection in the middle of a frame.
    #[error(
        "truncated frame from {peer}: expected {expected} bytes, the connection ended after {received}"
    )]
    TruncatedFrame {
        /// The peer that sent the partial frame.
        peer: Role,
        /// Bytes the frame (header or payload) announced.
        expected: usize,
        /// Bytes that arrived before the end of the stream.
        received: usize,
    },

    /// A frame's length prefix exceeds the configured maximum; nothing was allocated for it.
    #[error("frame from {peer} announces {len} bytes, over the maximum frame size of {max} bytes")]
    FrameTooLarge {
        /// The peer that sent (or would have received) the frame.
        peer: Role,
        /// The announced length.
        len: u64,
        /// The configured maximum ([`SessionConfig::max_frame_len`](crate::session::SessionConfig::max_frame_len)).
        max: usize,
    },

    /// A frame header could not be decoded (bad magic or reserved bits).
    #[error("malformed frame header from {peer}: {reason}")]
    MalformedFrame {
        /// The peer that sent the frame.
        peer: Role,
        /// What was wrong with it.
        reason: &'static str,
    },

    /// A second frame arrived with a tag that is already waiting to be consumed.
    #[error("duplicate message {tag} from {peer}")]
    DuplicateMessage {
        /// The peer that sent it.
        peer: Role,
        /// The repeated tag.
        tag: Tag,
    },

    /// A peer sent more bytes than may wait unreceived
    /// ([`SessionConfig::max_pending_bytes`](crate::session::SessionConfig::max_pending_bytes)).
    #[error("{peer} sent more than {limit} bytes that no protocol step has asked for")]
    MailboxFull {
        /// The peer.
        peer: Role,
        /// The configured limit.
        limit: usize,
    },

    /// A message had a different length than the protocol step expects.
    #[error("message {tag} from {peer} carries {received} bytes, the protocol expects {expected}")]
    MessageLength {
        /// The peer that sent it.
        peer: Role,
        /// The message tag.
        tag: Tag,
        /// Bytes expected by the protocol step.
        expected: usize,
        /// Bytes received.
        received: usize,
    },

    /// A received element is not a canonical element of its ring (e.g. a byte >= 67 for Z_67).
    #[error("message {tag} from {peer} holds a value that is not an element of {ring}")]
    InvalidElement {
        /// The peer that sent it.
        peer: Role,
        /// The message tag.
        tag: Tag,
        /// The ring's name.
        ring: &'static str,
    },

    /// No message arrived from a peer within the configured time.
    #[error("no message from {peer} within {after:?} (waiting for {tag})")]
    Timeout {
        /// The silent peer.
        peer: Role,
        /// The message that was expected.
        tag: Tag,
        /// The configured receive timeout.
        after: Duration,
    },

    /// A peer sent nothing at all, not even a heartbeat, for the configured time
    /// ([`SessionConfig::peer_timeout`](crate::session::SessionConfig::peer_timeout)): it is
    /// stopped, or the network between the two is.
    #[error("{peer} sent nothing, not even a heartbeat, for {after:?}: it or the network is down")]
    PeerSilent {
        /// The silent peer.
        peer: Role,
        /// The configured peer timeout.
        after: Duration,
    },

    /// A party lost its connection to `peer` and gave up; it told this party so before
    /// closing its own connection.
    #[error("{peer} is gone: {reported_by} lost its connection to {peer} and stopped")]
    PeerLost {
        /// The party that is gone.
        peer: Role,
        /// The party that noticed and told this one.
        reported_by: Role,
    },

    /// A frame's sequence number is not the next one on its connection: a frame was
    /// replayed, dropped or injected.
    #[error(
        "frame #{received} from {peer} is out of sequence (expected #{expected}): replayed, dropped or injected"
    )]
    OutOfSequence {
        /// The peer that sent it.
        peer: Role,
        /// The sequence number expected.
        expected: u64,
        /// The sequence number received.
        received: u64,
    },

    /// A message arrived whose tag was already received and consumed: a replay.
    #[error("message {tag} from {peer} was already received once: a replay")]
    ReplayedMessage {
        /// The peer that sent it.
        peer: Role,
        /// The repeated tag.
        tag: Tag,
    },

    /// A peer sent messages, but not the one this protocol step waits for: it is at
    /// another step of the protocol (or running another program).
    #[error(
        "{peer} sent {waiting} message(s) this party has not asked for, but not {tag}, within {after:?}: the parties are at different protocol steps"
    )]
    UnexpectedMessage {
        /// The peer.
        peer: Role,
        /// The message this party waits for.
        tag: Tag,
        /// How many of the peer's messages wait unclaimed.
        waiting: usize,
        /// The configured receive timeout.
        after: Duration,
    },

    /// The connection handshake with a peer failed; no secret was exchanged.
    #[error("handshake with {peer} failed: {reason}")]
    Handshake {
        /// The peer this party expected at the other end, or the one it talked to.
        peer: PeerDescription,
        /// Why it failed.
        reason: HandshakeFailure,
    },

    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    OsRng(#[source] Arc<dyn std::error::Error + Send + Sync>),

    /// A party could not listen on its address.
    #[error("{role} cannot listen on {address}: {source}")]
    Bind {
        /// The party.
        role: Role,
        /// The address it was given.
        address: std::net::SocketAddr,
        /// The underlying error.
        #[source]
        source: Arc<io::Error>,
    },

    /// An operation was called by a party that does not take part in it.
    #[error("{operation} cannot run at {role}: {reason}")]
    WrongRole {
        /// The operation.
        operation: &'static str,
        /// The party that called it.
        role: Role,
        /// Which parties may call it.
        reason: &'static str,
    },

    /// Two tensors in one operation have incompatible shapes.
    #[error("{operation}: shapes {left} and {right} do not match")]
    ShapeMismatch {
        /// The operation.
        operation: &'static str,
        /// The first operand's shape.
        left: Shape,
        /// The second operand's shape.
        right: Shape,
    },

    /// A tensor was built from a buffer whose length does not fit its shape, or an
    /// operation got a shape it cannot handle.
    #[error("{operation}: {reason} (shape {shape})")]
    InvalidShape {
        /// The operation.
        operation: &'static str,
        /// The shape involved.
        shape: Shape,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A real number is not finite or too large in magnitude for the fixed-point encoding.
    #[error(
        "cannot encode in fixed point: the value must be finite with |x| < 2^{limit_log2} ({fractional_bits} fractional bits)"
    )]
    FixedPointOverflow {
        /// Fractional bits of the encoding.
        fractional_bits: u32,
        /// log2 of the largest encodable magnitude.
        limit_log2: u32,
    },

    /// A data file (MNIST IDX, checksum list) is missing, truncated or corrupt.
    #[error("{path}: {problem}")]
    Data {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: DataProblem,
    },

    /// A weights file (a model or a party's shares) does not fit the network, or is not a
    /// securenn weights file at all.
    #[error("{path}: {problem}")]
    Weights {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },

    /// A network description (a TOML network file, or a network asked for by name) does
    /// not describe a network: not TOML, an unknown field or layer kind, or a layer whose
    /// input does not fit it. The problem names the layer.
    #[error("{source_name}: {problem}")]
    Network {
        /// The file, or the name asked for.
        source_name: String,
        /// What is wrong with it.
        problem: String,
    },

    /// A TLS certificate or key file is missing, unreadable or unusable.
    #[error("{path}: {problem}")]
    Certificate {
        /// The file (or, for a configuration problem, the party's certificate name).
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },

    /// A local I/O operation on a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: Arc<io::Error>,
    },

    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(&'static str),
}

impl Error {
    /// Whether this error only reports that a peer went away, as opposed to the root cause
    /// of a failure. [`run_local`](crate::session::run_local) uses it to return the error
    /// that started a cascade rather than its echo at the other parties.
    pub fn is_peer_closed(&self) -> bool {
        matches!(self, Error::PeerClosed { .. } | Error::PeerLost { .. })
    }

    /// The peer whose failure this error reports, if it is a failure of a connection or of
    /// a peer's messages: the party a survivor names when it gives up.
    pub fn failed_peer(&self) -> Option<Role> {
        match *self {
            Error::Transport { peer, .. }
            | Error::PeerClosed { peer, .. }
            | Error::TruncatedFrame { peer, .. }
            | Error::FrameTooLarge { peer, .. }
            | Error::MalformedFrame { peer, .. }
            | Error::DuplicateMessage { peer, .. }
            | Error::MailboxFull { peer, .. }
            | Error::Timeout { peer, .. }
            | Error::PeerSilent { peer, .. }
            | Error::PeerLost { peer, .. }
            | Error::OutOfSequence { peer, .. }
            | Error::ReplayedMessage { peer, .. }
            | Error::UnexpectedMessage { peer, .. } => Some(peer),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source: Arc::new(source),
        }
    }

    /// A data file's (or a data source's) problem: [`Error::Data`].
    pub fn data(path: impl Into<PathBuf>, problem: DataProblem) -> Self {
        Error::Data {
            path: path.into(),
            problem,
        }
    }
}

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

/// What is wrong with a data file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DataProblem {
    /// The file does not exist.
    #[error("file not found")]
    Missing,
    /// The gzip stream is corrupt.
    #[error("corrupt gzip stream")]
    CorruptGzip,
    /// The file ends before the data its header announces.
    #[error("truncated: the header announces {expected} bytes, the file holds {actual}")]
    Truncated {
        /// Bytes announced.
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
    /// The file holds more bytes than its header announces.
    #[error("{extra} trailing bytes after the data the header announces")]
    TrailingBytes {
        /// Extra bytes.
        extra: u64,
    },
    /// The IDX magic number is not the expected one.
    #[error("bad magic number {found:#010x}, expected {expected:#010x}")]
    BadMagic {
        /// Found.
        found: u32,
        /// Expected.
        expected: u32,
    },
    /// The dimensions in the header are not the expected ones.
    #[error("unexpected dimensions {found:?}, expected {expected}")]
    BadDimensions {
        /// Found.
        found: Vec<u32>,
        /// Expected, described.
        expected: &'static str,
    },
    /// The SHA-256 of the uncompressed content is not the one listed in SHA256SUMS.
    #[error("SHA-256 mismatch: expected {expected}, found {found}")]
    Checksum {
        /// Listed.
        expected: String,
        /// Computed.
        found: String,
    },
    /// The checksum list does not name this file, or is malformed.
    #[error("no valid SHA-256 listed for {0} in SHA256SUMS")]
    NotListed(String),
    /// A label is not one of the data set's classes.
    #[error("label {label} of example {index} is not a class (0 to {})", classes.saturating_sub(1))]
    LabelOutOfRange {
        /// Index of the example (from 0).
        index: usize,
        /// The label found.
        label: u64,
        /// The number of classes.
        classes: usize,
    },
    /// An input value is not a finite number.
    #[error("value {position} of example {index} is not a finite number")]
    NotFinite {
        /// Index of the example (from 0).
        index: usize,
        /// Position of the value in the example (from 0).
        position: usize,
    },
    /// An input value is too large for 13-bit fixed point with room for products.
    #[error(
        "value {position} of example {index} is beyond ±2^{limit_log2}, too large for fixed point"
    )]
    TooLarge {
        /// Index of the example (from 0).
        index: usize,
        /// Position of the value in the example (from 0).
        position: usize,
        /// The largest magnitude accepted, as a power of two.
        limit_log2: u32,
    },
    /// The examples do not have the shape the network takes.
    #[error("examples of shape {found:?}, but {expected}")]
    WrongShape {
        /// The shape of one example as found.
        found: Vec<usize>,
        /// What was expected, described.
        expected: String,
    },
    /// The file is not in the format its name says, or holds something unusable.
    #[error("{0}")]
    Malformed(String),
    /// Images and labels disagree on the number of examples.
    #[error("{images} images but {labels} labels")]
    CountMismatch {
        /// Images.
        images: usize,
        /// Labels.
        labels: usize,
    },
}
