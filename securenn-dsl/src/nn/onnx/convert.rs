//! From ONNX nodes to securenn layers: each supported operator becomes a layer (or folds
//! into one, or only changes what the importer knows of ONNX's layout), and its weights
//! move from ONNX's layouts (NCHW values, OIHW kernels, `B` of a Gemm as `K×M` or `M×K`) to
//! securenn's (NHWC values, kernels as `(ky, kx, channel) × out`, weights as
//! `inputs × outputs`).
//!
//! The one subtle move: a Flatten of NCHW feature maps orders its values channel first,
//! securenn's Flatten of NHWC ones channel last, so the rows of the first fully connected
//! layer after it are permuted to match (and for any other order of axes a Transpose left,
//! by that order). Without that, a model runs and predicts garbage.

use super::dense::{add_bias, gemm};
use super::graph::{Attributes, Graph, Source, Weights};
use super::shapes::{Side, flattens};
use super::value::{Flattened, NCHW, NHWC, Order, Value, layout_name, onnx_row};
use super::windows::{convolution, pooling};
use crate::error::Result;
use crate::nn::config::LayerWeights;
use crate::nn::layers::batch_norm::BatchNormStatistics;
use crate::nn::spec::{LayerSpec, ValueShape};

/// The operators the importer reads, as its errors list them.
pub(super) const SUPPORTED: &str = "Gemm, MatMul (with an Add of its bias), Conv, Relu, \
     MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape (to rows), Transpose (of \
     the layout), BatchNormalization, Identity, Dropout, a last Softmax, LogSoftmax or \
     ArgMax, and Shape, Gather, Unsqueeze, Squeeze, Concat, Cast and Mul on shapes";

/// The most values per example that flow between two layers: 2^30.
pub(super) const MAX_VALUES: usize = 1 << 30;

/// The layers and their weights, built node by node.
#[derive(Debug, Default)]
pub(super) struct Layers {
    pub(super) specs: Vec<LayerSpec>,
    pub(super) weights: Vec<Option<LayerWeights>>,
    /// The index of a MatMul's layer whose bias an Add may still give.
    pub(super) open_bias: Option<usize>,
    /// Weight values made so far, against [`MAX_LAYER_VALUES`]: a file that names one
    /// weight in many nodes must not make a copy per node without bound.
    values: usize,
}

/// The most weight values the layers of one model may hold: 2^28.
const MAX_LAYER_VALUES: usize = 1 << 28;

impl Layers {
    /// Counts `values` more weight values.
    ///
    /// # Errors
    ///
    /// What to say if that is more than the layers may hold.
    pub(super) fn budget(&mut self, values: usize) -> core::result::Result<(), String> {
        self.values = self.values.saturating_add(values);
        if self.values <= MAX_LAYER_VALUES {
            Ok(())
        } else {
            Err("the layers' weights hold more than 2^28 values".to_owned())
        }
    }

    pub(super) fn push(&mut self, spec: LayerSpec, weights: Option<LayerWeights>) {
        self.specs.push(spec);
        self.weights.push(weights);
        self.open_bias = None;
    }
}

/// The order of the axes after the batch of the graph's input, as its file lays them out:
/// NCHW, unless the first node that takes it is a Transpose by `[0, 3, 1, 2]` (NHWC into
/// NCHW: a Keras model's input, as tf2onnx writes it). Any other Transpose there is read
/// as moving NCHW axes.
fn input_order(graph: &Graph) -> Order {
    graph
        .nodes
        .iter()
        .find(|(_, n)| {
            n.input.first() == Some(&graph.input) && n.op_type.as_deref() != Some("Shape")
        })
        .filter(|(_, n)| n.op_type.as_deref() == Some("Transpose"))
        .and_then(|(_, n)| {
            n.attribute
                .iter()
                .find(|a| a.name.as_deref() == Some("perm"))
        })
        .filter(|perm| perm.ints == [0, 3, 1, 2])
        .map(|_| NHWC)
        .unwrap_or(NCHW)
}

