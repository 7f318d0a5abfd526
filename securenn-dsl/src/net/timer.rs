//! A runtime-agnostic delay: one background thread wakes the futures whose deadline has
//! passed. It gives the in-memory transport its receive timeout without tying it to an
//! async runtime.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// Cancelled entries stay queued until their deadline, unless the queue grows past this
/// size and twice its size after the last sweep: then they are swept out.
const SWEEP_THRESHOLD: usize = 4096;

/// One registered deadline.
struct Entry {
    cancelled: AtomicBool,
    waker: Mutex<Waker>,
}

/// A queue entry ordered by deadline, then by registration order.
struct Scheduled {
    deadline: Instant,
    sequence: u64,
    entry: Arc<Entry>,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.sequence) == (other.deadline, other.sequence)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        (self.deadline, self.sequence).cmp(&(other.deadline, other.sequence))
    }
}

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<Scheduled>>,
    sequence: u64,
    /// The queue's length after the last sweep.
    swept_len: usize,
}

#[derive(Default)]
struct Timer {
    queue: Mutex<Queue>,
    changed: Condvar,
}

impl Timer {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The shared timer, its thread started on first use.
    fn get() -> &'static Timer {
        static TIMER: OnceLock<&'static Timer> = OnceLock::new();
        TIMER.get_or_init(|| {
            let timer: &'static Timer = Box::leak(Box::default());
            std::thread::Builder::new()
                .name("securenn-timer".into())
                .spawn(move || timer.run())
                .map_or_else(
                    |error| tracing::error!(%error, "cannot start the timer thread; local receives will not time out"),
                    drop,
                );
            timer
        })
    }

    fn schedule(&self, deadline: Instant, entry: Arc<Entry>) {
        let mut queue = self.lock();
        queue.sequence += 1;
        let sequence = queue.sequence;
        let earliest = queue
            .heap
            .peek()
            .is_none_or(|Reverse(top)| deadline < top.deadline);
        queue.heap.push(Reverse(Scheduled {
            deadline,
            sequence,
            entry,
        }));
        if earliest {
            self.changed.notify_one();
        }
    }

    /// The timer thread: wakes due entries, sleeps until the next deadline.
    fn run(&self) {
        let mut queue = self.lock();
        loop {
            let now = Instant::now();
            while queue
                .heap
                .peek()
                .is_some_and(|Reverse(top)| top.deadline <= now)
            {
                if let Some(Reverse(due)) = queue.heap.pop()
                    && !due.entry.cancelled.load(Ordering::Acquire)
                {
                    due.entry
                        .waker
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .wake_by_ref();
                }
            }
            if queue.heap.len() > SWEEP_THRESHOLD.max(2 * queue.swept_len) {
                queue
                    .heap
                    .retain(|Reverse(s)| !s.entry.cancelled.load(Ordering::Acquire));
                queue.swept_len = queue.heap.len();
            }
            queue = match queue.heap.peek().map(|Reverse(top)| top.deadline) {
                Some(deadline) => {
                    let wait = deadline.saturating_duration_since(Instant::now());
                    self.changed
                        .wait_timeout(queue, wait)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self
                    .changed
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

/// A future that completes at `deadline`.
pub(crate) struct Delay {
    deadline: Instant,
    entry: Option<Arc<Entry>>,
}

impl Delay {
    pub(crate) fn until(deadline: Instant) -> Delay {
        Delay {
            deadline,
            entry: None,
        }
    }
}

impl Future for Delay {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        match &self.entry {
            Some(entry) => {
                let mut waker = entry.waker.lock().unwrap_or_else(PoisonError::into_inner);
                if !waker.will_wake(cx.waker()) {
                    waker.clone_from(cx.waker());
                }
            }
            None => {
                let entry = Arc::new(Entry {
                    cancelled: AtomicBool::new(false),
                    waker: Mutex::new(cx.waker().clone()),
                });
                Timer::get().schedule(self.deadline, Arc::clone(&entry));
                self.entry = Some(entry);
            }
        }
        Poll::Pending
    }
}

impl Drop for Delay {
    fn drop(&mut self) {
        if let Some(entry) = &self.entry {
            entry.cancelled.store(true, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_delay_completes_at_its_deadline_and_not_before() {
        let start = Instant::now();
        futures::executor::block_on(Delay::until(start + Duration::from_millis(50)));
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(50), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    }
}
