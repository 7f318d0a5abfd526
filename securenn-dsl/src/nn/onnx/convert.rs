//! From ONNX nodes to securenn layers: each supported operator becomes a layer (or folds
//! into one), and its weights move from ONNX's layouts (NCHW values, OIHW kernels, `B` of a
//! Gemm as `K×M` or `M×K`) to securenn's (NHWC values, kernels as `(ky, kx, channel) × out`,
//! weights as `inputs × outputs`).
//!
//! The one subtle move: a Flatten of NCHW feature maps orders its values channel first,
//! securenn's Flatten of NHWC ones channel last, so the rows of the first fully connected
//! layer after it are permuted to match. Without that, a model runs and predicts garbage.

use super::graph::{Attributes, Graph, Source, Weights};
use super::windows::{convolution, pooling};
use crate::error::Result;
use crate::nn::config::LayerWeights;
use crate::nn::layers::batch_norm::BatchNormStatistics;
use crate::nn::spec::{LayerSpec, ValueShape};

/// The operators the importer reads, as its errors list them.
pub(super) const SUPPORTED: &str = "Gemm, MatMul (with an Add of its bias), Conv, Relu, \
     MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape (to rows), \
     BatchNormalization, Identity, Dropout, and a last Softmax, LogSoftmax or ArgMax";

/// The most values per example that flow between two layers: 2^30.
pub(super) const MAX_VALUES: usize = 1 << 30;

/// What flows between layers, in ONNX's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Value {
    /// Feature maps: `channels × height × width` per example.
    Image {
        channels: usize,
        height: usize,
        width: usize,
    },
    /// Rows of `features`, and the feature maps they were flattened from, if any.
    Row {
        features: usize,
        flattened: Option<(usize, usize, usize)>,
    },
}

/// The layers and their weights, built node by node.
#[derive(Debug, Default)]
pub(super) struct Layers {
    pub(super) specs: Vec<LayerSpec>,
    pub(super) weights: Vec<Option<LayerWeights>>,
    /// The index of a MatMul's layer whose bias an Add may still give.
    open_bias: Option<usize>,
    /// Weight values made so far, against [`MAX_LAYER_VALUES`]: a file that names one
    /// weight in many nodes must not make a copy per node without bound.
    values: usize,
}

/// The most weight values the layers of one model may hold: 2^28.
const MAX_LAYER_VALUES: usize = 1 << 28;

impl Value {
    /// `(channels, height, width)` of feature maps; `None` for rows.
    pub(super) fn image(self) -> Option<(usize, usize, usize)> {
        match self {
            Value::Image {
                channels,
                height,
                width,
            } => Some((channels, height, width)),
            Value::Row { .. } => None,
        }
    }
}

impl Layers {
    /// Counts `values` more weight values; `false` if that is more than the layers may hold.
    pub(super) fn budget(&mut self, values: usize) -> bool {
        self.values = self.values.saturating_add(values);
        self.values <= MAX_LAYER_VALUES
    }

    pub(super) fn push(&mut self, spec: LayerSpec, weights: Option<LayerWeights>) {
        self.specs.push(spec);
        self.weights.push(weights);
        self.open_bias = None;
    }
}

/// The securenn input shape of the graph: from the file's dimensions (`[N, C, H, W]` or
/// `[N, F]`, the batch `N` left open or not), or `input_shape` (`[C, H, W]` or `[F]`)
/// where the file leaves a dimension open.
pub(super) fn input_shape(
    graph: &Graph,
    given: Option<&[usize]>,
    source: Source<'_>,
) -> Result<(ValueShape, Vec<usize>)> {
    let from_file: Option<Vec<usize>> = graph
        .input_dims
        .get(1..)
        .and_then(|rest| rest.iter().copied().collect());
    let dims = match (from_file, given) {
        (Some(file), Some(given)) if file != given => {
            return Err(source.error(format!(
                "--input-shape {given:?} does not match the model's input {file:?}"
            )));
        }
        (_, Some(given)) => given.to_vec(),
        (Some(file), None) => file,
        (None, None) => {
            let shown: Vec<String> = graph
                .input_dims
                .iter()
                .map(|d| d.map_or("?".to_owned(), |d| d.to_string()))
                .collect();
            return Err(source.error(format!(
                "the input `{}` has dimensions [{}], which the file leaves open: give them \
                 without the batch (C,H,W or F; `--input-shape` on the command line)",
                graph.input,
                shown.join(", ")
            )));
        }
    };
    let shape = match *dims.as_slice() {
        [channels, height, width] => ValueShape::Image {
            height,
            width,
            channels,
        },
        [features] => ValueShape::Row(features),
        _ => {
            return Err(source.error(format!(
                "the input has dimensions {dims:?} after the batch; securenn imports images \
                 (C, H, W) or rows (F)"
            )));
        }
    };
    if dims.contains(&0) {
        return Err(source.error(format!("the input has an empty dimension: {dims:?}")));
    }
    if dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .is_none_or(|n| n > MAX_VALUES)
    {
        return Err(source.error(format!(
            "the input's dimensions {dims:?} hold more than 2^30 values per example"
        )));
    }
    Ok((shape, dims))
}

