#![doc = include_str!("../README.md")]
//!
//! # Parties and roles
//!
//! Three parties run the same program: [`P0`](party::P0) and [`P1`](party::P1) hold
//! additive shares of every secret, the helper [`P2`](party::P2) supplies correlated
//! randomness and never sees a secret. The party types let the compiler refuse what would
//! leak: an input for P2 ([`party::InputParty`]) or a reveal to P2 ([`party::OutputParty`]).
//!
//! # Rings and shares
//!
//! [`Shared<R, F>`](share::Shared) is one party's share of a tensor over ring `R`
//! ([`Z64`](ring::Z64), [`ZOdd`](ring::ZOdd), [`Zp`](ring::Zp), [`Z2`](ring::Z2)) with `F`
//! fractional bits. Shares over different rings or scales are different types.
//!
//! # Writing a protocol
//!
//! [`#[protocol]`](macro@protocol) turns an ordinary function over shares into an async
//! protocol that runs at each party: operators on shares become protocol steps
//! ([`dsl::operators`]), operations such as [`relu`](dsl::relu) and
//! [`matmul`](dsl::matmul) receive the context and are awaited ([`dsl::ops`]), and
//! independent steps share rounds. The rules of [`dsl::rules`] make misuse a compile
//! error: mixing rings or scales, branching on a secret, revealing to the helper.
//!
//! # Running locally
//!
//! [`run_local`](session::run_local) runs the three parties on three threads of one process
//! over the in-memory transport; [`net::tcp`] connects three processes.
//!
//! # Feature flags
//!
//! - `tcp` (default): the TCP transport on tokio.
//! - `tls` (default): TLS 1.3 with mutual authentication over it, and the cluster's
//!   certificates ([`net::tls`]; rustls with the `ring` provider, tokio-rustls, rcgen).
//!
//! # Security
//!
//! Semi-honest security against one corrupted party, as in the SecureNN paper. Keys are
//! agreed at session start and every protocol call derives its own random streams, so no
//! mask is reused. The plain TCP transport neither encrypts nor authenticates: use it on
//! loopback or a trusted network. No log line prints a secret or a share, and `Debug`
//! output of shares, keys and frames is redacted.

pub mod cluster;
pub mod dsl;
pub mod error;
pub mod net;
pub mod nn;
pub mod party;
pub mod prelude;
pub mod prg;
pub mod protocol;
pub mod ring;
pub mod serve;
pub mod session;
pub mod shape;
pub mod share;
pub mod tag;
pub mod tensor;

#[doc(hidden)]
pub mod __private;

pub use error::{Error, Result};
pub use securenn_macros::protocol;
/// Type-level numbers, for fixed-point scales (`Shared<Z64, U26>`) and the Z_p modulus.
pub use typenum;
