//! The private engine: the networks of [`NetworkSpec`] on secret shares, every layer written
//! with the DSL, computing exactly what the [plaintext twin](super::twin) computes (the
//! module docs there give the arithmetic).

use core::time::Duration;
use std::time::Instant;

use typenum::U0;

use super::config::{LayerWeights, Loss, TrainConfig};
use super::local::{
    add_rows, bits_to_fixed, col2im_shared, constant, im2col_shared, repeat_each, rescale, reshape,
    scatter_windows, shift, sum_rows, transpose,
};
use super::spec::{LayerSpec, NetworkSpec, ValueShape};
use super::twin::Number;
use super::weights::LayerShares;
use crate::dsl::{
    divide, dmaxpool, drelu, matmul, maxpool_with_argmax, relu, relu_with_derivative, share,
    truncate,
};
use crate::error::{Error, Result};
use crate::net::Stats;
use crate::party::{InputParty, OutputParty, Private, Revealed, Role};
use crate::protocol;
use crate::ring::{Ring, Z64};
use crate::session::Context;
use crate::share::{Bit, Shared};
use crate::tensor::{Conv2dGeometry, Shape, Tensor};

// ---------------------------------------------------------------------------------------
// The layers, written with the DSL.

/// z = trunc(x·W) + b.
#[protocol(crate = crate, name = "linear")]
fn linear_forward(x: &Shared<Z64>, w: &Shared<Z64>, b: &Shared<Z64>) -> Shared<Z64> {
    let z = truncate(matmul(x, w));
    add_rows(&z, b)?
}

/// ∂W = trunc(xᵀ·δ / 2^batch_log2), ∂b = Σδ / 2^batch_log2 and, unless the layer is the
/// first, ∂x = trunc(δ·Wᵀ); the two products share one round.
#[protocol(crate = crate, name = "linear backward")]
fn linear_backward(
    x: &Shared<Z64>,
    delta: &Shared<Z64>,
    w: &Shared<Z64>,
    batch_log2: u32,
    first: bool,
) -> (Gradients, Option<Shared<Z64>>) {
    let x_t = transpose(x)?;
    let w_t = transpose(w)?;
    let weight_product = matmul(&x_t, delta);
    let input_product = if first {
        None
    } else {
        Some(matmul(delta, &w_t))
    };
    let width = w.shape().dims().get(1).copied().unwrap_or(0);
    let gradients = Gradients {
        weights: rescale(&weight_product, batch_log2),
        biases: shift(&sum_rows(delta, width), batch_log2),
    };
    (gradients, input_product.map(truncate))
}

/// The convolution of NHWC `x` with `w` (`patch × out_channels`), plus a bias per channel.
#[protocol(crate = crate, name = "conv2d")]
fn conv_forward(
    x: &Shared<Z64>,
    w: &Shared<Z64>,
    b: &Shared<Z64>,
    g: &Conv2dGeometry,
) -> Shared<Z64> {
    let kernel = g.kernel();
    let channels = g.channels();
    let out_channels = b.len();
    let filters = reshape(w, Shape::from([kernel, kernel, channels, out_channels]))?;
    let z = truncate(crate::dsl::conv2d(x, &filters, g.stride(), g.padding()));
    add_rows(&z, b)?
}

/// A convolution's backward pass on its im2col matrix; ∂x goes back through col2im.
#[protocol(crate = crate, name = "conv2d backward")]
fn conv_backward(
    x: &Shared<Z64>,
    delta: &Shared<Z64>,
    w: &Shared<Z64>,
    g: &Conv2dGeometry,
    batch_log2: u32,
    first: bool,
) -> (Gradients, Option<Shared<Z64>>) {
    let out_channels = w.shape().dims().get(1).copied().unwrap_or(0);
    let columns = im2col_shared(x, g)?;
    let delta_rows = reshape(delta, Shape::from([g.rows(), out_channels]))?;
    let columns_t = transpose(&columns)?;
    let w_t = transpose(w)?;
    let weight_product = matmul(&columns_t, &delta_rows);
    let input_product = if first {
        None
    } else {
        Some(matmul(&delta_rows, &w_t))
    };
    let gradients = Gradients {
        weights: rescale(&weight_product, batch_log2),
        biases: shift(&sum_rows(&delta_rows, out_channels), batch_log2),
    };
    let input_gradient = match input_product {
        Some(product) => Some(col2im_shared(&truncate(product), g)?),
        None => None,
    };
    (gradients, input_gradient)
}