/// The layers of `graph`'s nodes, from an input of `dims` (`[C, H, W]` or `[F]`).
pub(super) fn layers(graph: &Graph, dims: &[usize], source: Source<'_>) -> Result<Layers> {
    let mut value = match *dims {
        [channels, height, width] => Value::Image {
            channels,
            height,
            width,
        },
        [features, ..] => Value::Row {
            features,
            flattened: None,
        },
        [] => return Err(source.error("the input has no dimensions")),
    };
    let mut current = graph.input.clone();
    let mut layers = Layers::default();
    let last = graph.nodes.len().saturating_sub(1);
    for (position, (index, node)) in graph.nodes.iter().enumerate() {
        let index = *index;
        let fail = |problem: String| source.at(index, node, problem);
        let first = node.input.first().map(String::as_str).unwrap_or_default();
        if first != current {
            return Err(fail(format!(
                "takes `{first}`, not `{current}` (the output of the node before it): \
                 securenn imports a chain of layers"
            )));
        }
        if !matches!(node.domain.as_deref(), None | Some("" | "ai.onnx")) {
            return Err(fail(format!(
                "its domain is not ONNX's; supported: {SUPPORTED}"
            )));
        }
        let weight = |k: usize| -> Result<Option<&Weights>> {
            match node.input.get(k).map(String::as_str) {
                None | Some("") => Ok(None),
                Some(name) => graph.weights.get(name).map(Some).ok_or_else(|| {
                    fail(format!("input `{name}` is not a weight (an initializer)"))
                }),
            }
        };
        let needed = |k: usize, what: &str| -> Result<&Weights> {
            weight(k)?.ok_or_else(|| fail(format!("it has no {what}")))
        };
        let op = node.op_type.as_deref().unwrap_or_default();
        // Dropout's optional second output, its mask, is never used in inference.
        if node.output.len() != 1 && !(op == "Dropout" && node.output.len() == 2) {
            return Err(fail(format!(
                "it has {} outputs; securenn imports nodes of one (a BatchNormalization with \
                 its training outputs, say, is not an inference model)",
                node.output.len()
            )));
        }
        value = match op {
            "Identity" => value,
            "Dropout" => {
                Attributes::of(index, node, &["ratio", "seed"], source)?;
                value
            }
            "Relu" => {
                Attributes::of(index, node, &[], source)?;
                layers.push(LayerSpec::Relu, None);
                value
            }
            "Flatten" => {
                let attributes = Attributes::of(index, node, &["axis"], source)?;
                if attributes.int("axis", 1) != 1 {
                    return Err(fail("only axis 1 is supported".to_owned()));
                }
                flatten(&mut layers, value)
            }
            "Reshape" => {
                let shape = needed(1, "target shape")?;
                let features = match value {
                    Value::Image {
                        channels,
                        height,
                        width,
                    } => channels * height * width,
                    Value::Row { features, .. } => features,
                };
                let allow_zero =
                    Attributes::of(index, node, &["allowzero"], source)?.int("allowzero", 0) != 0;
                let features_f = features as f64;
                // [0, -1] and [0, F] keep the batch and flatten the rest, as [-1, F] does.
                let to_rows = match *shape.values.as_slice() {
                    [batch, rest] if batch == 0.0 && !allow_zero => {
                        rest == -1.0 || rest == features_f
                    }
                    [batch, rest] => batch == -1.0 && rest == features_f,
                    _ => false,
                };
                if !to_rows {
                    return Err(fail(format!(
                        "a Reshape to {:?} is not a flatten to rows of {features}; only that is \
                         supported",
                        shape.values
                    )));
                }
                flatten(&mut layers, value)
            }
            "Gemm" | "MatMul" => {
                let Value::Row {
                    features,
                    flattened,
                } = value
                else {
                    return Err(fail(
                        "it takes images; insert a Flatten before it".to_owned(),
                    ));
                };
                let (alpha, beta, transposed) = if op == "Gemm" {
                    let attributes = Attributes::of(
                        index,
                        node,
                        &["alpha", "beta", "transA", "transB"],
                        source,
                    )?;
                    if attributes.int("transA", 0) != 0 {
                        return Err(fail("transA = 1 is not supported".to_owned()));
                    }
                    (
                        f64::from(attributes.float("alpha", 1.0)),
                        f64::from(attributes.float("beta", 1.0)),
                        attributes.int("transB", 0) != 0,
                    )
                } else {
                    Attributes::of(index, node, &[], source)?;
                    (1.0, 1.0, false)
                };
                let b = needed(1, "weight matrix B")?;
                let (rows, outputs) = match (b.dims.as_slice(), transposed) {
                    (&[k, m], false) => (k, m),
                    (&[m, k], true) => (k, m),
                    _ => return Err(fail(format!("B has dimensions {:?}, not 2", b.dims))),
                };
                if rows != features {
                    return Err(fail(format!(
                        "B takes {rows} values per example, but {features} come in"
                    )));
                }
                if !layers.budget(rows * outputs) {
                    return Err(fail(
                        "the layers' weights hold more than 2^28 values".to_owned(),
                    ));
                }
                let mut weights = vec![0.0; rows * outputs];
                for k in 0..rows {
                    let from = flattened.map_or(k, |map| onnx_row(k, map));
                    for m in 0..outputs {
                        let at = if transposed {
                            m * rows + from
                        } else {
                            from * outputs + m
                        };
                        weights[k * outputs + m] = alpha * b.values[at];
                    }
                }
                let biases = match weight(2)? {
                    None => vec![0.0; outputs],
                    Some(c) => bias_of(c, outputs)
                        .ok_or_else(|| {
                            fail(format!("C has dimensions {:?}, not [{outputs}]", c.dims))
                        })?
                        .into_iter()
                        .map(|v| beta * v)
                        .collect(),
                };
                layers.push(
                    LayerSpec::Linear {
                        inputs: rows,
                        outputs,
                    },
                    Some(LayerWeights { weights, biases }),
                );
                if op == "MatMul" {
                    layers.open_bias = Some(layers.specs.len() - 1);
                }
                Value::Row {
                    features: outputs,
                    flattened: None,
                }
            }
            "Add" => {
                Attributes::of(index, node, &[], source)?;
                let (Some(layer), Value::Row { features, .. }) = (layers.open_bias, value) else {
                    return Err(fail(
                        "an Add is supported only as the bias of a MatMul".to_owned(),
                    ));
                };
                let bias = needed(1, "bias")?;
                let biases = bias_of(bias, features).ok_or_else(|| {
                    fail(format!(
                        "the bias has dimensions {:?}, not [{features}]",
                        bias.dims
                    ))
                })?;
                if let Some(Some(w)) = layers.weights.get_mut(layer) {
                    w.biases = biases;
                }
                layers.open_bias = None;
                value
            }
            "Conv" => convolution(index, node, value, &mut layers, &weight, source)?,
            "MaxPool" | "AveragePool" => pooling(index, node, value, &mut layers, source)?,
            "GlobalAveragePool" => {
                Attributes::of(index, node, &[], source)?;
                let (channels, height, width) = value
                    .image()
                    .ok_or_else(|| fail("it takes feature maps, not rows".to_owned()))?;
                if height != width {
                    return Err(fail(format!(
                        "feature maps of {height}×{width}: only square ones are supported"
                    )));
                }
                layers.push(
                    LayerSpec::AvgPool2d {
                        kernel: height,
                        stride: height,
                        padding: 0,
                    },
                    None,
                );
                Value::Image {
                    channels,
                    height: 1,
                    width: 1,
                }
            }
            "BatchNormalization" => {
                let attributes = Attributes::of(
                    index,
                    node,
                    &["epsilon", "momentum", "training_mode"],
                    source,
                )?;
                if attributes.int("training_mode", 0) != 0 {
                    return Err(fail("training_mode = 1 is not supported".to_owned()));
                }
                let (channels, flattened) = match value {
                    Value::Image { channels, .. } => (channels, None),
                    Value::Row {
                        features,
                        flattened,
                    } => (features, flattened),
                };
                // On rows flattened from feature maps, securenn's row k is ONNX's feature
                // `onnx_row(k)`: the parameters move with it.
                let part = |k: usize, what: &str| -> Result<Vec<f64>> {
                    let w = needed(k, what)?;
                    if w.values.len() != channels {
                        return Err(fail(format!(
                            "{what} has {} values, not {channels}",
                            w.values.len()
                        )));
                    }
                    Ok((0..channels)
                        .map(|k| w.values[flattened.map_or(k, |map| onnx_row(k, map))])
                        .collect())
                };
                let statistics = BatchNormStatistics {
                    gamma: part(1, "scale")?,
                    beta: part(2, "bias")?,
                    mean: part(3, "mean")?,
                    variance: part(4, "variance")?,
                    epsilon: f64::from(attributes.float("epsilon", 1e-5)),
                };
                let affine = statistics.affine().map_err(|e| fail(e.to_string()))?;
                layers.push(LayerSpec::BatchNorm { channels }, Some(affine));
                value
            }
            "Softmax" | "LogSoftmax" | "ArgMax" if position == last => {
                // The class is the largest score either way; securenn's output is the scores.
                let attributes = Attributes::of(
                    index,
                    node,
                    &["axis", "keepdims", "select_last_index"],
                    source,
                )?;
                let default = if op == "ArgMax" { 0 } else { -1 };
                if !matches!(attributes.int("axis", default), 1 | -1)
                    || !matches!(value, Value::Row { .. })
                {
                    return Err(fail(
                        "supported only over the classes (axis 1) of rows".to_owned(),
                    ));
                }
                value
            }
            "Softmax" | "LogSoftmax" | "ArgMax" => {
                return Err(fail("supported only as the graph's last node".to_owned()));
            }
            _ => {
                return Err(fail(format!(
                    "the operator is not supported; supported: {SUPPORTED}"
                )));
            }
        };
        current = node.output.first().cloned().unwrap_or_default();
    }
    if current != graph.output {
        return Err(source.error(format!(
            "the graph's output `{}` is not the end of its chain of nodes (`{current}`)",
            graph.output
        )));
    }
    if matches!(value, Value::Image { .. }) {
        return Err(source.error(
            "the model ends with feature maps; it must end with one score per class (a Gemm)",
        ));
    }
    Ok(layers)
}

