//! An emulated wide-area link: every message between two parties is delayed by a one-way
//! latency and paced by a bandwidth, per ordered pair of parties, over any transport (the
//! in-memory one, or TCP on one machine), so that WAN times can be measured where the
//! kernel offers no `netem`.
//!
//! The sender decides when a frame arrives, as a link would: the frame leaves when the link
//! to that peer has sent what was queued before it (`busy_until`), takes its size over the
//! bandwidth to go out (its payload and the 32-byte frame header), and arrives one latency
//! later. That arrival time travels with the frame, in a 16-byte prefix of its payload
//! (magic, then nanoseconds since the Unix epoch: one clock for all processes of one
//! machine, so the emulation is for one machine only); the receiver hands the frame on no
//! earlier than that, and refuses one that would arrive later than its receive timeout.
//! Each end reads the wall clock once and counts from there on its monotonic clock, so a
//! step of the wall clock during a run changes nothing. Sending never waits, so a party
//! computes while its messages fly, as it would on a real link.
//!
//! Both ends of every pair must emulate the same link: a frame without the prefix is a
//! [`MalformedFrame`](crate::Error::MalformedFrame), and sessions compare their links when
//! they start. The prefix is not counted in the traffic statistics (the session counts
//! payloads above the transport).

use core::fmt;
use core::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;

use super::timer::Delay;
use super::{Frame, Transport};
use crate::error::{Error, Result};
use crate::party::Role;

/// The bytes the link adds in front of each payload.
const PREFIX_LEN: usize = 16;

/// The prefix's first four bytes.
const MAGIC: [u8; 4] = *b"LINK";

/// The frame header the link's pacing counts with each payload (the TCP frame's).
const HEADER_LEN: u64 = 32;

/// A link's one-way latency and bandwidth.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use securenn_dsl::net::Link;
///
/// let wan: Link = "latency=29ms,bandwidth=40MB/s".parse()?;
/// assert_eq!(wan, Link::PAPER_WAN);
/// assert_eq!(wan.latency, Duration::from_millis(29));
/// assert_eq!(wan.bandwidth, 40_000_000);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// The one-way delay of every message.
    pub latency: Duration,
    /// Bytes per second, in each direction of each pair of parties.
    pub bandwidth: u64,
}

impl Link {
    /// The SecureNN paper's WAN: 58 ms round trip (29 ms one way) and 40 MB/s.
    pub const PAPER_WAN: Link = Link {
        latency: Duration::from_millis(29),
        bandwidth: 40_000_000,
    };

    /// The time `bytes` take to go out at this bandwidth ([`Duration::MAX`] at none).
    pub fn transmit_time(&self, bytes: u64) -> Duration {
        Duration::try_from_secs_f64(bytes as f64 / self.bandwidth as f64).unwrap_or(Duration::MAX)
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "latency={}ms,bandwidth={}MB/s",
            self.latency.as_secs_f64() * 1e3,
            self.bandwidth as f64 / 1e6
        )
    }
}

impl FromStr for Link {
    type Err = Error;

    /// `latency=DURATION,bandwidth=RATE` in either order: a duration in `us`, `ms` or `s`,
    /// a rate in `B/s`, `kB/s`, `MB/s` or `GB/s` (powers of 1000), or `Mbit/s`, `Gbit/s`.
    fn from_str(text: &str) -> Result<Link> {
        let invalid = |problem: String| Error::InvalidArgument {
            name: "link",
            problem,
        };
        let (mut latency, mut bandwidth) = (None, None);
        for part in text.split(',').map(str::trim) {
            match part.split_once('=') {
                Some(("latency", value)) => {
                    latency = Some(duration(value).ok_or_else(|| {
                        invalid(format!("latency `{value}` is not a duration such as 29ms"))
                    })?)
                }
                Some(("bandwidth", value)) => {
                    bandwidth = Some(rate(value).ok_or_else(|| {
                        invalid(format!("bandwidth `{value}` is not a rate such as 40MB/s"))
                    })?)
                }
                _ => {
                    return Err(invalid(format!(
                        "`{part}` is neither latency=DURATION nor bandwidth=RATE"
                    )));
                }
            }
        }
        match (latency, bandwidth) {
            (Some(latency), Some(bandwidth)) if bandwidth > 0 => Ok(Link { latency, bandwidth }),
            (Some(_), Some(_)) => Err(invalid("a bandwidth of 0".to_owned())),
            _ => Err(invalid(format!(
                "`{text}` does not give both latency=DURATION and bandwidth=RATE \
                 (for example latency=29ms,bandwidth=40MB/s)"
            ))),
        }
    }
}

