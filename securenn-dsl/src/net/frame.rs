//! The wire format of a frame: a 44-byte little-endian header, then the payload.
//!
//! ```text
//! offset  size  field
//!      0     4  magic "SNN3"
//!      4     1  kind: 0 data, 1 heartbeat, 2 abort
//!      5     3  reserved, zero
//!      8     4  payload length in bytes (at most the session's maximum frame size)
//!     12     8  sequence number: 0, 1, 2, ... on each connection, in each direction
//!     20    12  tag.call (a 96-bit call identity)
//!     32     2  tag.step
//!     34     2  tag.chunk
//!     36     8  round stamp
//!     44     …  payload
//! ```
//!
//! Data frames carry protocol messages. A heartbeat (no payload) tells the peer this party
//! is alive while it computes; an abort (one byte: the index of the party whose loss made
//! the sender give up) lets the surviving party name the lost one. Control frames carry a
//! zero tag and round.
//!
//! [`FrameHeader::decode`] checks the magic, the kind, the reserved bytes and the length
//! limit, so a reader allocates a payload buffer only for a well-formed header within the
//! limit. [`FrameReader`] also checks the sequence numbers, so a replayed, dropped or
//! injected frame ends the connection.

use super::{CallId, Frame, Tag};
use crate::error::{Error, Result};
use crate::party::Role;

/// Bytes in a frame header.
pub const HEADER_LEN: usize = 44;

/// The first four bytes of every frame.
pub const MAGIC: [u8; 4] = *b"SNN3";

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// A protocol message.
    Data,
    /// "Still here": sent while a party has nothing else to say.
    Heartbeat,
    /// "I give up, because this party is gone."
    Abort,
}

impl FrameKind {
    const fn code(self) -> u8 {
        match self {
            FrameKind::Data => 0,
            FrameKind::Heartbeat => 1,
            FrameKind::Abort => 2,
        }
    }

    const fn from_code(code: u8) -> Option<FrameKind> {
        match code {
            0 => Some(FrameKind::Data),
            1 => Some(FrameKind::Heartbeat),
            2 => Some(FrameKind::Abort),
            _ => None,
        }
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// What the frame carries.
    pub kind: FrameKind,
    /// Payload bytes that follow the header.
    pub len: u32,
    /// The frame's position on its connection, from 0.
    pub sequence: u64,
    /// The frame's tag (zero for control frames).
    pub tag: Tag,
    /// The sender's round stamp (zero for control frames).
    pub round: u64,
}

/// The tag of control frames.
const CONTROL_TAG: Tag = Tag {
    call: CallId::ROOT,
    step: 0,
    chunk: 0,
};

/// What one frame says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireMessage {
    /// A protocol message.
    Data(Frame),
    /// The sender is alive.
    Heartbeat,
    /// The sender gives up because `culprit` is gone.
    Abort {
        /// The party whose loss ended the sender's session.
        culprit: Role,
    },
}

/// One frame: its sequence number on the connection and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireFrame {
    /// The frame's position on its connection, from 0.
    pub sequence: u64,
    /// The message.
    pub message: WireMessage,
}

impl FrameHeader {
    /// The header of `frame`.
    ///
    /// # Errors
    ///
    /// [`Error::FrameTooLarge`] if the payload does not fit the 32-bit length field.
    pub fn of(frame: &WireFrame, peer: Role) -> Result<FrameHeader> {
        let (kind, len, tag, round) = match &frame.message {
            WireMessage::Data(data) => (FrameKind::Data, data.payload.len(), data.tag, data.round),
            WireMessage::Heartbeat => (FrameKind::Heartbeat, 0, CONTROL_TAG, 0),
            WireMessage::Abort { .. } => (FrameKind::Abort, 1, CONTROL_TAG, 0),
        };
        let len = u32::try_from(len).map_err(|_| Error::FrameTooLarge {
            peer,
            len: len as u64,
            max: u32::MAX as usize,
        })?;
        Ok(FrameHeader {
            kind,
            len,
            sequence: frame.sequence,
            tag,
            round,
        })
    }

