//! The small computations beside the chain of layers that exporters leave in a graph: on
//! shapes, as PyTorch writes `x.view(x.size(0), -1)` (Shape, Gather, Unsqueeze, Concat,
//! then the Reshape), and on weights, as a Transpose of an initializer. The importer runs
//! them itself, on what it knows of the values' shapes, the batch left symbolic: they
//! become no layer.
//!
//! Every result is bounded: a shape holds at most [`MAX_SHAPE_LEN`] entries, and a weight
//! computed here counts against the layers' weights.

use std::collections::HashMap;

use super::convert::Layers;
use super::graph::{Attributes, Source, Weights};
use super::proto::NodeProto;
use super::value::Value;
use crate::error::Result;

/// The most entries a shape computed here may hold.
const MAX_SHAPE_LEN: usize = 16;

/// The operators that may compute on shapes (or weights) rather than on the values.
const SHAPE_OPERATORS: [&str; 8] = [
    "Shape",
    "Gather",
    "Unsqueeze",
    "Squeeze",
    "Concat",
    "Cast",
    "Mul",
    "Transpose",
];

/// One entry of a shape: the batch (not known when importing), or a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dim {
    /// The batch size.
    Batch,
    /// A known number (`-1` and `0` as a Reshape reads them).
    Fixed(i64),
}

/// A shape as a value of the graph: a list of entries, or one (a scalar).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ShapeValue {
    pub(super) dims: Vec<Dim>,
    scalar: bool,
}

/// What the importer computed beside the chain: shapes, and weights made from weights.
#[derive(Debug, Default)]
pub(super) struct Side {
    shapes: HashMap<String, ShapeValue>,
    weights: HashMap<String, Weights>,
}

impl Side {
    /// A weight computed here.
    pub(super) fn weight(&self, name: &str) -> Option<&Weights> {
        self.weights.get(name)
    }

    /// A shape computed here, or a weight of whole numbers read as one.
    pub(super) fn shape(
        &self,
        name: &str,
        weights: &HashMap<String, Weights>,
    ) -> Option<ShapeValue> {
        if let Some(shape) = self.shapes.get(name) {
            return Some(shape.clone());
        }
        let w = weights.get(name).or_else(|| self.weights.get(name))?;
        if w.values.len() > MAX_SHAPE_LEN || w.dims.len() > 1 {
            return None;
        }
        let dims = w
            .values
            .iter()
            .map(|&v| whole(v).map(Dim::Fixed))
            .collect::<Option<Vec<_>>>()?;
        Some(ShapeValue {
            scalar: w.dims.is_empty(),
            dims,
        })
    }

    /// Whether node `node` computes on shapes or weights only: a Shape of the `current`
    /// value, or one of [`SHAPE_OPERATORS`] whose inputs are all shapes or weights.
    pub(super) fn takes(
        &self,
        node: &NodeProto,
        current: &str,
        weights: &HashMap<String, Weights>,
    ) -> bool {
        let op = node.op_type.as_deref().unwrap_or_default();
        if !SHAPE_OPERATORS.contains(&op) || node.input.is_empty() {
            return false;
        }
        if op == "Shape" {
            return node.input[0] == current;
        }
        node.input.iter().filter(|i| !i.is_empty()).all(|i| {
            self.shapes.contains_key(i) || weights.contains_key(i) || self.weights.contains_key(i)
        })
    }

