//! Data sets: examples of one shape, each with a class label, as a network trains on them
//! or classifies them, wherever they come from: MNIST's IDX files ([`mnist`](super::mnist)),
//! a CSV table ([`csv`]), arrays saved by numpy ([`npz`]), or arrays built in memory
//! ([`Dataset::new`]).
//!
//! Every value is checked when a data set is made: a finite number, small enough for 13-bit
//! fixed point with room for the products of a layer (|x| ≤ 2^[`MAX_INPUT_LOG2`]), one label
//! per example, each a class. A data set of bytes (images) keeps its bytes and reads them
//! as byte/255, so that MNIST's 60,000 images stay 47 MB.

pub mod csv;
mod npy;
pub mod npz;
mod zip;

use crate::error::{DataProblem, Error, Result};
use crate::nn::number::Number;
use crate::nn::spec::{NetworkSpec, ValueShape};

/// The largest input magnitude accepted, as a power of two: products of two values at
/// scale 13 then stay far from the ring's 2^63.
pub const MAX_INPUT_LOG2: u32 = 20;

/// The most classes a data set may have (labels are bytes).
pub const MAX_CLASSES: usize = 256;

/// A training and a test set, and the names of their classes.
#[derive(Debug, Clone, PartialEq)]
pub struct Splits {
    /// The examples to train on.
    pub train: Dataset,
    /// The examples to test on.
    pub test: Dataset,
    /// Each class's name, by class index.
    pub class_names: Vec<String>,
}

/// The values of a data set's examples.
#[derive(Clone, PartialEq)]
enum Inputs {
    /// Bytes, read as byte/255 (images).
    Bytes(Vec<u8>),
    /// Real values.
    Reals(Vec<f32>),
}

/// Examples of one shape with their labels.
#[derive(Clone, PartialEq)]
pub struct Dataset {
    inputs: Inputs,
    labels: Vec<u8>,
    shape: ValueShape,
    classes: usize,
}

impl Dataset {
    /// A data set of real-valued examples: `inputs` holds `labels.len()` examples of
    /// `shape`, one after the other (images NHWC), and each label is a class below
    /// `classes`.
    ///
    /// # Errors
    ///
    /// The [`DataProblem`] of the first value, label or count that is wrong.
    pub fn new(
        inputs: Vec<f32>,
        labels: Vec<u8>,
        shape: ValueShape,
        classes: usize,
    ) -> core::result::Result<Dataset, DataProblem> {
        check_counts(inputs.len(), &labels, shape, classes)?;
        let len = shape.len().max(1);
        for (i, &x) in inputs.iter().enumerate() {
            let (index, position) = (i / len, i % len);
            if !x.is_finite() {
                return Err(DataProblem::NotFinite { index, position });
            }
            if f64::from(x).abs() > f64::from(1u32 << MAX_INPUT_LOG2) {
                return Err(DataProblem::TooLarge {
                    index,
                    position,
                    limit_log2: MAX_INPUT_LOG2,
                });
            }
        }
        Ok(Dataset {
            inputs: Inputs::Reals(inputs),
            labels,
            shape,
            classes,
        })
    }

    /// A data set of byte-valued examples (pixels), read as byte/255.
    ///
    /// # Errors
    ///
    /// As [`Dataset::new`].
    pub fn from_bytes(
        bytes: Vec<u8>,
        labels: Vec<u8>,
        shape: ValueShape,
        classes: usize,
    ) -> core::result::Result<Dataset, DataProblem> {
        check_counts(bytes.len(), &labels, shape, classes)?;
        Ok(Dataset {
            inputs: Inputs::Bytes(bytes),
            labels,
            shape,
            classes,
        })
    }

    /// The number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The shape of one example.
    pub fn shape(&self) -> ValueShape {
        self.shape
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Every example's label.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The bytes of example `index` of a data set of bytes, or `None` (past the end, or
    /// real-valued).
    pub fn image(&self, index: usize) -> Option<&[u8]> {
        let len = self.shape.len();
        match &self.inputs {
            Inputs::Bytes(bytes) => bytes.get(index * len..(index + 1) * len),
            Inputs::Reals(_) => None,
        }
    }

    /// The values of example `index` as reals, or `None` past the end.
    pub fn example(&self, index: usize) -> Option<Vec<f64>> {
        let len = self.shape.len();
        let range = index * len..(index + 1) * len;
        match &self.inputs {
            Inputs::Bytes(bytes) => Some(
                bytes
                    .get(range)?
                    .iter()
                    .map(|&b| f64::from(b) / 255.0)
                    .collect(),
            ),
            Inputs::Reals(reals) => Some(reals.get(range)?.iter().map(|&x| x.into()).collect()),
        }
    }

    /// The examples at `indices`, one after the other, encoded as network inputs.
    ///
    /// # Errors
    ///
    /// [`Error::ExampleOutOfRange`] if an index is past the end.
    pub fn encode<N: Number>(&self, indices: &[usize]) -> Result<Vec<N>> {
        let len = self.shape.len();
        let mut out = Vec::with_capacity(indices.len() * len);
        for &i in indices {
            let past_end = || Error::ExampleOutOfRange {
                index: i,
                len: self.len(),
            };
            let range = i * len..(i + 1) * len;
            match &self.inputs {
                Inputs::Bytes(bytes) => out.extend(
                    bytes
                        .get(range)
                        .ok_or_else(past_end)?
                        .iter()
                        .map(|&b| N::encode(f64::from(b) / 255.0)),
                ),
                Inputs::Reals(reals) => out.extend(
                    reals
                        .get(range)
                        .ok_or_else(past_end)?
                        .iter()
                        .map(|&x| N::encode(x.into())),
                ),
            }
        }
        Ok(out)
    }

    /// How many examples carry each label.
    pub fn label_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &label in &self.labels {
            if let Some(c) = counts.get_mut(usize::from(label)) {
                *c += 1;
            }
        }
        counts
    }

