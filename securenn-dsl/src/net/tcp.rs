//! The TCP transport on tokio: one process (or machine) per party.
//!
//! For each pair of parties the higher-numbered one dials the lower-numbered one: P1 and P2
//! dial P0, P2 dials P1. Before any secret moves, the dialer sends a [`Hello`] naming the
//! protocol version, the session id, the maximum frame size and both party ids; the
//! acceptor checks all of them, answers with its own `Hello`, and the dialer checks that
//! the party at the address is the one it meant to reach. Any mismatch is an
//! [`Error::Handshake`] naming the peer and the reason: at once for the dialer; the
//! acceptor closes the offending connection and keeps waiting for the real peer until the
//! connect timeout, so that a stray connection cannot end a start-up.
//!
//! After the handshake a reader task per peer decodes frames into the party's mailbox, so a
//! peer is always drained and two parties sending large messages to each other at once
//! cannot deadlock on full socket buffers.
//!
//! Failures end every party, and name the party at fault:
//! - a peer that disconnects ends every pending receive from it with [`Error::PeerClosed`]
//!   (between frames), [`Error::TruncatedFrame`] (inside one) or [`Error::Transport`];
//! - each party sends a heartbeat every quarter of [`SessionConfig::peer_timeout`] from a
//!   task of its own, so a peer that sends nothing at all for that long (stopped, or cut
//!   off) is [`Error::PeerSilent`], however long a protocol step computes;
//! - a receive that waits longer than [`SessionConfig::recv_timeout`] is
//!   [`Error::Timeout`], or [`Error::UnexpectedMessage`] if the peer sent other messages;
//! - a party that gives up because of a peer tells the third party first (an abort frame
//!   naming the peer), so the third party reports [`Error::PeerLost`] naming the same peer,
//!   not the party that stopped talking to it.
//!
//! [`TcpTransport::connect`] is plain TCP: it authenticates nothing and encrypts nothing, so
//! use it on a trusted network (or loopback) only. [`TcpTransport::connect_tls`] wraps every
//! connection in TLS 1.3 with mutual authentication before the hello (see [`tls`](super::tls)):
//! the multi-machine mode.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex as AsyncMutex;
use tokio::task::JoinHandle;

use super::frame::{FrameReader, FrameWriter, WireMessage};
use super::mailbox::Mailbox;
use super::{Frame, Tag, Transport};
use crate::error::{ClaimedRole, Error, HandshakeFailure, PeerDescription, Result};
use crate::party::Role;
use crate::session::SessionConfig;

/// The protocol version spoken on the wire; parties of different versions refuse each other.
pub const PROTOCOL_VERSION: u32 = crate::session::WIRE_VERSION;

/// The first field of every [`Hello`].
pub const HELLO_MAGIC: [u8; 8] = *b"SECURENN";

/// The longest hello message accepted, in bytes.
pub const MAX_HELLO_LEN: usize = 128;

/// The most handshakes an acceptor runs at once; further connections are closed at once.
const MAX_PENDING_HANDSHAKES: usize = 16;

/// Pause between two connection attempts while a peer is not listening yet.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

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
    pub fn new(from: Role, to: Role, config: &SessionConfig) -> Hello {
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
    fn check(
        &self,
        local: Role,
        config: &SessionConfig,
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

fn claimed(index: u8) -> ClaimedRole {
    Role::from_index(usize::from(index)).map_or(ClaimedRole::Invalid(index), ClaimedRole::Valid)
}

/// Which parties dial `role`: the higher-numbered ones.
fn dialers_of(role: Role) -> &'static [Role] {
    match role {
        Role::P0 => &[Role::P1, Role::P2],
        Role::P1 => &[Role::P2],
        Role::P2 => &[],
    }
}

/// Which parties `role` dials: the lower-numbered ones.
fn dialed_by(role: Role) -> &'static [Role] {
    match role {
        Role::P0 => &[],
        Role::P1 => &[Role::P0],
        Role::P2 => &[Role::P0, Role::P1],
    }
}

