//! Reading an ONNX model: its protobuf, decoded within the bounds of the file's own size,
//! into one chain of nodes, the weights they name, and the graph's input and output.

use std::collections::HashMap;

use prost::Message;

use super::proto::{self, AttributeProto, NodeProto, TensorProto};
use crate::error::{Error, Result};

/// The opsets of the default domain that the importer reads.
pub(super) const OPSETS: core::ops::RangeInclusive<i64> = 11..=21;

/// Values in the weights of a model at most: 2^28 (a gibibyte of `f32`), twice VGG16's.
const MAX_TENSOR_VALUES: usize = 1 << 28;

/// Where a problem is: the model file, for every error it gives.
#[derive(Debug, Clone, Copy)]
pub(super) struct Source<'a>(pub(super) &'a str);

impl Source<'_> {
    /// The import error `problem` for this file.
    pub(super) fn error(self, problem: impl Into<String>) -> Error {
        Error::Import {
            source_name: self.0.to_owned(),
            problem: problem.into(),
        }
    }

    /// The import error `problem` at node `index` (from 0) of the graph.
    pub(super) fn at(self, index: usize, node: &NodeProto, problem: impl AsRef<str>) -> Error {
        let name = node
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or("unnamed");
        self.error(format!(
            "node {} `{name}` ({}): {}",
            index + 1,
            node.op_type.as_deref().unwrap_or("no operator"),
            problem.as_ref()
        ))
    }
}

/// A weight tensor: its dimensions and its values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Weights {
    pub(super) dims: Vec<usize>,
    pub(super) values: Vec<f64>,
}

/// The graph as the importer needs it.
#[derive(Debug)]
pub(super) struct Graph {
    /// The graph's name, if it has one.
    pub(super) name: Option<String>,
    /// The name of the one input that is not a weight.
    pub(super) input: String,
    /// Its dimensions, `None` where the file leaves one open (a batch size, say).
    pub(super) input_dims: Vec<Option<usize>>,
    /// The name of the graph's one output.
    pub(super) output: String,
    /// The nodes, in the file's order, each with its position in the file (from 0), without
    /// the `Constant`s (whose values are weights).
    pub(super) nodes: Vec<(usize, NodeProto)>,
    /// Every weight by name: the initializers and the `Constant` nodes' values.
    pub(super) weights: HashMap<String, Weights>,
}

/// Decodes `bytes` as an ONNX model and checks its opset, its one input and one output.
pub(super) fn read(bytes: &[u8], source: Source<'_>) -> Result<Graph> {
    let model = proto::ModelProto::decode(bytes)
        .map_err(|e| source.error(format!("not an ONNX model: {e}")))?;
    let opset = model
        .opset_import
        .iter()
        .find(|o| matches!(o.domain.as_deref(), None | Some("" | "ai.onnx")))
        .and_then(|o| o.version)
        .ok_or_else(|| source.error("the model names no opset of the default ONNX domain"))?;
    if !OPSETS.contains(&opset) {
        return Err(source.error(format!(
            "opset {opset} is not supported (opsets {} to {} are)",
            OPSETS.start(),
            OPSETS.end()
        )));
    }
    let graph = model
        .graph
        .ok_or_else(|| source.error("the model holds no graph"))?;
    let mut weights = HashMap::new();
    let mut total = 0usize;
    let mut keep = |name: String, tensor: Weights| -> Result<()> {
        total = total.saturating_add(tensor.values.len());
        if total > MAX_TENSOR_VALUES {
            return Err(source.error("the weights hold more than 2^28 values in all"));
        }
        if weights.insert(name.clone(), tensor).is_some() {
            return Err(source.error(format!("two weights are named `{name}`")));
        }
        Ok(())
    };
    for tensor in &graph.initializer {
        let name = tensor.name.clone().unwrap_or_default();
        keep(name.clone(), weights_of(tensor, &name, source)?)?;
    }
    let mut nodes = Vec::with_capacity(graph.node.len());
    for (index, node) in graph.node.into_iter().enumerate() {
        if node.op_type.as_deref() == Some("Constant") {
            let value = constant_value(&node)
                .ok_or_else(|| source.at(index, &node, "a Constant without a tensor `value`"))?;
            let name = node.output.first().cloned().unwrap_or_default();
            keep(name.clone(), weights_of(value, &name, source)?)?;
        } else {
            nodes.push((index, node));
        }
    }
    let inputs: Vec<&proto::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !weights.contains_key(i.name.as_deref().unwrap_or_default()))
        .collect();
    let [input] = inputs.as_slice() else {
        return Err(source.error(format!(
            "the graph has {} inputs besides its weights; securenn imports a graph of one",
            inputs.len()
        )));
    };
    let [output] = graph.output.as_slice() else {
        return Err(source.error(format!(
            "the graph has {} outputs; securenn imports a graph of one",
            graph.output.len()
        )));
    };
    Ok(Graph {
        name: graph.name.filter(|n| !n.is_empty()),
        input: input.name.clone().unwrap_or_default(),
        input_dims: dims_of(input),
        output: output.name.clone().unwrap_or_default(),
        nodes,
        weights,
    })
}

