//! Batch normalisation for inference, over shares and in the clear: with its statistics
//! fixed, a layer `γ·(x − μ)/√(σ² + ε) + β` is a per-channel affine map
//! `y = trunc(x·scale) + shift`, `scale = γ/√(σ² + ε)`, `shift = β − μ·scale`
//! ([`BatchNormStatistics::affine`]). The channel is an image's last dimension or a row's
//! feature.
//!
//! Two ways to run it:
//! - **applied**, as a `batch_norm` layer of a network: `scale` and `shift` are the layer's
//!   parameters, kept secret like every weight, and the product `x·scale` is one Beaver
//!   multiplication (one round, one truncation). This is the only way where the
//!   normalisation follows a ReLU (AlexNet's). Backward, the same map trains as an affine
//!   layer: ∂scale = Σ x·δ, ∂shift = Σ δ, ∂x = trunc(δ·scale).
//! - **folded** ([`fold_batch_norms`]): directly after a linear layer or a convolution, the
//!   model's owner folds the map into that layer's weights and biases, in the clear, before
//!   sharing the model, and gets a network without the layer, which costs nothing at
//!   inference. The library does not fold on its own: the parties must agree on the folded
//!   network, so the owner folds and ships that network (as a model importer does).

use crate::dsl::local::map_linear;
use crate::dsl::truncate;
use crate::error::{Error, Result};
use crate::nn::backend::{Backward, Gradients};
use crate::nn::config::LayerWeights;
use crate::nn::local::{add_rows, rescale, shift, sum_rows};
use crate::nn::number::{self, Number, Rounding};
use crate::nn::spec::{LayerSpec, NetworkSpec};
use crate::protocol;
use crate::ring::Z64;
use crate::share::Shared;
use crate::tensor::{Shape, Tensor};

/// What a trained batch-normalisation layer holds, per channel.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNormStatistics {
    /// γ, the learnt scale.
    pub gamma: Vec<f64>,
    /// β, the learnt offset.
    pub beta: Vec<f64>,
    /// μ, the running mean.
    pub mean: Vec<f64>,
    /// σ², the running variance.
    pub variance: Vec<f64>,
    /// ε, added to the variance.
    pub epsilon: f64,
}

impl BatchNormStatistics {
    /// The layer's per-channel affine map, as the weights (`scale`) and biases (`shift`)
    /// of a [`LayerSpec::BatchNorm`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if the four vectors differ in length, and
    /// [`Error::Network`] if a variance plus ε is not positive.
    pub fn affine(&self) -> Result<LayerWeights> {
        let channels = self.gamma.len();
        if [&self.beta, &self.mean, &self.variance]
            .iter()
            .any(|v| v.len() != channels)
        {
            return Err(Error::InvalidShape {
                operation: "batch normalisation",
                shape: Shape::from([channels]),
                reason: "γ, β, the mean and the variance must have one value per channel",
            });
        }
        let mut weights = Vec::with_capacity(channels);
        let mut biases = Vec::with_capacity(channels);
        let finite = [&self.gamma, &self.beta, &self.mean]
            .iter()
            .all(|v| v.iter().all(|x| x.is_finite()));
        if !finite {
            return Err(Error::Network {
                source_name: "batch normalisation".to_owned(),
                problem: "γ, β and the mean must be finite numbers".to_owned(),
            });
        }
        for c in 0..channels {
            let spread = self.variance[c] + self.epsilon;
            if !(spread > 0.0 && spread.is_finite()) {
                return Err(Error::Network {
                    source_name: "batch normalisation".to_owned(),
                    problem: format!("channel {c}: the variance plus ε is {spread}"),
                });
            }
            let scale = self.gamma[c] / spread.sqrt();
            weights.push(scale);
            biases.push(self.beta[c] - self.mean[c] * scale);
        }
        Ok(LayerWeights { weights, biases })
    }
}