/// A number with one of `units` (name, scale) after it, scaled.
fn with_unit(text: &str, units: &[(&str, f64)]) -> Option<f64> {
    units.iter().find_map(|&(unit, scale)| {
        let number: f64 = text.strip_suffix(unit)?.trim().parse().ok()?;
        (number.is_finite() && number >= 0.0).then_some(number * scale)
    })
}

fn duration(text: &str) -> Option<Duration> {
    // Longest suffixes first: "ms" also ends in "s".
    let seconds = with_unit(text, &[("us", 1e-6), ("ms", 1e-3), ("s", 1.0)])?;
    (seconds <= 3600.0).then(|| Duration::from_secs_f64(seconds))
}

fn rate(text: &str) -> Option<u64> {
    let units = [
        ("Gbit/s", 1e9 / 8.0),
        ("Mbit/s", 1e6 / 8.0),
        ("kbit/s", 1e3 / 8.0),
        ("GB/s", 1e9),
        ("MB/s", 1e6),
        ("kB/s", 1e3),
        ("B/s", 1.0),
    ];
    let bytes = with_unit(text, &units)?;
    #[allow(
        clippy::cast_possible_truncation,
        reason = "a rate below 2^63 bytes per second, rounded"
    )]
    (1.0..9e18).contains(&bytes).then(|| bytes.round() as u64)
}

/// A transport whose messages cross an emulated [`Link`].
pub struct Emulated<T> {
    inner: T,
    link: Link,
    /// The longest a received frame may still have to wait.
    max_wait: Duration,
    /// The wall clock at one instant of the monotonic clock: the time base of both.
    anchor: (SystemTime, Instant),
    /// When the link to each peer has sent everything queued on it.
    busy_until: [Mutex<Instant>; 3],
}

impl<T: Transport> Emulated<T> {
    /// `inner`, its messages delayed and paced by `link`; a frame due later than
    /// `max_wait` from when it is received is an error (a receive timeout's worth).
    pub fn new(inner: T, link: Link, max_wait: Duration) -> Emulated<T> {
        let now = Instant::now();
        Emulated {
            inner,
            link,
            max_wait,
            anchor: (SystemTime::now(), now),
            busy_until: [(); 3].map(|()| Mutex::new(now)),
        }
    }

    /// When a frame of `payload` bytes sent now to `to` arrives.
    fn arrival(&self, to: Role, payload: usize) -> Instant {
        let now = Instant::now();
        let mut busy = self.busy_until[to.index()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let leaves = (*busy).max(now);
        let sent = self.link.transmit_time(payload as u64 + HEADER_LEN);
        *busy = leaves.checked_add(sent).unwrap_or(leaves);
        busy.checked_add(self.link.latency).unwrap_or(*busy)
    }

    /// `at` as nanoseconds since the Unix epoch.
    fn to_wall(&self, at: Instant) -> u64 {
        let wall = self.anchor.0 + at.saturating_duration_since(self.anchor.1);
        wall.duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    /// How long from now until the wall-clock time `nanos` since the Unix epoch.
    fn wait_until(&self, nanos: u64) -> Duration {
        let wall = UNIX_EPOCH + Duration::from_nanos(nanos);
        let now = self.anchor.0 + self.anchor.1.elapsed();
        wall.duration_since(now).unwrap_or(Duration::ZERO)
    }
}

impl<T: fmt::Debug> fmt::Debug for Emulated<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulated")
            .field("inner", &self.inner)
            .field("link", &self.link)
            .finish_non_exhaustive()
    }
}

impl<T: Transport> Transport for Emulated<T> {
    fn role(&self) -> Role {
        self.inner.role()
    }

    fn max_frame_len(&self) -> usize {
        self.inner.max_frame_len().saturating_sub(PREFIX_LEN)
    }