/// What an acceptor expects, for error messages.
fn acceptor_expectation(role: Role) -> &'static str {
    match role {
        Role::P0 => "P0 accepts P1 and P2 only, once each",
        Role::P1 => "P1 accepts P2 only, once",
        Role::P2 => "P2 accepts no connections",
    }
}

/// What a dialer expects at the address of `peer`.
fn dialer_expectation(peer: Role) -> &'static str {
    match peer {
        Role::P0 => "this address should be P0's",
        Role::P1 => "this address should be P1's",
        Role::P2 => "this address should be P2's",
    }
}

/// One party's endpoint of the TCP transport.
pub struct TcpTransport {
    role: Role,
    writers: [Option<SharedWriter>; 3],
    mailbox: Arc<Mailbox>,
    /// The reader and heartbeat tasks, stopped when the transport is dropped.
    tasks: Vec<JoinHandle<()>>,
    max_frame_len: usize,
    recv_timeout: Duration,
    /// Set once this party has told its peers it gives up.
    gave_up: AtomicBool,
}

/// How long a party that gives up waits to tell each peer so.
const ABORT_NOTICE_TIMEOUT: Duration = Duration::from_secs(1);

impl TcpTransport {
    /// Connects party `role` to its two peers over plain TCP and runs the handshakes.
    ///
    /// `addresses[p]` is where party `p` listens (P2's entry is not used: P2 only dials).
    /// P0 and P1 accept on `listener` if given, else they bind `addresses[role]`; passing a
    /// listener bound to port 0 lets tests and the CLI pick free ports.
    ///
    /// Must be called within a tokio runtime with I/O and time enabled: it spawns one reader
    /// task per peer.
    ///
    /// # Errors
    ///
    /// [`Error::Handshake`] if a peer cannot be reached within
    /// [`SessionConfig::connect_timeout`], does not answer the handshake in time, or fails
    /// its checks; [`Error::Config`] if an address is missing; [`Error::Bind`] if the
    /// listening address cannot be bound.
    pub async fn connect(
        role: Role,
        listener: Option<TcpListener>,
        addresses: &[Option<SocketAddr>; 3],
        config: &SessionConfig,
    ) -> Result<TcpTransport> {
        Self::connect_with(role, listener, addresses, config, None).await
    }

    /// As [`TcpTransport::connect`], with every connection in TLS 1.3 with mutual
    /// authentication under `identity` (see [`tls`](super::tls)): a peer whose certificate
    /// is not issued by the cluster's CA, or not to the party it claims to be, is refused.
    ///
    /// # Errors
    ///
    /// As [`TcpTransport::connect`]; [`Error::Handshake`] with
    /// [`HandshakeFailure::Tls`] if the TLS handshake or the certificate check fails;
    /// [`Error::Certificate`] if the credentials are unusable; [`Error::Config`] if the
    /// identity belongs to another party.
    #[cfg(feature = "tls")]
    pub async fn connect_tls(
        role: Role,
        listener: Option<TcpListener>,
        addresses: &[Option<SocketAddr>; 3],
        config: &SessionConfig,
        identity: &super::tls::TlsIdentity,
    ) -> Result<TcpTransport> {
        if identity.role() != role {
            return Err(Error::Config(
                "the TLS identity belongs to another party than the one connecting",
            ));
        }
        let tls = identity.context()?;
        Self::connect_with(role, listener, addresses, config, Some(&tls)).await
    }

