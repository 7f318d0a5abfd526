//! A server's queue of query halves (at P0 and at P1): bounded, refused when full, and
//! each half taken once, for one batch, together with where its answer goes.
//!
//! The listeners that read clients' messages [`offer`](Intake::offer) the halves; the
//! serving loop takes them: at P0 a batch closes when it is full or when its first query
//! has waited the longest wait ([`Intake::next_batch`]); P1 then takes the same ids that it
//! holds, without waiting ([`Intake::take`]), and P0 takes those ([`Intake::settle`]). A
//! half P1 lacks stays at P0 for a later batch, not proposed again for a short retry
//! delay, until it is older than the pair wait: then it is refused as unpaired. So a
//! client that reaches only one server delays no one else's query.

use std::collections::{HashMap, VecDeque};
use std::future::{Future, poll_fn};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use futures::task::AtomicWaker;

use super::query::{QueryHalf, QueryId, Refusal, Reply};
use crate::net::Delay;
use crate::ring::Z64;

/// A server's queue of query halves waiting for a batch.
pub struct Intake {
    input_len: usize,
    capacity: usize,
    state: Mutex<State>,
    /// Wakes the serving loop (its one waiter) when a half arrives or the queue closes.
    arrival: AtomicWaker,
    /// Wakes the listeners waiting for the queue to close.
    closing: Mutex<Listeners>,
}

/// The wakers of the futures waiting for the queue to close, each under its own key; a
/// future that ends or is dropped takes its waker out, so that the list holds only the
/// live ones (a waker kept would keep its task's memory alive).
#[derive(Default)]
struct Listeners {
    next_key: u64,
    wakers: HashMap<u64, Waker>,
}

/// A wait for the queue to close ([`Intake::closed`]): its waker is registered while it
/// waits, and taken out when it is dropped.
struct ClosedWait<'a> {
    intake: &'a Intake,
    key: Option<u64>,
}

impl Future for ClosedWait<'_> {
    type Output = ();

    fn poll(mut self: core::pin::Pin<&mut Self>, cx: &mut core::task::Context<'_>) -> Poll<()> {
        let mut listeners = self.intake.closing_listeners();
        if self.intake.lock().closed {
            return Poll::Ready(());
        }
        let key = match self.key {
            Some(key) => key,
            None => {
                let key = listeners.next_key;
                listeners.next_key += 1;
                key
            }
        };
        match listeners.wakers.get_mut(&key) {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            Some(waker) => waker.clone_from(cx.waker()),
            None => {
                listeners.wakers.insert(key, cx.waker().clone());
            }
        }
        drop(listeners);
        self.key = Some(key);
        Poll::Pending
    }
}

impl Drop for ClosedWait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.intake.closing_listeners().wakers.remove(&key);
        }
    }
}

impl core::fmt::Debug for Intake {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Intake")
            .field("input_len", &self.input_len)
            .field("capacity", &self.capacity)
            .field("waiting", &self.waiting())
            .finish()
    }
}

#[derive(Default)]
struct State {
    waiting: HashMap<QueryId, Waiting>,
    /// Ids in order of arrival; an id no longer waiting is skipped.
    order: VecDeque<QueryId>,
    closed: bool,
}

impl State {
    /// Takes half `id` out of the queue, if it waits.
    fn remove(&mut self, id: QueryId) -> Option<Taken> {
        self.waiting.remove(&id).map(|waiting| Taken {
            id,
            shares: waiting.shares,
            reply: waiting.reply,
        })
    }
}

struct Waiting {
    shares: Vec<Z64>,
    arrived: Instant,
    /// Not proposed for a batch before then (P1 lacked its other half).
    not_before: Instant,
    reply: oneshot::Sender<Reply>,
}

/// A query half taken for a batch: its shares, and where its answer goes.
pub(crate) struct Taken {
    pub(crate) id: QueryId,
    pub(crate) shares: Vec<Z64>,
    pub(crate) reply: oneshot::Sender<Reply>,
}

impl Taken {
    /// Sends `reply`; a client that went away is no one's loss.
    pub(crate) fn answer(self, reply: Reply) {
        // A closed receiver means the client went away: nothing to do.
        self.reply.send(reply).ok();
    }
}

impl Intake {
    /// An empty queue for halves of `input_len` values, holding at most `capacity` of
    /// them.
    pub fn new(input_len: usize, capacity: usize) -> Intake {
        Intake {
            input_len,
            capacity,
            state: Mutex::new(State::default()),
            arrival: AtomicWaker::new(),
            closing: Mutex::new(Listeners::default()),
        }
    }

