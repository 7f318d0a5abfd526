//! The plaintext twin: the networks of [`NetworkSpec`] computed in the clear, step for step
//! as the private engine computes them, in 13-bit fixed point over Z_2^64 (with the private
//! truncation's rounding) or in `f32`.
//!
//! Every private result can be compared with what it should be, layer by layer; the twin
//! also trains models to be evaluated privately, and chooses hyperparameters cheaply.
//!
//! The arithmetic of both engines:
//! - **Linear**: z = trunc(x·W) + b. Backward: ∂W = trunc(xᵀ·δ / B), ∂b = Σδ / B,
//!   ∂x = trunc(δ·Wᵀ), B the batch size (a power of two, folded into the truncation).
//! - **Conv2d**: the same on the im2col matrix of x; ∂x = col2im(trunc(δ·Wᵀ)).
//! - **ReLU**: the forward pass keeps the bits [x ≥ 0]; backward, ∂x = δ where the bit is 1.
//! - **MaxPool**: the forward pass keeps each window's argmax (the earliest among equals);
//!   backward routes δ to it.
//! - **Loss** ([`Loss::Hinge`], the default): with v = u − y for outputs u and one-hot
//!   labels y, δ = v where [v ≥ 0] ≠ y, else 0: the squared hinge ½Σ relu(v)² on the wrong
//!   classes and ½ min(v, 0)² on the right one. It needs one DReLU per output and no
//!   division. [`Loss::Asm`] is the paper's δ = ASM(u) − y with ASM(u) = relu(u)/Σrelu(u).
//! - **SGD with momentum**: V ← V − V/2^m + ∂, W ← W − V/2^l (plain SGD: W ← W − ∂/2^l),
//!   every division a truncation.

use core::fmt;
use core::ops::AddAssign;

use crate::error::{Error, Result};
use crate::nn::config::{LayerWeights, Loss, TrainConfig};
use crate::nn::spec::{LayerSpec, NetworkSpec, ValueShape};
use crate::prg::Prg;
use crate::ring::fixed::FRACTIONAL_BITS;
use crate::ring::{Ring, Z64};
use crate::tensor::{col2im, im2col, matmul_into};

/// The numbers the twin computes with.
pub trait Number:
    Copy + Default + PartialEq + AddAssign + fmt::Debug + Send + Sync + 'static
{
    /// A name for reports.
    const NAME: &'static str;

    /// The number closest to `x`.
    fn encode(x: f64) -> Self;

    /// The real value.
    fn decode(self) -> f64;

    /// `self − other`.
    fn minus(self, other: Self) -> Self;

    /// Whether the value is at least 0.
    fn is_nonnegative(self) -> bool;

    /// The matrix product `a`(m×n)·`b`(n×v), before rescaling: at twice the scale in fixed
    /// point.
    fn matmul(a: &[Self], b: &[Self], m: usize, n: usize, v: usize) -> Vec<Self>;

    /// A product brought back to the base scale and divided by 2^`extra`.
    fn rescale(values: &mut [Self], extra: u32, rounding: &mut Rounding);

    /// Values of the base scale divided by 2^`bits`.
    fn shift(values: &mut [Self], bits: u32, rounding: &mut Rounding);

    /// ⌊x / y⌋ in the base scale, for 0 ≤ x ≤ y, y > 0 (the private Division).
    fn divide(x: Self, y: Self) -> Self;
}

/// The randomness of the private truncation, emulated: a fixed-point division by 2^k
/// rounds up with probability (x mod 2^k) / 2^k, as the sum of two truncated shares does.
pub struct Rounding {
    prg: Prg,
}

impl fmt::Debug for Rounding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rounding")
    }
}

