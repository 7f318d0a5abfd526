//! What is wrong with a data file, and why training cannot resume.

use crate::party::Role;

/// What is wrong with a data file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DataProblem {
    /// The file does not exist.
    #[error("file not found")]
    Missing,
    /// The gzip stream is corrupt.
    #[error("corrupt gzip stream")]
    CorruptGzip,
    /// The file ends before the data its header announces.
    #[error("truncated: the header announces {expected} bytes, the file holds {actual}")]
    Truncated {
        /// Bytes announced.
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
    /// The file holds more bytes than its header announces.
    #[error("{extra} trailing bytes after the data the header announces")]
    TrailingBytes {
        /// Extra bytes.
        extra: u64,
    },
    /// The IDX magic number is not the expected one.
    #[error("bad magic number {found:#010x}, expected {expected:#010x}")]
    BadMagic {
        /// Found.
        found: u32,
        /// Expected.
        expected: u32,
    },
    /// The dimensions in the header are not the expected ones.
    #[error("unexpected dimensions {found:?}, expected {expected}")]
    BadDimensions {
        /// Found.
        found: Vec<u32>,
        /// Expected, described.
        expected: &'static str,
    },
    /// The SHA-256 of the uncompressed content is not the one listed in SHA256SUMS.
    #[error("SHA-256 mismatch: expected {expected}, found {found}")]
    Checksum {
        /// Listed.
        expected: String,
        /// Computed.
        found: String,
    },
    /// The checksum list does not name this file, or is malformed.
    #[error("no valid SHA-256 listed for {0} in SHA256SUMS")]
    NotListed(String),
    /// A label is not one of the data set's classes.
    #[error("label {label} of example {index} is not a class (0 to {})", classes.saturating_sub(1))]
    LabelOutOfRange {
        /// Index of the example (from 0).
        index: usize,
        /// The label found.
        label: u64,
        /// The number of classes.
        classes: usize,
    },
    /// An input value is not a finite number.
    #[error("value {position} of example {index} is not a finite number")]
    NotFinite {
        /// Index of the example (from 0).
        index: usize,
        /// Position of the value in the example (from 0).
        position: usize,
    },
    /// An input value is too large for 13-bit fixed point with room for products.
    #[error(
        "value {position} of example {index} is beyond ±2^{limit_log2}, too large for fixed point"
    )]
    TooLarge {
        /// Index of the example (from 0).
        index: usize,
        /// Position of the value in the example (from 0).
        position: usize,
        /// The largest magnitude accepted, as a power of two.
        limit_log2: u32,
    },
    /// The examples do not have the shape the network takes.
    #[error("examples of shape {found:?}, but {expected}")]
    WrongShape {
        /// The shape of one example as found.
        found: Vec<usize>,
        /// What was expected, described.
        expected: String,
    },
    /// The file is not in the format its name says, or holds something unusable.
    #[error("{0}")]
    Malformed(String),
    /// Images and labels disagree on the number of examples.
    #[error("{images} images but {labels} labels")]
    CountMismatch {
        /// Images.
        images: usize,
        /// Labels.
        labels: usize,
    },
}

/// Why training cannot resume from the checkpoints at hand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResumeProblem {
    /// The checkpoint is past the last step of the run being resumed.
    #[error("the checkpoint after step {step} is past the last step of this run ({steps} steps)")]
    PastLastStep {
        /// The step the checkpoint was written after.
        step: usize,
        /// The steps of the run.
        steps: usize,
    },
    /// P0 and P1 hold checkpoints, but none of the same step of the same model.
    #[error(
        "P0 and P1 hold no checkpoint of the same step of the same model (P0 has steps {p0:?}, P1 {p1:?})"
    )]
    NoCommonCheckpoint {
        /// The steps of P0's checkpoints.
        p0: Vec<usize>,
        /// The steps of P1's checkpoints.
        p1: Vec<usize>,
    },
    /// A share holder's job states no list of its checkpoints (a peer of another version:
    /// one of this version that was not given `--resume` fails the job's agreement first).
    #[error("{party} stated no list of its checkpoints")]
    NotStated {
        /// The party.
        party: Role,
    },
    /// A share holder's list of checkpoints could not be read.
    #[error("{party} stated a malformed list of checkpoints")]
    MalformedList {
        /// The party.
        party: Role,
    },
}
