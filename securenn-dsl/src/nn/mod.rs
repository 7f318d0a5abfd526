//! Neural networks: the architecture of a network ([`spec`]: the paper's networks A-D, or
//! one read from a TOML file, [`network_file`]), how it trains ([`config`]), and one
//! network program ([`network`]) written over a [`backend`]: on secret shares
//! ([`shares`], every layer written with the DSL, `nn/layers/` one file per kind), in the
//! clear ([`plain`]), with per-layer costs ([`costs`]). [`private`] is the private engine,
//! [`twin`] its plaintext twin; [`data`] holds the examples ([`mnist`], CSV, NPZ);
//! [`train`] trains; [`weights`] saves and loads models and shares as safetensors, and
//! [`checkpoint`] writes and resumes from checkpoints of private training.
//!
//! Its layer (the book's "Architecture" page): it may import only from `dsl`, `protocol`,
//! `session`, `net`, `prg`, `share`, `tensor`, `ring`, `error`, `party`, `shape` and `tag`.

pub mod backend;
pub mod checkpoint;
pub mod config;
pub mod costs;
pub mod data;
mod layers;
mod local;
pub mod mnist;
pub mod network;
pub mod network_file;
mod number;
pub mod onnx;
mod parts;
pub mod plain;
pub mod private;
pub mod shares;
pub mod spec;
pub mod train;
pub mod twin;
pub mod weights;

pub use layers::batch_norm::{BatchNormStatistics, fold_batch_norms};
pub use spec::{LayerSpec, NetworkSpec, ValueShape};