/// The network with every batch normalisation that directly follows a linear layer or a
/// convolution folded into it, and the weights for it: `W·scale` column by column,
/// `b·scale + shift`. Other normalisations stay as layers.
///
/// # Errors
///
/// [`Error::Network`] if `weights` does not have one entry per layer, with weights
/// exactly where a layer has them, of the layer's size.
pub fn fold_batch_norms(
    spec: &NetworkSpec,
    weights: &[Option<LayerWeights>],
) -> Result<(NetworkSpec, Vec<Option<LayerWeights>>)> {
    let mismatch = |i: usize| Error::Network {
        source_name: spec.name().to_owned(),
        problem: format!("layer {}: the weights do not fit the layer", i + 1),
    };
    if weights.len() != spec.layers().len() {
        return Err(mismatch(weights.len().min(spec.layers().len())));
    }
    let mut layers: Vec<LayerSpec> = Vec::with_capacity(spec.layers().len());
    let mut folded: Vec<Option<LayerWeights>> = Vec::with_capacity(weights.len());
    for (i, (&layer, w)) in spec.layers().iter().zip(weights).enumerate() {
        let fits = match (layer.parameter_shape(), w) {
            (Some((rows, outputs)), Some(w)) => {
                w.weights.len() == rows * outputs && w.biases.len() == outputs
            }
            (None, None) => true,
            _ => false,
        };
        if !fits {
            return Err(mismatch(i));
        }
        let follows_weights = matches!(
            layers.last(),
            Some(LayerSpec::Linear { .. } | LayerSpec::Conv2d { .. })
        );
        match (layer, w, folded.last_mut()) {
            (LayerSpec::BatchNorm { .. }, Some(affine), Some(Some(before))) if follows_weights => {
                let outputs = before.biases.len();
                for row in before.weights.chunks_exact_mut(outputs) {
                    for (v, &scale) in row.iter_mut().zip(&affine.weights) {
                        *v *= scale;
                    }
                }
                for ((b, &scale), &shift) in before
                    .biases
                    .iter_mut()
                    .zip(&affine.weights)
                    .zip(&affine.biases)
                {
                    *b = *b * scale + shift;
                }
            }
            _ => {
                layers.push(layer);
                folded.push(w.clone());
            }
        }
    }
    let spec = NetworkSpec::new(spec.name(), spec.input(), layers)?;
    Ok((spec, folded))
}

/// `scale` (one value per channel) repeated at every position of `shape`.
fn broadcast(scale: &Shared<Z64>, shape: &Shape) -> Result<Shared<Z64>> {
    let positions = shape.numel() / scale.len().max(1);
    map_linear(scale, shape.clone(), |data| data.repeat(positions))
}

/// y = trunc(x·scale) + shift, per channel.
#[protocol(crate = crate, name = "batch norm")]
pub(crate) fn forward(x: &Shared<Z64>, scale: &Shared<Z64>, offset: &Shared<Z64>) -> Shared<Z64> {
    check_channels(x.shape(), scale.len())?;
    let scales = broadcast(scale, x.shape())?;
    let z = truncate(x * &scales);
    add_rows(&z, offset)?
}

/// The gradients and, unless `first`, ∂x; the two products share one round.
#[protocol(crate = crate, name = "batch norm backward")]
pub(crate) fn backward(
    x: &Shared<Z64>,
    delta: &Shared<Z64>,
    scale: &Shared<Z64>,
    batch_log2: u32,
    first: bool,
) -> (Gradients<Shared<Z64>>, Option<Shared<Z64>>) {
    let channels = scale.len();
    check_channels(delta.shape(), channels)?;
    let scales = broadcast(scale, delta.shape())?;
    let scale_product = x * delta;
    let input_product = if first { None } else { Some(delta * &scales) };
    let gradients = Gradients {
        weights: rescale(&sum_rows(&scale_product, channels)?, batch_log2),
        biases: shift(&sum_rows(delta, channels)?, batch_log2),
    };
    (gradients, input_product.map(truncate))
}

fn check_channels(shape: &Shape, channels: usize) -> Result<()> {
    if channels > 0 && shape.dims().last() == Some(&channels) {
        Ok(())
    } else {
        Err(Error::InvalidShape {
            operation: "batch normalisation",
            shape: shape.clone(),
            reason: "the last dimension must be the layer's channels",
        })
    }
}

/// Each value times its channel's `scale`, before rescaling.
fn times_per_channel<N: Number>(x: &[N], scale: &[N]) -> Vec<N> {
    x.chunks_exact(scale.len().max(1))
        .flat_map(|row| row.iter().zip(scale).map(|(&v, &s)| v.times(s)))
        .collect()
}

/// y = trunc(x·scale) + shift, in the clear.
pub(crate) fn forward_plain<N: Number>(
    x: &Tensor<N>,
    scale: &Tensor<N>,
    offset: &Tensor<N>,
    rounding: &mut Rounding,
) -> Result<Tensor<N>> {
    check_channels(x.shape(), scale.len())?;
    let mut z = times_per_channel(x.data(), scale.data());
    N::rescale(&mut z, 0, rounding);
    number::add_bias(&mut z, offset.data());
    Tensor::from_vec(x.shape().clone(), z)
}

