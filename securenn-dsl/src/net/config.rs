//! The transports' settings: frame and mailbox limits, timeouts, the session's identity,
//! and the wire version.

use std::time::Duration;

use super::link::Link;

/// The default maximum frame payload: 16 MiB. Longer messages are split into frames.
pub const DEFAULT_MAX_FRAME_LEN: usize = 16 << 20;

/// The default cap on bytes waiting from one peer: 1 GiB.
pub const DEFAULT_MAX_PENDING_BYTES: usize = 1 << 30;

/// The version of the messages the parties exchange; parties of different versions refuse
/// each other at the start of a session.
pub const WIRE_VERSION: u32 = 3;

/// Settings of a transport; the defaults suit three parties in one process. A session's
/// settings ([`SessionConfig`](crate::session::SessionConfig)) hold one.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use securenn_dsl::net::NetConfig;
///
/// let config = NetConfig {
///     recv_timeout: Duration::from_secs(5),
///     ..NetConfig::default()
/// };
/// assert_eq!(config.max_frame_len, 16 << 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
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
    /// An emulated wide-area link between every two parties ([`Emulated`]), or `None` for
    /// the transport as it is. All three parties must give the same.
    ///
    /// [`Emulated`]: super::Emulated
    pub link: Option<Link>,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            session_id: 0,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            max_pending_bytes: DEFAULT_MAX_PENDING_BYTES,
            connect_timeout: Duration::from_secs(30),
            recv_timeout: Duration::from_secs(60),
            peer_timeout: Duration::from_secs(10),
            link: None,
        }
    }
}