/// The securenn input shape of the graph, and the value it is in ONNX's terms: from the
/// file's dimensions (`[N, C, H, W]` in the order of [`input_order`], or `[N, F]`, the
/// batch `N` left open or not), or `input_shape` (the same without the batch) where the
/// file leaves a dimension open.
pub(super) fn input_shape(
    graph: &Graph,
    given: Option<&[usize]>,
    source: Source<'_>,
) -> Result<(ValueShape, Value)> {
    let from_file: Option<Vec<usize>> = graph
        .input_dims
        .get(1..)
        .and_then(|rest| rest.iter().copied().collect());
    let order = input_order(graph);
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
            let layout = if order == NCHW { "C,H,W" } else { "H,W,C" };
            return Err(source.error(format!(
                "the input `{}` has dimensions [{}], which the file leaves open: give them \
                 without the batch ({layout} or F; `--input-shape` on the command line)",
                graph.input,
                shown.join(", ")
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
    match *dims.as_slice() {
        [a, b, c] => {
            let size = |axis| {
                order
                    .iter()
                    .zip([a, b, c])
                    .find_map(|(x, d)| (*x == axis).then_some(d))
                    .unwrap_or_default()
            };
            use super::value::Axis;
            let (channels, height, width) =
                (size(Axis::Channel), size(Axis::Height), size(Axis::Width));
            Ok((
                ValueShape::Image {
                    height,
                    width,
                    channels,
                },
                Value::Image {
                    channels,
                    height,
                    width,
                    order,
                },
            ))
        }
        [features] => Ok((ValueShape::Row(features), Value::rows(features))),
        _ => Err(source.error(format!(
            "the input has dimensions {dims:?} after the batch; securenn imports images \
             (C, H, W, or H, W, C where the model transposes them into C, H, W) or rows (F)"
        ))),
    }
}

/// The layers of `graph`'s nodes, from its input `value` (from [`input_shape`]).
pub(super) fn layers(graph: &Graph, mut value: Value, source: Source<'_>) -> Result<Layers> {
    let mut current = graph.input.clone();
    let mut layers = Layers::default();
    let mut side = Side::default();
    let file_batch = graph.input_dims.first().copied().flatten();
    for (index, node) in &graph.nodes {
        let index = *index;
        let fail = |problem: String| source.at(index, node, problem);
        if !matches!(node.domain.as_deref(), None | Some("" | "ai.onnx")) {
            return Err(fail(format!(
                "its domain is not ONNX's; supported: {SUPPORTED}"
            )));
        }
        if side.takes(node, &current, &graph.weights) {
            side.run(index, node, value, &graph.weights, &mut layers, source)?;
            continue;
        }
        let op = node.op_type.as_deref().unwrap_or_default();
        // The values are the first input, or either operand of a product or a sum.
        let operands = if matches!(op, "Gemm" | "MatMul" | "Add") {
            2
        } else {
            1
        };
        let Some(activation) = node.input.iter().take(operands).position(|i| *i == current) else {
            let first = node.input.first().map(String::as_str).unwrap_or_default();
            return Err(fail(format!(
                "takes `{first}`, not `{current}` (the output of the node before it): \
                 securenn imports a chain of layers"
            )));
        };
        let weight = |k: usize| -> Result<Option<&Weights>> {
            match node.input.get(k).map(String::as_str) {
                None | Some("") => Ok(None),
                Some(name) => graph
                    .weights
                    .get(name)
                    .or_else(|| side.weight(name))
                    .map(Some)
                    .ok_or_else(|| {
                        fail(format!("input `{name}` is not a weight (an initializer)"))
                    }),
            }
        };
        // Dropout's optional second output, its mask, is never used in inference.
        if node.output.len() != 1 && !(op == "Dropout" && node.output.len() == 2) {
            return Err(fail(format!(
                "it has {} outputs; securenn imports nodes of one (a BatchNormalization with \
                 its training outputs, say, is not an inference model)",
                node.output.len()
            )));
        }
        let takes_nchw = |value: Value| -> Result<()> {
            match value {
                Value::Image { order, .. } if order != NCHW => Err(fail(format!(
                    "it takes NCHW feature maps, and these are laid out as {}: securenn \
                     supports a Transpose that brings them into NCHW first",
                    layout_name(order)
                ))),
                _ => Ok(()),
            }
        };
        let last = node.output.first() == Some(&graph.output);
        value = match op {
            "Identity" => value,
            "Dropout" => {
                Attributes::of(index, node, &["ratio", "seed", "training_mode"], source)?;
                value
            }
            "Relu" => {
                Attributes::of(index, node, &[], source)?;
                layers.push(LayerSpec::Relu, None);
                value
            }
            "Transpose" => {
                let perm = Attributes::of(index, node, &["perm"], source)?.ints("perm");
                let reversed: Vec<i64>;
                let perm = match perm {
                    Some(perm) => perm,
                    None => {
                        reversed = (0..value.onnx_dims().len() as i64).rev().collect();
                        &reversed
                    }
                };
                value.transpose(perm).map_err(fail)?
            }
            "Flatten" => {
                let attributes = Attributes::of(index, node, &["axis"], source)?;
                if attributes.int("axis", 1) != 1 {
                    return Err(fail("only axis 1 is supported".to_owned()));
                }
                flatten(&mut layers, value)
            }
            "Reshape" => {
                let allow_zero =
                    Attributes::of(index, node, &["allowzero"], source)?.int("allowzero", 0) != 0;
                let target = node
                    .input
                    .get(1)
                    .and_then(|name| side.shape(name, &graph.weights))
                    .ok_or_else(|| fail("its target shape is not known".to_owned()))?;
                if !flattens(&target.dims, value, file_batch, allow_zero) {
                    return Err(fail(format!(
                        "a Reshape to {:?} is not a flatten to rows of {} (one per example); \
                         only that is supported",
                        target.dims,
                        value.len()
                    )));
                }
                flatten(&mut layers, value)
            }
            "Gemm" | "MatMul" => {
                gemm(index, node, activation, value, &mut layers, &weight, source)?
            }
            "Add" => add_bias(index, node, activation, value, &mut layers, &weight, source)?,
            "Conv" => {
                takes_nchw(value)?;
                convolution(index, node, value, &mut layers, &weight, source)?
            }
            "MaxPool" | "AveragePool" => {
                takes_nchw(value)?;
                pooling(index, node, value, &mut layers, source)?
            }
            "GlobalAveragePool" => {
                Attributes::of(index, node, &[], source)?;
                takes_nchw(value)?;
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
                    order: NCHW,
                }
            }
            "BatchNormalization" => {
                batch_norm(index, node, value, &mut layers, &weight, source)?;
                value
            }
            "Softmax" | "LogSoftmax" | "ArgMax" if last => {
                // The class is the largest score either way; securenn's output is the scores.
                let attributes = Attributes::of(
                    index,
                    node,
                    &["axis", "keepdims", "select_last_index"],
                    source,
                )?;
                let default = if op == "ArgMax" { 0 } else { -1 };
                let axis = attributes.int("axis", default);
                let over_classes = match value {
                    Value::Row { columns: false, .. } => matches!(axis, 1 | -1),
                    Value::Row { columns: true, .. } => matches!(axis, 0 | -2),
                    Value::Image { .. } => false,
                };
                if !over_classes {
                    return Err(fail(
                        "supported only over the classes of rows (axis 1, or 0 after a \
                         Transpose)"
                            .to_owned(),
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

/// A BatchNormalization node on `value`: a per-channel affine layer (folded later into a
/// Conv or Gemm before it).
fn batch_norm<'g>(
    index: usize,
    node: &super::proto::NodeProto,
    value: Value,
    layers: &mut Layers,
    weight: &dyn Fn(usize) -> Result<Option<&'g Weights>>,
    source: Source<'_>,
) -> Result<()> {
    let fail = |problem: String| source.at(index, node, problem);
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
        Value::Image {
            channels, order, ..
        } if order[0] == super::value::Axis::Channel => (channels, None),
        Value::Row {
            features,
            flattened,
            columns: false,
        } => (features, flattened),
        _ => {
            return Err(fail(
                "it normalises axis 1, which here is not the channels or features".to_owned(),
            ));
        }
    };
    // On rows flattened from feature maps, securenn's row k is ONNX's feature
    // `onnx_row(k)`: the parameters move with it.
    let part = |k: usize, what: &str| -> Result<Vec<f64>> {
        let w = weight(k)?.ok_or_else(|| fail(format!("it has no {what}")))?;
        if w.values.len() != channels {
            return Err(fail(format!(
                "{what} has {} values, not {channels}",
                w.values.len()
            )));
        }
        Ok((0..channels)
            .map(|k| w.values[flattened.map_or(k, |f: Flattened| onnx_row(k, f))])
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
    Ok(())
}

/// A Flatten of `value`: a layer for feature maps (remembered, with ONNX's order of their
/// axes, for the next layer's rows), nothing for rows.
fn flatten(layers: &mut Layers, value: Value) -> Value {
    match value {
        Value::Image {
            channels,
            height,
            width,
            order,
        } => {
            layers.push(LayerSpec::Flatten, None);
            Value::Row {
                features: channels * height * width,
                flattened: Some(Flattened {
                    maps: (channels, height, width),
                    order,
                }),
                columns: false,
            }
        }
        row => row,
    }
}
