//! The windowed ONNX operators: Conv (its OIHW kernel as securenn's `(ky, kx, channel) ×
//! out`), MaxPool and AveragePool, with what of their attributes securenn's layers can do.

use super::convert::{Layers, MAX_VALUES};
use super::graph::{Attributes, Source, Weights};
use super::proto::NodeProto;
use super::value::{NCHW, Value};
use crate::error::Result;
use crate::nn::config::LayerWeights;
use crate::nn::spec::{LayerSpec, Window};

/// The square side, equal strides and equal padding of a Conv or pooling node, refusing
/// what securenn's layers cannot do (dilation, uneven padding, `auto_pad`, `ceil_mode`).
fn window(
    attributes: &Attributes<'_>,
    kernel_dims: Option<(usize, usize)>,
    fail: &dyn Fn(String) -> crate::Error,
) -> Result<(usize, usize, usize)> {
    let side = |values: &[i64], what: &str| -> Result<usize> {
        match values {
            [a, b] if a == b && *a > 0 => usize::try_from(*a).map_err(|_| fail(what.to_owned())),
            _ => Err(fail(format!(
                "{what} {values:?}: only a square one is supported"
            ))),
        }
    };
    let kernel = match (attributes.ints("kernel_shape"), kernel_dims) {
        (Some(shape), _) => side(shape, "kernel_shape")?,
        (None, Some((h, w))) if h == w => h,
        (None, Some((h, w))) => return Err(fail(format!("a {h}×{w} kernel: only square ones"))),
        (None, None) => return Err(fail("no kernel_shape".to_owned())),
    };
    if let Some((h, w)) = kernel_dims
        && (h, w) != (kernel, kernel)
    {
        return Err(fail(format!(
            "kernel_shape does not match the {h}×{w} kernel"
        )));
    }
    let stride = attributes
        .ints("strides")
        .map_or(Ok(1), |s| side(s, "strides"))?;
    let padding = match attributes.ints("pads") {
        None => 0,
        Some(pads) if pads.len() == 4 && pads.iter().all(|&p| p == pads[0] && p >= 0) => {
            usize::try_from(pads[0]).unwrap_or_default()
        }
        Some(pads) => {
            return Err(fail(format!(
                "pads {pads:?}: only the same padding on every side"
            )));
        }
    };
    if padding >= kernel {
        return Err(fail(format!(
            "padding {padding} is not smaller than the {kernel}×{kernel} window"
        )));
    }
    if attributes
        .ints("dilations")
        .is_some_and(|d| d.iter().any(|&v| v != 1))
    {
        return Err(fail("dilations other than 1 are not supported".to_owned()));
    }
    match attributes.string("auto_pad") {
        None | Some(b"NOTSET") => {}
        Some(b"VALID") if padding == 0 => {}
        Some(other) => {
            return Err(fail(format!(
                "auto_pad {} is not supported; give explicit pads",
                String::from_utf8_lossy(other)
            )));
        }
    }
    if attributes.int("ceil_mode", 0) != 0 {
        return Err(fail("ceil_mode = 1 is not supported".to_owned()));
    }
    Ok((kernel, stride, padding))
}