/// δ where ReLU's input was at least 0.
#[protocol(crate = crate, name = "relu backward")]
fn relu_backward(delta: &Shared<Z64>, signs: &Bit) -> Shared<Z64> {
    delta * signs.as_shared()
}

/// δ routed to each window's argmax.
#[protocol(crate = crate, name = "maxpool backward")]
fn maxpool_backward(
    delta: &Shared<Z64>,
    argmax: &Shared<Z64, U0>,
    input: &Shape,
    kernel: usize,
) -> Shared<Z64> {
    let n = kernel * kernel;
    let one_hot = dmaxpool(argmax, n);
    let routed = repeat_each(delta, n) * &one_hot;
    scatter_windows(&routed, input.clone(), kernel)?
}

/// The squared hinge's gradient: v = u − y, δ = v where [v ≥ 0] ≠ y.
#[protocol(crate = crate, name = "hinge loss")]
fn hinge_gradient(u: &Shared<Z64>, labels: &Shared<Z64, U0>) -> Shared<Z64> {
    let v = u - &bits_to_fixed(labels);
    let positive = drelu(&v);
    let both = positive.as_shared() * labels;
    // b ⊕ y = b + y − 2·b·y.
    let flip = positive.as_shared() + labels - &both - &both;
    v * flip
}

/// The paper's gradient: δ = relu(u)/(Σrelu(u) + 2^−13) − y, per example.
#[protocol(crate = crate, name = "asm loss")]
fn asm_gradient(u: &Shared<Z64>, labels: &Shared<Z64, U0>, classes: usize) -> Shared<Z64> {
    let positive = relu(u);
    let sums = repeat_each(&sum_rows_per_example(&positive, classes)?, classes);
    let sums = reshape(&sums, positive.shape().clone())?;
    let ratio = divide(&positive, &sums);
    ratio - &bits_to_fixed(labels)
}

/// The trained gradients of one layer.
#[derive(Debug, Clone)]
struct Gradients {
    weights: Shared<Z64>,
    biases: Shared<Z64>,
}

/// Each example's sum of its `classes` values, plus one unit in the last place (so that
/// the ASM's divisor is positive).
fn sum_rows_per_example(x: &Shared<Z64>, classes: usize) -> Result<Shared<Z64>> {
    let role = x.role();
    let examples = x.len() / classes.max(1);
    let data = if role.is_helper() {
        Vec::new()
    } else {
        x.data()
            .chunks_exact(classes.max(1))
            .map(|row| {
                let sum = row.iter().fold(Z64::ZERO, |s, &v| s + v);
                if role == Role::P0 {
                    sum + Z64::ONE
                } else {
                    sum
                }
            })
            .collect()
    };
    Ok(Shared::from_parts(role, Shape::from([examples]), data))
}

// ---------------------------------------------------------------------------------------
// The network.

/// One layer's shared parameters and momentum.
#[derive(Debug, Clone)]
struct SharedParams {
    weights: Shared<Z64>,
    biases: Shared<Z64>,
    weight_velocity: Shared<Z64>,
    bias_velocity: Shared<Z64>,
}

/// What a layer's forward pass keeps for its backward pass.
#[derive(Debug)]
enum Cache {
    /// The layer's input.
    Input(Shared<Z64>),
    /// ReLU's bits [x ≥ 0].
    Signs(Bit),
    /// Max pooling's argmax of each window and its input's shape.
    Argmax(Shared<Z64, U0>, Shape),
    /// Nothing (Flatten).
    None,
}

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
    fn between(start: Instant, before: &Stats, after: &Stats) -> LayerCost {
        LayerCost {
            time: start.elapsed(),
            bytes_sent: after.total_sent() - before.total_sent(),
            rounds: after.rounds - before.rounds,
        }
    }

    fn add(&mut self, other: LayerCost) {
        self.time += other.time;
        self.bytes_sent += other.bytes_sent;
        self.rounds += other.rounds;
    }
}

/// A network whose parameters are shared between P0 and P1.
#[derive(Debug)]
pub struct PrivateNetwork {
    spec: NetworkSpec,
    params: Vec<Option<SharedParams>>,
    config: TrainConfig,
    /// Forward and backward cost per layer, accumulated.
    costs: Vec<(LayerCost, LayerCost)>,
}