    async fn connect_with(
        role: Role,
        listener: Option<TcpListener>,
        addresses: &[Option<SocketAddr>; 3],
        config: &SessionConfig,
        tls: Option<&TlsContext>,
    ) -> Result<TcpTransport> {
        let accepting = async {
            if dialers_of(role).is_empty() {
                return Ok(Vec::new());
            }
            let listener = match listener {
                Some(listener) => listener,
                None => {
                    let address = addresses[role.index()]
                        .ok_or(Error::Config("this party's listening address is missing"))?;
                    TcpListener::bind(address)
                        .await
                        .map_err(|source| Error::Bind {
                            role,
                            address,
                            source: Arc::new(source),
                        })?
                }
            };
            accept_peers(role, &listener, config, tls).await
        };
        let dialing = async {
            let mut streams = Vec::new();
            for &peer in dialed_by(role) {
                let address =
                    addresses[peer.index()].ok_or(Error::Config("a peer's address is missing"))?;
                streams.push((peer, dial_peer(role, peer, address, config, tls).await?));
            }
            Ok::<_, Error>(streams)
        };
        let (accepted, dialed) = futures::try_join!(accepting, dialing)?;

        let mailbox = Arc::new(Mailbox::new(config.max_pending_bytes));
        let mut writers = [None, None, None];
        let mut tasks = Vec::new();
        let heartbeat = (config.peer_timeout / 4).max(MIN_HEARTBEAT);
        for (peer, stream) in accepted.into_iter().chain(dialed) {
            let reader =
                FrameReader::new(role, peer, config.max_frame_len, Some(config.peer_timeout));
            let mailbox = Arc::clone(&mailbox);
            let (reading, writer): (JoinHandle<()>, PeerWriter) = match stream {
                PeerStream::Plain(stream) => {
                    let (read_half, write_half) = stream.into_split();
                    let reading = tokio::spawn(read_loop(read_half, reader, peer, mailbox));
                    (reading, Box::new(write_half))
                }
                #[cfg(feature = "tls")]
                PeerStream::Tls(stream) => {
                    let (read_half, write_half) = tokio::io::split(*stream);
                    let reading = tokio::spawn(read_loop(read_half, reader, peer, mailbox));
                    (reading, Box::new(write_half))
                }
            };
            let writer = Arc::new(AsyncMutex::new(FrameWriter::new(
                writer,
                role,
                peer,
                config.max_frame_len,
            )));
            tasks.push(reading);
            tasks.push(tokio::spawn(heartbeat_loop(Arc::clone(&writer), heartbeat)));
            writers[peer.index()] = Some(writer);
        }
        tracing::debug!(%role, tls = tls.is_some(), "tcp transport connected");
        Ok(TcpTransport {
            role,
            writers,
            mailbox,
            tasks,
            max_frame_len: config.max_frame_len,
            recv_timeout: config.recv_timeout,
            gave_up: AtomicBool::new(false),
        })
    }

    /// Tells every peer but `culprit` that this party gives up because of `culprit`, once,
    /// waiting at most [`ABORT_NOTICE_TIMEOUT`] for each.
    async fn give_up(&self, culprit: Role) {
        if self.gave_up.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::debug!(role = %self.role, %culprit, "giving up");
        for peer in self.role.peers() {
            if peer == culprit {
                continue;
            }
            if let Some(writer) = &self.writers[peer.index()] {
                let notice = async {
                    writer
                        .lock()
                        .await
                        .write(WireMessage::Abort { culprit })
                        .await
                };
                // Best effort: the peer may be gone too.
                let _ = tokio::time::timeout(ABORT_NOTICE_TIMEOUT, notice).await;
            }
        }
    }

    /// Gives up on `error`'s peer, if it names one, and returns the error; or, for an I/O
    /// error with a peer that had already reported why it stopped (an abort), that reason.
    async fn failed(&self, error: Error) -> Error {
        let error = match &error {
            Error::Transport { peer, .. } => self.mailbox.failure(*peer).unwrap_or(error),
            _ => error,
        };
        if let Some(culprit) = error.failed_peer() {
            self.give_up(culprit).await;
        }
        error
    }
}

impl core::fmt::Debug for TcpTransport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TcpTransport")
            .field("role", &self.role)
            .field("max_frame_len", &self.max_frame_len)
            .field("recv_timeout", &self.recv_timeout)
            .finish_non_exhaustive()
    }
}

/// The sending half of a connection to a peer.
type PeerWriter = Box<dyn AsyncWrite + Send + Unpin>;

/// The sending half, shared by the protocol and the heartbeat task.
type SharedWriter = Arc<AsyncMutex<FrameWriter<PeerWriter>>>;

