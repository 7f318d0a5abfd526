//! The wire format of a frame: a 32-byte little-endian header, then the payload.
//!
//! ```text
//! offset  size  field
//!      0     4  magic "SNN2"
//!      4     4  payload length in bytes (at most the session's maximum frame size)
//!      8    12  tag.call (a 96-bit call identity)
//!     20     2  tag.step
//!     22     2  tag.chunk
//!     24     8  round stamp
//!     32     …  payload
//! ```
//!
//! [`FrameHeader::decode`] checks the magic and the length limit, so a reader allocates a
//! payload buffer only for a well-formed header within the limit.

use super::{CallId, Frame, Tag};
use crate::error::{Error, Result};
use crate::party::Role;

/// Bytes in a frame header.
pub const HEADER_LEN: usize = 32;

/// The first four bytes of every frame.
pub const MAGIC: [u8; 4] = *b"SNN2";

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload bytes that follow the header.
    pub len: u32,
    /// The frame's tag.
    pub tag: Tag,
    /// The sender's round stamp.
    pub round: u64,
}

impl FrameHeader {
    /// The header of `frame`.
    ///
    /// # Errors
    ///
    /// [`Error::FrameTooLarge`] if the payload does not fit the 32-bit length field.
    pub fn of(frame: &Frame, peer: Role) -> Result<FrameHeader> {
        let len = u32::try_from(frame.payload.len()).map_err(|_| Error::FrameTooLarge {
            peer,
            len: frame.payload.len() as u64,
            max: u32::MAX as usize,
        })?;
        Ok(FrameHeader {
            len,
            tag: frame.tag,
            round: frame.round,
        })
    }

    /// The header's 32 bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut bytes = [0u8; HEADER_LEN];
        bytes[0..4].copy_from_slice(&MAGIC);
        bytes[4..8].copy_from_slice(&self.len.to_le_bytes());
        bytes[8..20].copy_from_slice(&self.tag.call.to_bytes());
        bytes[20..22].copy_from_slice(&self.tag.step.to_le_bytes());
        bytes[22..24].copy_from_slice(&self.tag.chunk.to_le_bytes());
        bytes[24..32].copy_from_slice(&self.round.to_le_bytes());
        bytes
    }

    /// Decodes a header received from `peer`, refusing payloads over `max_len` bytes.
    ///
    /// # Errors
    ///
    /// [`Error::MalformedFrame`] for a bad magic, [`Error::FrameTooLarge`] for a length over
    /// `max_len`.
    ///
    /// # Examples
    ///
    /// ```
    /// use securenn_dsl::net::{CallId, Tag};
    /// use securenn_dsl::net::frame::FrameHeader;
    /// use securenn_dsl::party::Role;
    ///
    /// let tag = Tag { call: CallId::ROOT.child(3), step: 1, chunk: 0 };
    /// let header = FrameHeader { len: 8, tag, round: 2 };
    /// assert_eq!(FrameHeader::decode(&header.encode(), Role::P1, 1024)?, header);
    /// assert!(FrameHeader::decode(&header.encode(), Role::P1, 4).is_err()); // over the limit
    /// assert!(FrameHeader::decode(&[0xff; 32], Role::P1, 1024).is_err()); // not a frame
    /// # Ok::<(), securenn_dsl::Error>(())
    /// ```
    pub fn decode(bytes: &[u8; HEADER_LEN], peer: Role, max_len: usize) -> Result<FrameHeader> {
        if bytes[0..4] != MAGIC {
            return Err(Error::MalformedFrame {
                peer,
                reason: "bad magic number",
            });
        }
        let field = |range: core::ops::Range<usize>| {
            let mut buf = [0u8; 8];
            buf[..range.len()].copy_from_slice(&bytes[range]);
            u64::from_le_bytes(buf)
        };
        let len = field(4..8);
        let mut call = [0u8; 12];
        call.copy_from_slice(&bytes[8..20]);
        if len > max_len as u64 {
            return Err(Error::FrameTooLarge {
                peer,
                len,
                max: max_len,
            });
        }
        #[allow(
            clippy::cast_possible_truncation,
            reason = "each field was read from exactly its width"
        )]
        Ok(FrameHeader {
            len: len as u32,
            tag: Tag {
                call: CallId::from_bytes(call),
                step: field(20..22) as u16,
                chunk: field(22..24) as u16,
            },
            round: field(24..32),
        })
    }
}