impl PrivateNetwork {
    /// Secret-shares party `P`'s weights (one entry per layer, as
    /// [`initial_weights`](super::config::initial_weights) makes them) into a private
    /// network. Every party calls it; only `P`'s `weights` hold values.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] at `P` if a layer's weights do not have its shape, or the
    /// transport's errors.
    pub async fn share_weights<P: InputParty>(
        ctx: &(impl Context + ?Sized),
        spec: NetworkSpec,
        weights: &Private<P, Vec<Option<LayerWeights>>>,
        config: TrainConfig,
    ) -> Result<Self> {
        let mut params = Vec::with_capacity(spec.layers().len());
        for (i, layer) in spec.layers().iter().enumerate() {
            let Some((rows, outputs)) = layer.parameter_shape() else {
                params.push(None);
                continue;
            };
            let encode = |values: &[f64], shape: [usize; 2]| -> Result<Tensor<Z64>> {
                if values.len() != shape[0] * shape[1] {
                    return Err(Error::InvalidShape {
                        operation: "share weights",
                        shape: Shape::from(shape),
                        reason: "the layer's weights do not have its shape",
                    });
                }
                Tensor::from_vec(shape, values.iter().map(|&v| Z64::encode(v)).collect())
            };
            let layer_weights = |f: fn(&LayerWeights) -> &[f64], shape: [usize; 2]| {
                Private::<P, Tensor<Z64>>::try_new(ctx.session().role(), || {
                    let all = weights
                        .get()
                        .ok_or(Error::Config("the owner holds no weights"))?;
                    let w = all
                        .get(i)
                        .and_then(Option::as_ref)
                        .ok_or(Error::Config("a layer with weights has none"))?;
                    encode(f(w), shape)
                })
            };
            let w = layer_weights(|w| &w.weights, [rows, outputs])?;
            let b = layer_weights(|w| &w.biases, [1, outputs])?;
            let weights: Shared<Z64> = share(ctx, &w, [rows, outputs]).await?;
            let biases: Shared<Z64> = share(ctx, &b, [1, outputs]).await?;
            let role = ctx.session().role();
            params.push(Some(SharedParams {
                weight_velocity: constant(role, Shape::from([rows, outputs]), Z64::ZERO),
                bias_velocity: constant(role, Shape::from([1, outputs]), Z64::ZERO),
                weights,
                biases,
            }));
        }
        Ok(Self::with_params(spec, params, config))
    }

    /// A private network from this party's shares, as [`PrivateNetwork::shares`] gives
    /// them or [`load_shares`](super::weights::load_shares) reads them: no message is sent.
    /// P0 and P1 pass their shares (one entry per layer), the helper passes `None`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if an entry does not fit its layer, or if P0 or P1 pass no
    /// shares, or the helper passes some.
    pub fn from_shares(
        role: Role,
        spec: NetworkSpec,
        shares: Option<Vec<Option<LayerShares>>>,
        config: TrainConfig,
    ) -> Result<Self> {
        let mismatch = |reason| Error::InvalidShape {
            operation: "PrivateNetwork::from_shares",
            shape: Shape::from([spec.layers().len()]),
            reason,
        };
        let shares = match (role.is_helper(), shares) {
            (true, None) => vec![None; spec.layers().len()],
            (false, Some(shares)) if shares.len() == spec.layers().len() => shares,
            (true, Some(_)) => return Err(mismatch("the helper holds no shares")),
            (false, _) => return Err(mismatch("one entry per layer is needed at P0 and P1")),
        };
        let mut params = Vec::with_capacity(spec.layers().len());
        for (layer, layer_shares) in spec.layers().iter().zip(shares) {
            let Some((rows, outputs)) = layer.parameter_shape() else {
                params.push(None);
                continue;
            };
            let part = |values: Option<Vec<Z64>>, shape: [usize; 2]| -> Result<Shared<Z64>> {
                Shared::from_share(role, shape, values.unwrap_or_default())
            };
            let (w, b, wv, bv) = match layer_shares {
                Some(s) => (
                    Some(s.weights),
                    Some(s.biases),
                    Some(s.weight_velocity),
                    Some(s.bias_velocity),
                ),
                None if role.is_helper() => (None, None, None, None),
                None => return Err(mismatch("a layer with weights has no shares")),
            };
            params.push(Some(SharedParams {
                weights: part(w, [rows, outputs])?,
                biases: part(b, [1, outputs])?,
                weight_velocity: part(wv, [rows, outputs])?,
                bias_velocity: part(bv, [1, outputs])?,
            }));
        }
        Ok(Self::with_params(spec, params, config))
    }

