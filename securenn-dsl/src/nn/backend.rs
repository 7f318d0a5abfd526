//! What a network needs of the numbers it computes with: the [`Backend`] trait, the
//! per-layer operations that the [one network program](super::network) is written over.
//!
//! Three backends implement it: [`Shares`](super::shares::Shares) computes on secret shares
//! with the protocols (the private engine), [`Plain`](super::plain::Plain) computes in the
//! clear, in fixed point with the private truncation's rounding or in `f32` (the twin), and
//! [`Costed`](super::costs::Costed) wraps either and records each layer's time, bytes and
//! rounds. The driver never knows which it runs on, so the private engine and its twin
//! cannot drift apart.

use core::fmt;

use crate::error::Result;
use crate::net::Stats;
use crate::tensor::{Conv2dGeometry, Shape};

use super::config::Loss;
pub use super::spec::Window;

/// The trained gradients of one layer's weights and biases.
#[derive(Debug, Clone)]
pub struct Gradients<V> {
    /// ∂W, the shape of the weights.
    pub weights: V,
    /// ∂b, the shape of the biases.
    pub biases: V,
}

/// What a layer with weights gives back: its gradients and, unless it is the first
/// layer, ∂x.
pub type Backward<V> = (Gradients<V>, Option<V>);

/// Where in a training step or an inference an operation belongs (for cost accounting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Layer `i`'s forward pass.
    Forward(usize),
    /// Layer `i`'s backward pass.
    Backward(usize),
    /// The loss's gradient, the optimiser's step, or the argmax of the outputs.
    Other,
}

/// The per-layer operations of a network over some representation of its values.
///
/// Values are tensors at the base fixed-point scale (13 fractional bits), except in `f32`.
/// A weight matrix is `inputs × outputs` (a convolution's is `patch × out_channels`, patch
/// in `(ky, kx, channel)` order), a bias vector `1 × outputs`; images are NHWC.
///
/// The operations are `async` because the shares backend talks to the other parties; the
/// cleartext backends never wait.
#[allow(
    async_fn_in_trait,
    reason = "the backends are driven by the crate's own network program, not spawned"
)]
pub trait Backend {
    /// A tensor of values.
    type Value: Clone + fmt::Debug;
    /// The labels of a batch (one-hot shares, or class indices).
    type Labels: ?Sized;
    /// What ReLU keeps for its backward pass: the bits [x ≥ 0].
    type Signs: fmt::Debug;
    /// What max pooling keeps for its backward pass: each window's argmax.
    type Argmax: fmt::Debug;
    /// The predicted class of each example (shares of it, or the index).
    type Classes;

