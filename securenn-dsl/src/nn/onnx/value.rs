//! What flows between an ONNX model's nodes, in ONNX's terms: feature maps whose axes come in
//! some order after the batch (NCHW as Conv wants them, NHWC as Keras models take their
//! input), or rows of features, one per example or (after a Transpose) one per feature.
//!
//! securenn holds every value in one layout (NHWC feature maps, one row per example), so a
//! Transpose that only reorders axes is no computation: it changes what the importer knows
//! of ONNX's layout. That knowledge matters at a Flatten, whose order of values is ONNX's
//! order of axes, and at a Gemm or MatMul, whose operand may be the rows transposed.

/// An axis of feature maps after the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Axis {
    /// The channels.
    Channel,
    /// The rows of a map.
    Height,
    /// The columns of a map.
    Width,
}

impl Axis {
    /// This axis's entry of `(channel, height, width)` values (sizes or coordinates).
    pub(super) fn pick<T>(self, (channel, height, width): (T, T, T)) -> T {
        match self {
            Axis::Channel => channel,
            Axis::Height => height,
            Axis::Width => width,
        }
    }
}

/// `N` and the letters of `order`, as `NHWC`.
pub(super) fn layout_name(order: Order) -> String {
    core::iter::once('N')
        .chain(order.iter().map(|axis| axis.pick(('C', 'H', 'W'))))
        .collect()
}

/// The order of the three axes after the batch, as ONNX lays them out.
pub(super) type Order = [Axis; 3];

/// ONNX's layout of feature maps, the one Conv and the pooling operators take.
pub(super) const NCHW: Order = [Axis::Channel, Axis::Height, Axis::Width];

/// Feature maps that were flattened: their sizes, and ONNX's order of their axes, which is
/// the order of the flattened values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Flattened {
    /// `(channels, height, width)`.
    pub(super) maps: (usize, usize, usize),
    /// ONNX's order of the axes when they were flattened.
    pub(super) order: Order,
}

/// What flows between layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Value {
    /// Feature maps: `channels × height × width` per example, laid out in ONNX as `order`.
    Image {
        channels: usize,
        height: usize,
        width: usize,
        order: Order,
    },
    /// Rows of `features`: in ONNX `[batch, features]`, or `[features, batch]` if
    /// `columns`; and the feature maps they were flattened from, if any.
    Row {
        features: usize,
        flattened: Option<Flattened>,
        columns: bool,
    },
}

impl Value {
    /// Rows of `features`, one per example.
    pub(super) fn rows(features: usize) -> Value {
        Value::Row {
            features,
            flattened: None,
            columns: false,
        }
    }

    /// `(channels, height, width)` of feature maps in any order; `None` for rows.
    pub(super) fn image(self) -> Option<(usize, usize, usize)> {
        match self {
            Value::Image {
                channels,
                height,
                width,
                ..
            } => Some((channels, height, width)),
            Value::Row { .. } => None,
        }
    }

    /// Values per example.
    pub(super) fn len(self) -> usize {
        match self {
            Value::Image {
                channels,
                height,
                width,
                ..
            } => channels * height * width,
            Value::Row { features, .. } => features,
        }
    }

    /// The dimensions ONNX sees, the batch as `None`.
    pub(super) fn onnx_dims(self) -> Vec<Option<usize>> {
        match self {
            Value::Image {
                channels,
                height,
                width,
                order,
            } => core::iter::once(None)
                .chain(
                    order
                        .iter()
                        .map(|axis| Some(axis.pick((channels, height, width)))),
                )
                .collect(),
            Value::Row {
                features,
                columns: false,
                ..
            } => vec![None, Some(features)],
            Value::Row { features, .. } => vec![Some(features), None],
        }
    }

