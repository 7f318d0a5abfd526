//! The layer kinds, one file each: what a layer computes over shares (written with the
//! DSL) and in the clear (the same arithmetic, with the private truncation's rounding
//! emulated). The [backends](super::backend) call them; adding a layer kind is one file
//! here and one method per backend.

pub(crate) mod avg_pool;
pub(crate) mod batch_norm;
pub(crate) mod conv2d;
pub(crate) mod linear;
pub(crate) mod loss;
pub(crate) mod max_pool;
pub(crate) mod relu;
pub(crate) mod window;