    /// This party's shares of the parameters and momentum buffers, one entry per layer
    /// (`None` for layers without weights); `None` at the helper, which holds none. Save
    /// them with [`save_shares`](super::weights::save_shares).
    pub fn shares(&self) -> Option<Vec<Option<LayerShares>>> {
        let owned = |s: &Shared<Z64>| s.local_share().map(<[Z64]>::to_vec);
        self.params
            .iter()
            .map(|p| match p {
                None => Some(None),
                Some(p) => Some(Some(LayerShares {
                    weights: owned(&p.weights)?,
                    biases: owned(&p.biases)?,
                    weight_velocity: owned(&p.weight_velocity)?,
                    bias_velocity: owned(&p.bias_velocity)?,
                })),
            })
            .collect()
    }

    /// A network with these parameters and no cost recorded yet.
    fn with_params(
        spec: NetworkSpec,
        params: Vec<Option<SharedParams>>,
        config: TrainConfig,
    ) -> Self {
        let costs = vec![(LayerCost::default(), LayerCost::default()); spec.layers().len()];
        PrivateNetwork {
            spec,
            params,
            config,
            costs,
        }
    }

    /// The network's architecture.
    pub fn spec(&self) -> &NetworkSpec {
        &self.spec
    }

    /// The training configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Forward and backward cost of each layer at this party, accumulated since the
    /// network was made.
    pub fn costs(&self) -> &[(LayerCost, LayerCost)] {
        &self.costs
    }

    /// The outputs for a shared batch of `batch` inputs (`[batch, 28, 28, 1]` or
    /// `[batch, n]`, scale 13).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if the input does not fit the network, or the transport's
    /// errors.
    pub async fn forward(
        &mut self,
        ctx: &(impl Context + ?Sized),
        input: &Shared<Z64>,
        batch: usize,
    ) -> Result<Shared<Z64>> {
        Ok(self.forward_with_caches(ctx, input, batch).await?.0)
    }

    async fn forward_with_caches(
        &mut self,
        ctx: &(impl Context + ?Sized),
        input: &Shared<Z64>,
        batch: usize,
    ) -> Result<(Shared<Z64>, Vec<Cache>)> {
        let expected = self.spec.input().batch(batch);
        let mut x = reshape(input, expected.clone()).map_err(|_| Error::InvalidShape {
            operation: "private forward",
            shape: expected,
            reason: "the input does not hold this many values",
        })?;
        let call = ctx.open("forward");
        let mut caches = Vec::with_capacity(self.spec.layers().len());
        for (i, layer) in self.spec.layers().iter().copied().enumerate() {
            let shape = self.spec.shape_before(i).unwrap_or(ValueShape::Row(0));
            let (start, before) = (Instant::now(), call.session().stats());
            let (y, cache) = match layer {
                LayerSpec::Linear { .. } => {
                    let p = params(&self.params, i)?;
                    let y = linear_forward(&call, &x, &p.weights, &p.biases).await?;
                    (y, Cache::Input(x))
                }
                LayerSpec::Conv2d {
                    kernel,
                    stride,
                    padding,
                    ..
                } => {
                    let g = shape.conv_geometry(batch, kernel, stride, padding)?;
                    let p = params(&self.params, i)?;
                    let y = conv_forward(&call, &x, &p.weights, &p.biases, &g).await?;
                    (y, Cache::Input(x))
                }
                LayerSpec::Relu => {
                    let out = relu_with_derivative(&call, &x).await?;
                    (out.value, Cache::Signs(out.derivative))
                }
                LayerSpec::MaxPool2d { kernel } => {
                    let pooled = maxpool_with_argmax(&call, &x, kernel).await?;
                    (pooled.max, Cache::Argmax(pooled.argmax, x.shape().clone()))
                }
                LayerSpec::Flatten => {
                    let rows = ValueShape::Row(shape.len()).batch(batch);
                    (reshape(&x, rows)?, Cache::None)
                }
            };
            self.costs[i]
                .0
                .add(LayerCost::between(start, &before, &call.session().stats()));
            x = y;
            caches.push(cache);
        }
        Ok((x, caches))
    }

