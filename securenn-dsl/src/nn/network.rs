//! The one network program: the layer loop, the caches, the backward pass and the
//! optimiser, written once over a [`Backend`] and run on shares, in the clear, or wrapped
//! for cost accounting.
//!
//! The arithmetic is the same on every backend (each layer kind's file in `nn/layers/`
//! gives its own): the forward pass keeps what each layer's backward pass needs (a linear layer's or a
//! convolution's input, ReLU's bits, max pooling's argmax); the backward pass runs from the
//! loss's gradient down to the first layer, which computes no ∂x; then **SGD with
//! momentum**: V ← V − V/2^m + ∂, W ← W − V/2^l (plain SGD: W ← W − ∂/2^l), every
//! division a truncation.

use super::backend::{Backend, Gradients, Stage, Window};
use super::config::TrainConfig;
use super::spec::{LayerSpec, NetworkSpec, ValueShape};
use crate::error::{Error, Result};

/// One layer's parameters and momentum: weights `rows × outputs`, biases `1 × outputs`,
/// and a velocity of each's shape.
#[derive(Debug, Clone)]
pub struct Params<V> {
    /// The weight matrix.
    pub weights: V,
    /// The bias row.
    pub biases: V,
    /// The weights' momentum.
    pub weight_velocity: V,
    /// The biases' momentum.
    pub bias_velocity: V,
}

/// Whether a forward pass is for inference or for a training step (which keeps what the
/// backward pass needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    Inference,
    Training,
}

/// What a layer's forward pass keeps for its backward pass.
enum Cache<B: Backend> {
    /// The layer's input (Linear, Conv2d, BatchNorm).
    Input(B::Value),
    /// ReLU's bits [x ≥ 0].
    Signs(B::Signs),
    /// Max pooling's argmax of each window.
    Argmax(B::Argmax),
    /// Nothing (AvgPool2d, Flatten: their backward pass needs only shapes).
    None,
}

/// What a training step computed.
#[derive(Debug, Clone)]
pub struct Step<V> {
    /// The outputs for the batch, before the step.
    pub output: V,
    /// The loss's gradient δ at the outputs.
    pub loss_gradient: V,
}

/// A network: its architecture, its parameters (one entry per layer, `None` for layers
/// without weights) and how it trains.
#[derive(Debug, Clone)]
pub struct Network<V> {
    spec: NetworkSpec,
    params: Vec<Option<Params<V>>>,
    config: TrainConfig,
}

impl<V: Clone> Network<V> {
    /// A network from its parameters.
    ///
    /// # Errors
    ///
    /// [`Error::Network`] if there is not one entry per layer, with parameters exactly
    /// where a layer has weights.
    pub fn new(
        spec: NetworkSpec,
        params: Vec<Option<Params<V>>>,
        config: TrainConfig,
    ) -> Result<Self> {
        let fits = params.len() == spec.layers().len()
            && spec
                .layers()
                .iter()
                .zip(&params)
                .all(|(layer, p)| layer.parameter_shape().is_some() == p.is_some());
        if !fits {
            return Err(Error::Network {
                source_name: spec.name().to_owned(),
                problem: "the parameters do not match the layers".to_owned(),
            });
        }
        Ok(Network {
            spec,
            params,
            config,
        })
    }

    /// The architecture.
    pub fn spec(&self) -> &NetworkSpec {
        &self.spec
    }

    /// How the network trains.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Sets the learning rate to 2^−`lr_shift` for the steps that follow (a schedule).
    pub fn set_lr_shift(&mut self, lr_shift: u32) {
        self.config.lr_shift = lr_shift;
    }

    /// The parameters, one entry per layer.
    pub fn params(&self) -> &[Option<Params<V>>] {
        &self.params
    }

    fn layer_params(&self, i: usize) -> Result<&Params<V>> {
        self.params
            .get(i)
            .and_then(Option::as_ref)
            .ok_or(Error::Internal("a layer with weights has none"))
    }

    fn shape_before(&self, i: usize) -> ValueShape {
        self.spec.shape_before(i).unwrap_or(ValueShape::Row(0))
    }

    /// The outputs (`batch × classes`) for `batch` inputs of the spec's input shape.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if the input does not hold `batch` inputs, or the
    /// backend's errors.
    pub async fn forward<B: Backend<Value = V>>(
        &self,
        backend: &mut B,
        input: &V,
        batch: usize,
    ) -> Result<V> {
        Ok(self
            .forward_with_caches(backend, input, batch, Pass::Inference)
            .await?
            .0)
    }

