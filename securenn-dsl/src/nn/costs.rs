//! Per-layer cost accounting as a backend: [`Costed`] wraps any [`Backend`], passes every
//! operation through, and adds its time, bytes sent and rounds to the layer and pass the
//! driver last [marked](Backend::begin).

use core::time::Duration;
use std::time::Instant;

use super::backend::{Backend, Backward, Stage, Window};
use super::config::Loss;
use crate::error::Result;
use crate::net::Stats;
use crate::tensor::{Conv2dGeometry, Shape};

/// The time, traffic and rounds one layer took at this party.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerCost {
    /// Wall-clock time.
    pub time: Duration,
    /// Bytes this party sent.
    pub bytes_sent: u64,
    /// Rounds (the session clock's advance).
    pub rounds: u64,
}

impl LayerCost {
    fn add(&mut self, other: LayerCost) {
        self.time += other.time;
        self.bytes_sent += other.bytes_sent;
        self.rounds += other.rounds;
    }
}

/// `inner`, with the cost of each layer's forward and backward pass added to `costs` (one
/// entry per layer; operations outside a layer are not counted).
#[derive(Debug)]
pub struct Costed<'c, B> {
    inner: B,
    costs: &'c mut [(LayerCost, LayerCost)],
    stage: Stage,
}

impl<'c, B: Backend> Costed<'c, B> {
    /// Wraps `inner`, accumulating into `costs`.
    pub fn new(inner: B, costs: &'c mut [(LayerCost, LayerCost)]) -> Self {
        Costed {
            inner,
            costs,
            stage: Stage::Other,
        }
    }

    fn start(&self) -> (Instant, Option<Stats>) {
        (Instant::now(), self.inner.stats())
    }

    fn record(&mut self, (start, before): (Instant, Option<Stats>)) {
        let after = self.inner.stats();
        let mut cost = LayerCost {
            time: start.elapsed(),
            ..LayerCost::default()
        };
        if let (Some(before), Some(after)) = (before, after) {
            cost.bytes_sent = after.total_sent() - before.total_sent();
            cost.rounds = after.rounds - before.rounds;
        }
        match self.stage {
            Stage::Forward(i) => self.costs.get_mut(i).map(|c| c.0.add(cost)),
            Stage::Backward(i) => self.costs.get_mut(i).map(|c| c.1.add(cost)),
            Stage::Other => None,
        };
    }
}

/// Runs `$call` on the inner backend and records its cost.
macro_rules! costed {
    ($self:ident, $call:expr) => {{
        let start = $self.start();
        let result = $call;
        $self.record(start);
        result
    }};
}

impl<B: Backend> Backend for Costed<'_, B> {
    type Value = B::Value;
    type Labels = B::Labels;
    type Signs = B::Signs;
    type Argmax = B::Argmax;
    type Classes = B::Classes;

    fn shape<'v>(&self, value: &'v B::Value) -> &'v Shape {
        self.inner.shape(value)
    }

    fn reshape(&mut self, value: B::Value, shape: Shape) -> Result<B::Value> {
        costed!(self, self.inner.reshape(value, shape))
    }

    fn add(&mut self, a: &B::Value, b: &B::Value) -> Result<B::Value> {
        costed!(self, self.inner.add(a, b))
    }

    fn sub(&mut self, a: &B::Value, b: &B::Value) -> Result<B::Value> {
        costed!(self, self.inner.sub(a, b))
    }

    fn shift(&mut self, x: &B::Value, bits: u32) -> B::Value {
        costed!(self, self.inner.shift(x, bits))
    }

    async fn linear(
        &mut self,
        x: &B::Value,
        weights: &B::Value,
        biases: &B::Value,
    ) -> Result<B::Value> {
        costed!(self, self.inner.linear(x, weights, biases).await)
    }

    async fn linear_backward(
        &mut self,
        x: &B::Value,
        delta: &B::Value,
        weights: &B::Value,
        batch_log2: u32,
        first: bool,
    ) -> Result<Backward<B::Value>> {
        costed!(
            self,
            self.inner
                .linear_backward(x, delta, weights, batch_log2, first)
                .await
        )
    }

    async fn conv2d(
        &mut self,
        x: &B::Value,
        weights: &B::Value,
        biases: &B::Value,
        g: &Conv2dGeometry,
    ) -> Result<B::Value> {
        costed!(self, self.inner.conv2d(x, weights, biases, g).await)
    }

    async fn conv2d_backward(
        &mut self,
        x: &B::Value,
        delta: &B::Value,
        weights: &B::Value,
        g: &Conv2dGeometry,
        batch_log2: u32,
        first: bool,
    ) -> Result<Backward<B::Value>> {
        costed!(
            self,
            self.inner
                .conv2d_backward(x, delta, weights, g, batch_log2, first)
                .await
        )
    }

    async fn relu(&mut self, x: &B::Value) -> Result<(B::Value, B::Signs)> {
        costed!(self, self.inner.relu(x).await)
    }

    async fn relu_backward(&mut self, delta: &B::Value, signs: &B::Signs) -> Result<B::Value> {
        costed!(self, self.inner.relu_backward(delta, signs).await)
    }

    async fn max_pool(&mut self, x: &B::Value, window: Window) -> Result<(B::Value, B::Argmax)> {
        costed!(self, self.inner.max_pool(x, window).await)
    }

    async fn max_pool_relu(&mut self, x: &B::Value, window: Window) -> Result<B::Value> {
        costed!(self, self.inner.max_pool_relu(x, window).await)
    }

    async fn max_pool_backward(
        &mut self,
        delta: &B::Value,
        argmax: &B::Argmax,
        input: &Shape,
        window: Window,
    ) -> Result<B::Value> {
        costed!(
            self,
            self.inner
                .max_pool_backward(delta, argmax, input, window)
                .await
        )
    }

    fn avg_pool(&mut self, x: &B::Value, window: Window) -> Result<B::Value> {
        costed!(self, self.inner.avg_pool(x, window))
    }

    fn avg_pool_backward(
        &mut self,
        delta: &B::Value,
        input: &Shape,
        window: Window,
    ) -> Result<B::Value> {
        costed!(self, self.inner.avg_pool_backward(delta, input, window))
    }

    async fn batch_norm(
        &mut self,
        x: &B::Value,
        scale: &B::Value,
        shift: &B::Value,
    ) -> Result<B::Value> {
        costed!(self, self.inner.batch_norm(x, scale, shift).await)
    }

    async fn batch_norm_backward(
        &mut self,
        x: &B::Value,
        delta: &B::Value,
        scale: &B::Value,
        batch_log2: u32,
        first: bool,
    ) -> Result<Backward<B::Value>> {
        costed!(
            self,
            self.inner
                .batch_norm_backward(x, delta, scale, batch_log2, first)
                .await
        )
    }

    async fn loss_gradient(
        &mut self,
        u: &B::Value,
        labels: &B::Labels,
        classes: usize,
        loss: Loss,
    ) -> Result<B::Value> {
        costed!(
            self,
            self.inner.loss_gradient(u, labels, classes, loss).await
        )
    }

    async fn argmax(&mut self, u: &B::Value, classes: usize) -> Result<B::Classes> {
        costed!(self, self.inner.argmax(u, classes).await)
    }

    fn begin(&mut self, stage: Stage) {
        self.stage = stage;
        self.inner.begin(stage);
    }

    fn stats(&self) -> Option<Stats> {
        self.inner.stats()
    }
}
