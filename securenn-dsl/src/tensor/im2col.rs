//! im2col: a 2-D convolution rewritten as one matrix product.
//!
//! Each output position of the convolution becomes one row holding the input patch it sees,
//! in `(kernel row, kernel column, channel)` order; the filters become a
//! `(kh·kw·c_in) × c_out` matrix. Their product is the convolution's output, one row per
//! output position, i.e. NHWC. This is the form whose cost the SecureNN paper gives for
//! Conv2d: `(2m²f²i + 2f²oi + m²o)ℓ` bits for the `(m²×f²i)·(f²i×o)` product.

use crate::error::{Error, Result};
use crate::tensor::Shape;

/// The shape of a 2-D convolution over an NHWC batch: square stride, symmetric zero padding.
///
/// # Examples
///
/// ```
/// use securenn_dsl::tensor::Conv2dGeometry;
///
/// // Network D's first layer: 28×28×1, 5×5 kernel, stride 2, padding 2 -> 14×14.
/// let g = Conv2dGeometry::new(1, 28, 28, 1, 5, 2, 2)?;
/// assert_eq!((g.out_height(), g.out_width()), (14, 14));
/// assert_eq!(g.patch_len(), 25);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dGeometry {
    batch: usize,
    height: usize,
    width: usize,
    channels: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
}

impl Conv2dGeometry {
    /// Checks and builds a geometry: `batch` images of `height`×`width`×`channels`, a
    /// `kernel`×`kernel` filter, `stride` in both directions and `padding` zeros on every side.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if a size is zero, the padding is not smaller than the kernel
    /// (a wider border would only add outputs that see nothing but zeros), the kernel is
    /// larger than the padded input, or the sizes overflow.
    pub fn new(
        batch: usize,
        height: usize,
        width: usize,
        channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Result<Self> {
        let geometry = Conv2dGeometry {
            batch,
            height,
            width,
            channels,
            kernel,
            stride,
            padding,
        };
        let invalid = |reason| Error::InvalidShape {
            operation: "conv2d",
            shape: geometry.input_shape(),
            reason,
        };
        if batch == 0 || height == 0 || width == 0 || channels == 0 {
            return Err(invalid("input dimensions must be positive"));
        }
        if kernel == 0 || stride == 0 {
            return Err(invalid("kernel size and stride must be positive"));
        }
        if padding >= kernel {
            return Err(invalid("padding must be smaller than the kernel"));
        }
        let padded = |side: usize| padding.checked_mul(2).and_then(|p| p.checked_add(side));
        let (Some(padded_height), Some(padded_width)) = (padded(height), padded(width)) else {
            return Err(invalid("the padded input size overflows"));
        };
        if kernel > padded_height || kernel > padded_width {
            return Err(invalid("the kernel is larger than the padded input"));
        }
        let rows = batch
            .checked_mul(geometry.out_height())
            .and_then(|r| r.checked_mul(geometry.out_width()));
        let patch = kernel
            .checked_mul(kernel)
            .and_then(|k| k.checked_mul(channels));
        if rows
            .zip(patch)
            .and_then(|(r, p)| r.checked_mul(p))
            .is_none()
            || geometry.input_shape().checked_numel().is_none()
        {
            return Err(invalid(
                "the im2col matrix has more elements than memory can hold",
            ));
        }
        Ok(geometry)
    }

    /// Images in the batch.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Input height.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Input width.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Input channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Kernel height and width.
    pub fn kernel(&self) -> usize {
        self.kernel
    }

    /// Stride in both directions.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Zero padding on every side.
    pub fn padding(&self) -> usize {
        self.padding
    }

    /// `[batch, height, width, channels]`.
    pub fn input_shape(&self) -> Shape {
        Shape::from([self.batch, self.height, self.width, self.channels])
    }

    /// Output height: `(height + 2·padding − kernel) / stride + 1`.
    pub fn out_height(&self) -> usize {
        (self.height + 2 * self.padding - self.kernel) / self.stride + 1
    }

    /// Output width.
    pub fn out_width(&self) -> usize {
        (self.width + 2 * self.padding - self.kernel) / self.stride + 1
    }

    /// Elements of one patch: `kernel² · channels`.
    pub fn patch_len(&self) -> usize {
        self.kernel * self.kernel * self.channels
    }

    /// Rows of the im2col matrix: `batch · out_height · out_width`.
    pub fn rows(&self) -> usize {
        self.batch * self.out_height() * self.out_width()
    }
}

/// The im2col matrix (`rows() × patch_len()`, row-major) of an NHWC `input`; positions in
/// the zero padding read as zero.
///
/// # Errors
///
/// [`Error::InvalidShape`] if `input` does not hold `batch·height·width·channels` elements.
///
/// # Examples
///
/// ```
/// use securenn_dsl::ring::{Ring, Z64};
/// use securenn_dsl::tensor::{Conv2dGeometry, im2col};
///
/// // A 2×2 single-channel image, 2×2 kernel, no padding: one patch, the whole image.
/// let image: Vec<Z64> = (1..=4).map(Z64::new).collect();
/// let g = Conv2dGeometry::new(1, 2, 2, 1, 2, 1, 0)?;
/// assert_eq!(im2col(&image, &g)?, image);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub fn im2col<T: Copy + Default>(input: &[T], geometry: &Conv2dGeometry) -> Result<Vec<T>> {
    let g = geometry;
    if g.input_shape().checked_numel() != Some(input.len()) {
        return Err(Error::InvalidShape {
            operation: "im2col",
            shape: g.input_shape(),
            reason: "the input buffer does not hold this many elements",
        });
    }
    let (out_h, out_w, patch) = (g.out_height(), g.out_width(), g.patch_len());
    let row_len = g.kernel * g.channels;
    let mut out = vec![T::default(); g.rows() * patch];
    let mut rows = out.chunks_exact_mut(patch);
    for image in input.chunks_exact(g.height * g.width * g.channels) {
        for oy in 0..out_h {
            for ox in 0..out_w {
                let Some(row) = rows.next() else {
                    return Ok(out);
                };
                // The kernel's columns that fall inside the image: one contiguous run of
                // input per kernel row (padding stays zero).
                let x0 = ox * g.stride;
                let first = g.padding.saturating_sub(x0);
                let last = g.kernel.min((g.width + g.padding).saturating_sub(x0));
                if first >= last {
                    continue;
                }
                for ky in 0..g.kernel {
                    let Some(y) = (oy * g.stride + ky).checked_sub(g.padding) else {
                        continue;
                    };
                    if y >= g.height {
                        continue;
                    }
                    let x_first = x0 + first - g.padding;
                    let src = &image[(y * g.width + x_first) * g.channels..]
                        [..(last - first) * g.channels];
                    row[ky * row_len + first * g.channels..][..src.len()].copy_from_slice(src);
                }
            }
        }
    }
    Ok(out)
}