    /// The header's bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut bytes = [0u8; HEADER_LEN];
        bytes[0..4].copy_from_slice(&MAGIC);
        bytes[4] = self.kind.code();
        bytes[8..12].copy_from_slice(&self.len.to_le_bytes());
        bytes[12..20].copy_from_slice(&self.sequence.to_le_bytes());
        bytes[20..32].copy_from_slice(&self.tag.call.to_bytes());
        bytes[32..34].copy_from_slice(&self.tag.step.to_le_bytes());
        bytes[34..36].copy_from_slice(&self.tag.chunk.to_le_bytes());
        bytes[36..44].copy_from_slice(&self.round.to_le_bytes());
        bytes
    }

    /// Decodes a header received from `peer`, refusing payloads over `max_len` bytes.
    ///
    /// # Errors
    ///
    /// [`Error::MalformedFrame`] for a bad magic, an unknown kind, non-zero reserved bytes
    /// or a control frame with a tag or a wrong length; [`Error::FrameTooLarge`] for a
    /// length over `max_len`.
    ///
    /// # Examples
    ///
    /// ```
    /// use securenn_dsl::net::{CallId, Tag};
    /// use securenn_dsl::net::frame::{FrameHeader, FrameKind};
    /// use securenn_dsl::party::Role;
    ///
    /// let tag = Tag { call: CallId::ROOT.child(3), step: 1, chunk: 0 };
    /// let header = FrameHeader { kind: FrameKind::Data, len: 8, sequence: 5, tag, round: 2 };
    /// assert_eq!(FrameHeader::decode(&header.encode(), Role::P1, 1024)?, header);
    /// assert!(FrameHeader::decode(&header.encode(), Role::P1, 4).is_err()); // over the limit
    /// assert!(FrameHeader::decode(&[0xff; 44], Role::P1, 1024).is_err()); // not a frame
    /// # Ok::<(), securenn_dsl::Error>(())
    /// ```
    pub fn decode(bytes: &[u8; HEADER_LEN], peer: Role, max_len: usize) -> Result<FrameHeader> {
        let malformed = |reason| Err(Error::MalformedFrame { peer, reason });
        if bytes[0..4] != MAGIC {
            return malformed("bad magic number");
        }
        let Some(kind) = FrameKind::from_code(bytes[4]) else {
            return malformed("unknown frame kind");
        };
        if bytes[5..8] != [0; 3] {
            return malformed("reserved bytes are not zero");
        }
        let field = |range: core::ops::Range<usize>| {
            let mut buf = [0u8; 8];
            buf[..range.len()].copy_from_slice(&bytes[range]);
            u64::from_le_bytes(buf)
        };
        let len = field(8..12);
        if len > max_len as u64 {
            return Err(Error::FrameTooLarge {
                peer,
                len,
                max: max_len,
            });
        }
        let mut call = [0u8; 12];
        call.copy_from_slice(&bytes[20..32]);
        #[allow(
            clippy::cast_possible_truncation,
            reason = "each field was read from exactly its width"
        )]
        let header = FrameHeader {
            kind,
            len: len as u32,
            sequence: field(12..20),
            tag: Tag {
                call: CallId::from_bytes(call),
                step: field(32..34) as u16,
                chunk: field(34..36) as u16,
            },
            round: field(36..44),
        };
        match kind {
            FrameKind::Data => {}
            FrameKind::Heartbeat | FrameKind::Abort
                if header.tag != CONTROL_TAG || header.round != 0 =>
            {
                return malformed("a control frame carries a tag");
            }
            FrameKind::Heartbeat if header.len != 0 => {
                return malformed("a heartbeat carries a payload");
            }
            FrameKind::Abort if header.len != 1 => {
                return malformed("an abort carries other than one byte");
            }
            FrameKind::Heartbeat | FrameKind::Abort => {}
        }
        Ok(header)
    }

    /// The message this header and its `payload` make.
    fn message(self, payload: Vec<u8>, peer: Role) -> Result<WireMessage> {
        match self.kind {
            FrameKind::Data => Ok(WireMessage::Data(Frame {
                tag: self.tag,
                round: self.round,
                payload,
            })),
            FrameKind::Heartbeat => Ok(WireMessage::Heartbeat),
            FrameKind::Abort => payload
                .first()
                .and_then(|&index| Role::from_index(usize::from(index)))
                .map(|culprit| WireMessage::Abort { culprit })
                .ok_or(Error::MalformedFrame {
                    peer,
                    reason: "an abort names no party",
                }),
        }
    }
}

