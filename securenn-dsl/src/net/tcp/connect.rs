//! Start-up: accepting the peers that dial this party and dialing the others, each
//! connection checked by its hello.

use super::*;

/// Accepts one connection from each party that dials `role`, checking every hello (and,
/// with TLS, every certificate).
///
/// A connection that fails its checks (a port scanner, a party of another session, a
/// certificate from another CA, a second connection claiming a party already connected)
/// is closed and logged, and the party keeps waiting for the real peers: a stray
/// connection cannot end a start-up. Handshakes run side by side, so a connection that
/// stays silent does not hold up the others. If the peers are not all there by the
/// connect timeout, the error is the last refusal, if any, or the missing peer's absence.
pub(super) async fn accept_peers(
    role: Role,
    listener: &TcpListener,
    config: &NetConfig,
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
pub(super) async fn admit(
    role: Role,
    config: &NetConfig,
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
pub(super) async fn dial_peer(
    role: Role,
    peer: Role,
    address: SocketAddr,
    config: &NetConfig,
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
pub(super) fn disable_nagle(stream: &TcpStream, role: Role, peer: Role) -> Result<()> {
    stream.set_nodelay(true).map_err(|source| Error::Transport {
        local: role,
        peer,
        source: Arc::new(source),
    })
}
