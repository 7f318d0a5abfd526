//! Where the examples come from: `--data FILE`, the loader chosen by the file's extension
//! (`.csv` for a table, `.npz` for numpy arrays), or MNIST (`--mnist DIR`, default the vendored copy).

use std::path::{Path, PathBuf};

use securenn_dsl::nn::NetworkSpec;
use securenn_dsl::nn::data::Splits;
use securenn_dsl::nn::data::csv::{self, CsvOptions};
use securenn_dsl::nn::data::npz;
use securenn_dsl::nn::mnist::{Mnist, TEST_LEN, TRAIN_LEN};

use crate::processes::CliError;

/// The data options shared by `train` and `infer`.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct DataArgs {
    /// The data set, owned by P0: a CSV table (`.csv`: a header, one example a row), split
    /// into training and test rows by a public seed, or numpy arrays (`.npz`: `x_train`,
    /// `y_train`, `x_test`, `y_test`, as `np.savez` writes them). Default: MNIST.
    #[arg(long, value_name = "FILE")]
    pub(crate) data: Option<PathBuf>,
    /// The CSV column holding the labels.
    #[arg(long, default_value = "label", value_name = "NAME")]
    pub(crate) label_column: String,
    /// A CSV column that is neither a feature nor the label (repeat for more).
    #[arg(long, value_name = "NAME")]
    pub(crate) ignore_column: Vec<String>,
    /// The share of a CSV table's rows held out for testing.
    #[arg(long, default_value_t = 0.2, value_name = "FRACTION")]
    pub(crate) test_fraction: f64,
    /// The public seed of the CSV table's train/test split.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub(crate) split_seed: u64,
    /// The directory holding the MNIST files (default: the vendored copy), when there is
    /// no `--data`.
    #[arg(long, value_name = "DIR")]
    pub(crate) mnist: Option<PathBuf>,
}

impl DataArgs {
    /// Reads the data set.
    pub(crate) fn load(&self) -> Result<Splits, CliError> {
        let Some(path) = &self.data else {
            return Ok(self.load_mnist()?);
        };
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => {
                let options = CsvOptions {
                    ignore_columns: self.ignore_column.clone(),
                    test_fraction: self.test_fraction,
                    seed: self.split_seed,
                    ..CsvOptions::new(self.label_column.clone())
                };
                Ok(csv::load(path, &options)?)
            }
            Some("npz") => Ok(npz::load(path)?),
            _ => Err(format!(
                "{}: a data file must be a CSV table (`.csv`) or numpy arrays (`.npz`); MNIST is read with --mnist DIR",
                path.display()
            )
            .into()),
        }
    }

    /// MNIST, from `--mnist DIR` or the vendored copy.
    pub(crate) fn load_mnist(&self) -> securenn_dsl::Result<Splits> {
        let mnist = load_mnist(&self.mnist.clone().unwrap_or_else(Mnist::default_dir))?;
        Ok(Splits {
            train: mnist.train,
            test: mnist.test,
            class_names: (0..10).map(|d: u8| d.to_string()).collect(),
        })
    }

    /// What the data is called in messages.
    pub(crate) fn name(&self) -> String {
        self.data
            .as_ref()
            .map_or_else(|| "MNIST".to_owned(), |p| p.display().to_string())
    }

    /// Reads the data set and checks that `spec` takes its examples.
    pub(crate) fn load_for(&self, spec: &NetworkSpec) -> Result<Splits, CliError> {
        let splits = self.load()?;
        splits.train.check_network(spec, &self.name())?;
        Ok(splits)
    }

    /// The number of training examples, known to every party without the data: MNIST's, or
    /// an error for a data file (whose size only its owner knows).
    pub(crate) fn public_train_len(&self) -> Result<usize, CliError> {
        match &self.data {
            None => Ok(TRAIN_LEN),
            Some(path) => Err(format!(
                "{}: --data runs the three parties in this process (--transport local); \
                 separate processes or a cluster train on MNIST",
                path.display()
            )
            .into()),
        }
    }
}

/// Loads MNIST and checks it has the standard number of images, which every party assumes.
pub(crate) fn load_mnist(dir: &Path) -> securenn_dsl::Result<Mnist> {
    let mnist = Mnist::load(dir)?;
    if mnist.train.len() != TRAIN_LEN || mnist.test.len() != TEST_LEN {
        return Err(securenn_dsl::Error::Config(
            "MNIST must hold 60,000 training and 10,000 test images",
        ));
    }
    Ok(mnist)
}
