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
                .chain(order.iter().map(|axis| {
                    Some(match axis {
                        Axis::Channel => channels,
                        Axis::Height => height,
                        Axis::Width => width,
                    })
                }))
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
                    let from = usize::try_from(from - 1)
                        .ok()
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

/// The order, after the batch, of a model's input that its first node transposes by `perm`
/// into NCHW: `[Height, Width, Channel]` for Keras's NHWC input and `[0, 3, 1, 2]`.
pub(super) fn order_into_nchw(perm: &[i64]) -> Option<Order> {
    let &[0, a, b, c] = perm else {
        return None;
    };
    let mut order = NCHW;
    let mut seen = [false; 3];
    for (axis, from) in NCHW.into_iter().zip([a, b, c]) {
        let from = usize::try_from(from - 1)
            .ok()
            .filter(|&f| f < 3 && !seen[f])?;
        seen[from] = true;
        order[from] = axis;
    }
    Some(order)
}

/// The ONNX position of securenn's flattened value `k` (`(y·W + x)·C + c`: channel last)
/// among the values of feature maps flattened in ONNX's `order` of axes.
pub(super) fn onnx_row(k: usize, flattened: Flattened) -> usize {
    let Flattened {
        maps: (channels, height, width),
        order,
    } = flattened;
    let (pixel, channel) = (k / channels, k % channels);
    let (y, x) = (pixel / width, pixel % width);
    order.iter().fold(0, |at, axis| match axis {
        Axis::Channel => at * channels + channel,
        Axis::Height => at * height + y,
        Axis::Width => at * width + x,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flattened_row_maps_to_its_position_in_onnx_order() {
        // Two channels of 1×2: securenn's values are (x0 c0, x0 c1, x1 c0, x1 c1), NCHW's
        // (c0 x0, c0 x1, c1 x0, c1 x1), NHWC's securenn's own.
        let nchw = Flattened {
            maps: (2, 1, 2),
            order: NCHW,
        };
        let rows: Vec<usize> = (0..4).map(|k| onnx_row(k, nchw)).collect();
        assert_eq!(rows, [0, 2, 1, 3]);
        let nhwc = Flattened {
            maps: (3, 2, 2),
            order: [Axis::Height, Axis::Width, Axis::Channel],
        };
        let rows: Vec<usize> = (0..12).map(|k| onnx_row(k, nhwc)).collect();
        assert_eq!(rows, (0..12).collect::<Vec<_>>());
    }

    #[test]
    fn transposes_reorder_axes_and_keras_input_goes_into_nchw() {
        let nhwc = order_into_nchw(&[0, 3, 1, 2]).unwrap();
        assert_eq!(nhwc, [Axis::Height, Axis::Width, Axis::Channel]);
        let image = Value::Image {
            channels: 3,
            height: 4,
            width: 5,
            order: nhwc,
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
        assert_eq!(order_into_nchw(&[0, 1, 2, 3]), Some(NCHW));
        assert_eq!(order_into_nchw(&[0, 1, 1, 3]), None);
        let rows = Value::rows(7);
        assert_eq!(
            rows.transpose(&[1, 0]).unwrap().onnx_dims(),
            [Some(7), None]
        );
    }
}
