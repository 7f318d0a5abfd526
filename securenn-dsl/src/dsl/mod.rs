//! The runtime of the DSL: what a [`#[protocol]`](macro@crate::protocol) function calls, and the
//! rules the compiler checks in it.
//!
//! - [`ops`]: the protocol operations (`relu`, `select`, `matmul`, `conv2d`, `maxpool`, ...),
//!   taking the context first. Inside a `#[protocol]` function the macro passes it and
//!   awaits the call.
//! - [`local`]: local operations on shares (a bias over a batch, a transpose, a rescale, a
//!   linear map), with no message: the pieces of a user's own layers.
//! - [`operators`]: what `+`, `-`, `*`, `/` and the comparisons mean on shares.
//! - [`rules`]: one trait per compile-time rule, each with the sentence rustc prints when
//!   the rule is broken.
//!
//! Its layer (the book's "Architecture" page): it may import only from `protocol`,
//! `session`, `net`, `prg`, `share`, `tensor`, `ring`, `error`, `party`, `shape` and `tag`.

mod input;
pub mod local;
pub mod operators;
pub mod ops;
mod reveal;
pub mod rules;

pub use input::{share, split_for_holders};
pub use ops::{
    Step, compute_msb, conv2d, deal, divide, dmaxpool, drelu, matmul, maxpool, maxpool_with_argmax,
    private_compare, relu, relu_with_derivative, select, share_convert, truncate,
};
pub use reveal::reveal_to;
