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
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
    /// Queries of one connection waiting, running or with a reply not yet written; more
    /// are answered "busy", and a client that does not read its replies stops being read
    /// (default 64).
    pub in_flight: usize,
    /// Connections open at once, handshakes included; more are closed at once (default
    /// 1024).
    pub connections: usize,
    /// How long the TLS handshake, the rest of a message once its first byte arrived, and
    /// the writing of a reply may take (default 10 s).
    pub message_timeout: Duration,
}

impl ClientLimits {
    /// The default limits for a network of `input_len` inputs.
    pub fn new(input_len: usize) -> ClientLimits {
        ClientLimits {
            input_len,
            in_flight: 64,
            connections: 1024,
            message_timeout: Duration::from_secs(10),
        }
    }
}

/// Accepts clients on `listener` until the intake closes, each connection in a task of
/// its own: the server `identity` (P0's or P1's) presents its certificate and requires a
/// client certificate issued by the clients' CA `clients`. Runs on a tokio runtime. Once
/// the intake closes it returns when every connection has written its last replies (the
/// refusals of a stopping service), or after `limits.message_timeout`.
///
/// # Errors
///
/// [`Error::Certificate`] if the credentials are unusable. A client's failure (a refused
/// handshake, a malformed message, a closed connection) ends its connection only, and is
/// logged at debug level.
pub async fn accept_clients(
    listener: TcpListener,
    identity: &TlsIdentity,
    clients: &ClientAuthority,
    intake: Arc<Intake>,
    limits: ClientLimits,
) -> Result<()> {
    let acceptor = clients.acceptor(identity)?;
    let server = identity.role();
    let open = Arc::new(Semaphore::new(limits.connections));
    let limits = Arc::new(limits);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = intake.closed() => {
                // Every connection holds a permit until its writer is done.
                let all = u32::try_from(limits.connections).unwrap_or(u32::MAX);
                tokio::time::timeout(limits.message_timeout, open.acquire_many(all))
                    .await
                    .ok();
                return Ok(());
            }
        };
        let (stream, address) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::debug!(%error, "accepting a client failed");
                continue;
            }
        };
        let Ok(connection) = Arc::clone(&open).try_acquire_owned() else {
            tracing::debug!(%address, "too many client connections: one refused");
            continue;
        };
        stream.set_nodelay(true).ok();
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
            drop(connection);
        });
    }
}

/// A reply on its way to the writer, with the slot of its query (none for a refusal that
/// never took one).
type Outgoing = (Reply, Option<OwnedSemaphorePermit>);

