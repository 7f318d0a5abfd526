//! Network files: a [`NetworkSpec`] described in TOML, as a user writes it.
//!
//! ```toml
//! name = "lenet-small"
//! input = { height = 28, width = 28, channels = 1 }   # or { features = 30 }
//! classes = 10
//!
//! [[layer]]
//! kind = "conv2d"
//! out_channels = 6
//! kernel = 5
//! padding = 2          # default 0; `stride` defaults to 1
//!
//! [[layer]]
//! kind = "max_pool2d"
//! kernel = 2           # `stride` defaults to the kernel, `padding` to 0
//!
//! [[layer]]
//! kind = "relu"
//!
//! [[layer]]
//! kind = "avg_pool2d"  # a public divisor: no comparison
//! kernel = 2           # `stride` defaults to the kernel
//!
//! [[layer]]
//! kind = "flatten"
//!
//! [[layer]]
//! kind = "linear"
//! outputs = 10
//! ```
//!
//! A layer's input size (`inputs` of a linear layer, `in_channels` of a convolution)
//! follows from the layer before it; a file may state it, and then it is checked. Every
//! shape is checked when the file is read: a layer that does not fit its input, a last
//! layer whose outputs are not `classes`, an unknown field or layer kind is one
//! [`Error::Network`] naming the file, the layer (numbered from 1, as in the file) and the
//! mismatch.
//!
//! This module imports the network's shapes ([`spec`](super::spec)) and nothing above them.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::spec::{LayerSpec, NetworkSpec, ValueShape, output_shape};
use crate::error::{Error, Result};

/// The largest network file read, in bytes: a description, not data.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// The input of a network file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum InputFile {
    /// Images, NHWC.
    Image {
        height: usize,
        width: usize,
        channels: usize,
    },
    /// Rows of `features` values.
    Row { features: usize },
}

/// One `[[layer]]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum LayerFile {
    Linear {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inputs: Option<usize>,
        outputs: usize,
    },
    Conv2d {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        in_channels: Option<usize>,
        out_channels: usize,
        kernel: usize,
        #[serde(default = "one")]
        stride: usize,
        #[serde(default)]
        padding: usize,
    },
    // Empty braces, not unit variants: serde refuses unknown fields only in tables.
    Relu {},
    MaxPool2d {
        kernel: usize,
        /// The step between windows; the kernel if not given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stride: Option<usize>,
        /// Positions added on every side; none if not given.
        #[serde(default, skip_serializing_if = "is_zero")]
        padding: usize,
    },
    AvgPool2d {
        kernel: usize,
        /// The step between windows; the kernel if not given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stride: Option<usize>,
        /// Positions added on every side (zeros in the average); none if not given.
        #[serde(default, skip_serializing_if = "is_zero")]
        padding: usize,
    },
    Flatten {},
    BatchNorm {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channels: Option<usize>,
    },
}

