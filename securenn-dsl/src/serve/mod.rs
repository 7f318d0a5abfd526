//! Private predictions for outside clients: a model kept in shares by the servers, and
//! clients, none of them a server, whose queries and answers no server sees.
//!
//! A client splits each input into two additive shares with fresh randomness
//! ([`split_query`]) and sends one half to P0 and the other to P1, under one random id; it
//! sends nothing to P2. Each share holder queues its halves ([`Intake`], bounded: a full
//! queue answers "busy"). The servers' loop ([`serve`]) batches the queries that both
//! hold (a server computes on a query only when its peer holds the other half), runs the
//! private network on the batch, and sends each client its share of the predicted class
//! (and, if configured, of the outputs); the client adds the two ([`reconstruct`]).
//!
//! In the type system the client is not a party of the session: it gives inputs and
//! receives outputs only as shares, through [`QueryHalf`] and [`Reply`], which carry
//! nothing in the clear but the query's id. The messages are raw little-endian bytes
//! ([`query`]), bounded before any allocation.
//!
//! Its layer (the book's "Architecture" page): it may import only from `nn`, `dsl`,
//! `protocol`, `session`, `net`, `prg`, `share`, `tensor`, `ring`, `error`, `party`,
//! `shape` and `tag`.

mod client;
#[cfg(feature = "tls")]
mod connections;
mod intake;
pub mod query;
mod server;

pub use client::{Prediction, reconstruct, split_query};
#[cfg(feature = "tls")]
pub use connections::{ClientLimits, QueryClient, accept_clients};
pub use intake::Intake;
pub use query::{AnswerHalf, QueryHalf, QueryId, Refusal, Reply};
pub use server::{ServeConfig, ServeStats, serve};