    /// The predicted class of each of `batch` inputs.
    ///
    /// # Errors
    ///
    /// As [`Network::forward`].
    pub async fn predict<B: Backend<Value = V>>(
        &self,
        backend: &mut B,
        input: &V,
        batch: usize,
    ) -> Result<B::Classes> {
        Ok(self.classify(backend, input, batch).await?.1)
    }

    /// The outputs of `batch` inputs and their predicted classes.
    ///
    /// # Errors
    ///
    /// As [`Network::forward`].
    pub async fn classify<B: Backend<Value = V>>(
        &self,
        backend: &mut B,
        input: &V,
        batch: usize,
    ) -> Result<(V, B::Classes)> {
        let output = self.forward(backend, input, batch).await?;
        backend.begin(Stage::Other);
        let classes = backend.argmax(&output, self.spec.output().len()).await?;
        Ok((output, classes))
    }

    async fn forward_with_caches<B: Backend<Value = V>>(
        &self,
        backend: &mut B,
        input: &V,
        batch: usize,
        pass: Pass,
    ) -> Result<(V, Vec<Cache<B>>)> {
        let expected = self.spec.input().batch(batch);
        let mut x = backend
            .reshape(input.clone(), expected.clone())
            .map_err(|_| Error::InvalidShape {
                operation: "forward",
                shape: expected,
                reason: "the input does not hold this many values",
            })?;
        let layers = self.spec.layers();
        let mut caches = Vec::with_capacity(layers.len());
        let mut fused = false;
        for (i, layer) in layers.iter().copied().enumerate() {
            if fused {
                // The ReLU that the max pooling before it ran.
                fused = false;
                caches.push(Cache::None);
                continue;
            }
            backend.begin(Stage::Forward(i));
            let shape = self.shape_before(i);
            let (y, cache) = match layer {
                // Inference keeps no argmax and no signs: max pooling and the ReLU after it
                // run as one, with their last comparisons in one stage.
                LayerSpec::MaxPool2d {
                    kernel,
                    stride,
                    padding,
                } if pass == Pass::Inference && layers.get(i + 1) == Some(&LayerSpec::Relu) => {
                    let window = Window {
                        kernel,
                        stride,
                        padding,
                    };
                    fused = true;
                    (backend.max_pool_relu(&x, window).await?, Cache::None)
                }
                LayerSpec::Linear { .. } => {
                    let p = self.layer_params(i)?;
                    let y = backend.linear(&x, &p.weights, &p.biases).await?;
                    (y, Cache::Input(x))
                }
                LayerSpec::Conv2d {
                    kernel,
                    stride,
                    padding,
                    ..
                } => {
                    let g = shape.conv_geometry(batch, kernel, stride, padding)?;
                    let p = self.layer_params(i)?;
                    let y = backend.conv2d(&x, &p.weights, &p.biases, &g).await?;
                    (y, Cache::Input(x))
                }
                LayerSpec::Relu => {
                    let (y, signs) = backend.relu(&x).await?;
                    (y, Cache::Signs(signs))
                }
                LayerSpec::MaxPool2d {
                    kernel,
                    stride,
                    padding,
                } => {
                    let window = Window {
                        kernel,
                        stride,
                        padding,
                    };
                    let (y, argmax) = backend.max_pool(&x, window).await?;
                    (y, Cache::Argmax(argmax))
                }
                LayerSpec::AvgPool2d {
                    kernel,
                    stride,
                    padding,
                } => (
                    backend.avg_pool(
                        &x,
                        Window {
                            kernel,
                            stride,
                            padding,
                        },
                    )?,
                    Cache::None,
                ),
                LayerSpec::BatchNorm { .. } => {
                    let p = self.layer_params(i)?;
                    let y = backend.batch_norm(&x, &p.weights, &p.biases).await?;
                    (y, Cache::Input(x))
                }
                LayerSpec::Flatten => {
                    let rows = ValueShape::Row(shape.len()).batch(batch);
                    (backend.reshape(x, rows)?, Cache::None)
                }
            };
            x = y;
            caches.push(cache);
        }
        Ok((x, caches))
    }

