//! A data set saved by numpy: `np.savez(f, x_train=..., y_train=..., x_test=..., y_test=...)`
//! (or `np.savez_compressed`), as a numpy or PyTorch user writes it.
//!
//! `x_*` hold the examples, one per leading index: `(n, features)` for rows, `(n, height,
//! width)` for one-channel images, `(n, height, width, channels)` for images in NHWC order
//! (a PyTorch tensor in NCHW is saved after `.permute(0, 2, 3, 1)`). A `uint8` array is
//! read as pixels (byte/255, as MNIST); any other number type is taken as it is. `y_*` hold
//! one integer class per example, from 0; the class count is one more than the largest
//! label.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use super::npy::{self, Array, Values};
use super::{Dataset, MAX_CLASSES, Splits, zip};
use crate::error::{DataProblem, Error, Result};
use crate::nn::spec::ValueShape;

/// The largest data file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 4 << 30;

/// The arrays a data file must hold.
const ARRAYS: [&str; 4] = ["x_train", "y_train", "x_test", "y_test"];

/// Reads the training and test sets of the `.npz` file at `path`.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read; [`Error::Data`] naming the file, the array and
/// the problem if it is not a ZIP of `.npy` arrays, lacks one of `x_train`, `y_train`,
/// `x_test`, `y_test`, or holds an array that is truncated, of an unsupported type, of the
/// wrong shape, with a value that is not finite, or a label that is not a class.
pub fn load(path: &Path) -> Result<Splits> {
    let bad = |problem: String| Error::data(path, DataProblem::Malformed(problem));
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(bad(format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    let mut arrays = BTreeMap::new();
    for member in zip::members(&bytes, MAX_FILE_BYTES).map_err(bad)? {
        let name = member.name.strip_suffix(".npy").unwrap_or(&member.name);
        if ARRAYS.contains(&name) {
            let array = npy::parse(&member.bytes).map_err(|p| bad(format!("{name}: {p}")))?;
            arrays.insert(name.to_owned(), array);
        }
    }
    drop(bytes);
    let mut take = |name: &str| {
        arrays.remove(name).ok_or_else(|| {
            bad(format!(
                "no array `{name}`: save the data with np.savez(f, x_train=..., y_train=..., x_test=..., y_test=...)"
            ))
        })
    };
    let (x_train, y_train) = (take("x_train")?, take("y_train")?);
    let (x_test, y_test) = (take("x_test")?, take("y_test")?);
    let shape = example_shape(&x_train).map_err(|p| bad(format!("x_train: {p}")))?;
    if x_test.shape.get(1..) != x_train.shape.get(1..) {
        return Err(bad(format!(
            "x_test holds examples of shape {:?}, x_train of {:?}",
            x_test.shape.get(1..).unwrap_or_default(),
            x_train.shape.get(1..).unwrap_or_default()
        )));
    }
    let train_labels = labels(&y_train, &x_train).map_err(|p| bad(format!("y_train: {p}")))?;
    let test_labels = labels(&y_test, &x_test).map_err(|p| bad(format!("y_test: {p}")))?;
    let classes = train_labels
        .iter()
        .chain(&test_labels)
        .max()
        .map_or(1, |&m| usize::from(m) + 1);
    let dataset = |name: &str, x: Array, labels: Vec<u8>| {
        let made = match x.values {
            Values::Bytes(bytes) => Dataset::from_bytes(bytes, labels, shape, classes),
            Values::Floats(values) => Dataset::new(reals(values), labels, shape, classes),
            Values::Integers(values) => Dataset::new(reals(values), labels, shape, classes),
        };
        made.map_err(|p| bad(format!("{name}: {p}")))
    };
    Ok(Splits {
        train: dataset("x_train", x_train, train_labels)?,
        test: dataset("x_test", x_test, test_labels)?,
        class_names: (0..classes).map(|c| c.to_string()).collect(),
    })
}

/// The shape of one example of `x`.
fn example_shape(x: &Array) -> core::result::Result<ValueShape, String> {
    let shape = match *x.shape.as_slice() {
        [_, features] => ValueShape::Row(features),
        [_, height, width] => ValueShape::Image {
            height,
            width,
            channels: 1,
        },
        [_, height, width, channels] => ValueShape::Image {
            height,
            width,
            channels,
        },
        _ => {
            return Err(format!(
                "shape {:?}: examples must be (n, features), (n, height, width) or (n, height, width, channels)",
                x.shape
            ));
        }
    };
    if shape.is_empty() {
        return Err(format!("shape {:?} has empty examples", x.shape));
    }
    Ok(shape)
}

/// The labels of `y`, one per example of `x`.
fn labels(y: &Array, x: &Array) -> core::result::Result<Vec<u8>, String> {
    let examples = x.shape.first().copied().unwrap_or(0);
    if y.shape != [examples] {
        return Err(format!(
            "shape {:?}, but the labels of {examples} examples have shape ({examples},)",
            y.shape
        ));
    }
    let out_of_range = |index: usize, label: String| {
        format!(
            "label {label} of example {index} is not a class (0 to {})",
            MAX_CLASSES - 1
        )
    };
    match &y.values {
        Values::Bytes(bytes) => Ok(bytes.clone()),
        Values::Integers(values) => values
            .iter()
            .enumerate()
            .map(|(i, &v)| u8::try_from(v).map_err(|_| out_of_range(i, v.to_string())))
            .collect(),
        Values::Floats(_) => {
            Err("labels must be integers (np.int64 or np.uint8), not floats".to_owned())
        }
    }
}

/// Values as f32, the precision of a data set's reals; a value beyond f32's range becomes
/// infinite and is refused by [`Dataset::new`].
fn reals<T: Copy + ToReal>(values: Vec<T>) -> Vec<f32> {
    values.into_iter().map(ToReal::to_real).collect()
}

trait ToReal {
    fn to_real(self) -> f32;
}

impl ToReal for f64 {
    #[allow(clippy::cast_possible_truncation, reason = "data is kept in f32")]
    fn to_real(self) -> f32 {
        self as f32
    }
}

impl ToReal for i64 {
    #[allow(
        clippy::cast_precision_loss,
        reason = "inputs beyond 2^20 are refused anyway"
    )]
    fn to_real(self) -> f32 {
        self as f32
    }
}