/// The shortest interval between two heartbeats.
const MIN_HEARTBEAT: Duration = Duration::from_millis(10);

#[cfg(feature = "tls")]
use super::tls::TlsContext;

/// Without TLS support no TLS context can exist.
#[cfg(not(feature = "tls"))]
#[derive(Debug)]
enum TlsContext {}

/// A connection to a peer, before it is split into its reading and writing halves.
enum PeerStream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::TlsStream<TcpStream>>),
}

impl PeerStream {
    /// Wraps `stream` in TLS if `tls` is given: as the dialer (`dialing` names the peer
    /// expected) or as the acceptor.
    async fn secure(
        stream: TcpStream,
        tls: Option<&TlsContext>,
        dialing: Option<Role>,
    ) -> Result<PeerStream> {
        let Some(tls) = tls else {
            return Ok(PeerStream::Plain(stream));
        };
        #[cfg(feature = "tls")]
        {
            let secured = match dialing {
                Some(peer) => tls.connect(peer, stream).await?,
                None => tls.accept(stream).await?,
            };
            Ok(PeerStream::Tls(Box::new(secured)))
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = dialing;
            match *tls {}
        }
    }

    fn tcp(&self) -> &TcpStream {
        match self {
            PeerStream::Plain(stream) => stream,
            #[cfg(feature = "tls")]
            PeerStream::Tls(stream) => stream.get_ref().0,
        }
    }

    /// Checks, on a TLS connection, that the peer's certificate names `claimed`.
    fn check_identity(&self, claimed: Role) -> Result<()> {
        let _ = claimed;
        match self {
            PeerStream::Plain(_) => Ok(()),
            #[cfg(feature = "tls")]
            PeerStream::Tls(stream) => super::tls::check_peer_certificate(stream, claimed),
        }
    }

    async fn write_hello(&mut self, hello: &Hello, peer: PeerDescription) -> Result<()> {
        match self {
            PeerStream::Plain(stream) => hello.write_to(stream, peer).await,
            #[cfg(feature = "tls")]
            PeerStream::Tls(stream) => {
                hello.write_to(stream.as_mut(), peer).await?;
                stream.flush().await.map_err(|_| Error::Handshake {
                    peer,
                    reason: HandshakeFailure::Disconnected,
                })
            }
        }
    }

    async fn read_hello(&mut self, peer: PeerDescription) -> Result<Hello> {
        match self {
            PeerStream::Plain(stream) => Hello::read_from(stream, peer).await,
            #[cfg(feature = "tls")]
            PeerStream::Tls(stream) => Hello::read_from(stream.as_mut(), peer).await,
        }
    }
}

