//! Where the examples come from: `--data FILE`, the loader chosen by the file's extension
//! (`.csv` for a table, `.npz` for numpy arrays), or MNIST (`--mnist DIR`, default the vendored copy).

use std::path::PathBuf;

use securenn_dsl::nn::data::Splits;
use securenn_dsl::nn::data::csv::{self, CsvOptions};
use securenn_dsl::nn::data::npz;
use securenn_dsl::nn::mnist::{Mnist, TEST_LEN, TRAIN_LEN};
use securenn_dsl::nn::{NetworkSpec, ValueShape};

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
    /// The number of training examples in P0's data set, for a party that does not hold
    /// it (P1 and P2 of a cluster): public, as MNIST's 60,000 are. P0 checks it against
    /// its file; the parties agree on it before anything secret is sent.
    #[arg(long, value_name = "N", requires = "test_examples")]
    pub(crate) examples: Option<usize>,
    /// The number of test examples in P0's data set, for a party that does not hold it.
    #[arg(long, value_name = "N", requires = "examples")]
    pub(crate) test_examples: Option<usize>,
    /// The data set, when it was read to count its examples: the next [`DataArgs::load`]
    /// takes it instead of reading the file again.
    #[arg(skip)]
    counted: std::sync::Arc<std::sync::Mutex<Option<Splits>>>,
}

/// What the examples a network takes are called in messages: images, or rows of a table
/// (plural, singular).
pub(crate) fn examples_noun(spec: &NetworkSpec) -> (&'static str, &'static str) {
    match spec.input() {
        ValueShape::Image { .. } => ("images", "image"),
        ValueShape::Row(_) => ("rows", "row"),
    }
}

/// The public sizes of the data set: what every party knows without the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sizes {
    /// Training examples.
    pub(crate) train: usize,
    /// Test examples.
    pub(crate) test: usize,
}

impl Sizes {
    /// The sizes of a data set in hand.
    pub(crate) fn of(splits: &Splits) -> Sizes {
        Sizes {
            train: splits.train.len(),
            test: splits.test.len(),
        }
    }
}

impl std::fmt::Display for Sizes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} training and {} test examples", self.train, self.test)
    }
}

impl DataArgs {
    /// Reads the data set, or takes it if [`DataArgs::public_sizes`] read it.
    pub(crate) fn load(&self) -> Result<Splits, CliError> {
        match self.counted_splits().take() {
            Some(splits) => Ok(splits),
            None => self.read(),
        }
    }

    /// The data set kept by [`DataArgs::public_sizes`], if any.
    fn counted_splits(&self) -> std::sync::MutexGuard<'_, Option<Splits>> {
        self.counted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads the data set from its file.
    fn read(&self) -> Result<Splits, CliError> {
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
        let mnist = Mnist::load(self.mnist.clone().unwrap_or_else(Mnist::default_dir))?;
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

    /// The data set's public sizes: `--examples`/`--test-examples` if given (a party that
    /// does not hold the data), MNIST's without `--data`, else counted in the file (the
    /// party that holds it).
    pub(crate) fn public_sizes(&self) -> Result<Sizes, CliError> {
        if let (Some(train), Some(test)) = (self.examples, self.test_examples) {
            return Ok(Sizes { train, test });
        }
        match &self.data {
            None => Ok(Sizes {
                train: TRAIN_LEN,
                test: TEST_LEN,
            }),
            Some(path) if !path.exists() => Err(format!(
                "{}: not found; a party that does not hold P0's data set gives its public \
                 sizes instead, with --examples N --test-examples M",
                path.display()
            )
            .into()),
            Some(_) => {
                let splits = self.load()?;
                let sizes = Sizes::of(&splits);
                *self.counted_splits() = Some(splits);
                Ok(sizes)
            }
        }
    }

    /// P0's side in separate processes or a cluster: reads the data set, checks that `spec`
    /// takes its examples and that it has the `sizes` the parties agreed on.
    pub(crate) fn load_agreed(&self, spec: &NetworkSpec, sizes: Sizes) -> Result<Splits, CliError> {
        let splits = self.load_for(spec)?;
        if Sizes::of(&splits) != sizes {
            return Err(format!(
                "{}: holds {}, but the parties agreed on {sizes} (--examples, --test-examples)",
                self.name(),
                Sizes::of(&splits)
            )
            .into());
        }
        Ok(splits)
    }

    /// The arguments that tell a party without the data set its public `sizes`, unless the
    /// command gave them.
    pub(crate) fn sizes_arguments(&self, sizes: Sizes) -> Vec<String> {
        if self.examples.is_some() {
            return Vec::new();
        }
        vec![
            "--examples".to_owned(),
            sizes.train.to_string(),
            "--test-examples".to_owned(),
            sizes.test.to_string(),
        ]
    }
}