    /// One training step on a shared batch of `config().batch()` inputs and their shared
    /// one-hot labels (`[batch, classes]`, 0 or 1 at scale 0).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if the input or labels do not fit, or the transport's errors.
    pub async fn train_step(
        &mut self,
        ctx: &(impl Context + ?Sized),
        input: &Shared<Z64>,
        labels: &Shared<Z64, U0>,
    ) -> Result<()> {
        self.step(ctx, input, labels).await.map(drop)
    }

    /// [`PrivateNetwork::train_step`], and the batch's loss ½Σδ²/B revealed to P0 only
    /// (δ the loss gradient: for the squared hinge, ½Σδ² is the loss itself). One more
    /// round and 40 bytes per output.
    ///
    /// # Errors
    ///
    /// As [`PrivateNetwork::train_step`].
    pub async fn train_step_with_loss(
        &mut self,
        ctx: &(impl Context + ?Sized),
        input: &Shared<Z64>,
        labels: &Shared<Z64, U0>,
    ) -> Result<Revealed<crate::party::P0, f64>> {
        let delta = self.step(ctx, input, labels).await?;
        let squares = protocol::mul_elementwise(ctx, &delta, &delta).await?;
        let role = squares.role();
        let total = squares.data().iter().fold(Z64::ZERO, |s, &v| s + v);
        let total: Shared<Z64, typenum::U26> = Shared::from_parts(
            role,
            Shape::from([1]),
            if role.is_helper() {
                Vec::new()
            } else {
                vec![total]
            },
        );
        let total = crate::share::reveal_to::<crate::party::P0, _>(ctx, &total).await?;
        let batch = self.config.batch() as f64;
        Ok(Revealed::new(total.into_inner().map(|t| {
            let squares = t.data()[0].value() as i64 as f64 / (1u64 << 26) as f64;
            squares / (2.0 * batch)
        })))
    }

    /// One step; returns the loss gradient δ at the outputs.
    async fn step(
        &mut self,
        ctx: &(impl Context + ?Sized),
        input: &Shared<Z64>,
        labels: &Shared<Z64, U0>,
    ) -> Result<Shared<Z64>> {
        let batch = self.config.batch();
        let classes = self.spec.output().len();
        if labels.shape().dims() != [batch, classes] {
            return Err(Error::InvalidShape {
                operation: "private training step",
                shape: labels.shape().clone(),
                reason: "the labels must be one-hot rows, one per example of the batch",
            });
        }
        let call = ctx.open("train step");
        let (output, caches) = self.forward_with_caches(&call, input, batch).await?;
        let loss_gradient = match self.config.loss {
            Loss::Hinge => hinge_gradient(&call, &output, labels).await?,
            Loss::Asm => asm_gradient(&call, &output, labels, classes).await?,
        };
        let mut delta = loss_gradient.clone();
        let mut gradients: Vec<Option<Gradients>> = vec![None; caches.len()];
        let backward = call.open("backward");
        for (i, cache) in caches.into_iter().enumerate().rev() {
            let layer = self.spec.layers()[i];
            let shape = self.spec.shape_before(i).unwrap_or(ValueShape::Row(0));
            let first = i == 0;
            let (start, before) = (Instant::now(), backward.session().stats());
            let next = match (layer, cache) {
                (LayerSpec::Linear { .. }, Cache::Input(x)) => {
                    let p = params(&self.params, i)?;
                    let (g, dx) = linear_backward(
                        &backward,
                        &x,
                        &delta,
                        &p.weights,
                        self.config.batch_log2,
                        first,
                    )
                    .await?;
                    gradients[i] = Some(g);
                    dx
                }
                (
                    LayerSpec::Conv2d {
                        kernel,
                        stride,
                        padding,
                        ..
                    },
                    Cache::Input(x),
                ) => {
                    let g = shape.conv_geometry(batch, kernel, stride, padding)?;
                    let p = params(&self.params, i)?;
                    let (grads, dx) = conv_backward(
                        &backward,
                        &x,
                        &delta,
                        &p.weights,
                        &g,
                        self.config.batch_log2,
                        first,
                    )
                    .await?;
                    gradients[i] = Some(grads);
                    dx
                }
                (LayerSpec::Relu, Cache::Signs(signs)) => {
                    Some(relu_backward(&backward, &delta, &signs).await?)
                }
                (LayerSpec::MaxPool2d { kernel }, Cache::Argmax(argmax, input_shape)) => {
                    Some(maxpool_backward(&backward, &delta, &argmax, &input_shape, kernel).await?)
                }
                (LayerSpec::Flatten, Cache::None) => Some(reshape(&delta, shape.batch(batch))?),
                _ => return Err(Error::Config("a layer's cache does not match the layer")),
            };
            self.costs[i].1.add(LayerCost::between(
                start,
                &before,
                &backward.session().stats(),
            ));
            match next {
                Some(next) => delta = next,
                None => break,
            }
        }
        self.apply(&gradients)?;
        Ok(loss_gradient)
    }

