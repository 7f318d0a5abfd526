//! Contiguous row-major tensors, the cache-blocked matrix product and im2col.
//!
//! A [`Tensor<T>`] is a [`Shape`] and a `Vec<T>` of exactly `shape.numel()` elements in
//! row-major order. Shares, plaintext inputs and public weights are all tensors over a
//! [`Ring`]; arithmetic on them is elementwise and wrapping, as the ring says.
//! Activations are laid out NHWC (batch, height, width, channels), so that a convolution is
//! [`im2col`] followed by one [`matmul`](Tensor::matmul) whose output is again NHWC.
//!
//! Its layer (the book's "Architecture" page): it may import only from `ring`, `error`,
//! `party`, `shape` and `tag`.

pub mod fixed;
mod im2col;
mod matmul;

pub use im2col::{Conv2dGeometry, col2im, im2col};
pub use matmul::{matmul_into, matmul_naive, matmul_portable};

use rand_core::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ring::Ring;
pub use crate::shape::Shape;

impl Shape {
    /// `(rows, cols)` of a rank-2 shape.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if the rank is not 2.
    pub fn as_matrix(&self, operation: &'static str) -> Result<(usize, usize)> {
        match self.dims() {
            &[rows, cols] => Ok((rows, cols)),
            _ => Err(Error::InvalidShape {
                operation,
                shape: self.clone(),
                reason: "expected a matrix (rank 2)",
            }),
        }
    }
}

/// A dense row-major tensor.
///
/// # Examples
///
/// ```
/// use securenn_dsl::ring::Z64;
/// use securenn_dsl::tensor::Tensor;
///
/// let a = Tensor::from_vec([2, 2], vec![1u64, 2, 3, 4].into_iter().map(Z64::new).collect())?;
/// let b = Tensor::from_vec([2, 1], vec![Z64::new(1), Z64::new(1)])?;
/// let c = a.matmul(&b)?;
/// assert_eq!(c.data(), &[Z64::new(3), Z64::new(7)]);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(
    try_from = "TensorParts<T>",
    bound(deserialize = "T: Deserialize<'de>")
)]
pub struct Tensor<T> {
    shape: Shape,
    data: Vec<T>,
}

/// A tensor as deserialized, before its length is checked against its shape.
#[derive(Deserialize)]
struct TensorParts<T> {
    shape: Shape,
    data: Vec<T>,
}

impl<T> TryFrom<TensorParts<T>> for Tensor<T> {
    type Error = Error;

    fn try_from(parts: TensorParts<T>) -> Result<Self> {
        Tensor::from_vec(parts.shape, parts.data)
    }
}

