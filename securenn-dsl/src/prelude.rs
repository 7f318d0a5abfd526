//! The names a protocol function needs: `use securenn_dsl::prelude::*;`.
//!
//! The attribute [`protocol`](macro@crate::protocol), the DSL's operations
//! ([`relu`], [`select`], [`matmul`], ...), the party, ring, share and tensor types, and
//! [`run_local`].
//!
//! Its layer (the book's "Architecture" page): it may import only from `serve`, `nn`, `dsl`,
//! `protocol`, `session`, `net`, `prg`, `share`, `tensor`, `ring`, `error`, `party`,
//! `shape` and `tag`.

pub use crate::dsl::{
    compute_msb, conv2d, deal, divide, dmaxpool, drelu, matmul, maxpool, maxpool_with_argmax,
    private_compare, relu, relu_with_derivative, reveal_to, select, share, share_convert, truncate,
};
pub use crate::error::{Error, Result};
pub use crate::party::{Common, P0, P1, P2, Private, Revealed, Role};
pub use crate::protocol;
pub use crate::ring::{Ring, Z2, Z64, ZOdd, Zp};
pub use crate::session::{Context, Session, SessionConfig, run_local};
pub use crate::share::{Bit, Public, Shared};
pub use crate::tensor::{Shape, Tensor};
pub use typenum::{U0, U13, U26};
