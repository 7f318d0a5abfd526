//! The cleartext backend: every layer in the clear, each as its file in
//! `nn/layers/` writes it, in 13-bit fixed point over Z_2^64 with the private
//! truncation's rounding emulated (`Plain<Z64>`, what the private engine computes up to
//! that rounding's draws) or in `f32` (`Plain<f32>`, the real-number reference). Labels
//! are class indices.

use core::marker::PhantomData;

use super::backend::{Backend, Backward, Window};
use super::config::Loss;
use super::layers::{avg_pool, batch_norm, conv2d, linear, loss, max_pool, relu};
use super::number::{Number, Rounding};
use crate::error::Result;
use crate::tensor::{Conv2dGeometry, Shape, Tensor};

/// The network's operations in the clear, on numbers `N`.
#[derive(Debug)]
pub struct Plain<N> {
    rounding: Rounding,
    numbers: PhantomData<N>,
}

impl<N: Number> Plain<N> {
    /// A cleartext backend whose emulated rounding draws from the public `seed`.
    pub fn new(seed: u64) -> Self {
        Plain {
            rounding: Rounding::from_seed(seed),
            numbers: PhantomData,
        }
    }
}

impl<N: Number> Backend for Plain<N> {
    type Value = Tensor<N>;
    type Labels = [u8];
    type Signs = Vec<bool>;
    type Argmax = Vec<usize>;
    type Classes = Vec<usize>;

    fn shape<'v>(&self, value: &'v Tensor<N>) -> &'v Shape {
        value.shape()
    }

    fn reshape(&mut self, value: Tensor<N>, shape: Shape) -> Result<Tensor<N>> {
        value.reshape(shape)
    }

    fn add(&mut self, a: &Tensor<N>, b: &Tensor<N>) -> Result<Tensor<N>> {
        a.zip_map(b, "add", |&x, &y| {
            let mut sum = x;
            sum += y;
            sum
        })
    }

    fn sub(&mut self, a: &Tensor<N>, b: &Tensor<N>) -> Result<Tensor<N>> {
        a.zip_map(b, "subtract", |&x, &y| x.minus(y))
    }

    fn shift(&mut self, x: &Tensor<N>, bits: u32) -> Tensor<N> {
        let mut out = x.clone();
        N::shift(out.data_mut(), bits, &mut self.rounding);
        out
    }

    async fn linear(
        &mut self,
        x: &Tensor<N>,
        weights: &Tensor<N>,
        biases: &Tensor<N>,
    ) -> Result<Tensor<N>> {
        linear::forward_plain(x, weights, biases, &mut self.rounding)
    }

    async fn linear_backward(
        &mut self,
        x: &Tensor<N>,
        delta: &Tensor<N>,
        weights: &Tensor<N>,
        batch_log2: u32,
        first: bool,
    ) -> Result<Backward<Tensor<N>>> {
        let (gradients, dx) = linear::backward_plain(
            x.data(),
            delta.data(),
            weights,
            batch_log2,
            first,
            &mut self.rounding,
        )?;
        let dx = dx.map(|d| d.reshape(x.shape().clone())).transpose()?;
        Ok((gradients, dx))
    }

    async fn conv2d(
        &mut self,
        x: &Tensor<N>,
        weights: &Tensor<N>,
        biases: &Tensor<N>,
        g: &Conv2dGeometry,
    ) -> Result<Tensor<N>> {
        conv2d::forward_plain(x, weights, biases, g, &mut self.rounding)
    }

    async fn conv2d_backward(
        &mut self,
        x: &Tensor<N>,
        delta: &Tensor<N>,
        weights: &Tensor<N>,
        g: &Conv2dGeometry,
        batch_log2: u32,
        first: bool,
    ) -> Result<Backward<Tensor<N>>> {
        conv2d::backward_plain(x, delta, weights, g, batch_log2, first, &mut self.rounding)
    }

    async fn relu(&mut self, x: &Tensor<N>) -> Result<(Tensor<N>, Vec<bool>)> {
        Ok(relu::forward_plain(x))
    }

    async fn relu_backward(&mut self, delta: &Tensor<N>, signs: &Vec<bool>) -> Result<Tensor<N>> {
        relu::backward_plain(delta, signs)
    }

    async fn max_pool(&mut self, x: &Tensor<N>, window: Window) -> Result<(Tensor<N>, Vec<usize>)> {
        max_pool::forward_plain(x, window)
    }

    async fn max_pool_backward(
        &mut self,
        delta: &Tensor<N>,
        argmax: &Vec<usize>,
        input: &Shape,
        _: Window,
    ) -> Result<Tensor<N>> {
        max_pool::backward_plain(delta, argmax, input)
    }

    fn avg_pool(&mut self, x: &Tensor<N>, window: Window) -> Result<Tensor<N>> {
        avg_pool::forward_plain(x, window, &mut self.rounding)
    }

    fn avg_pool_backward(
        &mut self,
        delta: &Tensor<N>,
        input: &Shape,
        window: Window,
    ) -> Result<Tensor<N>> {
        avg_pool::backward_plain(delta, input, window, &mut self.rounding)
    }

    async fn batch_norm(
        &mut self,
        x: &Tensor<N>,
        scale: &Tensor<N>,
        shift: &Tensor<N>,
    ) -> Result<Tensor<N>> {
        batch_norm::forward_plain(x, scale, shift, &mut self.rounding)
    }

    async fn batch_norm_backward(
        &mut self,
        x: &Tensor<N>,
        delta: &Tensor<N>,
        scale: &Tensor<N>,
        batch_log2: u32,
        first: bool,
    ) -> Result<Backward<Tensor<N>>> {
        batch_norm::backward_plain(x, delta, scale, batch_log2, first, &mut self.rounding)
    }

    async fn loss_gradient(
        &mut self,
        u: &Tensor<N>,
        labels: &[u8],
        classes: usize,
        loss: Loss,
    ) -> Result<Tensor<N>> {
        loss::gradient_plain(u, labels, classes, loss)
    }

    async fn argmax(&mut self, u: &Tensor<N>, classes: usize) -> Result<Vec<usize>> {
        Ok(loss::argmax_plain(u, classes))
    }
}

/// The result of a cleartext backend's future: the backend never waits, so the future is
/// ready at its first poll.
///
/// # Errors
///
/// The future's error, or [`Error::Internal`](crate::Error::Internal) if it waited (which the
/// cleartext backend never does).
pub(crate) fn ready<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    let mut future = core::pin::pin!(future);
    let mut context = core::task::Context::from_waker(core::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        core::task::Poll::Ready(result) => result,
        core::task::Poll::Pending => Err(crate::Error::Internal(
            "a cleartext computation waited, which it never should",
        )),
    }
}
