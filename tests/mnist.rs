//! The vendored MNIST loads with the published label counts; a missing, truncated or
//! corrupt file is a clear, typed error naming the file.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::fs;
use std::io::{Read, Write};
use std::path::PathBuf;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use securenn_dsl::Error;
use securenn_dsl::error::DataProblem;
use securenn_dsl::nn::mnist::{Mnist, PIXELS, TEST_LEN, TRAIN_LEN};
use sha2::{Digest, Sha256};

const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

#[test]
fn the_vendored_mnist_loads_with_the_published_label_counts() {
    let mnist = Mnist::load(Mnist::default_dir()).unwrap();
    assert_eq!(mnist.train.len(), TRAIN_LEN);
    assert_eq!(mnist.test.len(), TEST_LEN);
    assert_eq!(
        mnist.train.image(TRAIN_LEN - 1).map(<[u8]>::len),
        Some(PIXELS)
    );
    // The counts published with the data (data/mnist/README.md), independent of this code.
    assert_eq!(
        mnist.train.label_counts(),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        mnist.test.label_counts(),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    assert!(mnist.test.image(TEST_LEN).is_none());
    assert!(
        mnist.train.image(0).unwrap().iter().any(|&p| p > 200),
        "an image has ink"
    );
}

/// A copy of the vendored data in a fresh temporary directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("securenn-mnist-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let source = Mnist::default_dir();
        for file in FILES
            .iter()
            .map(|f| format!("{f}.gz"))
            .chain(["SHA256SUMS".to_owned()])
        {
            fs::copy(source.join(&file), dir.join(&file)).unwrap();
        }
        Scratch(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }

    fn uncompressed(&self, name: &str) -> Vec<u8> {
        let mut bytes = Vec::new();
        GzDecoder::new(fs::File::open(self.path(&format!("{name}.gz"))).unwrap())
            .read_to_end(&mut bytes)
            .unwrap();
        bytes
    }

    fn write_compressed(&self, name: &str, bytes: &[u8]) {
        let mut encoder = GzEncoder::new(
            fs::File::create(self.path(&format!("{name}.gz"))).unwrap(),
            Compression::fast(),
        );
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap();
    }

    fn relist(&self, name: &str, bytes: &[u8]) {
        let sums = fs::read_to_string(self.path("SHA256SUMS")).unwrap();
        let digest: String = Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let updated: String = sums
            .lines()
            .map(|line| {
                if line.ends_with(name) {
                    format!("{digest}  {name}\n")
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        fs::write(self.path("SHA256SUMS"), updated).unwrap();
    }

    fn load(&self) -> Error {
        Mnist::load(&self.0).expect_err("the corrupted data must not load")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn problem_in(error: &Error, file: &str) -> DataProblem {
    match error {
        Error::Data { path, problem } => {
            assert_eq!(
                path.file_name().and_then(|n| n.to_str()),
                Some(file),
                "{error}"
            );
            problem.clone()
        }
        other => panic!("expected a data error, got {other}"),
    }
}

const LABELS: &str = "train-labels-idx1-ubyte";

#[test]
fn a_missing_file_is_named() {
    let scratch = Scratch::new("missing");
    fs::remove_file(scratch.path(&format!("{LABELS}.gz"))).unwrap();
    let error = scratch.load();
    assert_eq!(
        problem_in(&error, &format!("{LABELS}.gz")),
        DataProblem::Missing
    );
    assert!(error.to_string().contains("file not found"), "{error}");

    fs::remove_file(scratch.path("SHA256SUMS")).unwrap();
    assert_eq!(
        problem_in(&scratch.load(), "SHA256SUMS"),
        DataProblem::Missing
    );
}

#[test]
fn a_truncated_gzip_stream_is_corrupt() {
    let scratch = Scratch::new("cut-gzip");
    let path = scratch.path(&format!("{LABELS}.gz"));
    let compressed = fs::read(&path).unwrap();
    fs::write(&path, &compressed[..compressed.len() / 2]).unwrap();
    assert_eq!(
        problem_in(&scratch.load(), &format!("{LABELS}.gz")),
        DataProblem::CorruptGzip
    );
}

#[test]
fn truncated_and_overlong_contents_are_refused() {
    let scratch = Scratch::new("cut-content");
    let bytes = scratch.uncompressed(LABELS);
    scratch.write_compressed(LABELS, &bytes[..bytes.len() - 100]);
    assert_eq!(
        problem_in(&scratch.load(), &format!("{LABELS}.gz")),
        DataProblem::Truncated {
            expected: bytes.len() as u64,
            actual: bytes.len() as u64 - 100
        }
    );
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; 5]);
    scratch.write_compressed(LABELS, &longer);
    assert_eq!(
        problem_in(&scratch.load(), &format!("{LABELS}.gz")),
        DataProblem::TrailingBytes { extra: 5 }
    );
}

#[test]
fn a_wrong_magic_number_or_dimension_is_refused() {
    let scratch = Scratch::new("magic");
    let mut bytes = scratch.uncompressed(LABELS);
    bytes[3] = 0x03; // the images' magic number in the labels file
    scratch.write_compressed(LABELS, &bytes);
    assert_eq!(
        problem_in(&scratch.load(), &format!("{LABELS}.gz")),
        DataProblem::BadMagic {
            found: 0x803,
            expected: 0x801
        }
    );
    let mut bytes = scratch.uncompressed("t10k-labels-idx1-ubyte");
    bytes[3] = 0x01;
    bytes[7] = bytes[7].wrapping_add(1); // 10001 labels announced
    scratch.write_compressed(LABELS, &bytes);
    assert!(matches!(
        problem_in(&scratch.load(), &format!("{LABELS}.gz")),
        DataProblem::BadDimensions { .. }
    ));
}

#[test]
fn a_changed_byte_fails_the_checksum() {
    let scratch = Scratch::new("checksum");
    let mut bytes = scratch.uncompressed(LABELS);
    let last = bytes.len() - 1;
    bytes[last] = (bytes[last] + 1) % 10; // still a valid digit, so only the checksum can tell
    scratch.write_compressed(LABELS, &bytes);
    assert!(matches!(
        problem_in(&scratch.load(), &format!("{LABELS}.gz")),
        DataProblem::Checksum { .. }
    ));
}

#[test]
fn a_label_out_of_range_is_refused_even_with_a_matching_checksum() {
    let scratch = Scratch::new("label");
    let mut bytes = scratch.uncompressed(LABELS);
    bytes[8 + 17] = 10;
    scratch.write_compressed(LABELS, &bytes);
    scratch.relist(LABELS, &bytes);
    assert_eq!(
        problem_in(&scratch.load(), &format!("{LABELS}.gz")),
        DataProblem::LabelOutOfRange {
            index: 17,
            label: 10,
            classes: 10
        }
    );
}