    /// The shape of a value.
    fn shape<'v>(&self, value: &'v Self::Value) -> &'v Shape;

    /// The same values under another shape with as many elements.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`](crate::Error::InvalidShape) if the numbers of elements differ.
    fn reshape(&mut self, value: Self::Value, shape: Shape) -> Result<Self::Value>;

    /// `a + b`, elementwise.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes differ.
    fn add(&mut self, a: &Self::Value, b: &Self::Value) -> Result<Self::Value>;

    /// `a − b`, elementwise.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes differ.
    fn sub(&mut self, a: &Self::Value, b: &Self::Value) -> Result<Self::Value>;

    /// `x / 2^bits`, by truncation.
    fn shift(&mut self, x: &Self::Value, bits: u32) -> Self::Value;

    /// A linear layer: trunc(x·W) + b for `x` of `batch × inputs`.
    async fn linear(
        &mut self,
        x: &Self::Value,
        weights: &Self::Value,
        biases: &Self::Value,
    ) -> Result<Self::Value>;

    /// A linear layer's backward pass: ∂W = trunc(xᵀ·δ / 2^`batch_log2`),
    /// ∂b = Σδ / 2^`batch_log2` and, unless the layer is the `first`, ∂x = trunc(δ·Wᵀ).
    async fn linear_backward(
        &mut self,
        x: &Self::Value,
        delta: &Self::Value,
        weights: &Self::Value,
        batch_log2: u32,
        first: bool,
    ) -> Result<Backward<Self::Value>>;

    /// A convolution of NHWC `x` of geometry `g`, plus a bias per output channel.
    async fn conv2d(
        &mut self,
        x: &Self::Value,
        weights: &Self::Value,
        biases: &Self::Value,
        g: &Conv2dGeometry,
    ) -> Result<Self::Value>;

    /// A convolution's backward pass, as [`Backend::linear_backward`] on its im2col matrix;
    /// ∂x goes back through col2im.
    async fn conv2d_backward(
        &mut self,
        x: &Self::Value,
        delta: &Self::Value,
        weights: &Self::Value,
        g: &Conv2dGeometry,
        batch_log2: u32,
        first: bool,
    ) -> Result<Backward<Self::Value>>;

    /// ReLU, and the bits [x ≥ 0] for the backward pass.
    async fn relu(&mut self, x: &Self::Value) -> Result<(Self::Value, Self::Signs)>;

    /// ReLU's backward pass: δ where the bit is 1, else 0.
    async fn relu_backward(
        &mut self,
        delta: &Self::Value,
        signs: &Self::Signs,
    ) -> Result<Self::Value>;

    /// Max pooling of NHWC `x`, and each window's argmax (the earliest among equals).
    async fn max_pool(
        &mut self,
        x: &Self::Value,
        window: Window,
    ) -> Result<(Self::Value, Self::Argmax)>;

    /// Max pooling then ReLU, as inference runs them (no argmax and no signs kept): by
    /// default one after the other; the shares backend fuses their last comparisons
    /// ([`protocol::maxpool_relu`](crate::protocol::maxpool_relu())), 8 rounds fewer for
    /// more bytes, where the session's link makes that pay.
    async fn max_pool_relu(&mut self, x: &Self::Value, window: Window) -> Result<Self::Value> {
        let (pooled, _) = self.max_pool(x, window).await?;
        Ok(self.relu(&pooled).await?.0)
    }

    /// Max pooling's backward pass: δ routed to each window's argmax, into a tensor of
    /// the pooling's `input` shape.
    async fn max_pool_backward(
        &mut self,
        delta: &Self::Value,
        argmax: &Self::Argmax,
        input: &Shape,
        window: Window,
    ) -> Result<Self::Value>;

    /// Average pooling of NHWC `x` (a public divisor, so local).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`](crate::Error::InvalidShape) if `x` is not NHWC.
    fn avg_pool(&mut self, x: &Self::Value, window: Window) -> Result<Self::Value>;

    /// Average pooling's backward pass: each window's δ, divided by its size, spread over
    /// the window, into a tensor of the pooling's `input` shape.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`](crate::Error::InvalidShape) if the shapes do not fit.
    fn avg_pool_backward(
        &mut self,
        delta: &Self::Value,
        input: &Shape,
        window: Window,
    ) -> Result<Self::Value>;

    /// Batch normalisation with fixed statistics: trunc(x·scale) + shift, per channel
    /// (the last dimension).
    async fn batch_norm(
        &mut self,
        x: &Self::Value,
        scale: &Self::Value,
        shift: &Self::Value,
    ) -> Result<Self::Value>;

    /// Batch normalisation's backward pass, as an affine layer's: ∂scale = Σx·δ and
    /// ∂shift = Σδ, each / 2^`batch_log2`, and, unless the layer is the `first`,
    /// ∂x = trunc(δ·scale).
    async fn batch_norm_backward(
        &mut self,
        x: &Self::Value,
        delta: &Self::Value,
        scale: &Self::Value,
        batch_log2: u32,
        first: bool,
    ) -> Result<Backward<Self::Value>>;

    /// The loss's gradient δ with respect to the outputs `u` (`classes` per example).
    async fn loss_gradient(
        &mut self,
        u: &Self::Value,
        labels: &Self::Labels,
        classes: usize,
        loss: Loss,
    ) -> Result<Self::Value>;

    /// The class of each example's largest output (`classes` per example; the earliest
    /// among equals).
    async fn argmax(&mut self, u: &Self::Value, classes: usize) -> Result<Self::Classes>;

    /// Marks the start of `stage`: the operations until the next mark belong to it. Only
    /// [`Costed`](super::costs::Costed) listens.
    fn begin(&mut self, stage: Stage) {
        let _ = stage;
    }

    /// This party's traffic counters, if the backend talks to other parties.
    fn stats(&self) -> Option<Stats> {
        None
    }
}
