//! A party's inbox: frames that have arrived, keyed by sender and tag, and the tasks waiting
//! for them. The bytes waiting from each peer are capped, so a peer cannot make this party
//! allocate without bound by sending frames nobody asks for; the tags of the latest frames
//! consumed (4,096 per sender) are remembered, so a replayed message is recognised; older
//! replays are caught by the connection's sequence numbers or wait unclaimed until the
//! receive timeout.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use super::{Frame, Tag};
use crate::error::{Error, Result};
use crate::party::Role;

/// Why a peer can deliver no more frames.
#[derive(Debug, Clone)]
enum PeerGone {
    /// The peer closed its end between two frames.
    Closed,
    /// The connection ended with an error.
    Failed(Error),
}

/// What a waiting frame costs beyond its payload (its key, header and map entry), counted
/// against the cap: empty frames cannot pile up without bound either.
const FRAME_OVERHEAD: usize = 128;

/// How many consumed tags are remembered per sender, to recognise replays.
const REMEMBERED_TAGS: usize = 1 << 12;

/// The latest tags consumed from one sender, oldest first.
#[derive(Debug, Default)]
struct Consumed {
    order: VecDeque<Tag>,
    set: HashSet<Tag>,
}

impl Consumed {
    fn insert(&mut self, tag: Tag) {
        if self.set.insert(tag) {
            self.order.push_back(tag);
            if self.order.len() > REMEMBERED_TAGS
                && let Some(oldest) = self.order.pop_front()
            {
                self.set.remove(&oldest);
            }
        }
    }
}

#[derive(Debug, Default)]
struct State {
    frames: HashMap<(Role, Tag), Frame>,
    waiters: HashMap<(Role, Tag), Waker>,
    /// Payload bytes waiting to be received, per sender.
    pending: [usize; 3],
    /// Frames waiting to be received, per sender.
    waiting: [usize; 3],
    consumed: [Consumed; 3],
    gone: [Option<PeerGone>; 3],
    /// Tasks waiting for a peer to fail ([`Mailbox::failed`]), by the id of their future.
    failure_waiters: HashMap<u64, (Role, Waker)>,
    /// The id of the next [`Failed`] future.
    next_failure_waiter: u64,
}

impl State {
    /// Records that `peer` is gone (the first reason wins) and wakes every task waiting on it.
    fn mark_gone(&mut self, peer: Role, reason: PeerGone) {
        if self.gone[peer.index()].is_none() {
            self.gone[peer.index()] = Some(reason);
        }
        self.failure_waiters.retain(|_, (role, waker)| {
            if *role == peer {
                waker.wake_by_ref();
                false
            } else {
                true
            }
        });
        self.waiters.retain(|&(from, _), waker| {
            if from == peer {
                waker.wake_by_ref();
                false
            } else {
                true
            }
        });
    }
}

/// Frames delivered to one party.
#[derive(Debug)]
pub(crate) struct Mailbox {
    state: Mutex<State>,
    /// The most bytes (payloads, plus [`FRAME_OVERHEAD`] per frame) that may wait from one
    /// sender.
    max_pending: usize,
}

