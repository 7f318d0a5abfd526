//! The numbers the cleartext backend computes with: 13-bit fixed point over Z_2^64, with
//! the private truncation's rounding emulated ([`Rounding`]), or `f32`.

use core::fmt;
use core::ops::AddAssign;

use crate::prg::Prg;
use crate::ring::fixed::FRACTIONAL_BITS;
use crate::ring::{Ring, Z64};
use crate::tensor::matmul_into;

/// The numbers the cleartext backend computes with.
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

    /// `self · other`, before rescaling: at twice the scale in fixed point.
    fn times(self, other: Self) -> Self;

    /// Whether the value is at least 0.
    fn is_nonnegative(self) -> bool;

    /// The matrix product `a`(m×n)·`b`(n×v), before rescaling: at twice the scale in fixed
    /// point.
    fn matmul(a: &[Self], b: &[Self], m: usize, n: usize, v: usize) -> Vec<Self>;

    /// A product brought back to the base scale and divided by 2^`extra`.
    fn rescale(values: &mut [Self], extra: u32, rounding: &mut Rounding);

    /// Values of the base scale divided by 2^`bits`.
    fn shift(values: &mut [Self], bits: u32, rounding: &mut Rounding);

    /// Values of the base scale multiplied by the public real `factor` (encoded, then the
    /// product truncated back to the base scale).
    fn scale_by(values: &mut [Self], factor: f64, rounding: &mut Rounding);

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

    pub(crate) fn truncate(&mut self, values: &mut [Z64], bits: u32) {
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

    fn times(self, other: Z64) -> Z64 {
        self * other
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

    fn scale_by(values: &mut [Z64], factor: f64, rounding: &mut Rounding) {
        let (high, low) = factor_parts(factor);
        let mut lows: Vec<Z64> = values.iter().map(|&v| v * low).collect();
        values.iter_mut().for_each(|v| *v *= high);
        rounding.truncate(values, FRACTIONAL_BITS);
        rounding.truncate(&mut lows, 2 * FRACTIONAL_BITS);
        values.iter_mut().zip(lows).for_each(|(v, low)| *v += low);
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

    fn times(self, other: f32) -> f32 {
        self * other
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

    #[allow(
        clippy::cast_possible_truncation,
        reason = "rounding to the nearest f32 is the encoding"
    )]
    fn scale_by(values: &mut [f32], factor: f64, _: &mut Rounding) {
        let factor = factor as f32;
        values.iter_mut().for_each(|v| *v *= factor);
    }

    fn divide(x: f32, y: f32) -> f32 {
        if y > 0.0 { x / y } else { 0.0 }
    }
}

/// A public real `factor` as two parts, `high` with 13 fractional bits and `low` the rest
/// with 26, so that `(x·high >> 13) + (x·low >> 26)` scales `x` by the factor within
/// `|x|·2^-27` and two units in the last place, where `x·encode(factor) >> 13` alone would
/// be off by up to `|x|·2^-14` (a 1/9 encoded is 0.024% small, a 1/49 0.1%). `low` is at
/// most 2^12, so neither product is larger than the one-part product's bound.
pub(crate) fn factor_parts(factor: f64) -> (Z64, Z64) {
    let high = Z64::encode(factor);
    let rest = factor - high.decode();
    (high, Z64::encode(rest * f64::from(1u32 << FRACTIONAL_BITS)))
}

/// `biases` added to every row of `z` (or every position of NHWC `z`, per channel).
pub(crate) fn add_bias<N: Number>(z: &mut [N], biases: &[N]) {
    for row in z.chunks_exact_mut(biases.len().max(1)) {
        for (v, &b) in row.iter_mut().zip(biases) {
            *v += b;
        }
    }
}

/// The sum of the rows of a matrix `width` wide.
pub(crate) fn sum_rows<N: Copy + Default + AddAssign>(x: &[N], width: usize) -> Vec<N> {
    let mut sum = vec![N::default(); width];
    for row in x.chunks_exact(width.max(1)) {
        for (s, &v) in sum.iter_mut().zip(row) {
            *s += v;
        }
    }
    sum
}

/// The transpose of a `rows × cols` matrix.
pub(crate) fn transpose<N: Copy + Default>(a: &[N], rows: usize, cols: usize) -> Vec<N> {
    let mut out = vec![N::default(); rows * cols];
    for (r, row) in a.chunks_exact(cols.max(1)).take(rows).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out[c * rows + r] = v;
        }
    }
    out
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
    fn a_public_factor_scales_within_two_units_of_the_real_product() {
        let mut rounding = Rounding::from_seed(2);
        let x = [1.5, -2.25, 0.0, 7.0, 1000.0, -4096.5];
        for divisor in [9.0, 49.0, 3.0, 25.0] {
            let mut values: Vec<Z64> = x.iter().map(|&v| Z64::encode(v)).collect();
            Z64::scale_by(&mut values, 1.0 / divisor, &mut rounding);
            for (v, &x) in values.iter().zip(&x) {
                let exact = x / divisor;
                assert!(
                    (v.decode() - exact).abs() <= 2.0 / 8192.0 + x.abs() * 2f64.powi(-27),
                    "{x} / {divisor}: {}",
                    v.decode()
                );
            }
        }
        // One part alone is off by far more on large values: 4096.5 / 49 by 0.0038.
        let one_part = Z64::encode(-4096.5) * Z64::encode(1.0 / 49.0);
        let one_part = Z64::from_i64((one_part.value() as i64) >> FRACTIONAL_BITS);
        assert!((one_part.decode() + 4096.5 / 49.0).abs() > 16.0 / 8192.0);
    }
}
