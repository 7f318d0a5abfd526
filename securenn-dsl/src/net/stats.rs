//! Traffic counters: bytes, messages and rounds.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::party::Role;

/// One party's traffic since the session started or since the last
/// [`reset_stats`](crate::session::Session::reset_stats).
///
/// Bytes are payload bytes (the ring elements: 8 per Z_2^64 element, 1 per Z_p element),
/// the unit of the SecureNN paper's cost formulas; the 32-byte frame headers are not
/// counted. Messages are frames. Rounds are the length of the longest chain of messages
/// each sent after receiving the previous one, as seen by this party: every frame carries
/// a Lamport stamp, one more than the latest stamp its protocol call (and the calls it
/// depends on) had received, so calls running side by side share rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// The party these counters belong to.
    pub role: Role,
    /// `bytes_sent[peer]`: payload bytes sent to each party (0 at our own index).
    pub bytes_sent: [u64; 3],
    /// `bytes_received[peer]`: payload bytes received from each party.
    pub bytes_received: [u64; 3],
    /// Frames sent to each party.
    pub messages_sent: [u64; 3],
    /// Frames received from each party.
    pub messages_received: [u64; 3],
    /// Communication rounds.
    pub rounds: u64,
}

impl Stats {
    /// Payload bytes this party sent, in total.
    pub fn total_sent(&self) -> u64 {
        self.bytes_sent.iter().sum()
    }

    /// Payload bytes this party received, in total.
    pub fn total_received(&self) -> u64 {
        self.bytes_received.iter().sum()
    }
}

/// The traffic of the whole cluster, from the three parties' [`Stats`].
///
/// # Examples
///
/// ```
/// use securenn_dsl::net::{ClusterStats, Stats};
/// use securenn_dsl::party::Role;
///
/// let quiet = |role| Stats {
///     role,
///     bytes_sent: [0; 3],
///     bytes_received: [0; 3],
///     messages_sent: [0; 3],
///     messages_received: [0; 3],
///     rounds: 0,
/// };
/// let mut p0 = quiet(Role::P0);
/// p0.bytes_sent[1] = 80;
/// p0.rounds = 1;
/// let mut p1 = quiet(Role::P1);
/// p1.bytes_received[0] = 80;
/// p1.rounds = 1;
/// let cluster = ClusterStats::from_parties(&[p0, p1, quiet(Role::P2)]);
/// assert_eq!(cluster.bytes[0][1], 80);
/// assert_eq!(cluster.total_bytes(), 80);
/// assert!(cluster.is_consistent());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStats {
    /// `bytes[from][to]`: payload bytes sent from one party to another.
    pub bytes: [[u64; 3]; 3],
    /// `messages[from][to]`: frames sent from one party to another.
    pub messages: [[u64; 3]; 3],
    /// `received[to][from]`: payload bytes each party counted as received.
    pub received: [[u64; 3]; 3],
    /// The largest round count of the three parties.
    pub rounds: u64,
}

impl ClusterStats {
    /// Combines the three parties' counters (indexed by role).
    pub fn from_parties(parties: &[Stats; 3]) -> ClusterStats {
        ClusterStats {
            bytes: parties.map(|s| s.bytes_sent),
            messages: parties.map(|s| s.messages_sent),
            received: parties.map(|s| s.bytes_received),
            rounds: parties.iter().map(|s| s.rounds).max().unwrap_or(0),
        }
    }

    /// Payload bytes sent by all parties together: the paper's communication figure.
    pub fn total_bytes(&self) -> u64 {
        self.bytes.iter().flatten().sum()
    }

    /// Payload bytes sent by one party.
    pub fn sent_by(&self, role: Role) -> u64 {
        self.bytes[role.index()].iter().sum()
    }

    /// Whether every party received exactly what the others sent it.
    pub fn is_consistent(&self) -> bool {
        Role::ALL.iter().all(|from| {
            Role::ALL.iter().all(|to| {
                self.bytes[from.index()][to.index()] == self.received[to.index()][from.index()]
            })
        })
    }
}

/// The live counters behind [`Stats`], updated by the session.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    bytes_sent: [AtomicU64; 3],
    bytes_received: [AtomicU64; 3],
    messages_sent: [AtomicU64; 3],
    messages_received: [AtomicU64; 3],
    /// Largest round stamp sent or received.
    rounds: AtomicU64,
}

impl Counters {
    /// Counts a frame of `bytes` payload bytes sent to `to` with round stamp `stamp`.
    pub(crate) fn on_send(&self, to: Role, bytes: usize, stamp: u64) {
        self.bytes_sent[to.index()].fetch_add(bytes as u64, Ordering::Relaxed);
        self.messages_sent[to.index()].fetch_add(1, Ordering::Relaxed);
        self.rounds.fetch_max(stamp, Ordering::AcqRel);
    }

    /// Counts a frame received from `from` with its round stamp.
    pub(crate) fn on_receive(&self, from: Role, bytes: usize, stamp: u64) {
        self.bytes_received[from.index()].fetch_add(bytes as u64, Ordering::Relaxed);
        self.messages_received[from.index()].fetch_add(1, Ordering::Relaxed);
        self.rounds.fetch_max(stamp, Ordering::AcqRel);
    }

    pub(crate) fn snapshot(&self, role: Role) -> Stats {
        let load =
            |counters: &[AtomicU64; 3]| counters.each_ref().map(|c| c.load(Ordering::Relaxed));
        Stats {
            role,
            bytes_sent: load(&self.bytes_sent),
            bytes_received: load(&self.bytes_received),
            messages_sent: load(&self.messages_sent),
            messages_received: load(&self.messages_received),
            rounds: self.rounds.load(Ordering::Acquire),
        }
    }

    pub(crate) fn reset(&self) {
        let all = [
            &self.bytes_sent,
            &self.bytes_received,
            &self.messages_sent,
            &self.messages_received,
        ];
        for counter in all.into_iter().flatten() {
            counter.store(0, Ordering::Relaxed);
        }
        self.rounds.store(0, Ordering::Release);
    }
}