impl<T> Tensor<T> {
    /// A tensor of this shape holding `data` in row-major order.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if `data.len()` is not the shape's number of elements.
    pub fn from_vec(shape: impl Into<Shape>, data: Vec<T>) -> Result<Self> {
        let shape = shape.into();
        if shape.checked_numel() != Some(data.len()) {
            return Err(Error::InvalidShape {
                operation: "Tensor::from_vec",
                shape,
                reason: "the number of elements does not match the shape",
            });
        }
        Ok(Tensor { shape, data })
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The elements in row-major order.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// The elements in row-major order, mutably.
    pub fn data_mut(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// The element buffer.
    pub fn into_data(self) -> Vec<T> {
        self.data
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The same elements under another shape with the same number of elements.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if the numbers of elements differ.
    pub fn reshape(self, shape: impl Into<Shape>) -> Result<Self> {
        Tensor::from_vec(shape, self.data)
    }

    /// Applies `f` to every element.
    pub fn map<U>(&self, f: impl FnMut(&T) -> U) -> Tensor<U> {
        Tensor {
            shape: self.shape.clone(),
            data: self.data.iter().map(f).collect(),
        }
    }

    /// Combines two tensors of the same shape elementwise.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if the shapes differ.
    pub fn zip_map<U, V>(
        &self,
        other: &Tensor<U>,
        operation: &'static str,
        mut f: impl FnMut(&T, &U) -> V,
    ) -> Result<Tensor<V>> {
        check_same_shape(operation, &self.shape, &other.shape)?;
        Ok(Tensor {
            shape: self.shape.clone(),
            data: self
                .data
                .iter()
                .zip(&other.data)
                .map(|(a, b)| f(a, b))
                .collect(),
        })
    }
}

impl<R: Ring> Tensor<R> {
    /// A tensor of zeros.
    ///
    /// # Panics
    ///
    /// If the shape has more elements than memory can hold, as `Vec::with_capacity` does.
    pub fn zeros(shape: impl Into<Shape>) -> Self {
        let shape = shape.into();
        let data = vec![R::ZERO; shape.numel()];
        Tensor { shape, data }
    }

    /// A tensor of uniformly random ring elements.
    ///
    /// # Panics
    ///
    /// As [`Tensor::zeros`].
    pub fn random<G: Rng + ?Sized>(shape: impl Into<Shape>, rng: &mut G) -> Self {
        let mut tensor = Self::zeros(shape);
        R::fill_random(rng, &mut tensor.data);
        tensor
    }

    /// Elementwise sum.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if the shapes differ.
    pub fn try_add(&self, other: &Self) -> Result<Self> {
        self.zip_map(other, "add", |&a, &b| a + b)
    }

    /// Elementwise difference.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if the shapes differ.
    pub fn try_sub(&self, other: &Self) -> Result<Self> {
        self.zip_map(other, "sub", |&a, &b| a - b)
    }

    /// Elementwise (Hadamard) product.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if the shapes differ.
    pub fn try_mul_elementwise(&self, other: &Self) -> Result<Self> {
        self.zip_map(other, "mul_elementwise", |&a, &b| a * b)
    }

    /// Elementwise negation.
    pub fn neg(&self) -> Self {
        self.map(|&a| -a)
    }

    /// Every element times `c`.
    pub fn scale(&self, c: R) -> Self {
        self.map(|&a| a * c)
    }

    /// The matrix product of two rank-2 tensors, with the cache-blocked kernel
    /// ([`matmul_into`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if either is not a matrix, [`Error::ShapeMismatch`] if the
    /// inner dimensions differ.
    pub fn matmul(&self, other: &Self) -> Result<Self> {
        let (m, n) = self.shape.as_matrix("matmul")?;
        let (n2, v) = other.shape.as_matrix("matmul")?;
        if n != n2 {
            return Err(Error::ShapeMismatch {
                operation: "matmul",
                left: self.shape.clone(),
                right: other.shape.clone(),
            });
        }
        let len = m.checked_mul(v).ok_or_else(|| Error::InvalidShape {
            operation: "matmul",
            shape: Shape::from([m, v]),
            reason: "the product has more elements than memory can hold",
        })?;
        let mut out = vec![R::ZERO; len];
        matmul_into(&self.data, &other.data, m, n, v, &mut out);
        Ok(Tensor {
            shape: Shape::from([m, v]),
            data: out,
        })
    }

    /// The transpose of a rank-2 tensor.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] if it is not a matrix.
    pub fn transpose(&self) -> Result<Self> {
        let (rows, cols) = self.shape.as_matrix("transpose")?;
        let mut out = vec![R::ZERO; rows * cols];
        for (r, row) in self.data.chunks_exact(cols.max(1)).enumerate().take(rows) {
            for (c, &x) in row.iter().enumerate() {
                out[c * rows + r] = x;
            }
        }
        Ok(Tensor {
            shape: Shape::from([cols, rows]),
            data: out,
        })
    }
}

/// [`Error::ShapeMismatch`] unless `left == right`.
pub(crate) fn check_same_shape(operation: &'static str, left: &Shape, right: &Shape) -> Result<()> {
    if left == right {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            operation,
            left: left.clone(),
            right: right.clone(),
        })
    }
}
