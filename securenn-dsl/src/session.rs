//! A party's session: its role, its transport, its keys and its traffic counters; and
//! [`run_local`], which runs the three parties in one process.
//!
//! A [`Session`] starts with key agreement over its transport: P0 draws the P0-P1 and P0-P2
//! keys and P1 the P1-P2 key from the operating system's generator and send them to their
//! partners; each party also draws a private key. Every protocol invocation then opens a
//! [`Call`] in a [`Context`] (the session, or the call of the protocol that invokes it).
//! Calls form a tree: each context numbers the calls it opens in its own program order, and
//! a call's [`CallId`] is derived from its parent's and its number, so it is the same at
//! every party even when independent calls run concurrently. A call derives its random
//! streams from its identity and tags its messages with it. Messages longer than the
//! maximum frame size are split into several frames.

use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::net::local::LocalTransport;
use crate::net::{
    CallId, Counters, DEFAULT_MAX_FRAME_LEN, DEFAULT_MAX_PENDING_BYTES, Frame, Stats, Tag,
    Transport,
};
use crate::party::Role;
use crate::prg::{Key, PartyKeys, Prg, StreamId};
use crate::ring::{Ring, Z64};
use typenum::Unsigned as _;

/// Settings of a session; the defaults suit three parties in one process.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use securenn_dsl::session::SessionConfig;
///
/// let config = SessionConfig {
///     recv_timeout: Duration::from_secs(5),
///     ..SessionConfig::default()
/// };
/// assert_eq!(config.max_frame_len, 16 << 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Identifies the session; parties of different sessions refuse each other's handshake.
    pub session_id: u64,
    /// The largest frame payload, in bytes; longer messages are split. All three parties
    /// must agree (the TCP handshake checks it).
    pub max_frame_len: usize,
    /// The most payload bytes that may wait, received from one peer but not yet asked for
    /// by a protocol step; a peer that sends more ends the session with
    /// [`Error::MailboxFull`].
    pub max_pending_bytes: usize,
    /// How long to keep trying to reach a peer at start-up (TCP).
    pub connect_timeout: Duration,
    /// How long to wait for any one message before giving up on its sender.
    pub recv_timeout: Duration,
    /// How long a peer may send nothing at all before it is taken for dead (TCP): the
    /// parties send each other a heartbeat every quarter of this, however long a step
    /// computes.
    pub peer_timeout: Duration,
    /// **Insecure, for tests and reproducible benchmarks only.** Derive every key from this
    /// seed instead of the operating system's generator, so that runs are repeatable.
    pub insecure_seed: Option<u64>,
    /// The public parameters of the job, which the three parties compare before any secret
    /// moves ([`Job`]).
    pub job: Job,
}

/// The version of the messages the parties exchange; parties of different versions refuse
/// each other at the start of a session.
pub const WIRE_VERSION: u32 = 2;

/// The public parameters of a job (network, batch size, model, ...), as named fields.
///
/// At the start of a session every party sends its job to the two others and compares
/// theirs with its own before any key or share is sent: a field both state with different
/// values is an [`Error::Handshake`] with
/// [`HandshakeFailure::Job`](crate::error::HandshakeFailure::Job), naming the field and
/// both values. A field only one party states is not compared: a party states what it
/// knows (the identity of the model shares it holds, say, which the helper does not). The
/// session always adds the wire version and the fixed-point format.
///
/// # Examples
///
/// ```
/// use securenn_dsl::session::{Job, SessionConfig, run_local_with};
///
/// let config = SessionConfig {
///     job: Job::new().with("network", "A").with("batch", 128),
///     ..SessionConfig::default()
/// };
/// let roles = run_local_with(&config, |session| async move { Ok(session.role()) })?;
/// assert_eq!(roles.len(), 3);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Job {
    fields: Vec<(String, String)>,
}

/// The longest job description accepted from a peer, in bytes.
pub const MAX_JOB_LEN: usize = 16 << 10;

impl Job {
    /// A job with no field yet.
    pub fn new() -> Job {
        Job::default()
    }