/// The tensor of a `Constant` node's `value` attribute.
fn constant_value(node: &NodeProto) -> Option<&TensorProto> {
    node.attribute
        .iter()
        .find(|a| a.name.as_deref() == Some("value"))
        .and_then(|a| a.t.as_ref())
}

/// The dimensions of a graph input, `None` for one without a fixed value.
fn dims_of(input: &proto::ValueInfoProto) -> Vec<Option<usize>> {
    use proto::tensor_shape_proto::dimension::Value;
    use proto::type_proto::Value as Type;
    let Some(Type::TensorType(tensor)) = input.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Vec::new();
    };
    tensor.shape.as_ref().map_or_else(Vec::new, |shape| {
        shape
            .dim
            .iter()
            .map(|d| match d.value {
                Some(Value::DimValue(v)) => usize::try_from(v).ok().filter(|&v| v > 0),
                _ => None,
            })
            .collect()
    })
}

/// A weight tensor's values as `f64`: float, double, 32- or 64-bit integers, in the typed
/// fields or as raw little-endian bytes, of exactly as many values as its dimensions say.
fn weights_of(tensor: &TensorProto, name: &str, source: Source<'_>) -> Result<Weights> {
    let bad = |problem: String| source.error(format!("weight tensor `{name}`: {problem}"));
    if tensor.data_location == Some(proto::tensor_proto::DataLocation::External as i32) {
        return Err(bad(
            "its values are in an external file; save the model with \
             `onnx.save(model, path, save_as_external_data=False)`"
                .to_owned(),
        ));
    }
    let dims = tensor
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| bad(format!("a negative dimension {d}"))))
        .collect::<Result<Vec<_>>>()?;
    if dims.contains(&0) {
        return Err(bad(format!("an empty dimension in {dims:?}")));
    }
    let len = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_TENSOR_VALUES)
        .ok_or_else(|| bad(format!("dimensions {dims:?} hold more than 2^28 values")))?;
    let raw = tensor.raw_data.as_deref().unwrap_or_default();
    use proto::tensor_proto::DataType;
    let data_type = tensor.data_type.unwrap_or_default();
    let values: Vec<f64> = match DataType::try_from(data_type) {
        Ok(DataType::Float) if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .collect(),
        Ok(DataType::Float) => tensor.float_data.iter().map(|&v| f64::from(v)).collect(),
        Ok(DataType::Double) if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap_or_default()))
            .collect(),
        Ok(DataType::Double) => tensor.double_data.clone(),
        Ok(DataType::Int64) if !raw.is_empty() => raw
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap_or_default()) as f64)
            .collect(),
        Ok(DataType::Int64) => tensor.int64_data.iter().map(|&v| v as f64).collect(),
        Ok(DataType::Int32) if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|b| f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .collect(),
        Ok(DataType::Int32) => tensor.int32_data.iter().map(|&v| f64::from(v)).collect(),
        _ => {
            return Err(bad(format!(
                "element type {data_type} is not supported (float, double, int32 and int64 are)"
            )));
        }
    };
    let whole_raw = raw.is_empty() || raw.len().is_multiple_of(element_size(data_type));
    if values.len() != len || !whole_raw {
        return Err(bad(format!(
            "{} values for dimensions {dims:?}, which hold {len}",
            values.len()
        )));
    }
    if values.iter().any(|v| !v.is_finite()) {
        return Err(bad("a value that is not a finite number".to_owned()));
    }
    Ok(Weights { dims, values })
}

/// The bytes of one element of an ONNX element type the importer reads.
fn element_size(data_type: i32) -> usize {
    use proto::tensor_proto::DataType;
    match DataType::try_from(data_type) {
        Ok(DataType::Double | DataType::Int64) => 8,
        _ => 4,
    }
}

/// A node's attributes by name, refusing any that `known` does not list.
pub(super) struct Attributes<'a> {
    by_name: HashMap<&'a str, &'a AttributeProto>,
}

impl<'a> Attributes<'a> {
    /// The attributes of node `index`, each of which must be one of `known`.
    pub(super) fn of(
        index: usize,
        node: &'a NodeProto,
        known: &[&str],
        source: Source<'_>,
    ) -> Result<Self> {
        let mut by_name = HashMap::new();
        for attribute in &node.attribute {
            let name = attribute.name.as_deref().unwrap_or_default();
            if !known.contains(&name) {
                return Err(source.at(
                    index,
                    node,
                    format!(
                        "attribute `{name}` is not supported (this operator takes {})",
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
            by_name.insert(name, attribute);
        }
        Ok(Attributes { by_name })
    }

    /// An integer attribute, or `default`.
    pub(super) fn int(&self, name: &str, default: i64) -> i64 {
        self.by_name.get(name).and_then(|a| a.i).unwrap_or(default)
    }

    /// A float attribute, or `default`.
    pub(super) fn float(&self, name: &str, default: f32) -> f32 {
        self.by_name.get(name).and_then(|a| a.f).unwrap_or(default)
    }

    /// A list-of-integers attribute, if present.
    pub(super) fn ints(&self, name: &str) -> Option<&'a [i64]> {
        self.by_name.get(name).map(|a| a.ints.as_slice())
    }

    /// A string attribute, if present.
    pub(super) fn string(&self, name: &str) -> Option<&'a [u8]> {
        self.by_name.get(name).and_then(|a| a.s.as_deref())
    }
}
