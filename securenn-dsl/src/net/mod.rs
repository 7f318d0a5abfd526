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
//! Over either, [`Emulated`] delays and paces every message as a wide-area [`Link`] would
//! ([`NetConfig::link`]), to measure WAN times on one machine.
//!
//! On the wire ([`frame`]), a frame is a fixed 32-byte little-endian header (magic, payload
//! length, tag, round) followed by the payload: bulk share vectors as raw little-endian
//! bytes. A length prefix above the maximum frame size is refused before anything is
//! allocated. The session ([`Session`](crate::session::Session)) splits longer messages
//! into several frames, and counts every byte and round ([`Stats`]).
//!
//! Its layer (the book's "Architecture" page): it may import only from `share`, `tensor`,
//! `ring`, `error`, `party`, `shape` and `tag`.

mod config;
pub mod frame;
mod link;
pub mod local;
mod mailbox;
mod stats;
#[cfg(feature = "tcp")]
pub mod tcp;
mod timer;
#[cfg(feature = "tls")]
pub mod tls;

pub use crate::tag::{CallId, Tag};
pub use config::{DEFAULT_MAX_FRAME_LEN, DEFAULT_MAX_PENDING_BYTES, NetConfig, WIRE_VERSION};
pub use link::{Emulated, Link};
pub(crate) use stats::Counters;
pub use stats::{ClusterStats, Stats};
pub(crate) use timer::Delay;

use core::fmt;

use futures::future::BoxFuture;

use crate::error::Result;
use crate::party::Role;

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