/// Accepts one connection from each party that dials `role`, checking every hello (and,
/// with TLS, every certificate).
///
/// A connection that fails its checks (a port scanner, a party of another session, a
/// certificate from another CA, a second connection claiming a party already connected)
/// is closed and logged, and the party keeps waiting for the real peers: a stray
/// connection cannot end a start-up. Handshakes run side by side, so a connection that
/// stays silent does not hold up the others. If the peers are not all there by the
/// connect timeout, the error is the last refusal, if any, or the missing peer's absence.
async fn accept_peers(
    role: Role,
    listener: &TcpListener,
    config: &SessionConfig,
    tls: Option<&TlsContext>,
) -> Result<Vec<(Role, PeerStream)>> {
    use futures::StreamExt as _;
    use futures::stream::FuturesUnordered;

    let expected = dialers_of(role);
    let mut connected: Vec<(Role, PeerStream)> = Vec::new();
    let deadline = tokio::time::Instant::now() + config.connect_timeout;
    let unknown = PeerDescription::Unknown;
    let handshake = |stream: TcpStream| async move {
        let exchange = async {
            let mut stream = PeerStream::secure(stream, tls, None).await?;
            let hello = stream.read_hello(unknown).await?;
            Ok::<_, Error>((stream, hello))
        };
        tokio::time::timeout(config.connect_timeout, exchange)
            .await
            .map_err(|_| Error::Handshake {
                peer: unknown,
                reason: HandshakeFailure::Timeout(config.connect_timeout),
            })?
    };
    let mut handshakes = FuturesUnordered::new();
    let mut last_refusal: Option<Error> = None;
    while connected.len() < expected.len() {
        let missing = expected
            .iter()
            .copied()
            .find(|p| connected.iter().all(|(c, _)| c != p))
            .unwrap_or(Role::P2);
        let outcome = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, address)) if handshakes.len() >= MAX_PENDING_HANDSHAKES => {
                    tracing::warn!(%role, %address, "too many connections at once; closed one");
                    drop(stream);
                    continue;
                }
                Ok((stream, _)) => {
                    handshakes.push(handshake(stream));
                    continue;
                }
                Err(error) => {
                    // Out of descriptors, say: wait a little rather than spin.
                    tracing::warn!(%role, %error, "cannot accept a connection");
                    tokio::time::sleep(RETRY_PAUSE).await;
                    continue;
                }
            },
            Some(done) = handshakes.next(), if !handshakes.is_empty() => match done {
                Ok((stream, hello)) => admit(role, config, &connected, stream, &hello).await,
                Err(error) => Err(error),
            },
            () = tokio::time::sleep_until(deadline) => {
                return Err(last_refusal.unwrap_or(Error::Handshake {
                    peer: PeerDescription::Party(missing),
                    reason: HandshakeFailure::Connect(config.connect_timeout),
                }));
            }
        };
        match outcome {
            Ok((peer, stream)) => {
                tracing::debug!(%role, %peer, "accepted peer");
                connected.push((peer, stream));
            }
            Err(error) => {
                tracing::warn!(%role, %error, "refused a connection");
                last_refusal = Some(error);
            }
        }
    }
    Ok(connected)
}

/// Checks an accepted connection's hello and certificate; answers with this party's hello.
async fn admit(
    role: Role,
    config: &SessionConfig,
    connected: &[(Role, PeerStream)],
    mut stream: PeerStream,
    hello: &Hello,
) -> Result<(Role, PeerStream)> {
    let unknown = PeerDescription::Unknown;
    let expected = dialers_of(role);
    let claimed = hello.check(role, config, unknown)?;
    let peer = match claimed {
        ClaimedRole::Valid(peer)
            if expected.contains(&peer) && connected.iter().all(|(c, _)| *c != peer) =>
        {
            peer
        }
        ClaimedRole::Valid(peer) => {
            return Err(Error::Handshake {
                peer: PeerDescription::Party(peer),
                reason: HandshakeFailure::WrongParty {
                    claimed,
                    expected: acceptor_expectation(role),
                },
            });
        }
        ClaimedRole::Invalid(_) => {
            return Err(Error::Handshake {
                peer: unknown,
                reason: HandshakeFailure::WrongParty {
                    claimed,
                    expected: acceptor_expectation(role),
                },
            });
        }
    };
    stream.check_identity(peer)?;
    let described = PeerDescription::Party(peer);
    stream
        .write_hello(&Hello::new(role, peer, config), described)
        .await?;
    disable_nagle(stream.tcp(), role, peer)?;
    Ok((peer, stream))
}