impl Mailbox {
    pub(crate) fn new(max_pending: usize) -> Mailbox {
        Mailbox {
            state: Mutex::default(),
            max_pending,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent maps behind; keep going.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Files a frame from `from`.
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateMessage`] if a frame with the same tag is already waiting,
    /// [`Error::ReplayedMessage`] if one was received lately, and [`Error::MailboxFull`] if
    /// the frame would exceed the bytes allowed to wait; the peer is then marked as failed.
    pub(crate) fn deliver(&self, from: Role, frame: Frame) -> Result<()> {
        let mut state = self.lock();
        let key = (from, frame.tag);
        let pending = state.pending[from.index()] + frame.payload.len() + FRAME_OVERHEAD;
        let refusal = if pending > self.max_pending {
            Some(Error::MailboxFull {
                peer: from,
                limit: self.max_pending,
            })
        } else if state.frames.contains_key(&key) {
            Some(Error::DuplicateMessage {
                peer: from,
                tag: frame.tag,
            })
        } else if state.consumed[from.index()].set.contains(&frame.tag) {
            Some(Error::ReplayedMessage {
                peer: from,
                tag: frame.tag,
            })
        } else {
            None
        };
        if let Some(error) = refusal {
            state.mark_gone(from, PeerGone::Failed(error.clone()));
            return Err(error);
        }
        state.pending[from.index()] = pending;
        state.waiting[from.index()] += 1;
        if let Entry::Vacant(slot) = state.frames.entry(key) {
            slot.insert(frame);
        }
        if let Some(waker) = state.waiters.remove(&key) {
            waker.wake();
        }
        Ok(())
    }

    /// Records that `peer` closed its end; frames already delivered stay readable.
    pub(crate) fn close(&self, peer: Role) {
        self.lock().mark_gone(peer, PeerGone::Closed);
    }

    /// Records that the connection with `peer` ended with `error` (the first error wins).
    pub(crate) fn fail(&self, peer: Role, error: Error) {
        self.lock().mark_gone(peer, PeerGone::Failed(error));
    }

    /// Records that `from` gave up because `culprit` is gone: every wait on either ends
    /// with [`Error::PeerLost`] naming `culprit`.
    pub(crate) fn abort(&self, from: Role, culprit: Role) {
        let error = Error::PeerLost {
            peer: culprit,
            reported_by: from,
        };
        let mut state = self.lock();
        state.mark_gone(from, PeerGone::Failed(error.clone()));
        state.mark_gone(culprit, PeerGone::Failed(error));
    }

    /// Why `peer` can deliver no more frames, if it failed (not if it closed cleanly).
    pub(crate) fn failure(&self, peer: Role) -> Option<Error> {
        match &self.lock().gone[peer.index()] {
            Some(PeerGone::Failed(error)) => Some(error.clone()),
            _ => None,
        }
    }

    /// Resolves with the error that ended the connection with `peer`, once it fails (not
    /// when it closes cleanly): a send to a peer that stopped reading races this, so that
    /// it cannot block forever on a full socket.
    pub(crate) fn failed(&self, peer: Role) -> Failed<'_> {
        let mut state = self.lock();
        let id = state.next_failure_waiter;
        state.next_failure_waiter += 1;
        Failed {
            mailbox: self,
            peer,
            id,
        }
    }

    /// How many frames from `from` wait, received but not asked for.
    pub(crate) fn waiting_from(&self, from: Role) -> usize {
        self.lock().waiting[from.index()]
    }

    /// Waits for the frame `tag` from `from`, at party `local`.
    pub(crate) fn recv(&self, local: Role, from: Role, tag: Tag) -> Receive<'_> {
        Receive {
            mailbox: self,
            local,
            from,
            tag,
            waiting: false,
        }
    }
}

/// The future of [`Mailbox::recv`]. Dropping it before it completes withdraws its waker.
#[derive(Debug)]
pub(crate) struct Receive<'a> {
    mailbox: &'a Mailbox,
    local: Role,
    from: Role,
    tag: Tag,
    waiting: bool,
}

impl Future for Receive<'_> {
    type Output = Result<Frame>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Frame>> {
        let key = (self.from, self.tag);
        let mut state = self.mailbox.lock();
        if let Some(frame) = state.frames.remove(&key) {
            state.pending[self.from.index()] -= frame.payload.len() + FRAME_OVERHEAD;
            state.waiting[self.from.index()] -= 1;
            state.consumed[self.from.index()].insert(self.tag);
            drop(state);
            self.waiting = false;
            return Poll::Ready(Ok(frame));
        }
        let outcome = match &state.gone[self.from.index()] {
            Some(PeerGone::Closed) => Poll::Ready(Err(Error::PeerClosed {
                local: self.local,
                peer: self.from,
                tag: self.tag,
            })),
            Some(PeerGone::Failed(error)) => Poll::Ready(Err(error.clone())),
            None => {
                state.waiters.insert(key, cx.waker().clone());
                Poll::Pending
            }
        };
        drop(state);
        self.waiting = outcome.is_pending();
        outcome
    }
}

impl Drop for Receive<'_> {
    fn drop(&mut self) {
        if self.waiting {
            self.mailbox.lock().waiters.remove(&(self.from, self.tag));
        }
    }
}

/// The future of [`Mailbox::failed`]. Dropping it withdraws its waker.
#[derive(Debug)]
pub(crate) struct Failed<'a> {
    mailbox: &'a Mailbox,
    peer: Role,
    id: u64,
}

impl Future for Failed<'_> {
    type Output = Error;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Error> {
        let mut state = self.mailbox.lock();
        if let Some(PeerGone::Failed(error)) = &state.gone[self.peer.index()] {
            let error = error.clone();
            state.failure_waiters.remove(&self.id);
            return Poll::Ready(error);
        }
        state
            .failure_waiters
            .insert(self.id, (self.peer, cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for Failed<'_> {
    fn drop(&mut self) {
        self.mailbox.lock().failure_waiters.remove(&self.id);
    }
}
