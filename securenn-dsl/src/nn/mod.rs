//! Neural networks: the paper's networks A-D ([`spec`]), trained and evaluated on secret
//! shares ([`private`], every layer written with the DSL; [`train`] on MNIST), and their
//! plaintext twin ([`twin`]), which computes the same in the clear; [`weights`] saves and
//! loads models and shares as safetensors.

mod local;
pub mod mnist;
pub mod private;
pub mod spec;
pub mod train;
pub mod twin;
pub mod weights;

pub use spec::{LayerSpec, NetworkSpec, ValueShape};