    /// The optimizer's step, locally.
    fn apply(&mut self, gradients: &[Option<Gradients>]) -> Result<()> {
        let config = self.config;
        for (p, g) in self.params.iter_mut().zip(gradients) {
            let (Some(p), Some(g)) = (p.as_mut(), g.as_ref()) else {
                continue;
            };
            for (values, velocity, gradient) in [
                (&mut p.weights, &mut p.weight_velocity, &g.weights),
                (&mut p.biases, &mut p.bias_velocity, &g.biases),
            ] {
                let step = match config.momentum_shift {
                    Some(m) => {
                        *velocity = velocity.try_sub(&shift(velocity, m))?.try_add(gradient)?;
                        velocity.clone()
                    }
                    None => gradient.clone(),
                };
                *values = values.try_sub(&shift(&step, config.lr_shift))?;
            }
        }
        Ok(())
    }

    /// The predicted class of each of `batch` shared inputs, revealed to party `P` only:
    /// a private argmax over the outputs (a Maxpool over a 4×4 window of the 10 outputs
    /// padded with −2^40), then the index alone is revealed.
    ///
    /// # Errors
    ///
    /// As [`PrivateNetwork::forward`].
    pub async fn predict<P: OutputParty>(
        &mut self,
        ctx: &(impl Context + ?Sized),
        input: &Shared<Z64>,
        batch: usize,
    ) -> Result<Revealed<P, Vec<usize>>> {
        let output = self.forward(ctx, input, batch).await?;
        let classes = self.spec.output().len();
        let side = (1..).find(|s| s * s >= classes).unwrap_or(1);
        let window = side * side;
        let role = ctx.session().role();
        let padded_data = if role.is_helper() {
            Vec::new()
        } else {
            let low = match role {
                Role::P0 => Z64::from_i64(-(1 << 40)),
                _ => Z64::ZERO,
            };
            output
                .data()
                .chunks_exact(classes.max(1))
                .flat_map(|row| {
                    row.iter()
                        .copied()
                        .chain(core::iter::repeat_n(low, window - classes))
                })
                .collect()
        };
        let padded: Shared<Z64> =
            Shared::from_parts(role, Shape::from([batch, side, side, 1]), padded_data);
        let pooled = protocol::maxpool(ctx, &padded, protocol::Pool2d { kernel: side }).await?;
        let revealed = crate::share::reveal_to::<P, _>(ctx, &pooled.argmax).await?;
        Ok(Revealed::new(revealed.into_inner().map(|t| {
            t.data()
                .iter()
                .map(|v| usize::try_from(v.value()).unwrap_or(usize::MAX))
                .collect()
        })))
    }

    /// The weights, revealed to party `P` only, decoded (one entry per layer).
    ///
    /// # Errors
    ///
    /// The transport's errors.
    pub async fn reveal_weights<P: OutputParty>(
        &self,
        ctx: &(impl Context + ?Sized),
    ) -> Result<Revealed<P, Vec<Option<LayerWeights>>>> {
        let mut layers = Vec::with_capacity(self.params.len());
        for p in &self.params {
            let Some(p) = p else {
                layers.push(None);
                continue;
            };
            let weights = crate::share::reveal_to::<P, _>(ctx, &p.weights)
                .await?
                .into_inner();
            let biases = crate::share::reveal_to::<P, _>(ctx, &p.biases)
                .await?
                .into_inner();
            layers.push(weights.zip(biases).map(|(w, b)| LayerWeights {
                weights: w.data().iter().map(|v| v.decode()).collect(),
                biases: b.data().iter().map(|v| v.decode()).collect(),
            }));
        }
        let at_receiver = ctx.session().role() == P::ROLE;
        Ok(Revealed::new(at_receiver.then(|| {
            layers
                .into_iter()
                .map(|layer| layer.filter(|_| at_receiver))
                .collect()
        })))
    }
}

fn params(params: &[Option<SharedParams>], i: usize) -> Result<&SharedParams> {
    params
        .get(i)
        .and_then(Option::as_ref)
        .ok_or(Error::Config("a layer with weights has none"))
}