/// A Flatten of `value`: a layer for feature maps (remembered for the next layer's rows),
/// nothing for rows.
fn flatten(layers: &mut Layers, value: Value) -> Value {
    match value {
        Value::Image {
            channels,
            height,
            width,
        } => {
            layers.push(LayerSpec::Flatten, None);
            Value::Row {
                features: channels * height * width,
                flattened: Some((channels, height, width)),
            }
        }
        row => row,
    }
}

/// The ONNX row (`c·H·W + y·W + x`, channel first) of securenn's flattened row `k`
/// (`(y·W + x)·C + c`, channel last), for feature maps of `(C, H, W)`.
fn onnx_row(k: usize, (channels, height, width): (usize, usize, usize)) -> usize {
    let (pixel, channel) = (k / channels, k % channels);
    channel * height * width + pixel
}

/// A bias of `n` values from a weight of dimensions `[n]`, `[1, n]` (one per output), or
/// `[]`, `[1]` (one for all); `None` for any other dimensions.
fn bias_of(bias: &Weights, n: usize) -> Option<Vec<f64>> {
    match *bias.dims.as_slice() {
        [m] | [1, m] if m == n => Some(bias.values.clone()),
        [] | [1] => Some(vec![bias.values[0]; n]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flattened_row_maps_to_its_channel_first_position() {
        // Two channels of 1×2: securenn's rows are (x0 c0, x0 c1, x1 c0, x1 c1), ONNX's
        // (c0 x0, c0 x1, c1 x0, c1 x1).
        let map = (2, 1, 2);
        let rows: Vec<usize> = (0..4).map(|k| onnx_row(k, map)).collect();
        assert_eq!(rows, [0, 2, 1, 3]);
    }
}