    /// This job with `field` set to `value` (replacing an earlier value).
    #[must_use]
    pub fn with(mut self, field: impl Into<String>, value: impl ToString) -> Job {
        let field = field.into();
        let value = value.to_string();
        match self.fields.iter_mut().find(|(f, _)| *f == field) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((field, value)),
        }
        self
    }

    /// The value of `field`, if stated.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, v)| v.as_str())
    }

    /// The fields, in the order they were set.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(f, v)| (f.as_str(), v.as_str()))
    }

    /// This job with the fields every session states.
    fn complete(&self) -> Job {
        self.clone().with("wire version", WIRE_VERSION).with(
            "fixed point",
            format!(
                "Z_2^64, {} fractional bits",
                crate::ring::fixed::FRACTIONAL_BITS
            ),
        )
    }

    /// The job's bytes on the wire.
    fn encode(&self) -> Result<Vec<u8>> {
        let bytes = postcard::to_stdvec(self)
            .map_err(|_| Error::Config("the job description cannot be encoded"))?;
        if bytes.len() > MAX_JOB_LEN {
            return Err(Error::Config("the job description is over 16 KiB"));
        }
        Ok(bytes)
    }

    /// Decodes a job description sent by `peer`.
    ///
    /// # Errors
    ///
    /// [`Error::Handshake`] with [`HandshakeFailure::Malformed`](crate::error::HandshakeFailure::Malformed)
    /// if the bytes are over [`MAX_JOB_LEN`] or not a job.
    pub fn decode(bytes: &[u8], peer: Role) -> Result<Job> {
        let malformed = Error::Handshake {
            peer: crate::error::PeerDescription::Party(peer),
            reason: crate::error::HandshakeFailure::Malformed,
        };
        if bytes.len() > MAX_JOB_LEN {
            return Err(malformed);
        }
        postcard::from_bytes(bytes).map_err(|_| malformed)
    }

    /// Checks `theirs`, `peer`'s job, against this one.
    ///
    /// # Errors
    ///
    /// [`Error::Handshake`] with [`HandshakeFailure::Job`](crate::error::HandshakeFailure::Job)
    /// for the first field both state with different values.
    pub fn check(&self, theirs: &Job, peer: Role) -> Result<()> {
        for (field, ours) in self.fields() {
            if let Some(their_value) = theirs.get(field)
                && their_value != ours
            {
                return Err(Error::Handshake {
                    peer: crate::error::PeerDescription::Party(peer),
                    reason: crate::error::HandshakeFailure::Job {
                        field: field.to_owned(),
                        ours: ours.to_owned(),
                        theirs: their_value.to_owned(),
                    },
                });
            }
        }
        Ok(())
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            session_id: 0,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            max_pending_bytes: DEFAULT_MAX_PENDING_BYTES,
            connect_timeout: Duration::from_secs(30),
            recv_timeout: Duration::from_secs(60),
            peer_timeout: Duration::from_secs(10),
            insecure_seed: None,
            job: Job::default(),
        }
    }
}

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
}

/// Where a protocol call is opened: the [`Session`] itself, or an enclosing [`Call`] (the
/// call of the protocol that invokes it). Every protocol function takes a context.
pub trait Context: Send + Sync {
    /// The session this context belongs to.
    fn session(&self) -> &Session;

    /// Opens a call in this context: the next of this context's calls, in program order.
    fn open(&self, name: &'static str) -> Call<'_>;
}

impl Context for Session {
    fn session(&self) -> &Session {
        self
    }

    fn open(&self, name: &'static str) -> Call<'_> {
        let index = self.children.fetch_add(1, Ordering::Relaxed);
        Call {
            session: self,
            parent: None,
            id: CallId::ROOT.child(index),
            name,
            children: AtomicU32::new(0),
            clock: AtomicU64::new(self.clock.load(Ordering::Acquire)),
        }
    }
}

impl Session {
    /// Starts a session over `transport`: agrees on the pairwise keys with the two peers.
    ///
    /// # Errors
    ///
    /// [`Error::OsRng`] if no randomness is available, or the transport's errors during key
    /// agreement.
    pub async fn start(
        transport: impl Transport + 'static,
        config: &SessionConfig,
    ) -> Result<Session> {
        let role = transport.role();
        let mut session = Session {
            role,
            transport: Box::new(transport),
            // A placeholder, replaced by the agreed keys before the session is returned.
            keys: PartyKeys::new(role, [None, None, None], Key::from_bytes([0; 16])),
            children: AtomicU32::new(0),
            clock: AtomicU64::new(0),
            counters: Counters::default(),
            peer_jobs: [None, None, None],
        };
        session.peer_jobs = session.agree_job(&config.job).await?;
        session.keys = session.agree_keys(config).await?;
        Ok(session)
    }

