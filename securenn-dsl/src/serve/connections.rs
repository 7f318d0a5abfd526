//! Clients over TCP with TLS: a share holder's listener that takes clients' query halves
//! into its [`Intake`] and writes each reply back ([`accept_clients`]), and a client that
//! sends a query's halves to P0 and P1 and puts the answer together ([`QueryClient`]).
//!
//! A server requires a client certificate issued by the cluster's clients' CA
//! ([`ClientCredentials`](crate::net::tls::ClientCredentials), [`ClientAuthority`]): an
//! unknown client is refused in the handshake. A connection carries query halves one after another, and
//! their replies in the order they are ready (each names its query). A header that is not
//! a query, or announces more values than the network takes, is answered "malformed" and
//! the connection is closed, before anything is allocated for it; a connection that stops
//! in the middle of a message is closed after `message_timeout`. A client that goes away
//! leaves its queries to run and their replies to be dropped: no other query waits for it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::client::{Prediction, reconstruct, split_query};
use super::intake::Intake;
use super::query::{QUERY_HEADER_LEN, QueryHalf, QueryId, REPLY_HEADER_LEN, Refusal, Reply};
use crate::error::{Error, QueryProblem, Result};
use crate::net::tls::{ClientAuthority, ClientIdentity, TlsIdentity};
use crate::party::Role;
use crate::prg::Prg;
use crate::ring::Z64;

/// Limits of a server's client connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientLimits {
    /// Values in a query half: the network's input size. A longer announcement is refused.
    pub input_len: usize,
    /// Queries of one connection waiting or running at once; more are answered "busy"
    /// (default 256).
    pub in_flight: usize,
    /// How long the TLS handshake, and the rest of a message once its first byte arrived,
    /// may take (default 10 s).
    pub message_timeout: Duration,
}

impl ClientLimits {
    /// The default limits for a network of `input_len` inputs.
    pub fn new(input_len: usize) -> ClientLimits {
        ClientLimits {
            input_len,
            in_flight: 256,
            message_timeout: Duration::from_secs(10),
        }
    }
}

/// Accepts clients on `listener` until the intake closes, each connection in a task of
/// its own: the server `identity` (P0's or P1's) presents its certificate and requires a
/// client certificate issued by the clients' CA `clients`. Runs on a tokio runtime.
///
/// # Errors
///
/// [`Error::Certificate`] if the identity's credentials are unusable. A client's failure
/// (a refused handshake, a malformed message, a closed connection) ends its connection
/// only, and is logged at debug level.
pub async fn accept_clients(
    listener: TcpListener,
    identity: &TlsIdentity,
    clients: &ClientAuthority,
    intake: Arc<Intake>,
    limits: ClientLimits,
) -> Result<()> {
    let acceptor = clients.acceptor(identity)?;
    let server = identity.role();
    let limits = Arc::new(limits);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = intake.closed() => return Ok(()),
        };
        let (stream, address) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::debug!(%error, "accepting a client failed");
                continue;
            }
        };
        let (acceptor, intake, limits) =
            (acceptor.clone(), Arc::clone(&intake), Arc::clone(&limits));
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(limits.message_timeout, acceptor.accept(stream));
            match handshake.await {
                Ok(Ok(tls)) => {
                    if let Err(error) = serve_connection(tls, server, &intake, &limits).await {
                        tracing::debug!(%address, %error, "a client's connection ended");
                    }
                }
                Ok(Err(error)) => tracing::debug!(%address, %error, "a client's handshake failed"),
                Err(_) => tracing::debug!(%address, "a client's handshake timed out"),
            }
        });
    }
}

/// Reads one connection's query halves and writes their replies.
async fn serve_connection<S>(
    stream: S,
    server: Role,
    intake: &Arc<Intake>,
    limits: &ClientLimits,
) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (replies, mut outbox) = tokio::sync::mpsc::unbounded_channel::<Reply>();
    let writing = tokio::spawn(async move {
        while let Some(reply) = outbox.recv().await {
            if writer.write_all(&reply.encode()).await.is_err() {
                return;
            }
        }
    });
    let in_flight = Arc::new(AtomicUsize::new(0));
    let result = loop {
        let mut header = [0u8; QUERY_HEADER_LEN];
        // Between queries a connection may stay idle; a message once begun must complete.
        match reader.read_exact(&mut header[..1]).await {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => break Ok(()),
            Err(error) => break Err(connection_error(server, &error)),
        }
        let rest = async {
            reader.read_exact(&mut header[1..]).await?;
            let len = match QueryHalf::announced_len(&header, limits.input_len) {
                Ok(len) => len,
                Err(error) => return Ok(Err(error)),
            };
            let mut message = header.to_vec();
            message.resize(QUERY_HEADER_LEN + 8 * len, 0);
            reader.read_exact(&mut message[QUERY_HEADER_LEN..]).await?;
            Ok::<_, std::io::Error>(QueryHalf::decode(&message, limits.input_len))
        };
        let half = match tokio::time::timeout(limits.message_timeout, rest).await {
            Ok(Ok(Ok(half))) => half,
            Ok(Ok(Err(error))) => {
                // Not a query: say so, and close (the stream cannot be resynchronised).
                let id = QueryId(header[4..20].try_into().unwrap_or([0; 16]));
                let refusal = Refusal::Malformed;
                replies.send(Reply::Refused { id, refusal }).ok();
                break Err(error);
            }
            Ok(Err(error)) => break Err(connection_error(server, &error)),
            Err(_) => break Err(Error::Query(QueryProblem::Malformed("a message stalled"))),
        };
        if in_flight.fetch_add(1, Ordering::AcqRel) >= limits.in_flight {
            in_flight.fetch_sub(1, Ordering::AcqRel);
            let (id, refusal) = (half.id, Refusal::Busy);
            replies.send(Reply::Refused { id, refusal }).ok();
            continue;
        }
        let id = half.id;
        let reply = intake.offer(half);
        let (replies, in_flight) = (replies.clone(), Arc::clone(&in_flight));
        tokio::spawn(async move {
            let reply = reply.await.unwrap_or(Reply::Refused {
                id,
                refusal: Refusal::Stopped,
            });
            in_flight.fetch_sub(1, Ordering::AcqRel);
            replies.send(reply).ok();
        });
    };
    // Replies still on their way are written when ready; the writer ends with the last.
    drop(replies);
    writing.await.ok();
    result
}