    /// Runs node `index` (one that [`Side::takes`]): `value` is the chain's current value.
    pub(super) fn run(
        &mut self,
        index: usize,
        node: &NodeProto,
        value: Value,
        weights: &HashMap<String, Weights>,
        layers: &mut Layers,
        source: Source<'_>,
    ) -> Result<()> {
        let fail = |problem: String| source.at(index, node, problem);
        let op = node.op_type.as_deref().unwrap_or_default();
        let output = node
            .output
            .first()
            .filter(|_| node.output.len() == 1)
            .ok_or_else(|| fail("it must have one output".to_owned()))?
            .clone();
        let input = |k: usize| -> Result<ShapeValue> {
            node.input
                .get(k)
                .and_then(|name| self.shape(name, weights))
                .ok_or_else(|| fail(format!("input {} is not a shape of whole numbers", k + 1)))
        };
        let shape = match op {
            "Transpose" => {
                let perm = Attributes::of(index, node, &["perm"], source)?.ints("perm");
                let name = &node.input[0];
                let w = weights
                    .get(name)
                    .or_else(|| self.weights.get(name))
                    .ok_or_else(|| fail(format!("`{name}` is not a weight")))?;
                layers.budget(w.values.len()).map_err(fail)?;
                let transposed = transpose(w, perm).map_err(fail)?;
                self.weights.insert(output, transposed);
                return Ok(());
            }
            "Shape" => {
                let attributes = Attributes::of(index, node, &["start", "end"], source)?;
                let dims: Vec<Dim> = value
                    .onnx_dims()
                    .into_iter()
                    .map(|d| d.map_or(Dim::Batch, |d| Dim::Fixed(d as i64)))
                    .collect();
                let rank = dims.len() as i64;
                let clamp = |at: i64| {
                    let at = (if at < 0 { at + rank } else { at }).clamp(0, rank);
                    usize::try_from(at).unwrap_or_default()
                };
                let (start, end) = (
                    clamp(attributes.int("start", 0)),
                    clamp(attributes.int("end", rank)),
                );
                ShapeValue {
                    dims: dims.get(start..end.max(start)).unwrap_or_default().to_vec(),
                    scalar: false,
                }
            }
            "Gather" => {
                let axis = Attributes::of(index, node, &["axis"], source)?.int("axis", 0);
                let (data, indices) = (input(0)?, input(1)?);
                if axis != 0 || data.scalar {
                    return Err(fail(
                        "only a Gather from a shape (axis 0) is supported".to_owned(),
                    ));
                }
                let len = data.dims.len() as i64;
                let dims = indices
                    .dims
                    .iter()
                    .map(|&i| match i {
                        Dim::Fixed(i) if (-len..len).contains(&i) => {
                            let at = usize::try_from(if i < 0 { i + len } else { i });
                            Ok(data.dims[at.unwrap_or_default()])
                        }
                        _ => Err(fail(format!("index {i:?} is outside the shape's {len}"))),
                    })
                    .collect::<Result<Vec<_>>>()?;
                ShapeValue {
                    dims,
                    scalar: indices.scalar,
                }
            }
            "Unsqueeze" | "Squeeze" => {
                let attributes = Attributes::of(index, node, &["axes"], source)?;
                let axes = match attributes.ints("axes") {
                    Some(axes) => axes.to_vec(),
                    None if node.input.len() > 1 => input(1)?
                        .dims
                        .iter()
                        .map(|d| match d {
                            Dim::Fixed(v) => *v,
                            Dim::Batch => i64::MAX,
                        })
                        .collect(),
                    None => vec![0],
                };
                let data = input(0)?;
                let (from_scalar, ok) = if op == "Unsqueeze" {
                    (true, data.scalar)
                } else {
                    (false, !data.scalar && data.dims.len() == 1)
                };
                if !ok || !matches!(axes.as_slice(), [0] | [-1]) {
                    return Err(fail(format!(
                        "only an {op} between one number and a list of one (axes [0]) is \
                         supported"
                    )));
                }
                ShapeValue {
                    dims: data.dims,
                    scalar: !from_scalar,
                }
            }
            "Concat" => {
                let axis = Attributes::of(index, node, &["axis"], source)?.int("axis", 0);
                if !matches!(axis, 0 | -1) {
                    return Err(fail(
                        "only a Concat of shapes (axis 0) is supported".to_owned(),
                    ));
                }
                let mut dims = Vec::new();
                for k in 0..node.input.len() {
                    let part = input(k)?;
                    if part.scalar || dims.len() + part.dims.len() > MAX_SHAPE_LEN {
                        return Err(fail(format!(
                            "only lists of at most {MAX_SHAPE_LEN} numbers are concatenated"
                        )));
                    }
                    dims.extend(part.dims);
                }
                ShapeValue {
                    dims,
                    scalar: false,
                }
            }
            "Cast" => {
                Attributes::of(index, node, &["to", "saturate"], source)?;
                input(0)?
            }
            _ => {
                // Mul: of known numbers (a flatten's size as C·H·W), a number by a list.
                Attributes::of(index, node, &[], source)?;
                let (a, b) = (input(0)?, input(1)?);
                let one = |s: &ShapeValue| match s.dims.as_slice() {
                    &[d] => Some(d),
                    _ => None,
                };
                let (list, by) = match (one(&b), one(&a)) {
                    (Some(by), _) => (a, by),
                    (None, Some(by)) => (b, by),
                    (None, None) => {
                        return Err(fail("only a Mul by one number is supported".to_owned()));
                    }
                };
                let dims = list
                    .dims
                    .iter()
                    .map(|&d| match (d, by) {
                        (Dim::Fixed(x), Dim::Fixed(y)) => x
                            .checked_mul(y)
                            .map(Dim::Fixed)
                            .ok_or_else(|| fail("the product overflows".to_owned())),
                        _ => Err(fail("the batch size is multiplied".to_owned())),
                    })
                    .collect::<Result<Vec<_>>>()?;
                ShapeValue {
                    dims,
                    scalar: list.scalar,
                }
            }
        };
        if shape.dims.is_empty() && shape.scalar {
            return Err(fail("an empty number".to_owned()));
        }
        self.shapes.insert(output, shape);
        Ok(())
    }
}