/// Decodes one whole frame from a byte slice (header and payload), as a reader would from a
/// stream that holds exactly these bytes.
///
/// # Errors
///
/// The header's errors, [`Error::TruncatedFrame`] if the slice ends early, and
/// [`Error::MalformedFrame`] if bytes follow the payload.
///
/// # Examples
///
/// ```
/// use securenn_dsl::net::frame::{decode_frame, encode_frame};
/// use securenn_dsl::net::{CallId, Frame, Tag};
/// use securenn_dsl::party::Role;
///
/// let tag = Tag { call: CallId::ROOT.child(1), step: 0, chunk: 0 };
/// let frame = Frame { tag, round: 1, payload: vec![9; 16] };
/// let bytes = encode_frame(&frame, Role::P0)?;
/// assert_eq!(decode_frame(&bytes, Role::P0, 1024)?, frame);
/// assert!(decode_frame(&bytes[..40], Role::P0, 1024).is_err()); // truncated
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub fn decode_frame(bytes: &[u8], peer: Role, max_len: usize) -> Result<Frame> {
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
        core::cmp::Ordering::Equal => Ok(Frame {
            tag: header.tag,
            round: header.round,
            payload: rest.to_vec(),
        }),
    }
}

/// The bytes of `frame` on the wire.
///
/// # Errors
///
/// [`Error::FrameTooLarge`] if the payload does not fit the 32-bit length field.
pub fn encode_frame(frame: &Frame, peer: Role) -> Result<Vec<u8>> {
    let header = FrameHeader::of(frame, peer)?;
    let mut bytes = Vec::with_capacity(HEADER_LEN + frame.payload.len());
    bytes.extend_from_slice(&header.encode());
    bytes.extend_from_slice(&frame.payload);
    Ok(bytes)
}

#[cfg(feature = "tcp")]
pub use stream::{read_frame, write_frame};

#[cfg(feature = "tcp")]
mod stream {
    use std::sync::Arc;

    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

    use super::{Frame, FrameHeader, HEADER_LEN};
    use crate::error::{Error, Result};
    use crate::party::Role;

    /// Payloads up to this size are copied behind their header and written in one call.
    const COALESCE_BELOW: usize = 64 * 1024;

    /// Reads into `buf` until it is full or the stream ends; returns the bytes read.
    async fn read_full<R: AsyncRead + Unpin>(
        reader: &mut R,
        buf: &mut [u8],
    ) -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match reader.read(&mut buf[filled..]).await? {
                0 => break,
                n => filled += n,
            }
        }
        Ok(filled)
    }

    /// Reads the next frame sent by `peer` at party `local`; `Ok(None)` if the stream ended
    /// cleanly before a new frame.
    ///
    /// # Errors
    ///
    /// [`Error::TruncatedFrame`] if the stream ends inside a frame, the header's errors
    /// ([`FrameHeader::decode`]), or [`Error::Transport`] for an I/O error. A header whose
    /// length exceeds `max_len` is refused before the payload buffer is allocated.
    pub async fn read_frame<R: AsyncRead + Unpin>(
        reader: &mut R,
        local: Role,
        peer: Role,
        max_len: usize,
    ) -> Result<Option<Frame>> {
        let io_error = |source| Error::Transport {
            local,
            peer,
            source: Arc::new(source),
        };
        let mut header = [0u8; HEADER_LEN];
        match read_full(reader, &mut header).await.map_err(io_error)? {
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
        let header = FrameHeader::decode(&header, peer, max_len)?;
        let mut payload = vec![0u8; header.len as usize];
        let received = read_full(reader, &mut payload).await.map_err(io_error)?;
        if received < payload.len() {
            return Err(Error::TruncatedFrame {
                peer,
                expected: payload.len(),
                received,
            });
        }
        Ok(Some(Frame {
            tag: header.tag,
            round: header.round,
            payload,
        }))
    }

    /// Writes `frame` to `peer`.
    ///
    /// # Errors
    ///
    /// [`Error::FrameTooLarge`] if the payload exceeds `max_len`, [`Error::Transport`] for an
    /// I/O error.
    pub async fn write_frame<W: AsyncWrite + Unpin>(
        writer: &mut W,
        frame: &Frame,
        local: Role,
        peer: Role,
        max_len: usize,
    ) -> Result<()> {
        if frame.payload.len() > max_len {
            return Err(Error::FrameTooLarge {
                peer,
                len: frame.payload.len() as u64,
                max: max_len,
            });
        }
        let header = FrameHeader::of(frame, peer)?.encode();
        let io_error = |source| Error::Transport {
            local,
            peer,
            source: Arc::new(source),
        };
        if frame.payload.len() < COALESCE_BELOW {
            let mut bytes = Vec::with_capacity(HEADER_LEN + frame.payload.len());
            bytes.extend_from_slice(&header);
            bytes.extend_from_slice(&frame.payload);
            writer.write_all(&bytes).await.map_err(io_error)?;
        } else {
            writer.write_all(&header).await.map_err(io_error)?;
            writer.write_all(&frame.payload).await.map_err(io_error)?;
        }
        writer.flush().await.map_err(io_error)
    }
}