impl Rounding {
    /// Rounding draws from a seeded stream (public randomness, for reproducible runs).
    pub fn from_seed(seed: u64) -> Rounding {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..].copy_from_slice(b"rounding");
        Rounding {
            prg: Prg::from_stream_key(key),
        }
    }

    fn truncate(&mut self, values: &mut [Z64], bits: u32) {
        if bits == 0 {
            return;
        }
        let mut draws = vec![Z64::ZERO; values.len()];
        Z64::fill_random(&mut self.prg, &mut draws);
        let mask = (1u64 << bits) - 1;
        for (v, draw) in values.iter_mut().zip(draws) {
            let floor = v.arithmetic_shr(bits);
            let remainder = v.value() & mask;
            let up = (draw.value() & mask) < remainder;
            *v = floor + Z64::new(u64::from(up));
        }
    }
}

impl Number for Z64 {
    const NAME: &'static str = "fixed point";

    #[allow(
        clippy::cast_possible_truncation,
        reason = "`as` saturates: reals beyond ±2^50 are out of the encoding's range anyway"
    )]
    fn encode(x: f64) -> Z64 {
        Z64::from_i64((x * f64::from(1u32 << FRACTIONAL_BITS)).round() as i64)
    }

    fn decode(self) -> f64 {
        self.value() as i64 as f64 / f64::from(1u32 << FRACTIONAL_BITS)
    }

    fn minus(self, other: Z64) -> Z64 {
        self - other
    }

    fn is_nonnegative(self) -> bool {
        (self.value() as i64) >= 0
    }

    fn matmul(a: &[Z64], b: &[Z64], m: usize, n: usize, v: usize) -> Vec<Z64> {
        let mut out = vec![Z64::ZERO; m * v];
        matmul_into(a, b, m, n, v, &mut out);
        out
    }

    fn rescale(values: &mut [Z64], extra: u32, rounding: &mut Rounding) {
        rounding.truncate(values, FRACTIONAL_BITS + extra);
    }

    fn shift(values: &mut [Z64], bits: u32, rounding: &mut Rounding) {
        rounding.truncate(values, bits);
    }

    fn divide(x: Z64, y: Z64) -> Z64 {
        let (x, y) = (x.value() as i64, y.value() as i64);
        if y <= 0 {
            return Z64::ZERO;
        }
        let quotient = (i128::from(x) << FRACTIONAL_BITS) / i128::from(y);
        Z64::from_i64(i64::try_from(quotient).unwrap_or(i64::MAX))
    }
}

impl Number for f32 {
    const NAME: &'static str = "f32";

    #[allow(
        clippy::cast_possible_truncation,
        reason = "rounding to the nearest f32 is the encoding"
    )]
    fn encode(x: f64) -> f32 {
        x as f32
    }

    fn decode(self) -> f64 {
        f64::from(self)
    }

    fn minus(self, other: f32) -> f32 {
        self - other
    }

    fn is_nonnegative(self) -> bool {
        self >= 0.0
    }

    fn matmul(a: &[f32], b: &[f32], m: usize, n: usize, v: usize) -> Vec<f32> {
        let mut out = vec![0.0; m * v];
        for (row, out_row) in a.chunks_exact(n.max(1)).zip(out.chunks_exact_mut(v.max(1))) {
            for (&x, b_row) in row.iter().zip(b.chunks_exact(v.max(1))) {
                for (o, &w) in out_row.iter_mut().zip(b_row) {
                    *o += x * w;
                }
            }
        }
        out
    }

    fn rescale(values: &mut [f32], extra: u32, _: &mut Rounding) {
        let scale = 0.5f32.powi(extra as i32);
        values.iter_mut().for_each(|v| *v *= scale);
    }

    fn shift(values: &mut [f32], bits: u32, rounding: &mut Rounding) {
        Self::rescale(values, bits, rounding);
    }

    fn divide(x: f32, y: f32) -> f32 {
        if y > 0.0 { x / y } else { 0.0 }
    }
}

/// One layer's parameters and momentum in the twin.
#[derive(Debug, Clone)]
struct Params<N> {
    weights: Vec<N>,
    biases: Vec<N>,
    weight_velocity: Vec<N>,
    bias_velocity: Vec<N>,
}