    /// One training step on a batch of `config().batch()` inputs and their labels: the
    /// forward pass, the loss's gradient, the backward pass and the optimiser's step.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if the input or the labels do not fit the batch, or the
    /// backend's errors.
    pub async fn train_step<B: Backend<Value = V>>(
        &mut self,
        backend: &mut B,
        input: &V,
        labels: &B::Labels,
    ) -> Result<Step<V>> {
        let batch = self.config.batch();
        let (output, caches) = self
            .forward_with_caches(backend, input, batch, Pass::Training)
            .await?;
        backend.begin(Stage::Other);
        let classes = self.spec.output().len();
        let loss_gradient = backend
            .loss_gradient(&output, labels, classes, self.config.loss)
            .await?;
        let gradients = self
            .backward(backend, caches, loss_gradient.clone())
            .await?;
        backend.begin(Stage::Other);
        self.update(backend, &gradients)?;
        Ok(Step {
            output,
            loss_gradient,
        })
    }

    /// The gradients of every layer with weights, from δ at the outputs down.
    async fn backward<B: Backend<Value = V>>(
        &self,
        backend: &mut B,
        caches: Vec<Cache<B>>,
        mut delta: V,
    ) -> Result<Vec<Option<Gradients<V>>>> {
        let batch = self.config.batch();
        let batch_log2 = self.config.batch_log2;
        let mut gradients: Vec<Option<Gradients<V>>> = vec![None; caches.len()];
        for (i, cache) in caches.into_iter().enumerate().rev() {
            let layer = self.spec.layers()[i];
            let first = i == 0;
            if first && layer.parameter_shape().is_none() {
                break;
            }
            backend.begin(Stage::Backward(i));
            let input = self.shape_before(i).batch(batch);
            let next = match (layer, cache) {
                (LayerSpec::Linear { .. }, Cache::Input(x)) => {
                    let w = &self.layer_params(i)?.weights;
                    let (g, dx) = backend
                        .linear_backward(&x, &delta, w, batch_log2, first)
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
                    let g = self
                        .shape_before(i)
                        .conv_geometry(batch, kernel, stride, padding)?;
                    let w = &self.layer_params(i)?.weights;
                    let (grads, dx) = backend
                        .conv2d_backward(&x, &delta, w, &g, batch_log2, first)
                        .await?;
                    gradients[i] = Some(grads);
                    dx
                }
                (LayerSpec::BatchNorm { .. }, Cache::Input(x)) => {
                    let scale = &self.layer_params(i)?.weights;
                    let (g, dx) = backend
                        .batch_norm_backward(&x, &delta, scale, batch_log2, first)
                        .await?;
                    gradients[i] = Some(g);
                    dx
                }
                (LayerSpec::Relu, Cache::Signs(signs)) => {
                    Some(backend.relu_backward(&delta, &signs).await?)
                }
                (
                    LayerSpec::MaxPool2d {
                        kernel,
                        stride,
                        padding,
                    },
                    Cache::Argmax(argmax),
                ) => {
                    let window = Window {
                        kernel,
                        stride,
                        padding,
                    };
                    Some(
                        backend
                            .max_pool_backward(&delta, &argmax, &input, window)
                            .await?,
                    )
                }
                (
                    LayerSpec::AvgPool2d {
                        kernel,
                        stride,
                        padding,
                    },
                    Cache::None,
                ) => {
                    let window = Window {
                        kernel,
                        stride,
                        padding,
                    };
                    Some(backend.avg_pool_backward(&delta, &input, window)?)
                }
                (LayerSpec::Flatten, Cache::None) => Some(backend.reshape(delta, input)?),
                _ => return Err(Error::Internal("a layer's cache does not match the layer")),
            };
            match next {
                Some(next) => delta = next,
                None => break,
            }
        }
        Ok(gradients)
    }

    /// The optimiser's step, local on every backend.
    fn update<B: Backend<Value = V>>(
        &mut self,
        backend: &mut B,
        gradients: &[Option<Gradients<V>>],
    ) -> Result<()> {
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
                        let decay = backend.shift(velocity, m);
                        let decayed = backend.sub(velocity, &decay)?;
                        *velocity = backend.add(&decayed, gradient)?;
                        velocity.clone()
                    }
                    None => gradient.clone(),
                };
                let scaled = backend.shift(&step, config.lr_shift);
                *values = backend.sub(values, &scaled)?;
            }
        }
        Ok(())
    }
}
