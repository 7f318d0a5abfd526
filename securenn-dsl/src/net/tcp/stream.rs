//! A connection to a peer, plain or TLS, and its writing half shared with the heartbeat.

use super::*;

/// The sending half of a connection to a peer.
pub(super) type PeerWriter = Box<dyn AsyncWrite + Send + Unpin>;

/// The sending half, shared by the protocol and the heartbeat task.
pub(super) type SharedWriter = Arc<AsyncMutex<FrameWriter<PeerWriter>>>;

/// The shortest interval between two heartbeats.
pub(super) const MIN_HEARTBEAT: Duration = Duration::from_millis(10);

#[cfg(feature = "tls")]
pub(super) use crate::net::tls::TlsContext;

/// Without TLS support no TLS context can exist.
#[cfg(not(feature = "tls"))]
#[derive(Debug)]
pub(super) enum TlsContext {}

/// A connection to a peer, before it is split into its reading and writing halves.
pub(super) enum PeerStream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::TlsStream<TcpStream>>),
}

impl PeerStream {
    /// Wraps `stream` in TLS if `tls` is given: as the dialer (`dialing` names the peer
    /// expected) or as the acceptor.
    pub(super) async fn secure(
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

    pub(super) fn tcp(&self) -> &TcpStream {
        match self {
            PeerStream::Plain(stream) => stream,
            #[cfg(feature = "tls")]
            PeerStream::Tls(stream) => stream.get_ref().0,
        }
    }

    /// Checks, on a TLS connection, that the peer's certificate names `claimed`.
    pub(super) fn check_identity(&self, claimed: Role) -> Result<()> {
        let _ = claimed;
        match self {
            PeerStream::Plain(_) => Ok(()),
            #[cfg(feature = "tls")]
            PeerStream::Tls(stream) => crate::net::tls::check_peer_certificate(stream, claimed),
        }
    }

    pub(super) async fn write_hello(&mut self, hello: &Hello, peer: PeerDescription) -> Result<()> {
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

    pub(super) async fn read_hello(&mut self, peer: PeerDescription) -> Result<Hello> {
        match self {
            PeerStream::Plain(stream) => Hello::read_from(stream, peer).await,
            #[cfg(feature = "tls")]
            PeerStream::Tls(stream) => Hello::read_from(stream.as_mut(), peer).await,
        }
    }
}
