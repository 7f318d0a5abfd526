//! The MNIST handwritten digits, read from the gzipped IDX files vendored in `data/mnist`.
//!
//! Each file is decompressed (never more than the largest valid size), its IDX header is
//! checked (magic number, dimensions, length), its SHA-256 is compared with the one listed
//! in `SHA256SUMS`, and labels are checked to be digits; each split is a
//! [`Dataset`] of bytes. Any problem is an
//! [`Error::Data`] naming the file and saying what is wrong with it.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};

use crate::error::{DataProblem, Error, Result};
use crate::nn::data::Dataset;
use crate::nn::spec::{NetworkSpec, ValueShape};

/// Image height and width in pixels.
pub const SIDE: usize = 28;
/// Pixels per image.
pub const PIXELS: usize = SIDE * SIDE;
/// The shape of one image.
pub const IMAGE: ValueShape = ValueShape::Image {
    height: SIDE,
    width: SIDE,
    channels: 1,
};
/// The ten digits.
pub const CLASSES: usize = 10;
/// Examples in the training set.
pub const TRAIN_LEN: usize = 60_000;
/// Examples in the test set.
pub const TEST_LEN: usize = 10_000;

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;
/// Decompressed size of the largest valid file (the training images).
const MAX_FILE_BYTES: u64 = 16 + (TRAIN_LEN * PIXELS) as u64;

/// The environment variable that overrides where MNIST is looked for.
pub const DATA_DIR_ENV: &str = "SECURENN_MNIST_DIR";

/// Checks that `spec` takes MNIST's 28×28 grey images and gives one output per digit.
///
/// # Errors
///
/// [`Error::Network`] naming the network and what it takes or gives instead.
pub fn check_network(spec: &NetworkSpec) -> Result<()> {
    let problem = if spec.input() != IMAGE {
        format!(
            "takes {} per example, but MNIST gives 28×28×1 images",
            spec.input()
        )
    } else if spec.output() != ValueShape::Row(10) {
        format!("gives {}, but MNIST has 10 classes", spec.output())
    } else {
        return Ok(());
    };
    Err(Error::Network {
        source_name: format!("network {}", spec.name()),
        problem,
    })
}

/// The MNIST training and test sets.
///
/// # Examples
///
/// ```no_run
/// use securenn_dsl::nn::mnist::Mnist;
///
/// let mnist = Mnist::load(Mnist::default_dir())?;
/// assert_eq!(mnist.train.len(), 60_000);
/// assert_eq!(mnist.test.image(0).map(<[u8]>::len), Some(784));
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Mnist {
    /// The 60,000 training examples.
    pub train: Dataset,
    /// The 10,000 test examples.
    pub test: Dataset,
}

impl Mnist {
    /// Where the vendored files are: `$SECURENN_MNIST_DIR` if set, else the repository's
    /// `data/mnist`.
    pub fn default_dir() -> PathBuf {
        std::env::var_os(DATA_DIR_ENV).map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist"),
            PathBuf::from,
        )
    }

    /// Loads and checks both splits from `dir`.
    ///
    /// # Errors
    ///
    /// [`Error::Data`] if a file is missing, truncated or corrupt, or does not match
    /// `SHA256SUMS`; [`Error::Io`] if it cannot be read.
    pub fn load(dir: impl AsRef<Path>) -> Result<Mnist> {
        let dir = dir.as_ref();
        let sums = read_checksums(&dir.join("SHA256SUMS"))?;
        let split = |images: &str, labels: &str, len: usize| -> Result<Dataset> {
            let images = read_idx(dir, images, &sums, IMAGES_MAGIC, &[len, SIDE, SIDE])?;
            let labels_path = dir.join(format!("{labels}.gz"));
            let labels = read_idx(dir, labels, &sums, LABELS_MAGIC, &[len])?;
            Dataset::from_bytes(images, labels, IMAGE, CLASSES)
                .map_err(|problem| Error::data(labels_path, problem))
        };
        Ok(Mnist {
            train: split(
                "train-images-idx3-ubyte",
                "train-labels-idx1-ubyte",
                TRAIN_LEN,
            )?,
            test: split("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", TEST_LEN)?,
        })
    }
}

/// Parses `SHA256SUMS`: lines of 64 hex digits, white space, a file name.
fn read_checksums(path: &Path) -> Result<HashMap<String, String>> {
    let text = fs::read_to_string(path).map_err(|e| file_error(path, e))?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let (sum, name) = line.split_once(char::is_whitespace)?;
            let name = name.trim().trim_start_matches('*');
            (sum.len() == 64 && sum.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| (name.to_owned(), sum.to_ascii_lowercase()))
        })
        .collect())
}

fn file_error(path: &Path, error: io::Error) -> Error {
    if error.kind() == io::ErrorKind::NotFound {
        Error::data(path, DataProblem::Missing)
    } else {
        Error::io(path, error)
    }
}

/// Reads `dir/name.gz`, checks its IDX header against `magic` and `dims`, its length and
/// its checksum; returns the data after the header.
fn read_idx(
    dir: &Path,
    name: &str,
    sums: &HashMap<String, String>,
    magic: u32,
    dims: &[usize],
) -> Result<Vec<u8>> {
    let path = dir.join(format!("{name}.gz"));
    let file = fs::File::open(&path).map_err(|e| file_error(&path, e))?;
    let mut bytes = Vec::new();
    GzDecoder::new(file)
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| match e.kind() {
            io::ErrorKind::InvalidInput
            | io::ErrorKind::InvalidData
            | io::ErrorKind::UnexpectedEof => Error::data(&path, DataProblem::CorruptGzip),
            _ => Error::io(&path, e),
        })?;
    let problem = |problem| Error::data(&path, problem);

    let header_len = 4 + 4 * dims.len();
    let word = |i: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(&bytes[4 * i..4 * i + 4]);
        u32::from_be_bytes(b)
    };
    if bytes.len() < header_len {
        return Err(problem(DataProblem::Truncated {
            expected: header_len as u64,
            actual: bytes.len() as u64,
        }));
    }
    if word(0) != magic {
        return Err(problem(DataProblem::BadMagic {
            found: word(0),
            expected: magic,
        }));
    }
    let found: Vec<u32> = (1..=dims.len()).map(word).collect();
    if found.iter().zip(dims).any(|(&f, &d)| f as usize != d) {
        return Err(problem(DataProblem::BadDimensions {
            found,
            expected: if dims.len() == 3 {
                "N×28×28 images with N = 60000 (train) or 10000 (test)"
            } else {
                "N labels with N = 60000 (train) or 10000 (test)"
            },
        }));
    }
    let expected = (header_len + dims.iter().product::<usize>()) as u64;
    let actual = bytes.len() as u64;
    if actual < expected {
        return Err(problem(DataProblem::Truncated { expected, actual }));
    }
    if actual > expected {
        return Err(problem(DataProblem::TrailingBytes {
            extra: actual - expected,
        }));
    }
    let listed = sums
        .get(name)
        .ok_or_else(|| problem(DataProblem::NotListed(name.to_owned())))?;
    let digest = Sha256::digest(&bytes);
    let found_sum: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    if &found_sum != listed {
        return Err(problem(DataProblem::Checksum {
            expected: listed.clone(),
            found: found_sum,
        }));
    }
    bytes.drain(..header_len);
    Ok(bytes)
}
