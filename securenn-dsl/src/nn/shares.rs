//! The shares backend: every layer on secret shares with the protocols, each as its file in
//! `nn/layers/` writes it. Values are [`Shared<Z64>`] at scale 13, labels
//! one-hot shares at scale 0; the helper P2 holds no shares and takes part in every
//! protocol.

use typenum::U0;

use super::backend::{Backend, Backward, Stage, Window};
use super::config::Loss;
use super::layers::{avg_pool, batch_norm, conv2d, linear, loss, max_pool, relu};
use super::local::{reshape, shift};
use super::parts;
use crate::error::Result;
use crate::net::Stats;
use crate::protocol::WeightMask;
use crate::protocol::cost;
use crate::ring::Z64;
use crate::session::Context;
use crate::share::{Bit, Shared};
use crate::tensor::{Conv2dGeometry, Shape};

/// The network's operations on shares, in the calls of `ctx`.
#[derive(Debug)]
pub struct Shares<'c, C: ?Sized> {
    ctx: &'c C,
    /// With weights that serve many products: their version, which names their masks.
    weights_version: Option<u64>,
    /// The layer the driver last marked.
    layer: usize,
}

impl<'c, C: Context + ?Sized> Shares<'c, C> {
    /// Runs the network's protocols in `ctx`.
    pub fn new(ctx: &'c C) -> Self {
        Shares {
            ctx,
            weights_version: None,
            layer: 0,
        }
    }

    /// Runs the network's protocols in `ctx`, for inference with weights that serve many
    /// inferences: each layer's weights are masked once per `version` and mask
    /// ([`protocol::matmul_with_mask`](crate::protocol::matmul_with_mask)), so a later
    /// inference opens only its inputs. `version` must change whenever the weights do
    /// (the mask of changed weights is refused, not reused).
    pub fn with_weight_masks(ctx: &'c C, version: u64) -> Self {
        Shares {
            weights_version: Some(version),
            ..Shares::new(ctx)
        }
    }

    /// How many parts a comparison layer on `x` runs in side by side, and along which
    /// axis ([`parts`](super::parts)): one but over a wide-area link; along the channels
    /// where `channels_allowed` and the batch is too small.
    fn parts(&self, x: &Shared<Z64>, channels_allowed: bool) -> (usize, parts::Axis) {
        let bytes = cost::relu(x.len() as u64).ours.bytes;
        let wanted = parts::parts(self.ctx.session().link(), bytes);
        parts::split(x.shape(), wanted, channels_allowed)
    }

    /// The mask of the current layer's weights, if they are masked once.
    fn weight_mask(&self) -> Option<WeightMask> {
        self.weights_version
            .map(|version| WeightMask::new("layer weights", (version << 24) | self.layer as u64))
    }
}

/// Max pooling then ReLU for inference: fused where the session's link makes the rounds
/// it saves worth more than the bytes it adds ([`max_pool::fusion_pays`]).
async fn max_pool_then_relu(
    ctx: &(impl Context + ?Sized),
    x: &Shared<Z64>,
    window: Window,
) -> Result<Shared<Z64>> {
    let link = ctx.session().link();
    if link.is_some_and(|link| max_pool::fusion_pays(link, x.shape(), window)) {
        return max_pool::forward_relu(ctx, x, window).await;
    }
    let (pooled, _) = max_pool::forward(ctx, x, window).await?;
    Ok(relu::forward(ctx, &pooled).await?.0)
}

