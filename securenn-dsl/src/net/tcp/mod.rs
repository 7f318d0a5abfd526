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
//! - each party sends a heartbeat every quarter of [`NetConfig::peer_timeout`] from a
//!   task of its own, so a peer that sends nothing at all for that long (stopped, or cut
//!   off) is [`Error::PeerSilent`], however long a protocol step computes;
//! - a receive that waits longer than [`NetConfig::recv_timeout`] is
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

use crate::error::{ClaimedRole, Error, HandshakeFailure, PeerDescription, Result};
use crate::net::NetConfig;
use crate::net::frame::{FrameReader, FrameWriter, WireMessage};
use crate::net::mailbox::Mailbox;
use crate::net::{Frame, Tag, Transport};
use crate::party::Role;

mod connect;
mod hello;
mod stream;
mod tasks;

use connect::*;
use hello::*;
use stream::*;
use tasks::*;

pub use hello::{HELLO_MAGIC, Hello, MAX_HELLO_LEN, PROTOCOL_VERSION};

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
    /// [`NetConfig::connect_timeout`], does not answer the handshake in time, or fails
    /// its checks; [`Error::MissingAddress`] if an address is missing; [`Error::Bind`] if the
    /// listening address cannot be bound.
    pub async fn connect(
        role: Role,
        listener: Option<TcpListener>,
        addresses: &[Option<SocketAddr>; 3],
        config: &NetConfig,
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
    /// [`Error::Certificate`] if the credentials are unusable; [`Error::InvalidArgument`] if
    /// the identity belongs to another party.
    #[cfg(feature = "tls")]
    pub async fn connect_tls(
        role: Role,
        listener: Option<TcpListener>,
        addresses: &[Option<SocketAddr>; 3],
        config: &NetConfig,
        identity: &crate::net::tls::TlsIdentity,
    ) -> Result<TcpTransport> {
        if identity.role() != role {
            return Err(Error::InvalidArgument {
                name: "TLS identity",
                problem: format!("it is {}'s, but {role} is connecting", identity.role()),
            });
        }
        let tls = identity.context()?;
        Self::connect_with(role, listener, addresses, config, Some(&tls)).await
    }

    async fn connect_with(
        role: Role,
        listener: Option<TcpListener>,
        addresses: &[Option<SocketAddr>; 3],
        config: &NetConfig,
        tls: Option<&TlsContext>,
    ) -> Result<TcpTransport> {
        let accepting = async {
            if dialers_of(role).is_empty() {
                return Ok(Vec::new());
            }
            let listener = match listener {
                Some(listener) => listener,
                None => {
                    let address =
                        addresses[role.index()].ok_or(Error::MissingAddress { party: role })?;
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
                    addresses[peer.index()].ok_or(Error::MissingAddress { party: peer })?;
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