/// Reads one connection's query halves and writes their replies. At most
/// `limits.in_flight` of its queries hold a slot, from the reading of the half to the
/// writing of the reply; the writer's queue is bounded too, so a client that does not
/// read its replies stops being read.
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
    let (replies, mut outbox) = tokio::sync::mpsc::channel::<Outgoing>(limits.in_flight + 1);
    let timeout = limits.message_timeout;
    let writing = tokio::spawn(async move {
        while let Some((reply, slot)) = outbox.recv().await {
            let write = async {
                writer.write_all(&reply.encode()).await?;
                writer.flush().await
            };
            let written = tokio::time::timeout(timeout, write).await;
            drop(slot);
            if !matches!(written, Ok(Ok(()))) {
                return;
            }
        }
        tokio::time::timeout(timeout, writer.shutdown()).await.ok();
    });
    let slots = Arc::new(Semaphore::new(limits.in_flight));
    let result = loop {
        let mut header = [0u8; QUERY_HEADER_LEN];
        // Between queries a connection may stay idle; a message once begun must complete.
        let first = tokio::select! {
            first = reader.read_exact(&mut header[..1]) => first,
            () = intake.closed() => break Ok(()),
        };
        match first {
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
        let half = match tokio::time::timeout(timeout, rest).await {
            Ok(Ok(Ok(half))) => half,
            Ok(Ok(Err(error))) => {
                // Not a query: say so, and close (the stream cannot be resynchronised).
                let id = QueryId::in_header(&header);
                let refusal = Refusal::Malformed;
                replies
                    .send((Reply::Refused { id, refusal }, None))
                    .await
                    .ok();
                break Err(error);
            }
            Ok(Err(error)) => break Err(connection_error(server, &error)),
            Err(_) => break Err(Error::Query(QueryProblem::Malformed("a message stalled"))),
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            let (id, refusal) = (half.id, Refusal::Busy);
            if replies
                .send((Reply::Refused { id, refusal }, None))
                .await
                .is_err()
            {
                break Ok(());
            }
            continue;
        };
        let id = half.id;
        let reply = intake.offer(half);
        let replies = replies.clone();
        tokio::spawn(async move {
            let refusal = Refusal::Stopped;
            let reply = reply.await.unwrap_or(Reply::Refused { id, refusal });
            replies.send((reply, Some(slot))).await.ok();
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
    /// Set when a query ended with its connections in an unknown state (a failure, a
    /// timeout, or one server's refusal while the other's reply was awaited).
    broken: bool,
}

impl core::fmt::Debug for QueryClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QueryClient")
            .field("classes", &self.classes)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl QueryClient {
    /// Connects to P0 and P1 at `addresses` as the client of `identity`, for a network of
    /// `classes` outputs; connecting, and each query, wait at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`QueryProblem::Connection`] if a server cannot be reached, [`QueryProblem::NoReply`]
    /// after the timeout, [`Error::Handshake`] if the TLS handshake fails (a server of
    /// another cluster), [`Error::OsRng`] without randomness. A client the servers do not
    /// know learns it at its first query (TLS 1.3 checks its certificate after the client
    /// has finished its handshake).
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
                let connecting = async {
                    let stream = TcpStream::connect(address)
                        .await
                        .map_err(|e| connection_error(server, &e))?;
                    stream.set_nodelay(true).ok();
                    ClientIdentity::connect(&connector, server, stream).await
                };
                tokio::time::timeout(timeout, connecting)
                    .await
                    .map_err(|_| {
                        Error::Query(QueryProblem::NoReply {
                            server,
                            waited: timeout,
                        })
                    })?
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
            broken: false,
        })
    }

    /// The prediction for `input` (the network's input, fixed point at 13 fractional
    /// bits): its halves go to P0 and P1, and their replies come back.
    ///
    /// # Errors
    ///
    /// [`Error::Query`]: a server's refusal (busy, unpaired, stopped, malformed), a failed
    /// connection, no reply within the timeout, or replies that do not belong together.
    /// After an error the connections may be out of step (a reply still on its way, a
    /// message cut short), so every later query fails with [`QueryProblem::Connection`]:
    /// connect again.
    pub async fn query(&mut self, input: &[Z64]) -> Result<Prediction> {
        if self.broken {
            return Err(Error::Query(QueryProblem::Connection {
                server: Role::P0,
                reason: "an earlier query left the connections broken: connect again".to_owned(),
            }));
        }
        let halves = split_query(input, &mut self.rng);
        let [p0, p1] = &mut self.servers;
        let (classes, timeout) = (self.classes, self.timeout);
        let both = async {
            tokio::try_join!(
                ask(p0, Role::P0, &halves[0], classes),
                ask(p1, Role::P1, &halves[1], classes)
            )
        };
        match tokio::time::timeout(timeout, both).await {
            Ok(Ok((r0, r1))) => reconstruct([r0, r1], classes),
            Ok(Err(error)) => {
                self.broken = true;
                Err(error)
            }
            Err(_) => {
                self.broken = true;
                Err(Error::Query(QueryProblem::NoReply {
                    server: Role::P0,
                    waited: timeout,
                }))
            }
        }
    }
}

/// Sends one half to `server` and reads its reply; a refusal is an error at once, so that
/// the client need not wait for the other server.
async fn ask<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    server: Role,
    half: &QueryHalf,
    classes: usize,
) -> Result<Reply> {
    let write = async {
        stream.write_all(&half.encode()).await?;
        stream.flush().await
    };
    write.await.map_err(|e| connection_error(server, &e))?;
    match read_reply(stream, server, half.id, classes).await? {
        Reply::Refused { refusal, .. } => Err(Error::Query(refusal.problem())),
        answer => Ok(answer),
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