    /// Sends this party's job to both peers and checks theirs, before anything secret;
    /// returns theirs.
    async fn agree_job(&self, job: &Job) -> Result<[Option<Job>; 3]> {
        let ours = job.complete();
        let payload = ours.encode()?;
        // The root identity tags no call: the job frames cannot be taken for a message.
        let tag = Tag {
            call: CallId::ROOT,
            step: 0,
            chunk: 0,
        };
        for peer in self.role.peers() {
            let frame = Frame {
                tag,
                round: 0,
                payload: payload.clone(),
            };
            self.transport.send(peer, frame).await?;
        }
        let mut jobs = [None, None, None];
        for peer in self.role.peers() {
            let frame = self.transport.recv(peer, tag).await?;
            let theirs = Job::decode(&frame.payload, peer)?;
            ours.check(&theirs, peer)?;
            jobs[peer.index()] = Some(theirs);
        }
        Ok(jobs)
    }

    /// The job `peer` stated at the start of the session (`None` for this party itself):
    /// how parties tell each other public facts before anything secret moves, such as the
    /// checkpoints each holds.
    pub fn peer_job(&self, peer: Role) -> Option<&Job> {
        self.peer_jobs[peer.index()].as_ref()
    }

    /// Draws this party's keys and exchanges the pairwise ones.
    async fn agree_keys(&self, config: &SessionConfig) -> Result<PartyKeys> {
        let mut seeded = config.insecure_seed.map(|seed| {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&seed.to_le_bytes());
            Prg::derive(
                &Key::from_bytes(bytes),
                StreamId {
                    call: CallId::ROOT,
                    label: u32::from(self.role.id()),
                },
            )
        });
        let mut fresh_key = || match seeded.as_mut() {
            Some(prg) => {
                let mut bytes = [0u8; 16];
                prg.fill(&mut bytes);
                Ok(Key::from_bytes(bytes))
            }
            None => Key::from_os_rng(),
        };
        let private = fresh_key()?;
        let call = self.open("key agreement");
        // The lower-numbered party of each pair draws the pair's key.
        let mut shared = [None, None, None];
        for peer in self.role.peers() {
            let key = if self.role < peer {
                let key = fresh_key()?;
                call.send(peer, 0, &key_to_elements(&key)).await?;
                key
            } else {
                key_from_elements(&call.recv::<Z64>(peer, 0, 2).await?)
            };
            shared[peer.index()] = Some(key);
        }
        Ok(PartyKeys::new(self.role, shared, private))
    }