/// What a layer's forward pass keeps for its backward pass.
#[derive(Debug, Clone)]
enum Cache<N> {
    /// The layer's input (a linear layer's rows, or a convolution's im2col matrix).
    Input(Vec<N>),
    /// ReLU's bits [x ≥ 0].
    Signs(Vec<bool>),
    /// Max pooling's argmax of each window, and the input's length.
    Argmax(Vec<usize>, usize),
    /// Nothing (Flatten).
    None,
}

/// A network computed in the clear.
#[derive(Debug)]
pub struct Twin<N: Number> {
    spec: NetworkSpec,
    params: Vec<Option<Params<N>>>,
    config: TrainConfig,
    rounding: Rounding,
}

/// Gradients of one layer.
#[derive(Debug, Clone)]
struct Gradients<N> {
    weights: Vec<N>,
    biases: Vec<N>,
}

impl<N: Number> Twin<N> {
    /// A twin of `spec` with the given weights (one entry per layer, as
    /// [`initial_weights`](super::config::initial_weights) makes them) and training configuration; `seed` drives the
    /// emulated rounding.
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
            return Err(Error::Config("one weights entry per layer is needed"));
        }
        let params = spec
            .layers()
            .iter()
            .zip(weights)
            .map(|(layer, w)| {
                let Some((rows, outputs)) = layer.parameter_shape() else {
                    return Ok(None);
                };
                let w = w
                    .as_ref()
                    .ok_or(Error::Config("a layer with weights has none"))?;
                if w.weights.len() != rows * outputs || w.biases.len() != outputs {
                    return Err(Error::InvalidShape {
                        operation: "twin weights",
                        shape: [rows, outputs].into(),
                        reason: "the weights or biases do not have the layer's shape",
                    });
                }
                Ok(Some(Params {
                    weights: w.weights.iter().map(|&x| N::encode(x)).collect(),
                    biases: w.biases.iter().map(|&x| N::encode(x)).collect(),
                    weight_velocity: vec![N::default(); rows * outputs],
                    bias_velocity: vec![N::default(); outputs],
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Twin {
            spec,
            params,
            config,
            rounding: Rounding::from_seed(seed),
        })
    }

    /// The network's architecture.
    pub fn spec(&self) -> &NetworkSpec {
        &self.spec
    }

    /// The current weights, decoded.
    pub fn weights(&self) -> Vec<Option<LayerWeights>> {
        self.params
            .iter()
            .map(|p| {
                p.as_ref().map(|p| LayerWeights {
                    weights: p.weights.iter().map(|w| w.decode()).collect(),
                    biases: p.biases.iter().map(|b| b.decode()).collect(),
                })
            })
            .collect()
    }

    /// The outputs for a batch of `batch` inputs (`input` holds `batch` examples of the
    /// spec's input shape, encoded), and what the backward pass needs.
    fn forward_with_caches(
        &mut self,
        input: &[N],
        batch: usize,
    ) -> Result<(Vec<N>, Vec<Cache<N>>)> {
        if input.len() != batch * self.spec.input().len() {
            return Err(Error::InvalidShape {
                operation: "twin forward",
                shape: self.spec.input().batch(batch),
                reason: "the input does not hold this many values",
            });
        }
        let mut x = input.to_vec();
        let mut caches = Vec::with_capacity(self.spec.layers().len());
        for (i, layer) in self.spec.layers().iter().enumerate() {
            let shape = self.spec.shape_before(i).unwrap_or(ValueShape::Row(0));
            let (y, cache) = match *layer {
                LayerSpec::Linear { inputs, outputs } => {
                    let p = self.params[i]
                        .as_ref()
                        .ok_or(Error::Config("missing weights"))?;
                    let mut z = N::matmul(&x, &p.weights, batch, inputs, outputs);
                    N::rescale(&mut z, 0, &mut self.rounding);
                    add_bias(&mut z, &p.biases);
                    (z, Cache::Input(x))
                }
                LayerSpec::Conv2d {
                    out_channels,
                    kernel,
                    stride,
                    padding,
                    ..
                } => {
                    let g = shape.conv_geometry(batch, kernel, stride, padding)?;
                    let p = self.params[i]
                        .as_ref()
                        .ok_or(Error::Config("missing weights"))?;
                    let columns = im2col(&x, &g)?;
                    let mut z =
                        N::matmul(&columns, &p.weights, g.rows(), g.patch_len(), out_channels);
                    N::rescale(&mut z, 0, &mut self.rounding);
                    add_bias(&mut z, &p.biases);
                    (z, Cache::Input(columns))
                }
                LayerSpec::Relu => {
                    let signs: Vec<bool> = x.iter().map(|v| v.is_nonnegative()).collect();
                    let y = x
                        .iter()
                        .zip(&signs)
                        .map(|(&v, &s)| if s { v } else { N::default() })
                        .collect();
                    (y, Cache::Signs(signs))
                }
                LayerSpec::MaxPool2d { kernel } => {
                    let (y, argmax) = max_pool(&x, shape, batch, kernel);
                    let len = x.len();
                    (y, Cache::Argmax(argmax, len))
                }
                LayerSpec::Flatten => (x, Cache::None),
            };
            x = y;
            caches.push(cache);
        }
        Ok((x, caches))
    }

    /// The network's outputs for `batch` encoded inputs.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if `input` does not hold `batch` inputs.
    pub fn forward(&mut self, input: &[N], batch: usize) -> Result<Vec<N>> {
        Ok(self.forward_with_caches(input, batch)?.0)
    }

    /// The predicted class of each of `batch` inputs: the argmax of its outputs (the
    /// earliest among equals).
    ///
    /// # Errors
    ///
    /// As [`Twin::forward`].
    pub fn predict(&mut self, input: &[N], batch: usize) -> Result<Vec<usize>> {
        let out = self.forward(input, batch)?;
        let classes = self.spec.output().len().max(1);
        Ok(out.chunks_exact(classes).map(argmax).collect())
    }

    /// One training step on a batch of `config.batch()` inputs with their labels; returns
    /// how many of the batch the network classified right before the step.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if the input or labels do not fit the batch.
    pub fn train_step(&mut self, input: &[N], labels: &[u8]) -> Result<usize> {
        let batch = self.config.batch();
        if labels.len() != batch {
            return Err(Error::Config(
                "one label per example of the batch is needed",
            ));
        }
        let (output, caches) = self.forward_with_caches(input, batch)?;
        let classes = self.spec.output().len();
        let correct = output
            .chunks_exact(classes.max(1))
            .zip(labels)
            .filter(|&(row, &label)| argmax(row) == usize::from(label))
            .count();
        let mut delta = loss_gradient(&output, labels, classes, self.config.loss);
        let mut gradients: Vec<Option<Gradients<N>>> = vec![None; caches.len()];
        for (i, cache) in caches.into_iter().enumerate().rev() {
            let layer = self.spec.layers()[i];
            let shape = self.spec.shape_before(i).unwrap_or(ValueShape::Row(0));
            delta = match (layer, cache) {
                (LayerSpec::Linear { inputs, outputs }, Cache::Input(x)) => {
                    gradients[i] = Some(self.weight_gradients(&x, &delta, batch, inputs, outputs));
                    if i == 0 {
                        break;
                    }
                    let p = self.params[i]
                        .as_ref()
                        .ok_or(Error::Config("missing weights"))?;
                    let w_t = transpose(&p.weights, inputs, outputs);
                    let mut dx = N::matmul(&delta, &w_t, batch, outputs, inputs);
                    N::rescale(&mut dx, 0, &mut self.rounding);
                    dx
                }
                (
                    LayerSpec::Conv2d {
                        out_channels,
                        kernel,
                        stride,
                        padding,
                        ..
                    },
                    Cache::Input(columns),
                ) => {
                    let g = shape.conv_geometry(batch, kernel, stride, padding)?;
                    gradients[i] = Some(self.weight_gradients(
                        &columns,
                        &delta,
                        g.rows(),
                        g.patch_len(),
                        out_channels,
                    ));
                    if i == 0 {
                        break;
                    }
                    let p = self.params[i]
                        .as_ref()
                        .ok_or(Error::Config("missing weights"))?;
                    let w_t = transpose(&p.weights, g.patch_len(), out_channels);
                    let mut dcols = N::matmul(&delta, &w_t, g.rows(), out_channels, g.patch_len());
                    N::rescale(&mut dcols, 0, &mut self.rounding);
                    col2im(&dcols, &g)?
                }
                (LayerSpec::Relu, Cache::Signs(signs)) => delta
                    .iter()
                    .zip(&signs)
                    .map(|(&d, &s)| if s { d } else { N::default() })
                    .collect(),
                (LayerSpec::MaxPool2d { .. }, Cache::Argmax(argmax, len)) => {
                    let mut dx = vec![N::default(); len];
                    for (&position, &d) in argmax.iter().zip(&delta) {
                        dx[position] = d;
                    }
                    dx
                }
                (LayerSpec::Flatten, Cache::None) => delta,
                _ => return Err(Error::Config("a layer's cache does not match the layer")),
            };
        }
        self.apply(&gradients);
        Ok(correct)
    }

    /// ∂W = trunc(xᵀ·δ / B) and ∂b = Σδ / B for `rows` rows of `inputs` values.
    fn weight_gradients(
        &mut self,
        x: &[N],
        delta: &[N],
        rows: usize,
        inputs: usize,
        outputs: usize,
    ) -> Gradients<N> {
        let x_t = transpose(x, rows, inputs);
        let mut weights = N::matmul(&x_t, delta, inputs, rows, outputs);
        N::rescale(&mut weights, self.config.batch_log2, &mut self.rounding);
        let mut biases = vec![N::default(); outputs];
        for row in delta.chunks_exact(outputs.max(1)) {
            for (b, &d) in biases.iter_mut().zip(row) {
                *b += d;
            }
        }
        N::shift(&mut biases, self.config.batch_log2, &mut self.rounding);
        Gradients { weights, biases }
    }

    /// The optimizer's step.
    fn apply(&mut self, gradients: &[Option<Gradients<N>>]) {
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
                        let mut decay = velocity.clone();
                        N::shift(&mut decay, m, &mut self.rounding);
                        for ((v, &d), &g) in velocity.iter_mut().zip(&decay).zip(gradient) {
                            *v = v.minus(d);
                            *v += g;
                        }
                        velocity.clone()
                    }
                    None => gradient.clone(),
                };
                let mut step = step;
                N::shift(&mut step, config.lr_shift, &mut self.rounding);
                for (w, &s) in values.iter_mut().zip(&step) {
                    *w = w.minus(s);
                }
            }
        }
    }
}

