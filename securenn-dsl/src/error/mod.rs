//! The one error type of securenn, and its `Result` alias.
//!
//! Every fallible operation returns [`Result<T>`]. Variants carry typed fields (the
//! parties involved, the protocol step, the sizes, the file), so that callers can match on
//! what went wrong and messages stay precise; free text appears only as the `problem` of a
//! file or an argument, whose defects are too many to enumerate. No variant ever carries a
//! secret value or a share.
//!
//! What is wrong with a data file ([`DataProblem`]) is here rather than next to the loaders
//! in `nn::data`: the layers point down, and every module reports through this one type.
//!
//! Its layer (the book's "Architecture" page): it may import only from `party`, `shape` and
//! `tag`.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

mod data;
mod material;
mod peer;
mod query;

pub use data::{DataProblem, ResumeProblem};
pub use material::MaterialProblem;
pub use peer::{ClaimedRole, HandshakeFailure, PeerDescription};
pub use query::QueryProblem;

use crate::party::Role;
use crate::shape::Shape;
use crate::tag::Tag;

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
        /// The configured maximum ([`NetConfig::max_frame_len`](crate::net::NetConfig::max_frame_len)).
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
    /// ([`NetConfig::max_pending_bytes`](crate::net::NetConfig::max_pending_bytes)).
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
    /// ([`NetConfig::peer_timeout`](crate::net::NetConfig::peer_timeout)): it is
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

    /// A model file (ONNX) cannot be imported: not a model, an operator, attribute or
    /// opset that securenn does not support, or weights that do not fit. The problem names
    /// the node and what is supported.
    #[error("{source_name}: {problem}")]
    Import {
        /// The file.
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

    /// An argument of a public function, or a setting, is outside its range.
    #[error("invalid {name}: {problem}")]
    InvalidArgument {
        /// The argument or setting.
        name: &'static str,
        /// What is wrong with it.
        problem: String,
    },

    /// No address was given for a party that must be dialled or listened on.
    #[error("{party}'s address is missing")]
    MissingAddress {
        /// The party without an address.
        party: Role,
    },

    /// An example index is past the end of a data set.
    #[error("example {index} is past the end of the data ({len} examples)")]
    ExampleOutOfRange {
        /// The index asked for, from 0.
        index: usize,
        /// The number of examples.
        len: usize,
    },

    /// A network's weights are not one entry per layer.
    #[error(
        "the weights have {entries} entries, the network {layers} layers: one entry per layer is needed"
    )]
    WeightEntries {
        /// The network's layers.
        layers: usize,
        /// The entries given.
        entries: usize,
    },

    /// A layer that has weights was given none.
    #[error("layer {} has weights, but none were given for it", layer + 1)]
    MissingWeights {
        /// The layer, from 0 (the message counts from 1).
        layer: usize,
    },

    /// A party's own private value is empty: it was made for another party.
    #[error("{owner} holds no {what}: its private value was made for another party")]
    NotHeld {
        /// The party that should hold the value.
        owner: Role,
        /// What the value is.
        what: &'static str,
    },

    /// The job description is too long to send to the peers.
    #[error("the job description is {len} bytes, over the maximum of {max} bytes")]
    JobTooLarge {
        /// Its encoded length.
        len: usize,
        /// The maximum.
        max: usize,
    },

    /// Offline material cannot serve this run: used before, dealt for another program,
    /// another party's, or a file that is truncated or corrupt.
    #[error("offline material {source_name}: {problem}")]
    Material {
        /// The file, or `"in memory"`.
        source_name: String,
        /// What is wrong.
        problem: MaterialProblem,
    },

    /// A mask that hides an operand opened once (a model's weights, F = W − V) was asked
    /// to hide another: refused, since the two openings would reveal the difference.
    #[error(
        "mask {mask} was opened for other weights (or another sharing of them); a mask never hides two operands: deal new material, or start a new session"
    )]
    MaskReused {
        /// The mask's identity.
        mask: crate::tag::CallId,
    },

    /// A private query or its answer cannot be served (the `serve` module's clients and
    /// servers).
    #[error("query: {0}")]
    Query(QueryProblem),

    /// Training cannot resume from the checkpoints at hand.
    #[error("cannot resume: {0}")]
    Resume(ResumeProblem),

    /// One of three parties run as threads of this process could not start, or stopped.
    #[error("a local party's thread {what}")]
    PartyThread {
        /// What happened to it.
        what: &'static str,
    },

    /// A program's own failure, for code run on the parties (a `run_local` closure, a
    /// protocol function) to stop with a reason of its own; securenn never returns it.
    #[error("{0}")]
    Program(String),

    /// A check that never fails in correct code failed: a bug in securenn, to be reported.
    #[error("internal error (a bug in securenn): {0}")]
    Internal(&'static str),
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
