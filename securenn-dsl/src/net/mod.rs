//! Transports: how the three parties exchange messages.
//!
//! A [`Transport`] sends a [`Frame`] to a peer and receives, from a peer, the frame with a
//! given [`Tag`]. Tags name a message by protocol call, step and chunk, so a message can
//! never be taken for another: a frame that arrives twice is a typed error, and independent
//! protocol calls may wait for their messages concurrently.
//!
//! Two backends:
//! - [`local`]: the three parties in one process, over shared in-memory mailboxes (the
//!   default for tests, benchmarks and quick runs);
//! - [`tcp`] (feature `tcp`): one process per party, over TCP on tokio, with a handshake
//!   that checks the protocol version, the session and the party ids.
//!
//! On the wire ([`frame`]), a frame is a fixed 32-byte little-endian header (magic, payload
//! length, tag, round) followed by the payload: bulk share vectors as raw little-endian
//! bytes. A length prefix above the maximum frame size is refused before anything is
//! allocated. The session ([`Session`](crate::session::Session)) splits longer messages
//! into several frames, and counts every byte and round ([`Stats`]).

pub mod frame;
pub mod local;
mod mailbox;
mod stats;
#[cfg(feature = "tcp")]
pub mod tcp;
mod timer;
#[cfg(feature = "tls")]
pub mod tls;

pub(crate) use stats::Counters;
pub use stats::{ClusterStats, Stats};

use core::fmt;

use futures::future::BoxFuture;

use crate::error::Result;
use crate::party::Role;

/// The default maximum frame payload: 16 MiB. Longer messages are split into frames.
pub const DEFAULT_MAX_FRAME_LEN: usize = 16 << 20;

/// The default cap on bytes waiting from one peer: 1 GiB.
pub const DEFAULT_MAX_PENDING_BYTES: usize = 1 << 30;

/// The identity of a protocol call, the same at every party: 96 bits derived from the
/// identity of the call (or session) that opened it and its position among that one's
/// calls, so that calls opened concurrently are still named alike everywhere.
///
/// # Examples
///
/// ```
/// use securenn_dsl::net::CallId;
///
/// let first = CallId::ROOT.child(1);
/// assert_eq!(first, CallId::ROOT.child(1));
/// assert_ne!(first, CallId::ROOT.child(2));
/// assert_ne!(first.child(0), CallId::ROOT.child(0));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId([u8; 12]);

impl CallId {
    /// The identity of the session itself, the parent of its top-level calls.
    pub const ROOT: CallId = CallId([0; 12]);

    /// The identity of the `index`-th call opened within this one: the first 96 bits of
    /// SHA-256(self ‖ index), so distinct paths collide with probability about n²/2^97.
    pub fn child(self, index: u32) -> CallId {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(self.0);
        hasher.update(index.to_le_bytes());
        let digest = hasher.finalize();
        let mut id = [0u8; 12];
        id.copy_from_slice(&digest[..12]);
        CallId(id)
    }

    /// The identity of the call named `name` number `index`, whatever was opened before it
    /// ([`Session::scope`](crate::session::Session::scope)): the first 96 bits of
    /// SHA-256("scope" ‖ len(name) ‖ name ‖ index), never equal to a [`CallId::child`] but
    /// with negligible probability.
    pub fn named(name: &str, index: u64) -> CallId {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(b"scope");
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update(index.to_le_bytes());
        let digest = hasher.finalize();
        let mut id = [0u8; 12];
        id.copy_from_slice(&digest[..12]);
        CallId(id)
    }

    /// The identity's 12 bytes.
    pub const fn to_bytes(self) -> [u8; 12] {
        self.0
    }

    /// The identity with these 12 bytes.
    pub const fn from_bytes(bytes: [u8; 12]) -> CallId {
        CallId(bytes)
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.0[..6] {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CallId({self})")
    }
}

/// The name of one frame: the protocol call it belongs to, the step within the call, and
/// the chunk within the step's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    /// The protocol call.
    pub call: CallId,
    /// The step (message) within the call.
    pub step: u16,
    /// The chunk within a message that spans several frames.
    pub chunk: u16,
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call {} step {}", self.call, self.step)?;
        if self.chunk > 0 {
            write!(f, " chunk {}", self.chunk)?;
        }
        Ok(())
    }
}

/// One message on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    /// What this frame is.
    pub tag: Tag,
    /// The sender's round stamp: one more than the latest round it had received when it
    /// sent this frame (a Lamport clock over the message dependency graph).
    pub round: u64,
    /// The payload: raw little-endian ring elements.
    pub payload: Vec<u8>,
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the payload: it is a share or a masked value.
        f.debug_struct("Frame")
            .field("tag", &self.tag)
            .field("round", &self.round)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

/// A party's connection to the two others.
///
/// Implementations must deliver frames between each ordered pair of parties reliably, must
/// refuse frames longer than [`Transport::max_frame_len`], and must end every pending and
/// future `recv` from a peer with an error once that peer is gone, so that no party can hang
/// on a dead peer.
pub trait Transport: Send + Sync + fmt::Debug {
    /// The party this endpoint belongs to.
    fn role(&self) -> Role;

    /// The largest payload a frame may carry.
    fn max_frame_len(&self) -> usize;

    /// Sends `frame` to `to`.
    ///
    /// # Errors
    ///
    /// [`Error::FrameTooLarge`](crate::Error::FrameTooLarge) for an oversized payload, or a
    /// transport error.
    fn send(&self, to: Role, frame: Frame) -> BoxFuture<'_, Result<()>>;

    /// Receives the frame tagged `tag` from `from`, waiting until it arrives.
    ///
    /// # Errors
    ///
    /// [`Error::PeerClosed`](crate::Error::PeerClosed) if the peer went away first, or
    /// whatever error ended the connection (malformed or duplicate frame, timeout, I/O).
    fn recv(&self, from: Role, tag: Tag) -> BoxFuture<'_, Result<Frame>>;
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn role(&self) -> Role {
        (**self).role()
    }

    fn max_frame_len(&self) -> usize {
        (**self).max_frame_len()
    }

    fn send(&self, to: Role, frame: Frame) -> BoxFuture<'_, Result<()>> {
        (**self).send(to, frame)
    }

    fn recv(&self, from: Role, tag: Tag) -> BoxFuture<'_, Result<Frame>> {
        (**self).recv(from, tag)
    }
}