    /// The value after a Transpose by `perm`, which may only reorder the axes after the
    /// batch of feature maps, or swap the two axes of rows.
    ///
    /// # Errors
    ///
    /// What the permutation would do that securenn's layout cannot follow.
    pub(super) fn transpose(self, perm: &[i64]) -> Result<Value, String> {
        match self {
            Value::Image {
                channels,
                height,
                width,
                order,
            } => {
                let &[0, a, b, c] = perm else {
                    return Err(format!(
                        "perm {perm:?} on feature maps: only permutations that keep the batch \
                         first are supported"
                    ));
                };
                let mut seen = [false; 3];
                let mut reordered = order;
                for (slot, from) in reordered.iter_mut().zip([a, b, c]) {
                    let from = from
                        .checked_sub(1)
                        .and_then(|f| usize::try_from(f).ok())
                        .filter(|&f| f < 3 && !seen[f])
                        .ok_or_else(|| format!("perm {perm:?} is not a permutation of 0..4"))?;
                    seen[from] = true;
                    *slot = order[from];
                }
                Ok(Value::Image {
                    channels,
                    height,
                    width,
                    order: reordered,
                })
            }
            Value::Row {
                features,
                flattened,
                columns,
            } => match perm {
                [0, 1] => Ok(self),
                [1, 0] => Ok(Value::Row {
                    features,
                    flattened,
                    columns: !columns,
                }),
                _ => Err(format!(
                    "perm {perm:?} on rows: only [0, 1] and [1, 0] are supported"
                )),
            },
        }
    }
}

/// The order of Keras's NHWC input, which a model converted by tf2onnx transposes into
/// NCHW by `[0, 3, 1, 2]` before its first Conv.
pub(super) const NHWC: Order = [Axis::Height, Axis::Width, Axis::Channel];

/// The ONNX position of securenn's flattened value `k` (`(y·W + x)·C + c`: channel last)
/// among the values of feature maps flattened in ONNX's `order` of axes.
pub(super) fn onnx_row(k: usize, flattened: Flattened) -> usize {
    let Flattened {
        maps: (channels, height, width),
        order,
    } = flattened;
    let (pixel, channel) = (k / channels, k % channels);
    let (y, x) = (pixel / width, pixel % width);
    order.iter().fold(0, |at, axis| {
        at * axis.pick((channels, height, width)) + axis.pick((channel, y, x))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flattened_row_maps_to_its_position_in_onnx_order() {
        // Maps of 2×3×4 (C, H, W), flattened in each of the six orders of their axes: an
        // ONNX position is its place when nested loops run over the axes in that order,
        // securenn's row its place when they run over y, x, c.
        let (channels, height, width) = (2, 3, 4);
        let axes = [Axis::Channel, Axis::Height, Axis::Width];
        let size = |axis| match axis {
            Axis::Channel => channels,
            Axis::Height => height,
            Axis::Width => width,
        };
        for order in [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ]
        .map(|o: [usize; 3]| o.map(|i| axes[i]))
        {
            // onnx[(c, y, x)] = ONNX position.
            let mut onnx = std::collections::HashMap::new();
            let mut at = 0;
            for i in 0..size(order[0]) {
                for j in 0..size(order[1]) {
                    for k in 0..size(order[2]) {
                        let mut coords = [0; 3];
                        for (axis, v) in order.iter().zip([i, j, k]) {
                            coords[*axis as usize] = v;
                        }
                        onnx.insert(coords, at);
                        at += 1;
                    }
                }
            }
            let flattened = Flattened {
                maps: (channels, height, width),
                order,
            };
            let mut row = 0;
            for y in 0..height {
                for x in 0..width {
                    for c in 0..channels {
                        assert_eq!(onnx_row(row, flattened), onnx[&[c, y, x]], "{order:?}");
                        row += 1;
                    }
                }
            }
        }
    }

    #[test]
    fn transposes_reorder_axes_and_keras_input_goes_into_nchw() {
        let image = Value::Image {
            channels: 3,
            height: 4,
            width: 5,
            order: NHWC,
        };
        let nchw = image.transpose(&[0, 3, 1, 2]).unwrap();
        assert_eq!(nchw.onnx_dims(), [None, Some(3), Some(4), Some(5)]);
        assert_eq!(
            nchw.transpose(&[0, 2, 3, 1]).unwrap(),
            image,
            "and back to NHWC"
        );
        assert!(image.transpose(&[1, 0, 2, 3]).is_err(), "the batch moves");
        assert!(image.transpose(&[0, 1, 1, 2]).is_err(), "not a permutation");
        assert!(
            image.transpose(&[0, i64::MIN, 1, 2]).is_err(),
            "not an axis"
        );
        let rows = Value::rows(7);
        assert_eq!(
            rows.transpose(&[1, 0]).unwrap().onnx_dims(),
            [Some(7), None]
        );
    }
}