/// Decodes one whole frame from a byte slice (header and payload), as a reader would from a
/// stream that holds exactly these bytes.
///
/// # Errors
///
/// The header's errors, [`Error::TruncatedFrame`] if the slice ends early, and
/// [`Error::MalformedFrame`] if bytes follow the payload or a control frame's payload is
/// invalid.
///
/// # Examples
///
/// ```
/// use securenn_dsl::net::frame::{WireFrame, WireMessage, decode_frame, encode_frame};
/// use securenn_dsl::net::{CallId, Frame, Tag};
/// use securenn_dsl::party::Role;
///
/// let tag = Tag { call: CallId::ROOT.child(1), step: 0, chunk: 0 };
/// let frame = WireFrame {
///     sequence: 0,
///     message: WireMessage::Data(Frame { tag, round: 1, payload: vec![9; 16] }),
/// };
/// let bytes = encode_frame(&frame, Role::P0)?;
/// assert_eq!(decode_frame(&bytes, Role::P0, 1024)?, frame);
/// assert!(decode_frame(&bytes[..50], Role::P0, 1024).is_err()); // truncated
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub fn decode_frame(bytes: &[u8], peer: Role, max_len: usize) -> Result<WireFrame> {
    let Some((header, rest)) = bytes.split_first_chunk::<HEADER_LEN>() else {
        return Err(Error::TruncatedFrame {
            peer,
            expected: HEADER_LEN,
            received: bytes.len(),
        });
    };
    let header = FrameHeader::decode(header, peer, max_len)?;
    let len = header.len as usize;
    match rest.len().cmp(&len) {
        core::cmp::Ordering::Less => Err(Error::TruncatedFrame {
            peer,
            expected: len,
            received: rest.len(),
        }),
        core::cmp::Ordering::Greater => Err(Error::MalformedFrame {
            peer,
            reason: "bytes follow the payload",
        }),
        core::cmp::Ordering::Equal => Ok(WireFrame {
            sequence: header.sequence,
            message: header.message(rest.to_vec(), peer)?,
        }),
    }
}

/// The bytes of `frame` on the wire.
///
/// # Errors
///
/// [`Error::FrameTooLarge`] if the payload does not fit the 32-bit length field.
pub fn encode_frame(frame: &WireFrame, peer: Role) -> Result<Vec<u8>> {
    let header = FrameHeader::of(frame, peer)?;
    let mut bytes = Vec::with_capacity(HEADER_LEN + header.len as usize);
    bytes.extend_from_slice(&header.encode());
    match &frame.message {
        WireMessage::Data(data) => bytes.extend_from_slice(&data.payload),
        WireMessage::Heartbeat => {}
        WireMessage::Abort { culprit } => bytes.push(culprit.id()),
    }
    Ok(bytes)
}

#[cfg(feature = "tcp")]
pub use stream::{FrameReader, FrameWriter};

#[cfg(feature = "tcp")]
mod stream {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

    use super::{FrameHeader, HEADER_LEN, WireFrame, WireMessage};
    use crate::error::{Error, Result};
    use crate::party::Role;

    /// Payloads up to this size are copied behind their header and written in one call.
    const COALESCE_BELOW: usize = 64 * 1024;

    /// Reads frames sent by one peer, checking their sequence numbers.
    #[derive(Debug)]
    pub struct FrameReader {
        local: Role,
        peer: Role,
        max_len: usize,
        next_sequence: u64,
        idle_timeout: Option<Duration>,
    }

    impl FrameReader {
        /// A reader at party `local` of the frames `peer` sends, refusing payloads over
        /// `max_len` bytes and, with `idle_timeout`, a peer that sends nothing at all (not
        /// even a heartbeat) for that long.
        pub fn new(
            local: Role,
            peer: Role,
            max_len: usize,
            idle_timeout: Option<Duration>,
        ) -> FrameReader {
            FrameReader {
                local,
                peer,
                max_len,
                next_sequence: 0,
                idle_timeout,
            }
        }

        /// Reads into `buf` until it is full or the stream ends; returns the bytes read.
        async fn read_full<R: AsyncRead + Unpin>(
            &self,
            reader: &mut R,
            buf: &mut [u8],
        ) -> Result<usize> {
            let mut filled = 0;
            while filled < buf.len() {
                let read = reader.read(&mut buf[filled..]);
                let read =
                    match self.idle_timeout {
                        Some(after) => tokio::time::timeout(after, read).await.map_err(|_| {
                            Error::PeerSilent {
                                peer: self.peer,
                                after,
                            }
                        })?,
                        None => read.await,
                    };
                match read {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    // TLS reports a connection closed without its closing message so: frames
                    // carry their lengths, so this is an end of stream like any other (a
                    // truncated frame if inside one).
                    Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => break,
                    Err(source) => {
                        return Err(Error::Transport {
                            local: self.local,
                            peer: self.peer,
                            source: Arc::new(source),
                        });
                    }
                }
            }
            Ok(filled)
        }