    fn send(&self, to: Role, frame: Frame) -> BoxFuture<'_, Result<()>> {
        let nanos = self.to_wall(self.arrival(to, frame.payload.len()));
        let mut payload = Vec::with_capacity(PREFIX_LEN + frame.payload.len());
        payload.extend_from_slice(&MAGIC);
        payload.extend_from_slice(&[0; 4]);
        payload.extend_from_slice(&nanos.to_le_bytes());
        payload.extend_from_slice(&frame.payload);
        self.inner.send(to, Frame { payload, ..frame })
    }

    fn recv(&self, from: Role, tag: super::Tag) -> BoxFuture<'_, Result<Frame>> {
        Box::pin(async move {
            let mut frame = self.inner.recv(from, tag).await?;
            let malformed = || Error::MalformedFrame {
                peer: from,
                reason: "no emulated-link prefix: every party must emulate the same link",
            };
            let prefix = frame.payload.get(..PREFIX_LEN).ok_or_else(malformed)?;
            if prefix[..4] != MAGIC {
                return Err(malformed());
            }
            let mut nanos = [0; 8];
            nanos.copy_from_slice(&prefix[8..]);
            let wait = self.wait_until(u64::from_le_bytes(nanos));
            if wait > self.max_wait {
                return Err(Error::MalformedFrame {
                    peer: from,
                    reason: "its emulated arrival is later than the receive timeout",
                });
            }
            Delay::until(Instant::now() + wait).await;
            frame.payload.drain(..PREFIX_LEN);
            Ok(frame)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::NetConfig;
    use crate::net::local::LocalTransport;
    use crate::tag::{CallId, Tag};

    #[test]
    fn links_parse_with_their_units_and_refuse_the_rest() {
        let link: Link = "bandwidth=1Gbit/s, latency=500us".parse().unwrap();
        assert_eq!(link.latency, Duration::from_micros(500));
        assert_eq!(link.bandwidth, 125_000_000);
        assert_eq!(link.to_string().parse::<Link>().unwrap(), link);
        for bad in [
            "latency=29ms",
            "latency=29,bandwidth=40MB/s",
            "latency=29ms,bandwidth=0MB/s",
            "latency=-1ms,bandwidth=40MB/s",
            "latency=29ms,bandwidth=40MB/s,jitter=1ms",
            "",
        ] {
            assert!(bad.parse::<Link>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_frame_arrives_one_latency_and_its_transmit_time_after_it_is_sent() {
        let link = Link {
            latency: Duration::from_millis(40),
            bandwidth: 1_000_000,
        };
        let [p0, p1, _] = LocalTransport::triple(&NetConfig::default())
            .map(|t| Emulated::new(t, link, Duration::from_secs(5)));
        let tag = |step| Tag {
            call: CallId::ROOT,
            step,
            chunk: 0,
        };
        let frame = |step, len| Frame {
            tag: tag(step),
            round: 1,
            payload: vec![7; len],
        };
        let start = Instant::now();
        // Two frames queued back to back: 10,000 bytes take 10 ms each to go out.
        futures::executor::block_on(async {
            p0.send(Role::P1, frame(0, 10_000 - 32)).await.unwrap();
            p0.send(Role::P1, frame(1, 10_000 - 32)).await.unwrap();
        });
        assert!(
            start.elapsed() < Duration::from_millis(20),
            "sending never waits"
        );
        let first = futures::executor::block_on(p1.recv(Role::P0, tag(0))).unwrap();
        let at_first = start.elapsed();
        let second = futures::executor::block_on(p1.recv(Role::P0, tag(1))).unwrap();
        let at_second = start.elapsed();
        assert_eq!(first.payload, vec![7; 10_000 - 32], "the prefix is gone");
        assert_eq!(second.payload.len(), 10_000 - 32);
        assert!(at_first >= Duration::from_millis(50), "{at_first:?}");
        assert!(at_second >= Duration::from_millis(60), "{at_second:?}");
        assert!(at_second < Duration::from_millis(200), "{at_second:?}");
    }

    #[test]
    fn a_frame_without_the_prefix_is_malformed() {
        let link = Link::PAPER_WAN;
        let [p0, p1, _] = LocalTransport::triple(&NetConfig::default());
        let p1 = Emulated::new(p1, link, Duration::from_secs(5));
        let tag = Tag {
            call: CallId::ROOT,
            step: 0,
            chunk: 0,
        };
        futures::executor::block_on(p0.send(
            Role::P1,
            Frame {
                tag,
                round: 1,
                payload: vec![0; 64],
            },
        ))
        .unwrap();
        let error = futures::executor::block_on(p1.recv(Role::P0, tag)).unwrap_err();
        assert!(matches!(error, Error::MalformedFrame { .. }), "{error}");
    }
}
