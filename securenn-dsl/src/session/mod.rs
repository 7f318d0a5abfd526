//! A party's session: its role, its transport, its keys and its traffic counters; and
//! [`run_local`], which runs the three parties in one process.
//!
//! A [`Session`] starts with key agreement over its transport: P0 draws the P0-P1 and P0-P2
//! keys and P1 the P1-P2 key from the operating system's generator and send them to their
//! partners; each party also draws a private key. Every protocol invocation then opens a
//! [`Call`] in a [`Context`] (the session, or the call of the protocol that invokes it).
//! Calls form a tree: each context numbers the calls it opens in its own program order, and
//! a call's [`CallId`](crate::net::CallId) is derived from its parent's and its number, so it is the same at
//! every party even when independent calls run concurrently. A call derives its random
//! streams from its identity and tags its messages with it. Messages longer than the
//! maximum frame size are split into several frames.
//!
//! The module is split by job: [`config`](SessionConfig) (the settings), `job` (the public
//! parameters the parties agree on first), `keys` (key agreement), `call` (protocol calls,
//! their randomness and messages) and `local` (three parties in one process).
//!
//! Its layer (the book's "Architecture" page): it may import only from `net`, `prg`,
//! `share`, `tensor`, `ring`, `error`, `party`, `shape` and `tag`.

mod call;
mod config;
mod job;
mod keys;
mod local;
mod masks;
mod material;
mod offline;

pub use call::Call;
pub use config::SessionConfig;
pub use job::{Job, MAX_JOB_LEN};
pub use local::{local_sessions, run_local, run_local_with, run_with_transports};
pub(crate) use masks::OpenedMask;
pub(crate) use material::{DrawKind, DrawRequest};
pub use material::{MAX_RUN_BYTES, Material};

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::error::Result;
use crate::net::{Counters, Emulated, Link, Stats, Transport};
use crate::party::Role;
use crate::prg::{Key, PartyKeys};

/// One party's view of a three-party computation.
///
/// `Session` is `Send + Sync` and its methods take `&self`. It is the root [`Context`]: the
/// calls opened on it are numbered in the order they are opened, the same at every party
/// as long as every party opens them in the same order (calls issued one after another
/// always are; calls started side by side must be started in the same order, as `join!`
/// does).
///
/// Rounds are counted with Lamport clocks: a call starts from its context's clock, which
/// every message received within the context advances. To have calls side by side share
/// rounds, open their contexts before any of them starts (`let (a, b) = (s.open("a"),
/// s.open("b"));` and then `try_join!(relu(&a, x), relu(&b, y))`), as the DSL's batches
/// do; a call opened lazily after a sibling has received a message starts from a later
/// clock, and the count then depends on timing (it never undercounts).
#[derive(Debug)]
pub struct Session {
    role: Role,
    transport: Box<dyn Transport>,
    keys: PartyKeys,
    /// The root context: how many calls were opened on the session, and its Lamport clock.
    children: AtomicU32,
    clock: AtomicU64,
    counters: Counters,
    /// The jobs the peers stated at the start, by role.
    peer_jobs: [Option<Job>; 3],
    /// The emulated link between the parties, if any.
    link: Option<Link>,
    /// The masks opened under the session's own keys.
    masks: masks::OpenedMasks,
    /// Whether P2's offline runs request P0's and P1's draws ([`SessionConfig::offline_draws`]).
    offline_draws: bool,
}

/// Where a protocol call is opened: the [`Session`] itself, or an enclosing [`Call`] (the
/// call of the protocol that invokes it). Every protocol function takes a context.
pub trait Context: Send + Sync {
    /// The session this context belongs to.
    fn session(&self) -> &Session;

    /// Opens a call in this context: the next of this context's calls, in program order.
    fn open(&self, name: &'static str) -> Call<'_>;
}

impl Session {
    /// Starts a session over `transport`: agrees on the pairwise keys with the two peers.
    ///
    /// # Errors
    ///
    /// [`Error::OsRng`](crate::Error::OsRng) if no randomness is available, or the transport's errors during key
    /// agreement.
    pub async fn start(
        transport: impl Transport + 'static,
        config: &SessionConfig,
    ) -> Result<Session> {
        let role = transport.role();
        let transport: Box<dyn Transport> = match config.net.link {
            Some(link) => Box::new(Emulated::new(transport, link, config.net.recv_timeout)),
            None => Box::new(transport),
        };
        let mut session = Session {
            role,
            transport,
            // A placeholder, replaced by the agreed keys before the session is returned.
            keys: PartyKeys::new(role, [None, None, None], Key::from_bytes([0; 16])),
            children: AtomicU32::new(0),
            clock: AtomicU64::new(0),
            counters: Counters::default(),
            peer_jobs: [None, None, None],
            link: config.net.link,
            masks: masks::OpenedMasks::default(),
            offline_draws: config.offline_draws,
        };
        // The parties compare their links with their jobs: different delays, or a different
        // choice between protocols that trade rounds for bytes, must not start.
        let link = config
            .net
            .link
            .map_or("none".to_owned(), |link| link.to_string());
        let job = config.job.clone().with("emulated link", link);
        session.peer_jobs = session.agree_job(&job).await?;
        session.keys = session.agree_keys(config).await?;
        Ok(session)
    }

    /// The job `peer` stated at the start of the session (`None` for this party itself):
    /// how parties tell each other public facts before anything secret moves, such as the
    /// checkpoints each holds.
    pub fn peer_job(&self, peer: Role) -> Option<&Job> {
        self.peer_jobs[peer.index()].as_ref()
    }

    /// This party's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Opens the next top-level protocol call ([`Context::open`] on the session).
    pub fn call(&self, name: &'static str) -> Call<'_> {
        self.open(name)
    }

    /// The emulated wide-area link between the parties ([`NetConfig::link`]), if any: what
    /// a protocol that can trade rounds for bytes weighs them by.
    ///
    /// [`NetConfig::link`]: crate::net::NetConfig::link
    pub fn link(&self) -> Option<Link> {
        self.link
    }

    /// A snapshot of this party's traffic counters.
    pub fn stats(&self) -> Stats {
        self.counters.snapshot(self.role)
    }

    /// Sets the traffic counters to zero, to measure what follows.
    ///
    /// Call it at the same point of the program at every party, when no message is in
    /// flight and no call is open (e.g. between two top-level protocol calls), so that
    /// round counts start together.
    pub fn reset_stats(&self) {
        self.counters.reset();
        self.clock.store(0, Ordering::Release);
    }
}
