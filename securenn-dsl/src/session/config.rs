//! A session's settings and the wire version.

use std::time::Duration;

use crate::net::{DEFAULT_MAX_FRAME_LEN, DEFAULT_MAX_PENDING_BYTES};

use super::Job;

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
    /// [`Error::MailboxFull`](crate::Error::MailboxFull).
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
