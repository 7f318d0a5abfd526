//! The plaintext twin: a [network](super::network) computed in the clear on the
//! [cleartext backend](super::plain), by the same program as the private engine: in 13-bit
//! fixed point over Z_2^64 with the private truncation's rounding emulated (`Twin<Z64>`),
//! or in `f32`.
//!
//! Every private result can be compared with what it should be, layer by layer; the twin
//! also trains models to be evaluated privately, and chooses hyperparameters cheaply.

use super::config::{LayerWeights, TrainConfig};
use super::layers::loss::argmax;
use super::network::{Network, Params};
pub use super::number::{Number, Rounding};
use super::plain::{Plain, ready};
use super::spec::NetworkSpec;
use crate::error::{Error, Result};
use crate::tensor::{Shape, Tensor};

/// A network computed in the clear.
#[derive(Debug)]
pub struct Twin<N: Number> {
    network: Network<Tensor<N>>,
    backend: Plain<N>,
}

impl<N: Number> Twin<N> {
    /// A twin of `spec` with the given weights (one entry per layer, as
    /// [`initial_weights`](super::config::initial_weights) makes them) and training
    /// configuration; `seed` drives the emulated rounding.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if a layer's weights do not have its shape.
    pub fn new(
        spec: NetworkSpec,
        weights: &[Option<LayerWeights>],
        config: TrainConfig,
        seed: u64,
    ) -> Result<Self> {
        if weights.len() != spec.layers().len() {
            return Err(Error::WeightEntries {
                layers: spec.layers().len(),
                entries: weights.len(),
            });
        }
        let params = spec
            .layers()
            .iter()
            .zip(weights)
            .enumerate()
            .map(|(i, (layer, w))| {
                let Some((rows, outputs)) = layer.parameter_shape() else {
                    return Ok(None);
                };
                let w = w.as_ref().ok_or(Error::MissingWeights { layer: i })?;
                if w.weights.len() != rows * outputs || w.biases.len() != outputs {
                    return Err(Error::InvalidShape {
                        operation: "twin weights",
                        shape: [rows, outputs].into(),
                        reason: "the weights or biases do not have the layer's shape",
                    });
                }
                let encode = |values: &[f64], shape: [usize; 2]| {
                    Tensor::from_vec(shape, values.iter().map(|&x| N::encode(x)).collect())
                };
                let zeros = |shape: [usize; 2]| {
                    Tensor::from_vec(shape, vec![N::default(); shape[0] * shape[1]])
                };
                Ok(Some(Params {
                    weights: encode(&w.weights, [rows, outputs])?,
                    biases: encode(&w.biases, [1, outputs])?,
                    weight_velocity: zeros([rows, outputs])?,
                    bias_velocity: zeros([1, outputs])?,
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Twin {
            network: Network::new(spec, params, config)?,
            backend: Plain::new(seed),
        })
    }

    /// The network's architecture.
    pub fn spec(&self) -> &NetworkSpec {
        self.network.spec()
    }

    /// Sets the learning rate to 2^−`lr_shift` for the steps that follow (a schedule).
    pub fn set_lr_shift(&mut self, lr_shift: u32) {
        self.network.set_lr_shift(lr_shift);
    }

    /// The current weights, decoded.
    pub fn weights(&self) -> Vec<Option<LayerWeights>> {
        let decode = |t: &Tensor<N>| t.data().iter().map(|v| v.decode()).collect();
        self.network
            .params()
            .iter()
            .map(|p| {
                p.as_ref().map(|p| LayerWeights {
                    weights: decode(&p.weights),
                    biases: decode(&p.biases),
                })
            })
            .collect()
    }

    /// `batch` encoded inputs as a tensor of the spec's input shape.
    fn input(&self, input: &[N], batch: usize) -> Result<Tensor<N>> {
        let shape: Shape = self.spec().input().batch(batch);
        Tensor::from_vec(shape.clone(), input.to_vec()).map_err(|_| Error::InvalidShape {
            operation: "twin forward",
            shape,
            reason: "the input does not hold this many values",
        })
    }

    /// The network's outputs for `batch` encoded inputs.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if `input` does not hold `batch` inputs.
    pub fn forward(&mut self, input: &[N], batch: usize) -> Result<Vec<N>> {
        let input = self.input(input, batch)?;
        let output = ready(self.network.forward(&mut self.backend, &input, batch))?;
        Ok(output.into_data())
    }

    /// The predicted class of each of `batch` inputs: the argmax of its outputs (the
    /// earliest among equals).
    ///
    /// # Errors
    ///
    /// As [`Twin::forward`].
    pub fn predict(&mut self, input: &[N], batch: usize) -> Result<Vec<usize>> {
        let input = self.input(input, batch)?;
        ready(self.network.predict(&mut self.backend, &input, batch))
    }

    /// One training step on a batch of `config.batch()` inputs with their labels; returns
    /// how many of the batch the network classified right before the step.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if the input or labels do not fit the batch.
    pub fn train_step(&mut self, input: &[N], labels: &[u8]) -> Result<usize> {
        let batch = self.network.config().batch();
        if labels.len() != batch {
            return Err(Error::InvalidShape {
                operation: "twin train step",
                shape: Shape::from([labels.len()]),
                reason: "one label per example of the batch is needed",
            });
        }
        let input = self.input(input, batch)?;
        let step = ready(self.network.train_step(&mut self.backend, &input, labels))?;
        let classes = self.spec().output().len().max(1);
        Ok(step
            .output
            .data()
            .chunks_exact(classes)
            .zip(labels)
            .filter(|&(row, &label)| argmax(row) == usize::from(label))
            .count())
    }
}

/// MNIST pixels as network inputs: each byte scaled to [0, 1] and encoded.
pub fn encode_pixels<N: Number>(pixels: &[u8]) -> Vec<N> {
    pixels
        .iter()
        .map(|&p| N::encode(f64::from(p) / 255.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::config::Loss;
    use crate::nn::spec::{LayerSpec, ValueShape};

    #[test]
    fn weights_that_do_not_fit_the_layers_are_typed_errors() {
        let spec = NetworkSpec::new(
            "two",
            ValueShape::Row(3),
            vec![
                LayerSpec::Linear {
                    inputs: 3,
                    outputs: 2,
                },
                LayerSpec::Relu,
            ],
        )
        .unwrap();
        let config = TrainConfig::default();
        let error = Twin::<f32>::new(spec.clone(), &[None], config, 0).unwrap_err();
        assert!(matches!(
            error,
            Error::WeightEntries {
                layers: 2,
                entries: 1
            }
        ));
        assert_eq!(
            error.to_string(),
            "the weights have 1 entries, the network 2 layers: one entry per layer is needed"
        );
        let error = Twin::<f32>::new(spec, &[None, None], config, 0).unwrap_err();
        assert!(matches!(error, Error::MissingWeights { layer: 0 }));
        assert_eq!(
            error.to_string(),
            "layer 1 has weights, but none were given for it"
        );
    }

    #[test]
    fn weight_gradients_match_finite_differences_in_f32() {
        // A tiny network, plain SGD: the step moves each weight by −lr·∂L/∂w, with
        // L = ½Σ relu(u)² on the wrong classes (label 0, outputs kept below 1).
        let spec = NetworkSpec::new(
            "tiny",
            ValueShape::Row(3),
            vec![LayerSpec::Linear {
                inputs: 3,
                outputs: 2,
            }],
        )
        .unwrap();
        let weights = vec![Some(LayerWeights {
            weights: vec![0.1, 0.2, -0.3, 0.4, 0.05, 0.1],
            biases: vec![0.0, 0.1],
        })];
        let config = TrainConfig {
            batch_log2: 0,
            lr_shift: 0,
            momentum_shift: None,
            loss: Loss::Hinge,
        };
        let mut twin = Twin::<f32>::new(spec, &weights, config, 0).unwrap();
        let x = [0.5f32, -1.0, 0.25];
        twin.train_step(&x, &[0]).unwrap();
        let after = twin.weights()[0].clone().unwrap();
        let loss = |w: &[f64], b: &[f64]| {
            let u0 = x[0] as f64 * w[0] + x[1] as f64 * w[2] + x[2] as f64 * w[4] + b[0];
            let u1 = x[0] as f64 * w[1] + x[1] as f64 * w[3] + x[2] as f64 * w[5] + b[1];
            0.5 * (u0 - 1.0).min(0.0).powi(2) + 0.5 * u1.max(0.0).powi(2)
        };
        let before = weights[0].clone().unwrap();
        for k in 0..6 {
            let mut w = before.weights.clone();
            w[k] += 1e-6;
            let numeric = (loss(&w, &before.biases) - loss(&before.weights, &before.biases)) / 1e-6;
            let step = before.weights[k] - after.weights[k];
            assert!(
                (step - numeric).abs() < 1e-4,
                "weight {k}: {step} vs {numeric}"
            );
        }
    }
}
