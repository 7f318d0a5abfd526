//! Average pooling over NHWC images, over shares and in the clear: each window's sum
//! divided by the window's size, a public divisor, so every step is local (no comparison,
//! no message). The division is a truncation when the size is a power of two, else a
//! multiplication by 1/size in two parts (13 and 26 fractional bits) and a truncation of
//! each: within two units in the last place, where one 13-bit factor would be off by
//! 0.024% (1/9) to 0.1% (1/49, a global pooling of 7×7 maps) on every value.
//!
//! Backward: each window's δ divided by the size, added to every position of the window.

use crate::error::Result;
use crate::nn::backend::Window;
use crate::nn::layers::window::Pooling;
use crate::nn::local::shift;
use crate::nn::number::{Number, Rounding, factor_parts};
use crate::ring::Z64;
use crate::ring::fixed::FRACTIONAL_BITS;
use crate::share::Shared;
use crate::tensor::{Shape, Tensor};

const OPERATION: &str = "average pooling";

/// Shares divided by the public `divisor`: a shift for a power of two, else a product by
/// the two parts of 1/divisor ([`factor_parts`]), each truncated locally.
fn divide_shared(x: &Shared<Z64>, divisor: usize) -> Shared<Z64> {
    if divisor.is_power_of_two() {
        return shift(x, divisor.trailing_zeros());
    }
    let (high, low) = factor_parts(1.0 / divisor as f64);
    let times = |factor: Z64| {
        let data = x.data().iter().map(|&v| v * factor).collect();
        Shared::from_parts(x.role(), x.shape().clone(), data)
    };
    let high = shift(&times(high), FRACTIONAL_BITS);
    let low = shift(&times(low), 2 * FRACTIONAL_BITS);
    high + low
}

/// Values in the clear divided by the public `divisor`, as [`divide_shared`] divides.
fn divide_plain<N: Number>(values: &mut [N], divisor: usize, rounding: &mut Rounding) {
    if divisor.is_power_of_two() {
        N::shift(values, divisor.trailing_zeros(), rounding);
    } else {
        N::scale_by(values, 1.0 / divisor as f64, rounding);
    }
}

/// Average pooling of shares.
pub(crate) fn forward_shared(x: &Shared<Z64>, window: Window) -> Result<Shared<Z64>> {
    let pooling = Pooling::new(OPERATION, x.shape(), window)?;
    let sums = if x.role().is_helper() {
        Vec::new()
    } else {
        pooling.sums(x.data())
    };
    let sums = Shared::from_parts(x.role(), pooling.output_shape(), sums);
    Ok(divide_shared(&sums, pooling.window_len()))
}

/// Average pooling's backward pass on shares, into the pooling's `input` shape.
pub(crate) fn backward_shared(
    delta: &Shared<Z64>,
    input: &Shape,
    window: Window,
) -> Result<Shared<Z64>> {
    let pooling = Pooling::new(OPERATION, input, window)?;
    pooling.check_gradient("average pooling backward", delta.shape())?;
    let divided = divide_shared(delta, pooling.window_len());
    let data = if delta.role().is_helper() {
        Vec::new()
    } else {
        pooling.spread(divided.data())
    };
    Ok(Shared::from_parts(delta.role(), input.clone(), data))
}

/// Average pooling in the clear.
pub(crate) fn forward_plain<N: Number>(
    x: &Tensor<N>,
    window: Window,
    rounding: &mut Rounding,
) -> Result<Tensor<N>> {
    let pooling = Pooling::new(OPERATION, x.shape(), window)?;
    let mut sums = pooling.sums(x.data());
    divide_plain(&mut sums, pooling.window_len(), rounding);
    Tensor::from_vec(pooling.output_shape(), sums)
}

/// Average pooling's backward pass in the clear.
pub(crate) fn backward_plain<N: Number>(
    delta: &Tensor<N>,
    input: &Shape,
    window: Window,
    rounding: &mut Rounding,
) -> Result<Tensor<N>> {
    let pooling = Pooling::new(OPERATION, input, window)?;
    pooling.check_gradient("average pooling backward", delta.shape())?;
    let mut divided = delta.data().to_vec();
    divide_plain(&mut divided, pooling.window_len(), rounding);
    Tensor::from_vec(input.clone(), pooling.spread(&divided))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_output_is_its_windows_mean_and_the_gradient_spreads_evenly() {
        // A 3×3 image, 2×2 windows with stride 1 (overlapping), one channel.
        let x = Tensor::from_vec([1, 3, 3, 1], (1..=9).map(|v| v as f32).collect()).unwrap();
        let window = Window {
            kernel: 2,
            stride: 1,
            padding: 0,
        };
        let mut rounding = Rounding::from_seed(0);
        let y = forward_plain(&x, window, &mut rounding).unwrap();
        assert_eq!(y.shape().dims(), [1, 2, 2, 1]);
        assert_eq!(y.data(), [3.0, 4.0, 6.0, 7.0]);
        let delta = Tensor::from_vec([1, 2, 2, 1], vec![4.0f32; 4]).unwrap();
        let dx = backward_plain(&delta, x.shape(), window, &mut rounding).unwrap();
        // The centre is in all four windows, the corners in one.
        assert_eq!(dx.data(), [1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]);
    }

    #[test]
    fn padded_average_pooling_counts_the_padding_as_zeros() {
        // A 3×3 image, 3×3 windows with stride 1 and padding 1: each output is the sum of
        // its neighbourhood inside the image, divided by 9 (count_include_pad).
        let x = Tensor::from_vec([1, 3, 3, 1], (1..=9).map(|v| v as f32).collect()).unwrap();
        let window = Window {
            kernel: 3,
            stride: 1,
            padding: 1,
        };
        let mut rounding = Rounding::from_seed(0);
        let y = forward_plain(&x, window, &mut rounding).unwrap();
        let sums = [12.0, 21.0, 16.0, 27.0, 45.0, 33.0, 24.0, 39.0, 28.0];
        assert_eq!(y.shape().dims(), [1, 3, 3, 1]);
        for (got, sum) in y.data().iter().zip(sums) {
            assert!((got - sum / 9.0).abs() < 1e-5, "{got} vs {}", sum / 9.0);
        }
        // Backward: each input receives δ/9 from every window that holds it.
        let delta = Tensor::from_vec([1, 3, 3, 1], vec![9.0f32; 9]).unwrap();
        let dx = backward_plain(&delta, x.shape(), window, &mut rounding).unwrap();
        assert_eq!(dx.data(), [4.0, 6.0, 4.0, 6.0, 9.0, 6.0, 4.0, 6.0, 4.0]);
    }
}