/// `v` as a whole number, if it is one (within ±2^53, where `f64` holds them exactly).
fn whole(v: f64) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if v.fract() != 0.0 || v.abs() > EXACT {
        return None;
    }
    #[allow(
        clippy::cast_possible_truncation,
        reason = "a whole number within ±2^53"
    )]
    Some(v as i64)
}

/// `w` with its axes permuted by `perm` (reversed if `None`, as ONNX's default).
fn transpose(w: &Weights, perm: Option<&[i64]>) -> core::result::Result<Weights, String> {
    let rank = w.dims.len();
    let perm: Vec<usize> = match perm {
        None => (0..rank).rev().collect(),
        Some(perm) => perm
            .iter()
            .map(|&p| usize::try_from(p).unwrap_or(usize::MAX))
            .collect(),
    };
    let mut seen = vec![false; rank];
    if perm.len() != rank
        || perm
            .iter()
            .any(|&p| p >= rank || std::mem::replace(&mut seen[p], true))
    {
        return Err(format!(
            "perm {perm:?} is not a permutation of the weight's {rank} axes"
        ));
    }
    let dims: Vec<usize> = perm.iter().map(|&p| w.dims[p]).collect();
    // Row-major strides of the input, in the output's axis order.
    let mut strides = vec![1usize; rank];
    for axis in (0..rank.saturating_sub(1)).rev() {
        strides[axis] = strides[axis + 1] * w.dims[axis + 1];
    }
    let strides: Vec<usize> = perm.iter().map(|&p| strides[p]).collect();
    let mut values = Vec::with_capacity(w.values.len());
    let mut at = vec![0usize; rank];
    for _ in 0..w.values.len() {
        let from: usize = at.iter().zip(&strides).map(|(i, s)| i * s).sum();
        values.push(w.values[from]);
        for axis in (0..rank).rev() {
            at[axis] += 1;
            if at[axis] < dims[axis] {
                break;
            }
            at[axis] = 0;
        }
    }
    Ok(Weights { dims, values })
}

/// Whether a Reshape to `target` flattens `value` (images, or rows of one per example) to
/// rows of one per example: `[batch, -1]` or `[batch, F]`, the batch given as the batch
/// itself (a Shape's), `0` (copied, unless `allow_zero`), the file's own batch size, or
/// `-1` before `F`.
pub(super) fn flattens(
    target: &[Dim],
    value: Value,
    file_batch: Option<usize>,
    allow_zero: bool,
) -> bool {
    if matches!(value, Value::Row { columns: true, .. }) {
        return false;
    }
    let features = value.len() as i64;
    let &[first, second] = target else {
        return false;
    };
    let second_ok = matches!(second, Dim::Fixed(f) if f == features || f == -1);
    let first_ok = match first {
        Dim::Batch => true,
        Dim::Fixed(0) => !allow_zero,
        Dim::Fixed(-1) => second == Dim::Fixed(features),
        Dim::Fixed(b) => file_batch.is_some_and(|n| n as i64 == b),
    };
    first_ok && second_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_weight_transposes_as_numpy_does() {
        // 2×3 → 3×2, and a 2×3×4 by (2, 0, 1): out[i][j][k] = in[j][k][i].
        let w = Weights {
            dims: vec![2, 3],
            values: (0..6).map(f64::from).collect(),
        };
        let t = transpose(&w, None).unwrap();
        assert_eq!(t.dims, [3, 2]);
        assert_eq!(t.values, [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        let w = Weights {
            dims: vec![2, 3, 4],
            values: (0..24).map(f64::from).collect(),
        };
        let t = transpose(&w, Some(&[2, 0, 1])).unwrap();
        assert_eq!(t.dims, [4, 2, 3]);
        for i in 0..4 {
            for j in 0..2 {
                for k in 0..3 {
                    let want = ((j * 3 + k) * 4 + i) as f64;
                    assert_eq!(t.values[(i * 2 + j) * 3 + k], want);
                }
            }
        }
        assert!(transpose(&w, Some(&[0, 0, 1])).is_err());
        assert!(transpose(&w, Some(&[0, 1])).is_err());
    }

    #[test]
    fn a_flatten_keeps_the_batch_however_it_is_written() {
        let rows = Value::rows(12);
        let (b, f) = (Dim::Batch, Dim::Fixed);
        assert!(flattens(&[b, f(-1)], rows, None, false));
        assert!(flattens(&[f(0), f(12)], rows, None, false));
        assert!(!flattens(&[f(0), f(12)], rows, None, true));
        assert!(flattens(&[f(-1), f(12)], rows, None, false));
        assert!(!flattens(&[f(-1), f(-1)], rows, None, false));
        assert!(flattens(&[f(1), f(-1)], rows, Some(1), false));
        assert!(!flattens(&[f(1), f(-1)], rows, None, false));
        assert!(!flattens(&[b, f(6), f(2)], rows, None, false));
        assert!(!flattens(
            &[b, f(-1)],
            rows.transpose(&[1, 0]).unwrap(),
            None,
            false
        ));
    }
}