fn one() -> usize {
    1
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A whole network file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkFile {
    name: String,
    input: InputFile,
    classes: usize,
    #[serde(rename = "layer", default)]
    layers: Vec<LayerFile>,
}

impl NetworkSpec {
    /// Reads the network file at `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if it cannot be read, [`Error::Network`] naming the file and the
    /// layer if it does not describe a network (the module docs).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use securenn_dsl::nn::NetworkSpec;
    ///
    /// let spec = NetworkSpec::load("examples/networks/small-cnn.toml".as_ref())?;
    /// println!("{} has {} parameters", spec.name(), spec.parameters());
    /// # Ok::<(), securenn_dsl::Error>(())
    /// ```
    pub fn load(path: &Path) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source: std::sync::Arc::new(source),
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_FILE_BYTES {
            return Err(Error::Network {
                source_name: path.display().to_string(),
                problem: format!(
                    "{len} bytes is not a network description (at most {MAX_FILE_BYTES})"
                ),
            });
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// The network a user names: `A`, `B`, `C` or `D` (either case), or the path of a
    /// network file (a name that ends in `.toml` or holds a path separator).
    ///
    /// # Errors
    ///
    /// As [`NetworkSpec::by_name`] and [`NetworkSpec::load`].
    pub fn resolve(name_or_path: &str) -> Result<Self> {
        let path = Path::new(name_or_path);
        let is_file = name_or_path.ends_with(".toml") || path.components().count() > 1;
        if is_file {
            Self::load(path)
        } else {
            Self::by_name(name_or_path)
        }
    }

    /// Parses a network file's text; `source_name` (the file's path, say) names it in
    /// errors.
    ///
    /// # Errors
    ///
    /// [`Error::Network`] if the text does not describe a network (the module docs).
    ///
    /// # Examples
    ///
    /// ```
    /// use securenn_dsl::nn::{NetworkSpec, ValueShape};
    ///
    /// let spec = NetworkSpec::from_toml(
    ///     r#"
    ///     name = "logistic"
    ///     input = { features = 30 }
    ///     classes = 2
    ///     [[layer]]
    ///     kind = "linear"
    ///     outputs = 2
    ///     "#,
    ///     "logistic.toml",
    /// )?;
    /// assert_eq!(spec.output(), ValueShape::Row(2));
    ///
    /// let wrong = NetworkSpec::from_toml(
    ///     "name = \"x\"\ninput = { features = 30 }\nclasses = 2\n\
    ///      [[layer]]\nkind = \"linear\"\ninputs = 31\noutputs = 2\n",
    ///     "x.toml",
    /// );
    /// assert_eq!(
    ///     wrong.unwrap_err().to_string(),
    ///     "x.toml: layer 1 (linear) takes 31 inputs, but the layer before it gives 30 values"
    /// );
    /// # Ok::<(), securenn_dsl::Error>(())
    /// ```
    pub fn from_toml(text: &str, source_name: &str) -> Result<Self> {
        let problem = |problem: String| Error::Network {
            source_name: source_name.to_owned(),
            problem,
        };
        let file: NetworkFile = toml::from_str(text).map_err(|e| {
            problem(format!(
                "not a network file: {}",
                e.message().trim_end_matches('\n')
            ))
        })?;
        let input = match file.input {
            InputFile::Image {
                height,
                width,
                channels,
            } if height > 0 && width > 0 && channels > 0 => ValueShape::Image {
                height,
                width,
                channels,
            },
            InputFile::Row { features } if features > 0 => ValueShape::Row(features),
            _ => return Err(problem("the input has a side of zero".to_owned())),
        };
        if file.layers.is_empty() {
            return Err(problem("the network has no `[[layer]]`".to_owned()));
        }
        let mut shape = input;
        let mut layers = Vec::with_capacity(file.layers.len());
        for (i, layer) in file.layers.iter().enumerate() {
            let at = |what: String| problem(format!("layer {} ({}) {what}", i + 1, kind(layer)));
            let spec = resolve_layer(*layer, shape).map_err(at)?;
            shape = output_shape(&spec, shape).map_err(|e| at(shape_problem(&e, shape)))?;
            layers.push(spec);
        }
        match shape {
            ValueShape::Row(n) if n == file.classes => {}
            other => {
                return Err(problem(format!(
                    "the last layer gives {}, but `classes` is {}",
                    other, file.classes
                )));
            }
        }
        NetworkSpec::new(file.name, input, layers).map_err(|e| problem(e.to_string()))
    }

    /// A short digest of the architecture (the input shape and every layer, not the
    /// name): parties compare it before they compute, so that two files of one name but
    /// different layers are never run together.
    pub fn digest(&self) -> String {
        let mut file = self.to_toml();
        if let Some(end) = file.find('\n') {
            // The first line is the name.
            file.drain(..=end);
        }
        let hash = Sha256::digest(file.as_bytes());
        hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// The network as a network file's text, with every layer's input size stated:
    /// [`NetworkSpec::from_toml`] reads it back as this network.
    pub fn to_toml(&self) -> String {
        let input = match self.input() {
            ValueShape::Image {
                height,
                width,
                channels,
            } => InputFile::Image {
                height,
                width,
                channels,
            },
            ValueShape::Row(features) => InputFile::Row { features },
        };
        let layers = self
            .layers()
            .iter()
            .map(|layer| match *layer {
                LayerSpec::Linear { inputs, outputs } => LayerFile::Linear {
                    inputs: Some(inputs),
                    outputs,
                },
                LayerSpec::Conv2d {
                    in_channels,
                    out_channels,
                    kernel,
                    stride,
                    padding,
                } => LayerFile::Conv2d {
                    in_channels: Some(in_channels),
                    out_channels,
                    kernel,
                    stride,
                    padding,
                },
                LayerSpec::Relu => LayerFile::Relu {},
                LayerSpec::MaxPool2d {
                    kernel,
                    stride,
                    padding,
                } => LayerFile::MaxPool2d {
                    kernel,
                    stride: Some(stride),
                    padding,
                },
                LayerSpec::AvgPool2d {
                    kernel,
                    stride,
                    padding,
                } => LayerFile::AvgPool2d {
                    kernel,
                    stride: Some(stride),
                    padding,
                },
                LayerSpec::Flatten => LayerFile::Flatten {},
                LayerSpec::BatchNorm { channels } => LayerFile::BatchNorm {
                    channels: Some(channels),
                },
            })
            .collect();
        let file = NetworkFile {
            name: self.name().to_owned(),
            input,
            classes: self.output().len(),
            layers,
        };
        toml::to_string(&file).unwrap_or_else(|e| unreachable!("a network serialises: {e}"))
    }
}

/// The layer's name in the file.
fn kind(layer: &LayerFile) -> &'static str {
    match layer {
        LayerFile::Linear { .. } => "linear",
        LayerFile::Conv2d { .. } => "conv2d",
        LayerFile::Relu {} => "relu",
        LayerFile::MaxPool2d { .. } => "max_pool2d",
        LayerFile::AvgPool2d { .. } => "avg_pool2d",
        LayerFile::Flatten {} => "flatten",
        LayerFile::BatchNorm { .. } => "batch_norm",
    }
}

/// The layer with its input size filled in from `input`, or checked against it.
fn resolve_layer(layer: LayerFile, input: ValueShape) -> core::result::Result<LayerSpec, String> {
    match layer {
        LayerFile::Linear { inputs, outputs } => {
            let ValueShape::Row(n) = input else {
                return Err(format!(
                    "needs rows, but the layer before it gives {}: add a `flatten` layer",
                    input
                ));
            };
            match inputs {
                Some(stated) if stated != n => Err(format!(
                    "takes {stated} inputs, but the layer before it gives {n} values"
                )),
                _ if outputs == 0 => Err("has no outputs".to_owned()),
                _ => Ok(LayerSpec::Linear { inputs: n, outputs }),
            }
        }
        LayerFile::Conv2d {
            in_channels,
            out_channels,
            kernel,
            stride,
            padding,
        } => {
            let ValueShape::Image { channels, .. } = input else {
                return Err(format!(
                    "needs images, but the layer before it gives {}",
                    input
                ));
            };
            match in_channels {
                Some(stated) if stated != channels => Err(format!(
                    "takes {stated} channels, but the layer before it gives {}",
                    input
                )),
                _ if out_channels == 0 => Err("has no output channels".to_owned()),
                _ => Ok(LayerSpec::Conv2d {
                    in_channels: channels,
                    out_channels,
                    kernel,
                    stride,
                    padding,
                }),
            }
        }
        LayerFile::Relu {} => Ok(LayerSpec::Relu),
        LayerFile::MaxPool2d {
            kernel,
            stride,
            padding,
        } => Ok(LayerSpec::MaxPool2d {
            kernel,
            stride: stride.unwrap_or(kernel),
            padding,
        }),
        LayerFile::AvgPool2d {
            kernel,
            stride,
            padding,
        } => Ok(LayerSpec::AvgPool2d {
            kernel,
            stride: stride.unwrap_or(kernel),
            padding,
        }),
        LayerFile::Flatten {} => Ok(LayerSpec::Flatten),
        LayerFile::BatchNorm { channels } => {
            let given = input.last_dim();
            match channels {
                Some(stated) if stated != given => Err(format!(
                    "normalises {stated} channels, but the layer before it gives {input}"
                )),
                _ => Ok(LayerSpec::BatchNorm { channels: given }),
            }
        }
    }
}

/// What a shape error says about the layer, in the file's words.
fn shape_problem(error: &Error, input: ValueShape) -> String {
    let reason = match error {
        Error::InvalidShape { reason, .. } => *reason,
        _ => "does not fit its input",
    };
    format!("does not fit {}: {reason}", input)
}

#[cfg(test)]
mod tests;
