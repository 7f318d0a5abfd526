//! Neural networks: the architecture of a network ([`spec`]: the paper's networks A-D, or
//! one read from a TOML file, [`network_file`]), how it trains ([`config`]), trained and
//! evaluated on secret shares ([`private`], every layer written with the DSL; [`train`] on
//! MNIST), and their plaintext twin ([`twin`]), which computes the same in the clear;
//! [`weights`] saves and loads models and shares as safetensors.

pub mod config;
mod local;
pub mod mnist;
pub mod network_file;
pub mod private;
pub mod spec;
pub mod train;
pub mod twin;
pub mod weights;

pub use spec::{LayerSpec, NetworkSpec, ValueShape};