    /// Queues a client's half. The receiver gets the server's reply: its share of the
    /// answer once the half's batch has run, or at once a refusal, if the half does not fit
    /// the network, its id is already waiting, the queue is full (back-pressure: "busy")
    /// or closed.
    pub fn offer(&self, half: QueryHalf) -> oneshot::Receiver<Reply> {
        let (reply, receiver) = oneshot::channel();
        let QueryHalf { id, shares } = half;
        let refusal = if shares.len() != self.input_len {
            Some(Refusal::Malformed)
        } else {
            let mut state = self.lock();
            if state.closed {
                Some(Refusal::Stopped)
            } else if state.waiting.contains_key(&id) {
                Some(Refusal::DuplicateId)
            } else if state.waiting.len() >= self.capacity {
                Some(Refusal::Busy)
            } else {
                let arrived = Instant::now();
                let waiting = Waiting {
                    shares,
                    arrived,
                    not_before: arrived,
                    reply,
                };
                state.waiting.insert(id, waiting);
                state.order.push_back(id);
                if state.order.len() > 2 * self.capacity + 64 {
                    // Ids taken out of order (at P1) or expired: drop them all at once.
                    let State { waiting, order, .. } = &mut *state;
                    order.retain(|id| waiting.contains_key(id));
                }
                drop(state);
                self.arrival.wake();
                return receiver;
            }
        };
        if let Some(refusal) = refusal {
            reply.send(Reply::Refused { id, refusal }).ok();
        }
        receiver
    }

    /// Completes once the queue is closed.
    pub async fn closed(&self) {
        ClosedWait {
            intake: self,
            key: None,
        }
        .await;
    }

    /// The values a half must hold: the network's input size.
    pub fn input_len(&self) -> usize {
        self.input_len
    }

