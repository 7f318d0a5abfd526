//! The names a protocol function needs: `use securenn_dsl::prelude::*;`.

pub use crate::error::{Error, Result};
pub use crate::party::{P0, P1, P2, Private, Revealed, Role};
pub use crate::ring::{Ring, Z2, Z64, ZOdd, Zp};
pub use crate::session::{Session, SessionConfig, run_local};
pub use crate::share::{Public, Shared, reveal_to, share};
pub use crate::tensor::{Shape, Tensor};
pub use typenum::{U0, U13, U26};