/// Adds `biases` to every row of `z`.
fn add_bias<N: Number>(z: &mut [N], biases: &[N]) {
    for row in z.chunks_exact_mut(biases.len().max(1)) {
        for (v, &b) in row.iter_mut().zip(biases) {
            *v += b;
        }
    }
}

/// The transpose of a `rows × cols` matrix.
fn transpose<N: Copy + Default>(a: &[N], rows: usize, cols: usize) -> Vec<N> {
    let mut out = vec![N::default(); rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = a[r * cols + c];
        }
    }
    out
}

/// The index of the largest value, the earliest among equals.
fn argmax<N: Number>(row: &[N]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate().skip(1) {
        if v.minus(row[best]).is_nonnegative() && v != row[best] {
            best = i;
        }
    }
    best
}

/// Max pooling of NHWC `x` over `kernel`×`kernel` windows: the maxima and the flat input
/// index of each (the earliest among equals, in row-major window order).
fn max_pool<N: Number>(
    x: &[N],
    shape: ValueShape,
    batch: usize,
    kernel: usize,
) -> (Vec<N>, Vec<usize>) {
    let ValueShape::Image {
        height,
        width,
        channels,
    } = shape
    else {
        return (Vec::new(), Vec::new());
    };
    let (oh, ow) = (height / kernel, width / kernel);
    let mut out = Vec::with_capacity(batch * oh * ow * channels);
    let mut positions = Vec::with_capacity(out.capacity());
    for b in 0..batch {
        for oy in 0..oh {
            for ox in 0..ow {
                for c in 0..channels {
                    let index = |ky: usize, kx: usize| {
                        ((b * height + oy * kernel + ky) * width + ox * kernel + kx) * channels + c
                    };
                    let mut best = index(0, 0);
                    for ky in 0..kernel {
                        for kx in 0..kernel {
                            let i = index(ky, kx);
                            if x[i] != x[best] && x[i].minus(x[best]).is_nonnegative() {
                                best = i;
                            }
                        }
                    }
                    out.push(x[best]);
                    positions.push(best);
                }
            }
        }
    }
    (out, positions)
}

