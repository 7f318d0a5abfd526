//! How a network trains, and its trained values in the clear: the configuration that the
//! private engine and the plaintext twin both read, and the weights they start from.
//!
//! This module imports nothing of the backends: they import it.

use crate::nn::spec::{LayerSpec, NetworkSpec};
use crate::prg::Prg;
use crate::ring::{Ring, Z64};

/// The loss whose gradient starts the backward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Loss {
    /// The squared hinge: with v = u − y for outputs u and one-hot labels y, δ = v where
    /// [v ≥ 0] ≠ y, else 0 (½Σ relu(v)² on the wrong classes, ½ min(v, 0)² on the right
    /// one). One DReLU per output and no division.
    #[default]
    Hinge,
    /// The paper's softmax substitute: δ = relu(u)/Σrelu(u) − y.
    Asm,
}

/// How a network trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainConfig {
    /// log₂ of the batch size.
    pub batch_log2: u32,
    /// The learning rate is 2^−`lr_shift`.
    pub lr_shift: u32,
    /// The momentum is 1 − 2^−`momentum_shift`; `None` is plain SGD.
    pub momentum_shift: Option<u32>,
    /// The loss.
    pub loss: Loss,
}

impl Default for TrainConfig {
    /// Batch 128, learning rate 1/8, momentum 7/8, the squared hinge: 97.4% on network A
    /// after 5 epochs in emulated fixed point.
    fn default() -> Self {
        TrainConfig {
            batch_log2: 7,
            lr_shift: 3,
            momentum_shift: Some(3),
            loss: Loss::Hinge,
        }
    }
}

impl TrainConfig {
    /// The batch size.
    pub fn batch(&self) -> usize {
        1 << self.batch_log2
    }
}

/// The trained values of one layer: weights (`inputs × outputs`, or HWIO for a
/// convolution, i.e. `patch × out_channels`) and biases, as decoded reals.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerWeights {
    /// Weights, row-major.
    pub weights: Vec<f64>,
    /// One bias per output (channel).
    pub biases: Vec<f64>,
}

/// He-uniform initial weights, U(±√(6/fan_in)), and zero biases, from a seeded stream:
/// they train in 13-bit fixed point. One entry per layer, `None` for layers without
/// weights.
///
/// # Examples
///
/// ```
/// use securenn_dsl::nn::NetworkSpec;
/// use securenn_dsl::nn::config::initial_weights;
///
/// let weights = initial_weights(&NetworkSpec::a(), 1);
/// let first = weights[1].as_ref().expect("layer 1 is FC 784→128");
/// assert_eq!(first.weights.len(), 784 * 128);
/// assert!(first.weights.iter().all(|w| w.abs() <= (6.0f64 / 784.0).sqrt()));
/// ```
pub fn initial_weights(spec: &NetworkSpec, seed: u64) -> Vec<Option<LayerWeights>> {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..].copy_from_slice(b"weights!");
    let mut prg = Prg::from_stream_key(key);
    spec.layers()
        .iter()
        .map(|layer| {
            let (fan_in, outputs) = layer.parameter_shape()?;
            if let LayerSpec::BatchNorm { channels } = *layer {
                // The identity map until trained or loaded.
                return Some(LayerWeights {
                    weights: vec![1.0; channels],
                    biases: vec![0.0; channels],
                });
            }
            let bound = (6.0 / fan_in as f64).sqrt();
            let mut draws = vec![Z64::ZERO; fan_in * outputs];
            Z64::fill_random(&mut prg, &mut draws);
            let weights = draws
                .iter()
                .map(|d| (d.value() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 * bound - bound)
                .collect();
            Some(LayerWeights {
                weights,
                biases: vec![0.0; outputs],
            })
        })
        .collect()
}
