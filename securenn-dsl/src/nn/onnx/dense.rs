//! The dense ONNX operators: Gemm (`Y = α·op(A)·op(B) + β·C`, `op` a transpose where
//! `transA`/`transB` say), MatMul, and the Add that gives a MatMul its bias, as securenn's
//! `linear` layer (`x·W + b`, `W` as `inputs × outputs`).
//!
//! The values may be either operand. With the rows as `A` (how PyTorch and tf2onnx write a
//! dense layer), `op(A)` must be one row per example: `transA = 1` then takes the rows
//! transposed (after a Transpose). With the rows as `B` and the weights as `A`
//! (`W·xᵀ`), `op(B)` must be one column per example, and the result is one column per
//! example: a layer whose output is transposed, which a later Transpose, or a Gemm with
//! `transA = 1`, turns back.

use super::convert::Layers;
use super::graph::{Attributes, Source, Weights};
use super::proto::NodeProto;
use super::value::{Flattened, Value, onnx_row};
use crate::error::Result;
use crate::nn::config::LayerWeights;
use crate::nn::spec::LayerSpec;

/// Where `op(weight)[k][m]` is among the weight's values, given `(k, m, inputs, outputs)`.
type Position = fn(usize, usize, usize, usize) -> usize;

/// A Gemm or MatMul node whose input `activation` (0 for `A`, 1 for `B`) is `value`, the
/// other a weight: a linear layer.
#[allow(
    clippy::too_many_arguments,
    reason = "the node, where its values are, and what it builds into"
)]
pub(super) fn gemm<'g>(
    index: usize,
    node: &NodeProto,
    activation: usize,
    value: Value,
    layers: &mut Layers,
    weight: &dyn Fn(usize) -> Result<Option<&'g Weights>>,
    source: Source<'_>,
) -> Result<Value> {
    let fail = |problem: String| source.at(index, node, problem);
    let gemm = node.op_type.as_deref() == Some("Gemm");
    let (alpha, beta, trans_a, trans_b) = if gemm {
        let attributes =
            Attributes::of(index, node, &["alpha", "beta", "transA", "transB"], source)?;
        (
            f64::from(attributes.float("alpha", 1.0)),
            f64::from(attributes.float("beta", 1.0)),
            attributes.int("transA", 0) != 0,
            attributes.int("transB", 0) != 0,
        )
    } else {
        Attributes::of(index, node, &[], source)?;
        (1.0, 1.0, false, false)
    };
    let Value::Row {
        features,
        flattened,
        columns,
    } = value
    else {
        return Err(fail(
            "it takes images; insert a Flatten before it".to_owned(),
        ));
    };
    // Whether op(values) is one row per example (values as A) or one column per example
    // (values as B): each operand's transpose flag flips what it reads.
    let (transposed, wanted, other, weight_transposed) = match activation {
        0 => (trans_a, false, 1, trans_b),
        _ => (trans_b, true, 0, trans_a),
    };
    if columns != (transposed != wanted) {
        let operand = if activation == 0 { "A" } else { "B" };
        let flag = if activation == 0 { "transA" } else { "transB" };
        let layout = if columns {
            "one column per example (after a Transpose)"
        } else {
            "one row per example"
        };
        if !gemm {
            return Err(fail(format!(
                "the values are {operand} and hold {layout}: securenn supports a MatMul of \
                 rows by weights, or of weights by columns"
            )));
        }
        return Err(fail(format!(
            "{operand} holds {layout}, so with {flag} = {} op({operand}) would mix the \
             examples",
            u8::from(transposed)
        )));
    }
    let w = weight(other)?.ok_or_else(|| fail("it has no weight matrix".to_owned()))?;
    // op(weight) as `inputs × outputs` (values as A) or `outputs × inputs` (values as B).
    let (inputs, outputs, at): (usize, usize, Position) =
        match (w.dims.as_slice(), activation == 0, weight_transposed) {
            // B as K×M, or Bᵀ given as M×K.
            (&[k, m], true, false) => (k, m, |k, m, _, outputs| k * outputs + m),
            (&[m, k], true, true) => (k, m, |k, m, inputs, _| m * inputs + k),
            // A as M×K, or Aᵀ given as K×M.
            (&[m, k], false, false) => (k, m, |k, m, inputs, _| m * inputs + k),
            (&[k, m], false, true) => (k, m, |k, m, _, outputs| k * outputs + m),
            _ => {
                return Err(fail(format!(
                    "the weight matrix has dimensions {:?}, not 2",
                    w.dims
                )));
            }
        };
    if inputs != features {
        return Err(fail(format!(
            "the weight matrix takes {inputs} values per example, but {features} come in"
        )));
    }
    layers.budget(inputs * outputs).map_err(fail)?;
    let mut weights = vec![0.0; inputs * outputs];
    for k in 0..inputs {
        let from = flattened.map_or(k, |f: Flattened| onnx_row(k, f));
        for m in 0..outputs {
            weights[k * outputs + m] = alpha * w.values[at(from, m, inputs, outputs)];
        }
    }
    let out_columns = activation != 0;
    if !alpha.is_finite() || !beta.is_finite() {
        return Err(fail(format!(
            "alpha {alpha} and beta {beta} must be finite numbers"
        )));
    }
    let biases = match weight(2)? {
        None => vec![0.0; outputs],
        Some(c) => bias_of(c, outputs, out_columns)
            .ok_or_else(|| {
                fail(format!(
                    "C has dimensions {:?}, not {}",
                    c.dims,
                    bias_dims(outputs, out_columns)
                ))
            })?
            .into_iter()
            .map(|v| beta * v)
            .collect(),
    };
    if weights.iter().chain(&biases).any(|v| !v.is_finite()) {
        return Err(fail(
            "alpha or beta times the weights is not a finite number".to_owned(),
        ));
    }
    layers.push(
        LayerSpec::Linear { inputs, outputs },
        Some(LayerWeights { weights, biases }),
    );
    if !gemm {
        layers.open_bias = Some(layers.specs.len() - 1);
    }
    Ok(Value::Row {
        features: outputs,
        flattened: None,
        columns: out_columns,
    })
}

