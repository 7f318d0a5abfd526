//! A session's settings: the transport's, the keys' seed for tests, and the job.

use crate::net::NetConfig;

use super::Job;

/// Settings of a session; the defaults suit three parties in one process.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use securenn_dsl::net::NetConfig;
/// use securenn_dsl::session::SessionConfig;
///
/// let config = SessionConfig {
///     net: NetConfig {
///         recv_timeout: Duration::from_secs(5),
///         ..NetConfig::default()
///     },
///     ..SessionConfig::default()
/// };
/// assert_eq!(config.net.max_frame_len, 16 << 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionConfig {
    /// The transport's settings: the session's identity, frame and mailbox limits,
    /// timeouts, the emulated link. [`run_local`](super::run_local) starts its transports
    /// with them; a transport started by hand (`TcpTransport::connect(.., &config.net)`)
    /// takes them itself, and [`Session::start`](super::Session::start) uses the
    /// transport's, but for the link, which it wraps around the transport.
    pub net: NetConfig,
    /// **Insecure, for tests and reproducible benchmarks only.** Derive every key from this
    /// seed instead of the operating system's generator, so that runs are repeatable.
    pub insecure_seed: Option<u64>,
    /// The public parameters of the job, which the three parties compare before any secret
    /// moves ([`Job`]).
    pub job: Job,
    /// In the offline phase ([`Session::deal_offline`](super::Session::deal_offline)), have
    /// P0 and P1 also draw what they would draw online from their keys without looking at
    /// any input (each comparison's multipliers and zero masks, P0's shares of the bits
    /// P2 deals): the online phase is faster (by a tenth for network C at batch 128) and
    /// the material larger (P0 keeps 384 bytes per DReLU, P1 256 more: for network C at
    /// batch 128, 750 MB at P0 and 714 MB at P1 per inference instead of 214 MB at P1).
    /// P2's setting decides; off by default.
    pub offline_draws: bool,
}
