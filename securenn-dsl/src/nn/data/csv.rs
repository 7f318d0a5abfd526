//! Tabular data from a CSV file: a header naming the columns, one example a row, the label
//! in the column the user names, every other column a feature (unless ignored).
//!
//! Labels that are all whole numbers are the classes themselves (0, 1, …); otherwise each
//! distinct label is a class, in sorted order (`B`, `M` → 0, 1). The rows are split into a
//! training and a test set by a permutation drawn from a public seed, and by default each
//! feature is standardised with the training set's mean and standard deviation (what the
//! data owner does in the clear before sharing). A row that is not a row of numbers is
//! one [`Error::Data`] naming the file, the line and the column.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use super::{Dataset, MAX_CLASSES, Splits};
use crate::error::{DataProblem, Error, Result};
use crate::nn::spec::ValueShape;
use crate::prg::Prg;

/// The largest CSV file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// How to read a CSV file.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvOptions {
    /// The column holding the labels.
    pub label_column: String,
    /// Columns that are neither features nor labels (an identifier, say).
    pub ignore_columns: Vec<String>,
    /// The fraction of rows held out as the test set.
    pub test_fraction: f64,
    /// The public seed of the split.
    pub seed: u64,
    /// Whether to standardise each feature with the training set's mean and deviation.
    pub standardize: bool,
}

impl CsvOptions {
    /// Labels in `label_column`, a fifth of the rows for testing, seed 0, standardised.
    pub fn new(label_column: impl Into<String>) -> Self {
        CsvOptions {
            label_column: label_column.into(),
            ignore_columns: Vec::new(),
            test_fraction: 0.2,
            seed: 0,
            standardize: true,
        }
    }
}

/// Reads the CSV file at `path` into a training and a test set.
///
/// # Errors
///
/// [`Error::Io`] if it cannot be read; [`Error::Data`] naming the file and the line if it
/// is not a table of numbers with a label column, if it has no rows, or more than
/// [`MAX_CLASSES`] classes.
pub fn load(path: &Path, options: &CsvOptions) -> Result<Splits> {
    let bad = |problem: String| Error::data(path, DataProblem::Malformed(problem));
    if !(0.0..1.0).contains(&options.test_fraction) {
        return Err(Error::InvalidArgument {
            name: "test fraction",
            problem: format!("{} is not at least 0 and below 1", options.test_fraction),
        });
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => bad("the file is not UTF-8 text".to_owned()),
            _ => Error::io(path, e),
        })?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(bad(format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    let table = parse(&text, options).map_err(bad)?;
    let (train_rows, test_rows) = split(table.labels.len(), options);
    let features = table.features;
    let mut columns = (vec![0.0; features], vec![1.0; features]);
    if options.standardize {
        columns = statistics(&table.values, features, &train_rows);
    }
    let take = |rows: &[usize]| -> Result<Dataset> {
        let mut inputs = Vec::with_capacity(rows.len() * features);
        for &r in rows {
            let row = &table.values[r * features..(r + 1) * features];
            for ((&x, &mean), &deviation) in row.iter().zip(&columns.0).zip(&columns.1) {
                #[allow(
                    clippy::cast_possible_truncation,
                    reason = "examples are f32, as a float user's are"
                )]
                inputs.push(((x - mean) / deviation) as f32);
            }
        }
        let labels = rows.iter().map(|&r| table.labels[r]).collect();
        Dataset::new(
            inputs,
            labels,
            ValueShape::Row(features),
            table.class_names.len(),
        )
        .map_err(|problem| Error::data(path, problem))
    };
    Ok(Splits {
        train: take(&train_rows)?,
        test: take(&test_rows)?,
        class_names: table.class_names,
    })
}

/// A parsed table: row-major feature values, a class per row, the classes' names.
struct Table {
    values: Vec<f64>,
    features: usize,
    labels: Vec<u8>,
    class_names: Vec<String>,
}

/// One field, without surrounding white space and quotes.
fn field(raw: &str) -> &str {
    let trimmed = raw.trim();
    trimmed
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(trimmed)
}

fn parse(text: &str, options: &CsvOptions) -> core::result::Result<Table, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty());
    let (_, header) = lines.next().ok_or("the file is empty")?;
    let names: Vec<&str> = header.split(',').map(field).collect();
    let label = names
        .iter()
        .position(|&n| n == options.label_column)
        .ok_or_else(|| {
            format!(
                "no column `{}`: the header names {}",
                options.label_column,
                names.join(", ")
            )
        })?;
    for ignored in &options.ignore_columns {
        if !names.contains(&ignored.as_str()) {
            return Err(format!("no column `{ignored}` to ignore"));
        }
    }
    let feature_columns: Vec<usize> = (0..names.len())
        .filter(|&c| c != label && !options.ignore_columns.iter().any(|i| i == names[c]))
        .collect();
    if feature_columns.is_empty() {
        return Err("no feature columns besides the label".to_owned());
    }
    let mut values = Vec::new();
    let mut raw_labels = Vec::new();
    for (number, line) in lines {
        let line_number = number + 1;
        let fields: Vec<&str> = line.split(',').map(field).collect();
        if fields.len() != names.len() {
            return Err(format!(
                "line {line_number} has {} fields, the header {}",
                fields.len(),
                names.len()
            ));
        }
        for &c in &feature_columns {
            let value: f64 = fields[c].parse().map_err(|_| {
                format!(
                    "line {line_number}, column `{}`: `{}` is not a number",
                    names[c], fields[c]
                )
            })?;
            if !value.is_finite() {
                return Err(format!(
                    "line {line_number}, column `{}`: `{}` is not a finite number",
                    names[c], fields[c]
                ));
            }
            values.push(value);
        }
        raw_labels.push((line_number, fields[label].to_owned()));
    }
    if raw_labels.is_empty() {
        return Err("the file has a header but no rows".to_owned());
    }
    let (labels, class_names) = classes(&raw_labels, &options.label_column)?;
    Ok(Table {
        values,
        features: feature_columns.len(),
        labels,
        class_names,
    })
}