/// An Add of a weight to `value`, the output of a MatMul: that layer's bias.
pub(super) fn add_bias<'g>(
    index: usize,
    node: &NodeProto,
    activation: usize,
    value: Value,
    layers: &mut Layers,
    weight: &dyn Fn(usize) -> Result<Option<&'g Weights>>,
    source: Source<'_>,
) -> Result<Value> {
    let fail = |problem: String| source.at(index, node, problem);
    Attributes::of(index, node, &[], source)?;
    let (
        Some(layer),
        Value::Row {
            features, columns, ..
        },
    ) = (layers.open_bias, value)
    else {
        return Err(fail(
            "an Add is supported only as the bias of a MatMul".to_owned(),
        ));
    };
    let bias = weight(1 - activation.min(1))?.ok_or_else(|| fail("it has no bias".to_owned()))?;
    let biases = bias_of(bias, features, columns).ok_or_else(|| {
        fail(format!(
            "the bias has dimensions {:?}, not {}",
            bias.dims,
            bias_dims(features, columns)
        ))
    })?;
    if let Some(Some(w)) = layers.weights.get_mut(layer) {
        for (b, add) in w.biases.iter_mut().zip(biases) {
            *b += add;
        }
    }
    layers.open_bias = None;
    Ok(value)
}

/// A bias of `n` values from a weight of dimensions `[n]` or `[1, n]` for rows, `[n, 1]`
/// for columns (one per output), or `[]`, `[1]`, `[1, 1]` (one for all); `None` for any
/// other dimensions.
fn bias_of(bias: &Weights, n: usize, columns: bool) -> Option<Vec<f64>> {
    match (bias.dims.as_slice(), columns) {
        ([m] | [1, m], false) | ([m, 1], true) if *m == n => Some(bias.values.clone()),
        ([] | [1] | [1, 1], _) => Some(vec![bias.values[0]; n]),
        _ => None,
    }
}

/// The dimensions a bias of `n` may have, for an error.
fn bias_dims(n: usize, columns: bool) -> String {
    if columns {
        format!("[{n}, 1] (one per output, for one column per example)")
    } else {
        format!("[{n}] or [1, {n}]")
    }
}
