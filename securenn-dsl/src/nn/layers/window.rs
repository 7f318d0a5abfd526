//! The geometry of pooling over NHWC images, shared by max and average pooling:
//! `kernel`×`kernel` windows moved by `stride` (they overlap when the stride is smaller
//! than the kernel; a remainder that no window reaches is left out, as PyTorch's floor
//! mode does), over the image with `padding` more positions on every side, and the local
//! moves between an image and its windows. Nothing here sends a message: every move is
//! linear, so each party applies it to its own share.
//!
//! A padded position reads the nearest position inside the image (the row and column
//! clamped to it), which lies in the same window because the padding is smaller than the
//! kernel: a maximum over the window is then the maximum over its positions inside the
//! image, and its argmax one of them, with no sentinel value that shares would have to
//! hold. Sums skip padded positions (they count as zeros).

use core::ops::AddAssign;

use crate::error::{Error, Result};
use crate::nn::backend::Window;
use crate::tensor::Shape;

/// The most values the windows of one pooling may hold in all.
const MAX_GATHERED: usize = 1 << 30;

/// A pooling of an NHWC input: its dimensions and the output's height and width.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pooling {
    batch: usize,
    height: usize,
    width: usize,
    channels: usize,
    out_height: usize,
    out_width: usize,
    window: Window,
}

