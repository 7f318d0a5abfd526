//! The handshake: the hello each side of a connection sends first, and who dials whom.

use super::*;

/// The protocol version spoken on the wire; parties of different versions refuse each other.
pub const PROTOCOL_VERSION: u32 = crate::net::WIRE_VERSION;

/// The first field of every [`Hello`].
pub const HELLO_MAGIC: [u8; 8] = *b"SECURENN";

/// The longest hello message accepted, in bytes.
pub const MAX_HELLO_LEN: usize = 128;

/// The most handshakes an acceptor runs at once; further connections are closed at once.
pub(super) const MAX_PENDING_HANDSHAKES: usize = 16;

/// Pause between two connection attempts while a peer is not listening yet.
pub(super) const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// The handshake message each side of a connection sends first (serialized with postcard,
/// behind a 2-byte little-endian length).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Always [`HELLO_MAGIC`].
    pub magic: [u8; 8],
    /// [`PROTOCOL_VERSION`] of the sender.
    pub version: u32,
    /// The session both sides must belong to.
    pub session_id: u64,
    /// The sender's party index.
    pub from: u8,
    /// The party index the sender believes it is talking to.
    pub to: u8,
    /// The sender's maximum frame payload.
    pub max_frame_len: u64,
}

impl Hello {
    /// The hello `from` sends to `to` under `config`.
    pub fn new(from: Role, to: Role, config: &NetConfig) -> Hello {
        Hello {
            magic: HELLO_MAGIC,
            version: PROTOCOL_VERSION,
            session_id: config.session_id,
            from: from.id(),
            to: to.id(),
            max_frame_len: config.max_frame_len as u64,
        }
    }

    /// Writes this hello to `stream`.
    ///
    /// # Errors
    ///
    /// [`Error::Handshake`] ([`HandshakeFailure::Disconnected`]) if the stream fails.
    pub async fn write_to<S: AsyncWrite + Unpin + ?Sized>(
        &self,
        stream: &mut S,
        peer: PeerDescription,
    ) -> Result<()> {
        let failure = |reason| Error::Handshake { peer, reason };
        let body = postcard::to_stdvec(self).map_err(|_| failure(HandshakeFailure::Malformed))?;
        let len = u16::try_from(body.len()).map_err(|_| failure(HandshakeFailure::Malformed))?;
        let mut bytes = len.to_le_bytes().to_vec();
        bytes.extend_from_slice(&body);
        stream
            .write_all(&bytes)
            .await
            .map_err(|_| failure(HandshakeFailure::Disconnected))
    }

    /// Reads a hello from `stream`.
    ///
    /// # Errors
    ///
    /// [`Error::Handshake`]: [`HandshakeFailure::Disconnected`] if the stream ends,
    /// [`HandshakeFailure::NotSecurenn`] if the length exceeds [`MAX_HELLO_LEN`] or the magic
    /// is wrong, [`HandshakeFailure::Malformed`] if the body does not decode.
    pub async fn read_from<S: AsyncRead + Unpin + ?Sized>(
        stream: &mut S,
        peer: PeerDescription,
    ) -> Result<Hello> {
        let failure = |reason| Error::Handshake { peer, reason };
        let mut len = [0u8; 2];
        stream
            .read_exact(&mut len)
            .await
            .map_err(|_| failure(HandshakeFailure::Disconnected))?;
        let len = usize::from(u16::from_le_bytes(len));
        if len > MAX_HELLO_LEN {
            return Err(failure(HandshakeFailure::NotSecurenn));
        }
        let mut body = vec![0u8; len];
        stream
            .read_exact(&mut body)
            .await
            .map_err(|_| failure(HandshakeFailure::Disconnected))?;
        Hello::decode(&body, peer)
    }

    /// Decodes a hello body.
    ///
    /// # Errors
    ///
    /// [`Error::Handshake`] with [`HandshakeFailure::Malformed`] or
    /// [`HandshakeFailure::NotSecurenn`].
    pub fn decode(body: &[u8], peer: PeerDescription) -> Result<Hello> {
        let hello: Hello = postcard::from_bytes(body).map_err(|_| Error::Handshake {
            peer,
            reason: HandshakeFailure::Malformed,
        })?;
        if hello.magic != HELLO_MAGIC {
            return Err(Error::Handshake {
                peer,
                reason: HandshakeFailure::NotSecurenn,
            });
        }
        Ok(hello)
    }

    /// Checks a received hello: magic, version, session, frame size, and that it is
    /// addressed to `local`. Returns the sender's claimed role as sent.
    pub(super) fn check(
        &self,
        local: Role,
        config: &NetConfig,
        peer: PeerDescription,
    ) -> Result<ClaimedRole> {
        let failure = |reason| Error::Handshake { peer, reason };
        if self.version != PROTOCOL_VERSION {
            return Err(failure(HandshakeFailure::Version {
                ours: PROTOCOL_VERSION,
                theirs: self.version,
            }));
        }
        if self.session_id != config.session_id {
            return Err(failure(HandshakeFailure::SessionId));
        }
        if self.max_frame_len != config.max_frame_len as u64 {
            return Err(failure(HandshakeFailure::MaxFrame {
                ours: config.max_frame_len as u64,
                theirs: self.max_frame_len,
            }));
        }
        if usize::from(self.to) != local.index() {
            return Err(failure(HandshakeFailure::WrongParty {
                claimed: claimed(self.from),
                expected: "its hello is addressed to another party",
            }));
        }
        Ok(claimed(self.from))
    }
}

pub(super) fn claimed(index: u8) -> ClaimedRole {
    Role::from_index(usize::from(index)).map_or(ClaimedRole::Invalid(index), ClaimedRole::Valid)
}

/// Which parties dial `role`: the higher-numbered ones.
pub(super) fn dialers_of(role: Role) -> &'static [Role] {
    match role {
        Role::P0 => &[Role::P1, Role::P2],
        Role::P1 => &[Role::P2],
        Role::P2 => &[],
    }
}

/// Which parties `role` dials: the lower-numbered ones.
pub(super) fn dialed_by(role: Role) -> &'static [Role] {
    match role {
        Role::P0 => &[],
        Role::P1 => &[Role::P0],
        Role::P2 => &[Role::P0, Role::P1],
    }
}

/// What an acceptor expects, for error messages.
pub(super) fn acceptor_expectation(role: Role) -> &'static str {
    match role {
        Role::P0 => "P0 accepts P1 and P2 only, once each",
        Role::P1 => "P1 accepts P2 only, once",
        Role::P2 => "P2 accepts no connections",
    }
}

/// What a dialer expects at the address of `peer`.
pub(super) fn dialer_expectation(peer: Role) -> &'static str {
    match peer {
        Role::P0 => "this address should be P0's",
        Role::P1 => "this address should be P1's",
        Role::P2 => "this address should be P2's",
    }
}
