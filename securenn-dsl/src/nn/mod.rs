//! Neural networks: data loading today; layers, the paper's networks A-D and the plaintext
//! twin build on it.

mod local;
pub mod mnist;
pub mod private;
pub mod spec;
pub mod train;
pub mod twin;

pub use spec::{LayerSpec, NetworkSpec, ValueShape};
