//! Protocol calls: the tree of calls, their identities, random streams and messages.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::error::{Error, MaterialProblem, Result};
use crate::net::{CallId, Frame, Tag, Transport};
use crate::party::Role;
use crate::prg::{Prg, StreamId};
use crate::ring::Ring;
use typenum::Unsigned as _;

use super::material::{
    DRAWN_HEADER_LEN, Dealing, DrawKind, DrawRequest, Phase, decode_taken, drawn_header,
    drawn_step, lock, take_dealt,
};
use super::{Context, Session};

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
            phase: Phase::default(),
        }
    }
}

impl Session {
    /// Opens the top-level call named `name` number `index`: its identity, and so its
    /// randomness and its messages' tags, depends on `(name, index)` alone, not on how many
    /// calls the session opened before. Training opens each step this way, so that a run
    /// resumed from a checkpoint draws exactly the randomness of an uninterrupted one.
    ///
    /// Every party must open it at the same point, and no two calls of a session may have
    /// the same name and index.
    pub fn scope(&self, name: &'static str, index: u64) -> Call<'_> {
        self.scope_with_id(name, CallId::named(name, index), Phase::default())
    }

    /// A top-level call named `name` with identity `id`, in `phase`.
    pub(crate) fn scope_with_id(&self, name: &'static str, id: CallId, phase: Phase) -> Call<'_> {
        Call {
            session: self,
            parent: None,
            id,
            name,
            children: AtomicU32::new(0),
            clock: AtomicU64::new(self.clock.load(Ordering::Acquire)),
            phase,
        }
    }
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
    /// Which keys it shares with P2 and how P2's input-independent material reaches P1:
    /// inherited from its context.
    phase: Phase,
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
            phase: self.phase.clone(),
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
        self.shared_prg_of(self.id, peer, label)
    }

    /// Stream `label` of the identity `of` (another than this call's, such as a mask's
    /// that many calls share) from this call's key with `peer`.
    pub(crate) fn shared_prg_of(&self, of: CallId, peer: Role, label: u32) -> Result<Prg> {
        let stream = StreamId { call: of, label };
        let pair = peer != Role::P2 && self.session.role != Role::P2;
        let prg = match &self.phase.keys {
            // A material's runs draw from the keys of its dealing; the P0-P1 pair from the
            // session's key if the material has none of its own (dealt by an earlier version).
            Some(keys) => match keys.shared_prg(peer, stream) {
                None if pair => self.session.keys.shared_prg(peer, stream),
                prg => prg,
            },
            None => self.session.keys.shared_prg(peer, stream),
        };
        prg.ok_or(Error::WrongRole {
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
        let chunk = u16::try_from(chunk).map_err(|_| Error::InvalidArgument {
            name: "max_frame_len",
            problem: format!(
                "at {} bytes a frame, a message needs more than 65,536 frames; raise it",
                self.session.transport.max_frame_len()
            ),
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
        if matches!(self.phase.dealing, Dealing::Record(_)) {
            // P2's offline run: only the material it deals is kept.
            return Ok(());
        }
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
        if matches!(self.phase.dealing, Dealing::Record(_)) {
            // P2's offline run: its control flow never depends on what it receives.
            return Ok(vec![R::ZERO; len]);
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

impl Call<'_> {
    /// The masks opened under this call's keys with P2 (the session's, or a material's).
    pub(crate) fn opened_masks(&self) -> &super::masks::OpenedMasks {
        self.phase
            .keys
            .as_ref()
            .map_or(&self.session.masks, |keys| &keys.masks)
    }

    /// Whether P2's input-independent dealing in this call was done offline: P2 skips it
    /// (and P1 reads it from its material).
    pub(crate) fn dealt_offline(&self) -> bool {
        matches!(self.phase.dealing, Dealing::Replay(_))
    }

    /// At P2: sends P1's share of material that does not depend on the inputs (a Beaver
    /// triple's ⟨Z⟩₁, ComputeMSB's dealt values) as message `step`: on the wire inline,
    /// into the run's material in P2's offline run, nowhere in the online phase (P1 has it).
    pub(crate) async fn send_dealt<R: Ring>(&self, step: u16, values: &[R]) -> Result<()> {
        match &self.phase.dealing {
            Dealing::Inline => self.send(Role::P1, step, values).await,
            Dealing::Record(recorded) => {
                let mut bytes = Vec::with_capacity(values.len() * R::WireLen::USIZE);
                R::encode_slice(values, &mut bytes);
                lock(recorded).push((self.id, step, bytes));
                Ok(())
            }
            Dealing::Replay(_) => Ok(()),
        }
    }

    /// At P1: the `len` elements P2 sent with [`Call::send_dealt`] as message `step`: from
    /// the wire inline, from the run's material in the online phase.
    pub(crate) async fn recv_dealt<R: Ring>(&self, step: u16, len: usize) -> Result<Vec<R>> {
        match &self.phase.dealing {
            Dealing::Inline => self.recv(Role::P2, step, len).await,
            Dealing::Record(_) => Ok(vec![R::ZERO; len]),
            Dealing::Replay(messages) => take_dealt(messages, self.id, step, len),
        }
    }

    /// At P2, in its offline run of a session with [`SessionConfig::offline_draws`]:
    /// requests `request`, a draw of this call that P0 or P1 makes, to be made in the
    /// offline phase and kept in that party's material. Elsewhere, nothing.
    ///
    /// [`SessionConfig::offline_draws`]: super::SessionConfig::offline_draws
    pub(crate) fn request_draw(&self, request: &DrawRequest) {
        if let Dealing::Record(recorded) = &self.phase.dealing
            && self.session.offline_draws
        {
            let (step, bytes) = request.encode();
            lock(recorded).push((self.id, step, bytes));
        }
    }

    /// In the online phase: the `len` values of stream `label` of this call's key with
    /// `peer`, drawn as `kind` in pieces of `piece` values, that the offline phase drew, if
    /// the run's material holds them (else the caller draws them, the same values).
    ///
    /// # Errors
    ///
    /// [`Error::Material`] if the material holds a draw of another length, another kind or
    /// other pieces (P2 named them in its request: a draw made otherwise is refused).
    pub(crate) fn drawn<R: Ring>(
        &self,
        peer: Role,
        label: u32,
        (kind, piece): (DrawKind, usize),
        len: usize,
    ) -> Result<Option<Vec<R>>> {
        let (Dealing::Replay(messages), Ok(label)) = (&self.phase.dealing, u8::try_from(label))
        else {
            return Ok(None);
        };
        let step = drawn_step(peer, label);
        let Some(bytes) = lock(messages).remove(&(self.id, step)) else {
            return Ok(None);
        };
        // The length first (a draw for another batch), then how it was drawn.
        let body = bytes.get(DRAWN_HEADER_LEN..).unwrap_or_default();
        let values = decode_taken(self.id, step, body, len)?;
        if bytes.get(..DRAWN_HEADER_LEN) != Some(&drawn_header(kind, piece as u64)[..]) {
            return Err(Error::Material {
                source_name: "online run".to_owned(),
                problem: MaterialProblem::Malformed(format!(
                    "draw {step} of call {} was not drawn as this call draws it",
                    self.id
                )),
            });
        }
        Ok(Some(values))
    }
}