    /// Checks that `spec` takes this data set's examples and gives a score for each of its
    /// classes (at least as many scores as classes: labels may leave out the last ones).
    ///
    /// # Errors
    ///
    /// [`Error::Network`] naming the network, what it takes or gives, and what the data
    /// has (`data_name` names the data, e.g. its file).
    pub fn check_network(&self, spec: &NetworkSpec, data_name: &str) -> Result<()> {
        let problem = if spec.input() != self.shape {
            format!(
                "takes {} per example, but {data_name} holds {}",
                spec.input(),
                self.shape
            )
        } else if !matches!(spec.output(), ValueShape::Row(scores) if scores >= self.classes) {
            // Data whose labels leave out the last classes (a small test set) still fits.
            format!(
                "gives {}, but {data_name} has {} classes",
                spec.output(),
                self.classes
            )
        } else {
            return Ok(());
        };
        Err(Error::Network {
            source_name: format!("network {}", spec.name()),
            problem,
        })
    }
}

/// One label per example, each a class.
fn check_counts(
    values: usize,
    labels: &[u8],
    shape: ValueShape,
    classes: usize,
) -> core::result::Result<(), DataProblem> {
    if classes == 0 || classes > MAX_CLASSES {
        return Err(DataProblem::Malformed(format!(
            "{classes} classes: a data set needs 1 to {MAX_CLASSES}"
        )));
    }
    if shape.is_empty() || values != labels.len() * shape.len() {
        return Err(DataProblem::CountMismatch {
            images: values / shape.len().max(1),
            labels: labels.len(),
        });
    }
    if let Some(index) = labels.iter().position(|&l| usize::from(l) >= classes) {
        return Err(DataProblem::LabelOutOfRange {
            index,
            label: u64::from(labels[index]),
            classes,
        });
    }
    Ok(())
}

impl core::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Dataset")
            .field("len", &self.len())
            .field("shape", &self.shape)
            .field("classes", &self.classes)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_past_the_end_is_a_typed_error() {
        let data = Dataset::new(vec![0.0; 4], vec![0, 1], ValueShape::Row(2), 2).unwrap();
        assert_eq!(data.encode::<f32>(&[1]).unwrap(), [0.0, 0.0]);
        let error = data.encode::<f32>(&[0, 2]).unwrap_err();
        assert!(matches!(
            error,
            Error::ExampleOutOfRange { index: 2, len: 2 }
        ));
        assert_eq!(
            error.to_string(),
            "example 2 is past the end of the data (2 examples)"
        );
    }

    #[test]
    fn every_kind_of_bad_example_is_refused_by_name() {
        let row = ValueShape::Row(2);
        assert_eq!(
            Dataset::new(vec![0.0, f32::NAN], vec![0], row, 2),
            Err(DataProblem::NotFinite {
                index: 0,
                position: 1
            })
        );
        assert_eq!(
            Dataset::new(vec![0.0, 1.0, 3e6, 0.0], vec![0, 1], row, 2),
            Err(DataProblem::TooLarge {
                index: 1,
                position: 0,
                limit_log2: MAX_INPUT_LOG2
            })
        );
        assert_eq!(
            Dataset::new(vec![0.0; 4], vec![0, 2], row, 2),
            Err(DataProblem::LabelOutOfRange {
                index: 1,
                label: 2,
                classes: 2
            })
        );
        assert!(matches!(
            Dataset::new(vec![0.0; 3], vec![0, 1], row, 2),
            Err(DataProblem::CountMismatch { .. })
        ));
    }

    #[test]
    fn bytes_read_as_fractions_of_255() {
        let data = Dataset::from_bytes(vec![0, 255, 51, 102], vec![1, 0], ValueShape::Row(2), 2)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(data.example(1), Some(vec![0.2, 0.4]));
        assert_eq!(data.label_counts(), [1, 1]);
    }
}