    /// Halves waiting.
    pub fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }

    /// Closes the queue: every later half is refused as [`Refusal::Stopped`]; the serving
    /// loop ends after its batch and refuses the halves still waiting (only the loop takes
    /// halves out, so that P0 and P1 always agree on a batch). Closing P0's queue stops
    /// the three servers.
    pub fn close(&self) {
        self.lock().closed = true;
        self.arrival.wake();
        let wakers = std::mem::take(&mut self.closing_listeners().wakers);
        for waker in wakers.into_values() {
            waker.wake();
        }
    }

    /// Refuses every waiting half as [`Refusal::Stopped`] (the serving loop's last step).
    pub(crate) fn refuse_waiting(&self) {
        let waiting = {
            let mut state = self.lock();
            state.order.clear();
            std::mem::take(&mut state.waiting)
        };
        for (id, waiting) in waiting {
            let refusal = Refusal::Stopped;
            waiting.reply.send(Reply::Refused { id, refusal }).ok();
        }
    }

    fn closing_listeners(&self) -> MutexGuard<'_, Listeners> {
        self.closing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// At P0: the ids of the next batch, oldest first, once `max_batch` halves may run or
    /// the oldest of them has waited `max_wait`; no ids if none may run within `idle`;
    /// `None` once the queue is closed. The halves stay queued until [`Intake::settle`].
    pub(crate) async fn next_batch(
        &self,
        max_batch: usize,
        max_wait: Duration,
        idle: Duration,
    ) -> Option<Vec<QueryId>> {
        let idle_until = Instant::now() + idle;
        let mut timer: Option<(Instant, Delay)> = None;
        poll_fn(|cx| {
            loop {
                self.arrival.register(cx.waker());
                let now = Instant::now();
                let (ids, deadline) = {
                    let mut state = self.lock();
                    if state.closed {
                        return Poll::Ready(None);
                    }
                    let State { waiting, order, .. } = &mut *state;
                    while order.front().is_some_and(|id| !waiting.contains_key(id)) {
                        order.pop_front();
                    }
                    let mut ids = Vec::new();
                    let mut proposed = std::collections::HashSet::new();
                    let mut oldest: Option<Instant> = None;
                    let mut next_retry: Option<Instant> = None;
                    for id in order.iter() {
                        let Some(half) = waiting.get(id) else {
                            continue;
                        };
                        // An id offered again once answered is in `order` twice: once only.
                        if !proposed.insert(*id) {
                            continue;
                        }
                        if half.not_before > now {
                            next_retry = Some(
                                next_retry.map_or(half.not_before, |t| t.min(half.not_before)),
                            );
                        } else if ids.len() < max_batch {
                            oldest.get_or_insert(half.arrived);
                            ids.push(*id);
                        }
                    }
                    let ready = ids.len() >= max_batch
                        || oldest.is_some_and(|oldest| now >= oldest + max_wait);
                    if ready {
                        return Poll::Ready(Some(ids));
                    }
                    if oldest.is_none() && now >= idle_until {
                        return Poll::Ready(Some(Vec::new()));
                    }
                    // The heartbeat's deadline counts only while no half may run: once one
                    // may, it runs by `oldest + max_wait` (a past deadline would spin).
                    let idle = oldest.is_none().then_some(idle_until);
                    let deadline = [oldest.map(|t| t + max_wait), next_retry, idle]
                        .into_iter()
                        .flatten()
                        .min()
                        .unwrap_or(idle_until);
                    (ids, deadline)
                };
                drop(ids);
                let delay = match &mut timer {
                    Some((at, delay)) if *at == deadline => delay,
                    _ => &mut timer.insert((deadline, Delay::until(deadline))).1,
                };
                if core::pin::Pin::new(delay).poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
        })
        .await
    }

    /// At P0, once P1 has said which of the batch's `ids` it holds: takes those (in their
    /// order); of the others, refuses as [`Refusal::Unpaired`] the halves older than
    /// `pair_wait`, and keeps the rest for a later batch, not proposed again before `retry`
    /// has passed. Returns the halves taken and the number refused.
    pub(crate) fn settle(
        &self,
        ids: &[QueryId],
        held: &[bool],
        pair_wait: Duration,
        retry: Duration,
    ) -> (Vec<Taken>, u64) {
        let now = Instant::now();
        let mut taken = Vec::with_capacity(ids.len());
        let mut unpaired = Vec::new();
        {
            let mut state = self.lock();
            for (&id, &held) in ids.iter().zip(held) {
                let Some(half) = state.waiting.get_mut(&id) else {
                    continue;
                };
                if !held && now.duration_since(half.arrived) <= pair_wait {
                    half.not_before = now + retry;
                    continue;
                }
                if let Some(half) = state.remove(id) {
                    if held {
                        taken.push(half)
                    } else {
                        unpaired.push(half)
                    }
                }
            }
        }
        let refused = unpaired.len() as u64;
        for half in unpaired {
            let (id, refusal) = (half.id, Refusal::Unpaired);
            half.answer(Reply::Refused { id, refusal });
        }
        (taken, refused)
    }

    /// Takes the halves of `ids` that are here, in their order.
    pub(crate) fn take(&self, ids: &[QueryId]) -> Vec<Option<Taken>> {
        let mut state = self.lock();
        ids.iter().map(|&id| state.remove(id)).collect()
    }

    /// Refuses, as [`Refusal::Unpaired`], the halves that have waited longer than `limit`
    /// (at P1, halves whose other half never reached P0).
    pub(crate) fn expire(&self, limit: Duration) {
        let now = Instant::now();
        let expired: Vec<Taken> = {
            let mut state = self.lock();
            let old: Vec<QueryId> = state
                .waiting
                .iter()
                .filter(|(_, waiting)| now.duration_since(waiting.arrived) > limit)
                .map(|(&id, _)| id)
                .collect();
            old.into_iter().filter_map(|id| state.remove(id)).collect()
        };
        for half in expired {
            let (id, refusal) = (half.id, Refusal::Unpaired);
            half.answer(Reply::Refused { id, refusal });
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state consistent, so a poisoned lock is usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A waker that counts its wakes.
    struct Counting(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Counting {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    #[test]
    fn waits_for_the_close_that_end_leave_no_waker_behind() {
        let intake = Intake::new(4, 8);
        let counter = std::sync::Arc::new(Counting(std::sync::atomic::AtomicUsize::new(0)));
        let waker = Waker::from(std::sync::Arc::clone(&counter));
        let mut cx = core::task::Context::from_waker(&waker);
        // A thousand listeners that came and went (connections that ended) leave nothing.
        for _ in 0..1000 {
            let mut wait = Box::pin(intake.closed());
            assert!(wait.as_mut().poll(&mut cx).is_pending());
            assert!(wait.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(intake.closing_listeners().wakers.len(), 0);
        // One still waiting is woken by the close, and then ready.
        let mut wait = Box::pin(intake.closed());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        assert_eq!(intake.closing_listeners().wakers.len(), 1);
        intake.close();
        assert_eq!(counter.0.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert!(wait.as_mut().poll(&mut cx).is_ready());
        drop(wait);
        assert_eq!(intake.closing_listeners().wakers.len(), 0);
    }
}