/// The adjoint of [`im2col`]: an NHWC tensor in which every input position receives the
/// sum of the entries of `columns` that [`im2col`] copied from it (padding entries are
/// dropped). It takes a convolution's gradient from its patches back to its input.
///
/// # Errors
///
/// [`Error::InvalidShape`] if `columns` does not hold `rows()·patch_len()` elements.
///
/// # Examples
///
/// ```
/// use securenn_dsl::tensor::{Conv2dGeometry, col2im};
///
/// // A 2×3 image, 2×2 kernel: two patches, which share the middle column.
/// let g = Conv2dGeometry::new(1, 2, 3, 1, 2, 1, 0)?;
/// assert_eq!(col2im(&[1.0f32; 8], &g)?, [1.0, 2.0, 1.0, 1.0, 2.0, 1.0]);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
pub fn col2im<T: Copy + Default + core::ops::AddAssign>(
    columns: &[T],
    geometry: &Conv2dGeometry,
) -> Result<Vec<T>> {
    let g = geometry;
    let patch = g.patch_len();
    if g.rows().checked_mul(patch) != Some(columns.len()) {
        return Err(Error::InvalidShape {
            operation: "col2im",
            shape: Shape::from([g.rows(), patch]),
            reason: "the column buffer does not hold rows × patch elements",
        });
    }
    let (out_h, out_w) = (g.out_height(), g.out_width());
    let image_len = g.height * g.width * g.channels;
    let mut out = vec![T::default(); g.batch * image_len];
    let mut rows = columns.chunks_exact(patch);
    for image in out.chunks_exact_mut(image_len) {
        for oy in 0..out_h {
            for ox in 0..out_w {
                let Some(row) = rows.next() else {
                    return Ok(out);
                };
                for ky in 0..g.kernel {
                    let Some(y) = (oy * g.stride + ky).checked_sub(g.padding) else {
                        continue;
                    };
                    if y >= g.height {
                        continue;
                    }
                    for kx in 0..g.kernel {
                        let Some(x) = (ox * g.stride + kx).checked_sub(g.padding) else {
                            continue;
                        };
                        if x >= g.width {
                            continue;
                        }
                        let src = &row[(ky * g.kernel + kx) * g.channels..][..g.channels];
                        let dst = &mut image[(y * g.width + x) * g.channels..][..g.channels];
                        for (d, &s) in dst.iter_mut().zip(src) {
                            *d += s;
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::Z64;
    use crate::tensor::matmul_into;
    use proptest::prelude::*;

    /// The convolution by its definition, NHWC input and `[kh][kw][c_in][c_out]` filters.
    fn conv_direct(input: &[Z64], filters: &[Z64], g: &Conv2dGeometry, c_out: usize) -> Vec<Z64> {
        let (oh, ow) = (g.out_height(), g.out_width());
        let mut out = vec![Z64::new(0); g.batch * oh * ow * c_out];
        for b in 0..g.batch {
            for oy in 0..oh {
                for ox in 0..ow {
                    for o in 0..c_out {
                        let mut sum = Z64::new(0);
                        for ky in 0..g.kernel {
                            for kx in 0..g.kernel {
                                let y = (oy * g.stride + ky) as isize - g.padding as isize;
                                let x = (ox * g.stride + kx) as isize - g.padding as isize;
                                if y < 0 || x < 0 || y >= g.height as isize || x >= g.width as isize
                                {
                                    continue;
                                }
                                for c in 0..g.channels {
                                    let pixel = input[((b * g.height + y as usize) * g.width
                                        + x as usize)
                                        * g.channels
                                        + c];
                                    let w = filters
                                        [((ky * g.kernel + kx) * g.channels + c) * c_out + o];
                                    sum += pixel * w;
                                }
                            }
                        }
                        out[((b * oh + oy) * ow + ox) * c_out + o] = sum;
                    }
                }
            }
        }
        out
    }

    proptest! {
        #[test]
        fn im2col_matmul_is_convolution(
            batch in 1usize..3, height in 1usize..9, width in 1usize..9, channels in 1usize..4,
            kernel in 1usize..5, stride in 1usize..3, padding in 0usize..3, c_out in 1usize..4,
            seed: u64,
        ) {
            let Ok(g) = Conv2dGeometry::new(batch, height, width, channels, kernel, stride, padding) else {
                return Ok(());
            };
            let elem = |i: usize| Z64::new((i as u64 ^ seed).wrapping_mul(0x2545_F491_4F6C_DD1D));
            let input: Vec<Z64> = (0..batch * height * width * channels).map(elem).collect();
            let filters: Vec<Z64> = (0..g.patch_len() * c_out).map(|i| elem(i + 99_991)).collect();
            let cols = im2col(&input, &g).unwrap();
            let mut out = vec![Z64::new(0); g.rows() * c_out];
            matmul_into(&cols, &filters, g.rows(), g.patch_len(), c_out, &mut out);
            prop_assert_eq!(out, conv_direct(&input, &filters, &g, c_out));
        }
    }

    proptest! {
        /// ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩ for all x and c: col2im is im2col's adjoint.
        #[test]
        fn col2im_is_the_adjoint_of_im2col(
            batch in 1usize..3, height in 1usize..8, width in 1usize..8, channels in 1usize..3,
            kernel in 1usize..4, stride in 1usize..3, padding in 0usize..3, seed: u64,
        ) {
            let Ok(g) = Conv2dGeometry::new(batch, height, width, channels, kernel, stride, padding) else {
                return Ok(());
            };
            let elem = |i: usize| Z64::new((i as u64 ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let x: Vec<Z64> = (0..batch * height * width * channels).map(elem).collect();
            let c: Vec<Z64> = (0..g.rows() * g.patch_len()).map(|i| elem(i + 7)).collect();
            let dot = |a: &[Z64], b: &[Z64]| a.iter().zip(b).fold(Z64::new(0), |s, (&p, &q)| s + p * q);
            prop_assert_eq!(dot(&im2col(&x, &g).unwrap(), &c), dot(&x, &col2im(&c, &g).unwrap()));
        }
    }

    #[test]
    fn rejects_bad_geometry_and_buffers() {
        assert!(Conv2dGeometry::new(1, 2, 2, 1, 5, 1, 0).is_err());
        assert!(Conv2dGeometry::new(1, 2, 2, 1, 3, 0, 1).is_err());
        let g = Conv2dGeometry::new(1, 3, 3, 1, 2, 1, 0).unwrap();
        assert!(im2col(&[Z64::new(0); 8], &g).is_err());
    }
}