/// Dials `peer` at `address`, retrying until the connect timeout, and runs the handshake.
async fn dial_peer(
    role: Role,
    peer: Role,
    address: SocketAddr,
    config: &SessionConfig,
    tls: Option<&TlsContext>,
) -> Result<PeerStream> {
    let described = PeerDescription::Party(peer);
    let deadline = Instant::now() + config.connect_timeout;
    let stream = loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => break stream,
            Ok(Err(_)) if Instant::now() + RETRY_PAUSE < deadline => {
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Ok(Err(_)) | Err(_) => {
                return Err(Error::Handshake {
                    peer: described,
                    reason: HandshakeFailure::Connect(config.connect_timeout),
                });
            }
        }
    };
    let handshake = async {
        let mut stream = PeerStream::secure(stream, tls, Some(peer)).await?;
        stream
            .write_hello(&Hello::new(role, peer, config), described)
            .await?;
        let answer = stream.read_hello(described).await?;
        match answer.check(role, config, described)? {
            ClaimedRole::Valid(claimed) if claimed == peer => Ok(stream),
            claimed => Err(Error::Handshake {
                peer: described,
                reason: HandshakeFailure::WrongParty {
                    claimed,
                    expected: dialer_expectation(peer),
                },
            }),
        }
    };
    let stream = tokio::time::timeout(config.connect_timeout, handshake)
        .await
        .map_err(|_| Error::Handshake {
            peer: described,
            reason: HandshakeFailure::Timeout(config.connect_timeout),
        })??;
    disable_nagle(stream.tcp(), role, peer)?;
    tracing::debug!(%role, %peer, "connected to peer");
    Ok(stream)
}

/// Sends small frames at once instead of batching them (Nagle's algorithm): each protocol
/// round waits for its messages.
fn disable_nagle(stream: &TcpStream, role: Role, peer: Role) -> Result<()> {
    stream.set_nodelay(true).map_err(|source| Error::Transport {
        local: role,
        peer,
        source: Arc::new(source),
    })
}

/// Decodes frames from `peer` into the mailbox until the connection ends.
async fn read_loop<R: AsyncRead + Unpin>(
    mut stream: R,
    mut reader: FrameReader,
    peer: Role,
    mailbox: Arc<Mailbox>,
) {
    loop {
        match reader.read(&mut stream).await {
            Ok(Some(WireMessage::Data(frame))) => {
                if mailbox.deliver(peer, frame).is_err() {
                    return;
                }
            }
            Ok(Some(WireMessage::Heartbeat)) => {}
            Ok(Some(WireMessage::Abort { culprit })) => {
                tracing::debug!(%peer, %culprit, "peer gave up");
                mailbox.abort(peer, culprit);
                return;
            }
            Ok(None) => {
                mailbox.close(peer);
                return;
            }
            Err(error) => {
                tracing::debug!(%peer, %error, "connection ended");
                mailbox.fail(peer, error);
                return;
            }
        }
    }
}

/// Sends a heartbeat to the peer every `interval`, until the connection fails.
async fn heartbeat_loop(writer: SharedWriter, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        if writer
            .lock()
            .await
            .write(WireMessage::Heartbeat)
            .await
            .is_err()
        {
            return;
        }
    }
}

impl Transport for TcpTransport {
    fn role(&self) -> Role {
        self.role
    }

    fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    fn send(&self, to: Role, frame: Frame) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let writer = self.writers[to.index()].as_ref().ok_or(Error::WrongRole {
                operation: "send",
                role: self.role,
                reason: "a party cannot send a message to itself",
            })?;
            // A peer that stops reading (stopped, cut off) would block the write forever
            // once the socket buffers are full: its reader reports it silent meanwhile.
            let written = tokio::select! {
                written = async { writer.lock().await.write(WireMessage::Data(frame)).await } => written,
                error = self.mailbox.failed(to) => Err(error),
            };
            match written {
                Ok(()) => Ok(()),
                Err(error) => Err(self.failed(error).await),
            }
        })
    }

    fn recv(&self, from: Role, tag: Tag) -> BoxFuture<'_, Result<Frame>> {
        Box::pin(async move {
            let received =
                tokio::time::timeout(self.recv_timeout, self.mailbox.recv(self.role, from, tag))
                    .await
                    .unwrap_or_else(|_| {
                        let after = self.recv_timeout;
                        Err(match self.mailbox.waiting_from(from) {
                            0 => Error::Timeout {
                                peer: from,
                                tag,
                                after,
                            },
                            waiting => Error::UnexpectedMessage {
                                peer: from,
                                tag,
                                waiting,
                                after,
                            },
                        })
                    });
            match received {
                Ok(frame) => Ok(frame),
                Err(error) => Err(self.failed(error).await),
            }
        })
    }
}

impl Drop for TcpTransport {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