/// A Conv node: securenn's `conv2d`, its OIHW kernel as `(ky, kx, channel) × out`.
pub(super) fn convolution<'g>(
    index: usize,
    node: &NodeProto,
    value: Value,
    layers: &mut Layers,
    weight: &dyn Fn(usize) -> Result<Option<&'g Weights>>,
    source: Source<'_>,
) -> Result<Value> {
    let fail = |problem: String| source.at(index, node, problem);
    let attributes = Attributes::of(
        index,
        node,
        &[
            "auto_pad",
            "dilations",
            "group",
            "kernel_shape",
            "pads",
            "strides",
        ],
        source,
    )?;
    let (channels, height, width) = value
        .image()
        .ok_or_else(|| fail("it takes feature maps, not rows".to_owned()))?;
    if attributes.int("group", 1) != 1 {
        return Err(fail("group other than 1 is not supported".to_owned()));
    }
    let w = weight(1)?.ok_or_else(|| fail("it has no kernel".to_owned()))?;
    let &[out_channels, in_channels, kh, kw] = w.dims.as_slice() else {
        return Err(fail(format!(
            "the kernel has dimensions {:?}, not 4",
            w.dims
        )));
    };
    if in_channels != channels {
        return Err(fail(format!(
            "the kernel takes {in_channels} channels, but {channels} come in"
        )));
    }
    let (kernel, stride, padding) = window(&attributes, Some((kh, kw)), &fail)?;
    let window = Window {
        kernel,
        stride,
        padding,
    };
    let (Some(out_height), Some(out_width)) =
        (window.output_side(height), window.output_side(width))
    else {
        return Err(fail(format!(
            "a {kernel}×{kernel} kernel with stride {stride} and padding {padding} does not \
             fit {height}×{width} feature maps (padded)"
        )));
    };
    if out_channels
        .checked_mul(out_height)
        .and_then(|n| n.checked_mul(out_width))
        .is_none_or(|n| n > MAX_VALUES)
    {
        return Err(fail(
            "its output holds more than 2^30 values per example".to_owned(),
        ));
    }
    let rows = kernel * kernel * channels;
    layers.budget(rows * out_channels).map_err(fail)?;
    let mut weights = vec![0.0; rows * out_channels];
    for ky in 0..kernel {
        for kx in 0..kernel {
            for c in 0..channels {
                let row = (ky * kernel + kx) * channels + c;
                for o in 0..out_channels {
                    let at = ((o * channels + c) * kernel + ky) * kernel + kx;
                    weights[row * out_channels + o] = w.values[at];
                }
            }
        }
    }
    let biases = match weight(2)? {
        None => vec![0.0; out_channels],
        Some(b) if b.values.len() == out_channels => b.values.clone(),
        Some(b) => {
            return Err(fail(format!(
                "the bias has {} values, not {out_channels}",
                b.values.len()
            )));
        }
    };
    layers.push(
        LayerSpec::Conv2d {
            in_channels: channels,
            out_channels,
            kernel,
            stride,
            padding,
        },
        Some(LayerWeights { weights, biases }),
    );
    Ok(Value::Image {
        channels: out_channels,
        height: out_height,
        width: out_width,
        order: NCHW,
    })
}

/// A MaxPool or AveragePool node; an AveragePool with padding only if it counts the padded
/// positions as zeros (`count_include_pad = 1`, as PyTorch exports `AvgPool2d`), since
/// securenn divides every window by kernel².
pub(super) fn pooling(
    index: usize,
    node: &NodeProto,
    value: Value,
    layers: &mut Layers,
    source: Source<'_>,
) -> Result<Value> {
    let fail = |problem: String| source.at(index, node, problem);
    let max = node.op_type.as_deref() == Some("MaxPool");
    let known: &[&str] = if max {
        &[
            "auto_pad",
            "ceil_mode",
            "dilations",
            "kernel_shape",
            "pads",
            "storage_order",
            "strides",
        ]
    } else {
        &[
            "auto_pad",
            "ceil_mode",
            "count_include_pad",
            "dilations",
            "kernel_shape",
            "pads",
            "strides",
        ]
    };
    let attributes = Attributes::of(index, node, known, source)?;
    let (channels, height, width) = value
        .image()
        .ok_or_else(|| fail("it takes feature maps, not rows".to_owned()))?;
    let (kernel, stride, padding) = window(&attributes, None, &fail)?;
    if !max && padding != 0 && attributes.int("count_include_pad", 0) == 0 {
        return Err(fail(
            "padding with count_include_pad = 0 (which divides a window by its positions \
             inside the image) is not supported; securenn divides by kernel², as \
             count_include_pad = 1 does"
                .to_owned(),
        ));
    }
    let pooled = Window {
        kernel,
        stride,
        padding,
    };
    let (Some(out_height), Some(out_width)) =
        (pooled.output_side(height), pooled.output_side(width))
    else {
        return Err(fail(format!(
            "{kernel}×{kernel} windows with stride {stride} and padding {padding} do not fit \
             {height}×{width} feature maps"
        )));
    };
    if channels
        .checked_mul(out_height)
        .and_then(|n| n.checked_mul(out_width))
        .is_none_or(|n| n > MAX_VALUES)
    {
        return Err(fail(
            "its output holds more than 2^30 values per example".to_owned(),
        ));
    }
    let spec = if max {
        LayerSpec::MaxPool2d {
            kernel,
            stride,
            padding,
        }
    } else {
        LayerSpec::AvgPool2d {
            kernel,
            stride,
            padding,
        }
    };
    layers.push(spec, None);
    Ok(Value::Image {
        channels,
        height: out_height,
        width: out_width,
        order: NCHW,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_round_down_and_must_fit() {
        let side = |side, kernel, stride, padding| {
            Window {
                kernel,
                stride,
                padding,
            }
            .output_side(side)
        };
        assert_eq!(side(28, 5, 1, 2), Some(28));
        assert_eq!(side(28, 2, 2, 0), Some(14));
        assert_eq!(side(5, 2, 2, 0), Some(2));
        assert_eq!(side(10, 3, 2, 0), Some(4));
        assert_eq!(side(10, 3, 2, 1), Some(5));
        assert_eq!(side(2, 3, 1, 0), None);
    }
}