/// The loss's gradient with respect to the outputs `u` (`classes` per example).
fn loss_gradient<N: Number>(u: &[N], labels: &[u8], classes: usize, loss: Loss) -> Vec<N> {
    let one = N::encode(1.0);
    let mut delta = Vec::with_capacity(u.len());
    for (row, &label) in u.chunks_exact(classes.max(1)).zip(labels) {
        match loss {
            Loss::Hinge => {
                for (j, &value) in row.iter().enumerate() {
                    let target = j == usize::from(label);
                    let v = if target { value.minus(one) } else { value };
                    delta.push(if v.is_nonnegative() != target {
                        v
                    } else {
                        N::default()
                    });
                }
            }
            Loss::Asm => {
                let relu: Vec<N> = row
                    .iter()
                    .map(|&v| if v.is_nonnegative() { v } else { N::default() })
                    .collect();
                let mut sum = N::default();
                for &r in &relu {
                    sum += r;
                }
                for (j, &r) in relu.iter().enumerate() {
                    let p = N::divide(r, sum);
                    delta.push(if j == usize::from(label) {
                        p.minus(one)
                    } else {
                        p
                    });
                }
            }
        }
    }
    delta
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

    #[test]
    fn stochastic_rounding_is_unbiased_and_within_one_unit() {
        let mut rounding = Rounding::from_seed(1);
        // 3.25 units after a 2-bit shift of 13: 13/4 = 3.25.
        let mut values = vec![Z64::new(13); 4000];
        rounding.truncate(&mut values, 2);
        let ups = values.iter().filter(|v| v.value() == 4).count();
        assert!(values.iter().all(|v| v.value() == 3 || v.value() == 4));
        assert!(
            (800..1200).contains(&ups),
            "about a quarter round up: {ups}"
        );
        let mut negative = vec![Z64::from_i64(-13); 10];
        rounding.truncate(&mut negative, 2);
        assert!(negative.iter().all(|v| matches!(v.value() as i64, -4 | -3)));
    }

    #[test]
    fn the_hinge_gradient_follows_its_definition() {
        let u: Vec<f32> = vec![0.5, 1.5, -0.25, 0.25];
        // Label 1: wrong classes 0, 2, 3 give relu(u); the right one min(u − 1, 0).
        assert_eq!(
            loss_gradient(&u, &[1], 4, Loss::Hinge),
            [0.5, 0.0, 0.0, 0.25]
        );
        assert_eq!(
            loss_gradient(&u, &[0], 4, Loss::Hinge),
            [-0.5, 1.5, 0.0, 0.25]
        );
    }

    #[test]
    fn max_pool_keeps_the_earliest_maximum() {
        // One 2×2 window, two channels: channel 0 ties at 3, channel 1 peaks last.
        let x: Vec<f32> = vec![3.0, 0.0, 1.0, 1.0, 3.0, 2.0, 0.0, 5.0];
        let shape = ValueShape::Image {
            height: 2,
            width: 2,
            channels: 2,
        };
        let (out, positions) = max_pool(&x, shape, 1, 2);
        assert_eq!(out, [3.0, 5.0]);
        assert_eq!(positions, [0, 7]);
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