/// Each row's class, and the classes' names.
fn classes(
    raw: &[(usize, String)],
    column: &str,
) -> core::result::Result<(Vec<u8>, Vec<String>), String> {
    let too_many = |n: usize| format!("column `{column}` has {n} classes, more than {MAX_CLASSES}");
    let numbers: Option<Vec<usize>> = raw.iter().map(|(_, l)| l.parse().ok()).collect();
    if let Some(numbers) = numbers {
        let classes = numbers.iter().max().map_or(0, |&m| m + 1);
        if classes > MAX_CLASSES {
            return Err(too_many(classes));
        }
        let labels = numbers
            .iter()
            .map(|&n| u8::try_from(n).unwrap_or(u8::MAX))
            .collect();
        return Ok((labels, (0..classes).map(|c| c.to_string()).collect()));
    }
    let names: Vec<String> = raw
        .iter()
        .map(|(_, l)| l.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if names.len() > MAX_CLASSES {
        return Err(too_many(names.len()));
    }
    if let Some((line, _)) = raw.iter().find(|(_, l)| l.is_empty()) {
        return Err(format!("line {line}: the label in `{column}` is empty"));
    }
    let labels = raw
        .iter()
        .map(|(_, l)| {
            let class = names.iter().position(|n| n == l).unwrap_or(0);
            u8::try_from(class).unwrap_or(u8::MAX)
        })
        .collect();
    Ok((labels, names))
}

/// The training and the test rows: a permutation of the rows from the public seed, the
/// last `test_fraction` of it for testing.
fn split(rows: usize, options: &CsvOptions) -> (Vec<usize>, Vec<usize>) {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&options.seed.to_le_bytes());
    key[8..].copy_from_slice(b"csvsplit");
    let mut prg = Prg::from_stream_key(key);
    let mut order: Vec<usize> = (0..rows).collect();
    for i in (1..rows).rev() {
        let mut bytes = [0u8; 8];
        prg.fill(&mut bytes);
        let j = usize::try_from(u64::from_le_bytes(bytes) % (i as u64 + 1)).unwrap_or(i);
        order.swap(i, j);
    }
    let fraction = options.test_fraction;
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a fraction of a row count, rounded"
    )]
    let test = ((rows as f64) * fraction).round() as usize;
    let test_rows = order.split_off(rows - test.min(rows));
    (order, test_rows)
}

/// Each feature's mean and standard deviation over `rows` (a deviation of 0 becomes 1).
fn statistics(values: &[f64], features: usize, rows: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let n = rows.len().max(1) as f64;
    let mut mean = vec![0.0; features];
    for &r in rows {
        for (m, &x) in mean
            .iter_mut()
            .zip(&values[r * features..(r + 1) * features])
        {
            *m += x / n;
        }
    }
    let mut deviation = vec![0.0; features];
    for &r in rows {
        let row = &values[r * features..(r + 1) * features];
        for ((d, &x), &m) in deviation.iter_mut().zip(row).zip(&mean) {
            *d += (x - m) * (x - m) / n;
        }
    }
    for d in &mut deviation {
        *d = if *d > 0.0 { d.sqrt() } else { 1.0 };
    }
    (mean, deviation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> CsvOptions {
        CsvOptions {
            test_fraction: 0.25,
            standardize: false,
            ..CsvOptions::new("label")
        }
    }

    #[test]
    fn names_become_sorted_classes_and_rows_split_by_the_seed() {
        let text = "a,label,b\n1,yes,2\n3,no,4\n5,yes,6\n7,no,8\n";
        let table = parse(text, &options()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(table.class_names, ["no", "yes"]);
        assert_eq!(table.labels, [1, 0, 1, 0]);
        assert_eq!(table.values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        let (train, test) = split(4, &options());
        assert_eq!((train.len(), test.len()), (3, 1));
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, [0, 1, 2, 3]);
    }

    #[test]
    fn each_defect_names_its_line_and_column() {
        let cases = [
            ("a,b\n1,2\n", "no column `label`"),
            ("a,label\n1,0\n2\n", "line 3 has 1 fields"),
            (
                "a,label\n1,0\nx,1\n",
                "line 3, column `a`: `x` is not a number",
            ),
            (
                "a,label\n1,0\nNaN,1\n",
                "line 3, column `a`: `NaN` is not a finite number",
            ),
            ("a,label\n", "no rows"),
            ("", "empty"),
        ];
        for (text, expected) in cases {
            let error = parse(text, &options()).err().unwrap_or_default();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn standardised_features_have_zero_mean_and_unit_deviation() {
        let values = [1.0, 10.0, 3.0, 10.0, 5.0, 10.0];
        let (mean, deviation) = statistics(&values, 2, &[0, 1, 2]);
        assert_eq!(mean, [3.0, 10.0]);
        assert!((deviation[0] - (8.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(deviation[1], 1.0);
    }
}