impl<C: Context + ?Sized> Backend for Shares<'_, C> {
    type Value = Shared<Z64>;
    type Labels = Shared<Z64, U0>;
    type Signs = Bit;
    type Argmax = Shared<Z64, U0>;
    type Classes = Shared<Z64, U0>;

    fn shape<'v>(&self, value: &'v Shared<Z64>) -> &'v Shape {
        value.shape()
    }

    fn reshape(&mut self, value: Shared<Z64>, shape: Shape) -> Result<Shared<Z64>> {
        reshape(&value, shape)
    }

    fn add(&mut self, a: &Shared<Z64>, b: &Shared<Z64>) -> Result<Shared<Z64>> {
        a.try_add(b)
    }

    fn sub(&mut self, a: &Shared<Z64>, b: &Shared<Z64>) -> Result<Shared<Z64>> {
        a.try_sub(b)
    }

    fn shift(&mut self, x: &Shared<Z64>, bits: u32) -> Shared<Z64> {
        shift(x, bits)
    }

    async fn linear(
        &mut self,
        x: &Shared<Z64>,
        weights: &Shared<Z64>,
        biases: &Shared<Z64>,
    ) -> Result<Shared<Z64>> {
        match self.weight_mask() {
            Some(mask) => linear::forward_with_mask(self.ctx, x, weights, biases, mask).await,
            None => linear::forward(self.ctx, x, weights, biases).await,
        }
    }

    async fn linear_backward(
        &mut self,
        x: &Shared<Z64>,
        delta: &Shared<Z64>,
        weights: &Shared<Z64>,
        batch_log2: u32,
        first: bool,
    ) -> Result<Backward<Shared<Z64>>> {
        linear::backward(self.ctx, x, delta, weights, batch_log2, first).await
    }

    async fn conv2d(
        &mut self,
        x: &Shared<Z64>,
        weights: &Shared<Z64>,
        biases: &Shared<Z64>,
        g: &Conv2dGeometry,
    ) -> Result<Shared<Z64>> {
        match self.weight_mask() {
            Some(mask) => conv2d::forward_with_mask(self.ctx, x, weights, biases, g, mask).await,
            None => conv2d::forward(self.ctx, x, weights, biases, g).await,
        }
    }

    async fn conv2d_backward(
        &mut self,
        x: &Shared<Z64>,
        delta: &Shared<Z64>,
        weights: &Shared<Z64>,
        g: &Conv2dGeometry,
        batch_log2: u32,
        first: bool,
    ) -> Result<Backward<Shared<Z64>>> {
        conv2d::backward(self.ctx, x, delta, weights, g, batch_log2, first).await
    }

    async fn relu(&mut self, x: &Shared<Z64>) -> Result<(Shared<Z64>, Bit)> {
        match self.parts(x, true) {
            (1, _) => relu::forward(self.ctx, x).await,
            split => parts::join_signs(
                parts::in_parts(self.ctx, x, split, |call, part| async move {
                    relu::forward(&call, &part).await
                })
                .await?,
                split.1,
            ),
        }
    }

    async fn relu_backward(&mut self, delta: &Shared<Z64>, signs: &Bit) -> Result<Shared<Z64>> {
        relu::backward(self.ctx, delta, signs).await
    }

    async fn max_pool(
        &mut self,
        x: &Shared<Z64>,
        window: Window,
    ) -> Result<(Shared<Z64>, Shared<Z64, U0>)> {
        // Training keeps the argmax, whose layout is per window: whole examples only.
        match self.parts(x, false) {
            (1, _) => max_pool::forward(self.ctx, x, window).await,
            split => parts::join_pairs(
                parts::in_parts(self.ctx, x, split, |call, part| async move {
                    max_pool::forward(&call, &part, window).await
                })
                .await?,
                split.1,
            ),
        }
    }

    async fn max_pool_relu(&mut self, x: &Shared<Z64>, window: Window) -> Result<Shared<Z64>> {
        match self.parts(x, true) {
            (1, _) => max_pool_then_relu(self.ctx, x, window).await,
            split => parts::join_values(
                parts::in_parts(self.ctx, x, split, |call, part| async move {
                    max_pool_then_relu(&call, &part, window).await
                })
                .await?,
                split.1,
            ),
        }
    }

    async fn max_pool_backward(
        &mut self,
        delta: &Shared<Z64>,
        argmax: &Shared<Z64, U0>,
        input: &Shape,
        window: Window,
    ) -> Result<Shared<Z64>> {
        max_pool::backward(self.ctx, delta, argmax, input, window).await
    }

    fn avg_pool(&mut self, x: &Shared<Z64>, window: Window) -> Result<Shared<Z64>> {
        avg_pool::forward_shared(x, window)
    }

    fn avg_pool_backward(
        &mut self,
        delta: &Shared<Z64>,
        input: &Shape,
        window: Window,
    ) -> Result<Shared<Z64>> {
        avg_pool::backward_shared(delta, input, window)
    }

    async fn batch_norm(
        &mut self,
        x: &Shared<Z64>,
        scale: &Shared<Z64>,
        shift: &Shared<Z64>,
    ) -> Result<Shared<Z64>> {
        batch_norm::forward(self.ctx, x, scale, shift).await
    }

    async fn batch_norm_backward(
        &mut self,
        x: &Shared<Z64>,
        delta: &Shared<Z64>,
        scale: &Shared<Z64>,
        batch_log2: u32,
        first: bool,
    ) -> Result<Backward<Shared<Z64>>> {
        batch_norm::backward(self.ctx, x, delta, scale, batch_log2, first).await
    }

    async fn loss_gradient(
        &mut self,
        u: &Shared<Z64>,
        labels: &Shared<Z64, U0>,
        classes: usize,
        loss: Loss,
    ) -> Result<Shared<Z64>> {
        loss::gradient_shared(self.ctx, u, labels, classes, loss).await
    }

    async fn argmax(&mut self, u: &Shared<Z64>, classes: usize) -> Result<Shared<Z64, U0>> {
        loss::argmax_shared(self.ctx, u, classes).await
    }

    fn begin(&mut self, stage: Stage) {
        if let Stage::Forward(layer) = stage {
            self.layer = layer;
        }
    }

    fn stats(&self) -> Option<Stats> {
        Some(self.ctx.session().stats())
    }
}