        /// Reads the next frame; `Ok(None)` if the stream ended cleanly before a new frame.
        ///
        /// # Errors
        ///
        /// [`Error::TruncatedFrame`] if the stream ends inside a frame, the header's errors
        /// ([`FrameHeader::decode`]), [`Error::OutOfSequence`] for a frame that is not the
        /// next one, [`Error::MalformedFrame`] for an abort that blames its sender or
        /// receiver, [`Error::PeerSilent`] after the idle timeout, or [`Error::Transport`]
        /// for an I/O error. A header whose length exceeds the maximum is refused before
        /// the payload buffer is allocated.
        pub async fn read<R: AsyncRead + Unpin>(
            &mut self,
            reader: &mut R,
        ) -> Result<Option<WireMessage>> {
            let peer = self.peer;
            let mut header = [0u8; HEADER_LEN];
            match self.read_full(reader, &mut header).await? {
                0 => return Ok(None),
                HEADER_LEN => {}
                received => {
                    return Err(Error::TruncatedFrame {
                        peer,
                        expected: HEADER_LEN,
                        received,
                    });
                }
            }
            let header = FrameHeader::decode(&header, peer, self.max_len)?;
            if header.sequence != self.next_sequence {
                return Err(Error::OutOfSequence {
                    peer,
                    expected: self.next_sequence,
                    received: header.sequence,
                });
            }
            let mut payload = vec![0u8; header.len as usize];
            let received = self.read_full(reader, &mut payload).await?;
            if received < payload.len() {
                return Err(Error::TruncatedFrame {
                    peer,
                    expected: payload.len(),
                    received,
                });
            }
            self.next_sequence += 1;
            let message = header.message(payload, peer)?;
            if let WireMessage::Abort { culprit } = message
                && (culprit == peer || culprit == self.local)
            {
                // A party gives up on a third one: never on itself, never on the receiver.
                return Err(Error::MalformedFrame {
                    peer,
                    reason: "an abort blames its sender or its receiver",
                });
            }
            Ok(Some(message))
        }
    }

    /// Writes frames to one peer, numbering them.
    pub struct FrameWriter<W> {
        writer: W,
        local: Role,
        peer: Role,
        max_len: usize,
        next_sequence: u64,
    }

    impl<W> core::fmt::Debug for FrameWriter<W> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_struct("FrameWriter")
                .field("local", &self.local)
                .field("peer", &self.peer)
                .field("next_sequence", &self.next_sequence)
                .finish_non_exhaustive()
        }
    }

    impl<W: AsyncWrite + Unpin> FrameWriter<W> {
        /// A writer from party `local` to `peer`, refusing payloads over `max_len` bytes.
        pub fn new(writer: W, local: Role, peer: Role, max_len: usize) -> FrameWriter<W> {
            FrameWriter {
                writer,
                local,
                peer,
                max_len,
                next_sequence: 0,
            }
        }

        /// Writes `message` as the next frame.
        ///
        /// # Errors
        ///
        /// [`Error::FrameTooLarge`] if the payload exceeds the maximum, [`Error::Transport`]
        /// for an I/O error.
        pub async fn write(&mut self, message: WireMessage) -> Result<()> {
            let peer = self.peer;
            if let WireMessage::Data(frame) = &message
                && frame.payload.len() > self.max_len
            {
                return Err(Error::FrameTooLarge {
                    peer,
                    len: frame.payload.len() as u64,
                    max: self.max_len,
                });
            }
            let frame = WireFrame {
                sequence: self.next_sequence,
                message,
            };
            let header = FrameHeader::of(&frame, peer)?.encode();
            let local = self.local;
            let io_error = |source| Error::Transport {
                local,
                peer,
                source: Arc::new(source),
            };
            match &frame.message {
                WireMessage::Data(data) if data.payload.len() >= COALESCE_BELOW => {
                    self.writer.write_all(&header).await.map_err(io_error)?;
                    self.writer
                        .write_all(&data.payload)
                        .await
                        .map_err(io_error)?;
                }
                _ => {
                    let bytes = super::encode_frame(&frame, peer)?;
                    self.writer.write_all(&bytes).await.map_err(io_error)?;
                }
            }
            self.next_sequence += 1;
            self.writer.flush().await.map_err(io_error)
        }
    }
}