impl Pooling {
    /// The pooling of `input` by `window`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if `input` is not NHWC or the window does not fit it.
    pub(crate) fn new(operation: &'static str, input: &Shape, window: Window) -> Result<Pooling> {
        let invalid = |reason| Error::InvalidShape {
            operation,
            shape: input.clone(),
            reason,
        };
        let &[batch, height, width, channels] = input.dims() else {
            return Err(invalid("pooling needs NHWC images"));
        };
        let Window {
            kernel, padding, ..
        } = window;
        if padding >= kernel {
            return Err(invalid("the padding is not smaller than the window"));
        }
        if height == 0 || width == 0 {
            return Err(invalid("the image is empty"));
        }
        let (Some(out_height), Some(out_width)) =
            (window.output_side(height), window.output_side(width))
        else {
            return Err(invalid("the window does not fit the image"));
        };
        // Overlapping windows hold each value up to (kernel / stride)² times: bound what a
        // gather allocates.
        let gathered = [batch, out_height, out_width, channels, kernel, kernel]
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d));
        if gathered.is_none_or(|n| n > MAX_GATHERED) {
            return Err(invalid("the windows hold more than 2^30 values in all"));
        }
        Ok(Pooling {
            batch,
            height,
            width,
            channels,
            out_height,
            out_width,
            window,
        })
    }

    /// The input's shape.
    pub(crate) fn input_shape(&self) -> Shape {
        Shape::from([self.batch, self.height, self.width, self.channels])
    }

    /// `[batch, out_height, out_width, channels]`.
    pub(crate) fn output_shape(&self) -> Shape {
        Shape::from([self.batch, self.out_height, self.out_width, self.channels])
    }

    /// Checks that a gradient `delta` has one value per window.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] naming `operation` if it does not.
    pub(crate) fn check_gradient(&self, operation: &'static str, delta: &Shape) -> Result<()> {
        if delta.numel() == self.output_shape().numel() {
            Ok(())
        } else {
            Err(Error::ShapeMismatch {
                operation,
                left: delta.clone(),
                right: self.output_shape(),
            })
        }
    }

    /// Values per window: kernel².
    pub(crate) fn window_len(&self) -> usize {
        self.window.kernel * self.window.kernel
    }

    /// Whether the windows tile the image exactly (stride = kernel, no padding, no
    /// remainder), so that the image itself is the windows' layout.
    pub(crate) fn tiles(&self) -> bool {
        let Window {
            kernel,
            stride,
            padding,
        } = self.window;
        stride == kernel
            && padding == 0
            && self.height.is_multiple_of(kernel)
            && self.width.is_multiple_of(kernel)
    }

    /// Calls `f(window, position, input index, inside)` for every position (row-major
    /// within the window, 0..kernel²) of every window (in NHWC output order); a padded
    /// position (`inside` false) gives the index of the nearest position inside the image.
    pub(crate) fn for_each(&self, mut f: impl FnMut(usize, usize, usize, bool)) {
        let Window {
            kernel,
            stride,
            padding,
        } = self.window;
        // The padded coordinate `at` of a side of `len`, clamped into 0..len.
        let clamp = |at: usize, len: usize| (at.saturating_sub(padding).min(len - 1), at);
        let mut window = 0;
        for b in 0..self.batch {
            for oy in 0..self.out_height {
                for ox in 0..self.out_width {
                    for c in 0..self.channels {
                        for ky in 0..kernel {
                            let (y, padded_y) = clamp(oy * stride + ky, self.height);
                            for kx in 0..kernel {
                                let (x, padded_x) = clamp(ox * stride + kx, self.width);
                                let inside = padded_y == y + padding && padded_x == x + padding;
                                let index =
                                    ((b * self.height + y) * self.width + x) * self.channels + c;
                                f(window, ky * kernel + kx, index, inside);
                            }
                        }
                        window += 1;
                    }
                }
            }
        }
    }

    /// The sum of each window (padded positions count as zeros).
    pub(crate) fn sums<T: Copy + Default + AddAssign>(&self, x: &[T]) -> Vec<T> {
        let mut sums = vec![T::default(); self.output_shape().numel()];
        self.for_each(|o, _, i, inside| {
            if inside {
                sums[o] += x[i];
            }
        });
        sums
    }

    /// Each window's value added to every position of the window inside the image.
    pub(crate) fn spread<T: Copy + Default + AddAssign>(&self, values: &[T]) -> Vec<T> {
        let mut out = vec![T::default(); self.input_shape().numel()];
        self.for_each(|o, _, i, inside| {
            if inside {
                out[i] += values[o];
            }
        });
        out
    }

    /// The windows laid out as an image that they tile exactly:
    /// `[batch·out_height, kernel, out_width·kernel, channels]`, window (b, oy, ox, c) at
    /// rows `b·out_height + oy`, columns `ox·kernel..`; the same output order and the same
    /// positions within each window as the input's pooling.
    pub(crate) fn gather<T: Copy + Default>(&self, x: &[T]) -> Vec<T> {
        let kernel = self.window.kernel;
        let mut out = vec![T::default(); self.gathered_shape().numel()];
        let (ow, channels) = (self.out_width, self.channels);
        self.for_each(|window, position, index, _| {
            let c = window % channels;
            let ox = (window / channels) % ow;
            let row = window / (channels * ow);
            let (ky, kx) = (position / kernel, position % kernel);
            out[((row * kernel + ky) * ow * kernel + ox * kernel + kx) * channels + c] = x[index];
        });
        out
    }

    /// The shape of [`Pooling::gather`]'s image.
    pub(crate) fn gathered_shape(&self) -> Shape {
        let kernel = self.window.kernel;
        Shape::from([
            self.batch * self.out_height,
            kernel,
            self.out_width * kernel,
            self.channels,
        ])
    }

    /// `per_position` (`stride` ≥ kernel² values per window, windows in output order, the
    /// first kernel² of each its positions) added into the input's positions: the inverse
    /// move of a gather, summing where windows overlap (a padded position adds into the
    /// position it copied).
    pub(crate) fn scatter_add<T: Copy + Default + AddAssign>(
        &self,
        per_position: &[T],
        stride: usize,
    ) -> Vec<T> {
        let n = stride;
        let mut out = vec![T::default(); self.input_shape().numel()];
        self.for_each(|window, position, index, _| {
            out[index] += per_position[window * n + position];
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathered_windows_are_the_windows_and_scatter_add_counts_overlaps() {
        // A 3×3 image, 2×2 windows with stride 1: four overlapping windows.
        let window = Window {
            kernel: 2,
            stride: 1,
            padding: 0,
        };
        let pooling = Pooling::new("test", &Shape::from([1, 3, 3, 1]), window).unwrap();
        let x: Vec<u32> = (1..=9).collect();
        let gathered = pooling.gather(&x);
        // Tile layout [2, 2, 4, 1]: row 0 holds windows (0,0) and (0,1), row 1 the rest.
        assert_eq!(pooling.gathered_shape().dims(), [2, 2, 4, 1]);
        assert_eq!(gathered, [1, 2, 2, 3, 4, 5, 5, 6, 4, 5, 5, 6, 7, 8, 8, 9]);
        let ones = vec![1u32; 16];
        assert_eq!(pooling.scatter_add(&ones, 4), [1, 2, 1, 2, 4, 2, 1, 2, 1]);
        assert!(!pooling.tiles());
    }

    #[test]
    fn windows_that_would_hold_too_many_values_are_refused() {
        let huge = Shape::from([1, 1 << 16, 1 << 16, 1]);
        let overlapping = Window {
            kernel: 4,
            stride: 1,
            padding: 0,
        };
        assert!(Pooling::new("test", &huge, overlapping).is_err());
        let tiling = Window {
            kernel: 4,
            stride: 4,
            padding: 0,
        };
        assert!(Pooling::new("test", &huge, tiling).is_err(), "2^32 values");
        let fine = Shape::from([2, 64, 64, 3]);
        assert!(Pooling::new("test", &fine, overlapping).is_ok());
    }
}
