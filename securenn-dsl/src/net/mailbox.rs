//! A party's inbox: frames that have arrived, keyed by sender and tag, and the tasks waiting
//! for them.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

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

#[derive(Debug, Default)]
struct State {
    frames: HashMap<(Role, Tag), Frame>,
    waiters: HashMap<(Role, Tag), Waker>,
    gone: [Option<PeerGone>; 3],
}

impl State {
    /// Wakes every task waiting on `peer`.
    fn wake_waiters_of(&mut self, peer: Role) {
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
#[derive(Debug, Default)]
pub(crate) struct Mailbox {
    state: Mutex<State>,
}

impl Mailbox {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent maps behind; keep going.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Files a frame from `from`.
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateMessage`] if a frame with the same tag is already waiting; the
    /// peer is then marked as failed.
    pub(crate) fn deliver(&self, from: Role, frame: Frame) -> Result<()> {
        let mut state = self.lock();
        let key = (from, frame.tag);
        match state.frames.entry(key) {
            Entry::Occupied(_) => {
                let error = Error::DuplicateMessage {
                    peer: from,
                    tag: frame.tag,
                };
                drop(state);
                self.fail(from, error.clone());
                Err(error)
            }
            Entry::Vacant(slot) => {
                slot.insert(frame);
                if let Some(waker) = state.waiters.remove(&key) {
                    waker.wake();
                }
                Ok(())
            }
        }
    }

    /// Records that `peer` closed its end; frames already delivered stay readable.
    pub(crate) fn close(&self, peer: Role) {
        let mut state = self.lock();
        if state.gone[peer.index()].is_none() {
            state.gone[peer.index()] = Some(PeerGone::Closed);
        }
        state.wake_waiters_of(peer);
    }

    /// Records that the connection with `peer` ended with `error` (the first error wins).
    pub(crate) fn fail(&self, peer: Role, error: Error) {
        let mut state = self.lock();
        if state.gone[peer.index()].is_none() {
            state.gone[peer.index()] = Some(PeerGone::Failed(error));
        }
        state.wake_waiters_of(peer);
    }

    /// Waits for the frame `tag` from `from`, at party `local`.
    pub(crate) async fn recv(&self, local: Role, from: Role, tag: Tag) -> Result<Frame> {
        futures::future::poll_fn(|cx| {
            let mut state = self.lock();
            if let Some(frame) = state.frames.remove(&(from, tag)) {
                return Poll::Ready(Ok(frame));
            }
            match &state.gone[from.index()] {
                Some(PeerGone::Closed) => Poll::Ready(Err(Error::PeerClosed {
                    local,
                    peer: from,
                    tag,
                })),
                Some(PeerGone::Failed(error)) => Poll::Ready(Err(error.clone())),
                None => {
                    state.waiters.insert((from, tag), cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}