/// The backward pass in the clear.
pub(crate) fn backward_plain<N: Number>(
    x: &Tensor<N>,
    delta: &Tensor<N>,
    scale: &Tensor<N>,
    batch_log2: u32,
    first: bool,
    rounding: &mut Rounding,
) -> Result<Backward<Tensor<N>>> {
    let channels = scale.len();
    check_channels(delta.shape(), channels)?;
    if x.len() != delta.len() {
        return Err(Error::ShapeMismatch {
            operation: "batch normalisation backward",
            left: x.shape().clone(),
            right: delta.shape().clone(),
        });
    }
    let products: Vec<N> = x
        .data()
        .iter()
        .zip(delta.data())
        .map(|(&a, &d)| a.times(d))
        .collect();
    let mut weights = number::sum_rows(&products, channels);
    N::rescale(&mut weights, batch_log2, rounding);
    let mut biases = number::sum_rows(delta.data(), channels);
    N::shift(&mut biases, batch_log2, rounding);
    let gradients = Gradients {
        weights: Tensor::from_vec([1, channels], weights)?,
        biases: Tensor::from_vec([1, channels], biases)?,
    };
    if first {
        return Ok((gradients, None));
    }
    let mut dx = times_per_channel(delta.data(), scale.data());
    N::rescale(&mut dx, 0, rounding);
    Ok((
        gradients,
        Some(Tensor::from_vec(delta.shape().clone(), dx)?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::spec::ValueShape;

    #[test]
    fn the_affine_map_is_the_normalisation() {
        let stats = BatchNormStatistics {
            gamma: vec![2.0, 0.5],
            beta: vec![1.0, -1.0],
            mean: vec![3.0, 0.0],
            variance: vec![4.0 - 1e-3, 1.0 - 1e-3],
            epsilon: 1e-3,
        };
        let affine = stats.affine().unwrap();
        for (c, x) in [(0usize, 5.0f64), (1, -2.0)] {
            let direct = stats.gamma[c] * (x - stats.mean[c])
                / (stats.variance[c] + stats.epsilon).sqrt()
                + stats.beta[c];
            let mapped = x * affine.weights[c] + affine.biases[c];
            assert!((direct - mapped).abs() < 1e-12, "channel {c}");
        }
        let bad = BatchNormStatistics {
            variance: vec![-1.0, 1.0],
            ..stats
        };
        assert!(matches!(bad.affine(), Err(Error::Network { .. })));
    }

    /// A folded network computes, in f64, what the unfolded one does.
    #[test]
    fn folding_into_the_layer_before_changes_no_output() {
        let spec = NetworkSpec::new(
            "bn",
            ValueShape::Row(3),
            vec![
                LayerSpec::Linear {
                    inputs: 3,
                    outputs: 2,
                },
                LayerSpec::BatchNorm { channels: 2 },
                LayerSpec::Relu,
                LayerSpec::BatchNorm { channels: 2 },
            ],
        )
        .unwrap();
        let linear = LayerWeights {
            weights: vec![1.0, -2.0, 0.5, 0.25, -1.0, 3.0],
            biases: vec![0.1, -0.2],
        };
        let bn = LayerWeights {
            weights: vec![1.5, -0.5],
            biases: vec![0.25, 2.0],
        };
        let weights = vec![
            Some(linear.clone()),
            Some(bn.clone()),
            None,
            Some(bn.clone()),
        ];
        let (folded, folded_weights) = fold_batch_norms(&spec, &weights).unwrap();
        assert_eq!(
            folded.layers().len(),
            3,
            "only the first normalisation folds"
        );
        let x = [0.5, -1.0, 2.0];
        let affine = |w: &LayerWeights, v: &[f64]| -> Vec<f64> {
            (0..2).map(|o| v[o] * w.weights[o] + w.biases[o]).collect()
        };
        let dense = |w: &LayerWeights| -> Vec<f64> {
            (0..2)
                .map(|o| (0..3).map(|r| x[r] * w.weights[r * 2 + o]).sum::<f64>() + w.biases[o])
                .collect()
        };
        let relu = |v: Vec<f64>| -> Vec<f64> { v.into_iter().map(|a| a.max(0.0)).collect() };
        let unfolded = affine(&bn, &relu(affine(&bn, &dense(&linear))));
        let first = folded_weights[0].as_ref().unwrap();
        let refolded = affine(&bn, &relu(dense(first)));
        for (a, b) in unfolded.iter().zip(&refolded) {
            assert!((a - b).abs() < 1e-12);
        }
    }
}