fn connection_error(server: Role, error: &std::io::Error) -> Error {
    Error::Query(QueryProblem::Connection {
        server,
        reason: error.to_string(),
    })
}

/// A client of the servers: one TLS connection to each of P0 and P1, and one query at a
/// time (open several clients for concurrent queries).
pub struct QueryClient {
    servers: [tokio_rustls::client::TlsStream<TcpStream>; 2],
    rng: Prg,
    classes: usize,
    timeout: Duration,
}

impl core::fmt::Debug for QueryClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QueryClient")
            .field("classes", &self.classes)
            .finish_non_exhaustive()
    }
}

impl QueryClient {
    /// Connects to P0 and P1 at `addresses` as the client of `identity`, for a network of
    /// `classes` outputs; a query waits at most `timeout` for its replies.
    ///
    /// # Errors
    ///
    /// [`QueryProblem::Connection`] if a server cannot be reached, [`Error::Handshake`] if
    /// the TLS handshake fails (a server of another cluster, or this client unknown to
    /// it), [`Error::OsRng`] without randomness.
    pub async fn connect(
        addresses: [SocketAddr; 2],
        identity: &ClientIdentity,
        classes: usize,
        timeout: Duration,
    ) -> Result<QueryClient> {
        let connector = identity.connector()?;
        let connect = |server: Role, address: SocketAddr| {
            let connector = connector.clone();
            async move {
                let stream = TcpStream::connect(address)
                    .await
                    .map_err(|e| connection_error(server, &e))?;
                stream.set_nodelay(true).ok();
                ClientIdentity::connect(&connector, server, stream).await
            }
        };
        let (p0, p1) = tokio::try_join!(
            connect(Role::P0, addresses[0]),
            connect(Role::P1, addresses[1])
        )?;
        Ok(QueryClient {
            servers: [p0, p1],
            rng: Prg::from_os_rng()?,
            classes,
            timeout,
        })
    }

    /// The prediction for `input` (the network's input, fixed point at 13 fractional
    /// bits): its halves go to P0 and P1, and their replies come back.
    ///
    /// # Errors
    ///
    /// [`Error::Query`]: a server's refusal (busy, unpaired, stopped, malformed), a failed
    /// connection, no reply within the timeout, or replies that do not belong together.
    pub async fn query(&mut self, input: &[Z64]) -> Result<Prediction> {
        let halves = split_query(input, &mut self.rng);
        let [p0, p1] = &mut self.servers;
        let (classes, timeout) = (self.classes, self.timeout);
        let (r0, r1) = tokio::try_join!(
            ask(p0, Role::P0, &halves[0], classes, timeout),
            ask(p1, Role::P1, &halves[1], classes, timeout)
        )?;
        reconstruct([r0, r1], classes)
    }
}

/// Sends one half to `server` and reads its reply, waiting at most `timeout`.
async fn ask<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    server: Role,
    half: &QueryHalf,
    classes: usize,
    timeout: Duration,
) -> Result<Reply> {
    stream
        .write_all(&half.encode())
        .await
        .map_err(|e| connection_error(server, &e))?;
    match tokio::time::timeout(timeout, read_reply(stream, server, half.id, classes)).await {
        Ok(reply) => reply,
        Err(_) => Err(Error::Query(QueryProblem::NoReply {
            server,
            waited: timeout,
        })),
    }
}

/// Reads replies until the one to query `id`.
async fn read_reply<S: AsyncRead + Unpin>(
    stream: &mut S,
    server: Role,
    id: QueryId,
    classes: usize,
) -> Result<Reply> {
    loop {
        let mut header = [0u8; REPLY_HEADER_LEN];
        stream
            .read_exact(&mut header)
            .await
            .map_err(|e| connection_error(server, &e))?;
        let len = Reply::announced_len(&header, classes)?;
        let mut message = header.to_vec();
        message.resize(REPLY_HEADER_LEN + 8 * len, 0);
        stream
            .read_exact(&mut message[REPLY_HEADER_LEN..])
            .await
            .map_err(|e| connection_error(server, &e))?;
        let reply = Reply::decode(&message, classes)?;
        if reply.id() == id {
            return Ok(reply);
        }
    }
}