    /// This party's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Opens the next top-level protocol call ([`Context::open`] on the session).
    pub fn call(&self, name: &'static str) -> Call<'_> {
        self.open(name)
    }

    /// Opens the top-level call named `name` number `index`: its identity, and so its
    /// randomness and its messages' tags, depends on `(name, index)` alone, not on how many
    /// calls the session opened before. Training opens each step this way, so that a run
    /// resumed from a checkpoint draws exactly the randomness of an uninterrupted one.
    ///
    /// Every party must open it at the same point, and no two calls of a session may have
    /// the same name and index.
    pub fn scope(&self, name: &'static str, index: u64) -> Call<'_> {
        Call {
            session: self,
            parent: None,
            id: CallId::named(name, index),
            name,
            children: AtomicU32::new(0),
            clock: AtomicU64::new(self.clock.load(Ordering::Acquire)),
        }
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

fn key_to_elements(key: &Key) -> [Z64; 2] {
    let bytes = key.to_bytes();
    let mut halves = [[0u8; 8]; 2];
    halves[0].copy_from_slice(&bytes[..8]);
    halves[1].copy_from_slice(&bytes[8..]);
    halves.map(|half| Z64::new(u64::from_le_bytes(half)))
}

fn key_from_elements(elements: &[Z64]) -> Key {
    let mut bytes = [0u8; 16];
    for (chunk, x) in bytes.chunks_exact_mut(8).zip(elements) {
        chunk.copy_from_slice(&x.value().to_le_bytes());
    }
    Key::from_bytes(bytes)
}

/// One protocol invocation within a session: its number, its random streams and its
/// messages.
///
/// # Examples
///
/// ```
/// use securenn_dsl::party::Role;
/// use securenn_dsl::ring::{Ring, Z64};
/// use securenn_dsl::session::run_local;
///
/// // P0 sends three elements to P1; P1 returns what it received.
/// let [_, at_p1, _] = run_local(|session| async move {
///     let call = session.call("example");
///     let values = [Z64::new(1), Z64::new(2), Z64::new(3)];
///     match session.role() {
///         Role::P0 => call.send(Role::P1, 0, &values).await.map(|()| Vec::new()),
///         Role::P1 => call.recv::<Z64>(Role::P0, 0, 3).await,
///         Role::P2 => Ok(Vec::new()),
///     }
/// })?;
/// assert_eq!(at_p1, [Z64::new(1), Z64::new(2), Z64::new(3)]);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
#[derive(Debug)]
pub struct Call<'s> {
    session: &'s Session,
    parent: Option<&'s Call<'s>>,
    id: CallId,
    name: &'static str,
    /// How many calls were opened within this one.
    children: AtomicU32,
    /// The latest round stamp this call depends on: inherited from its context when it is
    /// opened, raised by each message it or a call within it receives.
    clock: AtomicU64,
}

impl Context for Call<'_> {
    fn session(&self) -> &Session {
        self.session
    }

    fn open(&self, name: &'static str) -> Call<'_> {
        let index = self.children.fetch_add(1, Ordering::Relaxed);
        Call {
            session: self.session,
            parent: Some(self),
            id: self.id.child(index),
            name,
            children: AtomicU32::new(0),
            clock: AtomicU64::new(self.clock.load(Ordering::Acquire)),
        }
    }
}

impl Call<'_> {
    /// Records a message stamped `stamp`: this call, and every context it was opened in,
    /// now depends on it (what a context does next may use this call's result). Calls
    /// running side by side keep their own clocks, so their messages share rounds.
    fn received(&self, stamp: u64) {
        self.clock.fetch_max(stamp, Ordering::AcqRel);
        let mut context = self.parent;
        while let Some(call) = context {
            call.clock.fetch_max(stamp, Ordering::AcqRel);
            context = call.parent;
        }
        self.session.clock.fetch_max(stamp, Ordering::AcqRel);
    }

    /// Declares that the rest of this call depends on everything `context` has received so
    /// far: a join point, where a call opened before a sibling ran goes on with the
    /// sibling's result.
    pub(crate) fn depends_on(&self, context: &Call<'_>) {
        self.clock
            .fetch_max(context.clock.load(Ordering::Acquire), Ordering::AcqRel);
    }
    /// The call's identity, the same at every party.
    pub fn id(&self) -> CallId {
        self.id
    }

    /// The call's name, e.g. `"reveal"`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The role of the party running this call.
    pub fn role(&self) -> Role {
        self.session.role
    }

    /// Stream `label` of this call from the key shared with `peer`: `peer` draws the same
    /// values from its own `shared_prg(<our role>, label)`.
    ///
    /// # Errors
    ///
    /// [`Error::WrongRole`] if `peer` is this party.
    pub fn shared_prg(&self, peer: Role, label: u32) -> Result<Prg> {
        self.session
            .keys
            .shared_prg(peer, self.stream(label))
            .ok_or(Error::WrongRole {
                operation: "shared_prg",
                role: self.session.role,
                reason: "a party shares no key with itself",
            })
    }

    /// Stream `label` of this call from this party's private key.
    pub fn private_prg(&self, label: u32) -> Prg {
        self.session.keys.private_prg(self.stream(label))
    }

    fn stream(&self, label: u32) -> StreamId {
        StreamId {
            call: self.id,
            label,
        }
    }

    fn tag(&self, step: u16, chunk: usize) -> Result<Tag> {
        let chunk = u16::try_from(chunk).map_err(|_| {
            Error::Config("a message needs more than 65536 frames; raise max_frame_len")
        })?;
        Ok(Tag {
            call: self.id,
            step,
            chunk,
        })
    }

    /// Elements of `R` per frame.
    fn chunk_len<R: Ring>(&self) -> usize {
        (self.session.transport.max_frame_len() / R::WireLen::USIZE).max(1)
    }

    /// Sends `values` to `to` as message `step` of this call, raw little-endian, split into
    /// frames of at most the maximum frame size.
    ///
    /// # Errors
    ///
    /// The transport's errors.
    pub async fn send<R: Ring>(&self, to: Role, step: u16, values: &[R]) -> Result<()> {
        let chunk_len = self.chunk_len::<R>();
        let chunks = values.len().div_ceil(chunk_len).max(1);
        for chunk in 0..chunks {
            let part = &values[(chunk * chunk_len).min(values.len())
                ..((chunk + 1) * chunk_len).min(values.len())];
            let tag = self.tag(step, chunk)?;
            let mut payload = Vec::new();
            R::encode_slice(part, &mut payload);
            // A peer controls stamps through its messages: saturate rather than overflow.
            let round = self.clock.load(Ordering::Acquire).saturating_add(1);
            self.session.counters.on_send(to, payload.len(), round);
            let frame = Frame {
                tag,
                round,
                payload,
            };
            self.session.transport.send(to, frame).await?;
        }
        Ok(())
    }

    /// Receives message `step` of this call from `from`: exactly `len` elements of `R`.
    ///
    /// # Errors
    ///
    /// [`Error::MessageLength`] if a frame does not hold the expected number of bytes,
    /// [`Error::InvalidElement`] if an element is not canonical, or the transport's errors.
    pub async fn recv<R: Ring>(&self, from: Role, step: u16, len: usize) -> Result<Vec<R>> {
        if from == self.session.role {
            return Err(Error::WrongRole {
                operation: "recv",
                role: from,
                reason: "a party cannot receive a message from itself",
            });
        }
        let width = R::WireLen::USIZE;
        let chunk_len = self.chunk_len::<R>();
        let chunks = len.div_ceil(chunk_len).max(1);
        let mut values = Vec::with_capacity(len);
        for chunk in 0..chunks {
            let tag = self.tag(step, chunk)?;
            let expected = (len - (chunk * chunk_len).min(len)).min(chunk_len) * width;
            let frame = self.session.transport.recv(from, tag).await?;
            self.session
                .counters
                .on_receive(from, frame.payload.len(), frame.round);
            self.received(frame.round);
            if frame.payload.len() != expected {
                return Err(Error::MessageLength {
                    peer: from,
                    tag,
                    expected,
                    received: frame.payload.len(),
                });
            }
            if !R::decode_slice(&frame.payload, &mut values) {
                return Err(Error::InvalidElement {
                    peer: from,
                    tag,
                    ring: R::NAME,
                });
            }
        }
        Ok(values)
    }
}

/// Runs `party` at P0, P1 and P2, each on its own thread, over the in-memory transport with
/// the default [`SessionConfig`]; returns their results in role order.
///
/// # Errors
///
/// If any party fails, the error that started the failure (not the echo of it at the
/// parties that then lost their peer).
///
/// # Panics
///
/// Re-raises a panic of any party's code.
///
/// # Examples
///
/// ```
/// use securenn_dsl::session::run_local;
///
/// let roles = run_local(|session| async move { Ok(session.role().index()) })?;
/// assert_eq!(roles, [0, 1, 2]);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub fn run_local<T, F, Fut>(party: F) -> Result<[T; 3]>
where
    F: Fn(Session) -> Fut + Sync,
    Fut: Future<Output = Result<T>>,
    T: Send,
{
    run_local_with(&SessionConfig::default(), party)
}

/// [`run_local`] with a custom configuration.
///
/// # Errors
///
/// As [`run_local`].
///
/// # Panics
///
/// Re-raises a panic of any party's code.
pub fn run_local_with<T, F, Fut>(config: &SessionConfig, party: F) -> Result<[T; 3]>
where
    F: Fn(Session) -> Fut + Sync,
    Fut: Future<Output = Result<T>>,
    T: Send,
{
    run_with_transports(LocalTransport::triple(config), config, party)
}

/// [`run_local`] over transports of the caller's choice (one per role, in role order): for
/// instance an in-memory transport wrapped to record or disturb what a party receives.
///
/// # Errors
///
/// As [`run_local`].
///
/// # Panics
///
/// Re-raises a panic of any party's code.
pub fn run_with_transports<Tr, T, F, Fut>(
    transports: [Tr; 3],
    config: &SessionConfig,
    party: F,
) -> Result<[T; 3]>
where
    Tr: Transport + 'static,
    F: Fn(Session) -> Fut + Sync,
    Fut: Future<Output = Result<T>>,
    T: Send,
{
    let party = &party;
    let results: Vec<Result<T>> = std::thread::scope(|scope| {
        let handles = transports.map(|transport| {
            scope.spawn(move || {
                futures::executor::block_on(async move {
                    let session = Session::start(transport, config).await?;
                    party(session).await
                })
            })
        });
        handles
            .into_iter()
            .map(|handle| match handle.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    collect_results(results)
}

/// The three parties' values, or the root-cause error.
fn collect_results<T>(results: Vec<Result<T>>) -> Result<[T; 3]> {
    if let Some(root) = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .find(|e| !e.is_peer_closed())
        .or_else(|| results.iter().find_map(|r| r.as_ref().err()))
    {
        return Err(root.clone());
    }
    let values: Vec<T> = results.into_iter().filter_map(Result::ok).collect();
    values
        .try_into()
        .map_err(|_| Error::Config("run_local expects exactly three parties"))
}

/// Starts the three sessions of an in-memory cluster on the current task, for code that
/// drives all three parties itself (benchmarks, single-threaded tests).
///
/// # Errors
///
/// As [`Session::start`].
pub async fn local_sessions(config: &SessionConfig) -> Result<[Session; 3]> {
    let [t0, t1, t2] = LocalTransport::triple(config);
    let (s0, s1, s2) = futures::try_join!(
        Session::start(t0, config),
        Session::start(t1, config),
        Session::start(t2, config)
    )?;
    Ok([s0, s1, s2])
}
