//! The architecture of a network, shared by the private engine and the plaintext twin:
//! one list of layers, whose shapes are checked once.
//!
//! Networks A-D are those of the SecureNN paper (section 3 of the reference), with two
//! deliberate choices, the same in both engines:
//! - Max pooling comes **before** the ReLU that follows a convolution. The two commute
//!   (max(relu(a), relu(b)) = relu(max(a, b))), and pooling first runs ReLU on a quarter of
//!   the values, as the reference code does.
//! - Network D is the paper's description: a 5×5 convolution with stride 2 and padding 2
//!   (980 values), not the reference code's path.

use core::fmt;

use crate::error::{Error, Result};
use crate::tensor::{Conv2dGeometry, Shape};

/// One layer of a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerSpec {
    /// A fully connected layer `x·W + b` from `inputs` to `outputs` values per example.
    Linear {
        /// Values per example in.
        inputs: usize,
        /// Values per example out.
        outputs: usize,
    },
    /// A convolution over NHWC images with square `kernel`, `stride` and zero `padding`,
    /// plus a bias per output channel.
    Conv2d {
        /// Channels in.
        in_channels: usize,
        /// Channels out (filters).
        out_channels: usize,
        /// Kernel height and width.
        kernel: usize,
        /// Stride in both directions.
        stride: usize,
        /// Zeros on every side.
        padding: usize,
    },
    /// max(x, 0), elementwise.
    Relu,
    /// Max pooling over `kernel`×`kernel` windows moved by `stride` (the paper's networks
    /// tile the image with stride = kernel; AlexNet's windows overlap; ResNet's stem pads
    /// its 3×3 windows by 1): the maximum of a window is the maximum of its positions
    /// inside the image, as if the padding were −∞.
    MaxPool2d {
        /// Window height and width.
        kernel: usize,
        /// The step between windows.
        stride: usize,
        /// Positions added on every side, fewer than `kernel`.
        padding: usize,
    },
    /// Average pooling over `kernel`×`kernel` windows moved by `stride` (which may
    /// overlap): a public divisor, kernel², so no comparison; padded positions count as
    /// zeros.
    AvgPool2d {
        /// Window height and width.
        kernel: usize,
        /// The step between windows.
        stride: usize,
        /// Positions added on every side, fewer than `kernel`.
        padding: usize,
    },
    /// NHWC images to rows of `height·width·channels` values.
    Flatten,
    /// Batch normalisation with fixed statistics: a per-channel affine map
    /// `x·scale + shift` on the last dimension (an image's channels, a row's features),
    /// whose `scale` and `shift` are the layer's weights and biases.
    BatchNorm {
        /// Channels (or features).
        channels: usize,
    },
}

impl LayerSpec {
    /// The `[rows, outputs]` shape of the layer's weight matrix (a linear layer's
    /// `inputs × outputs`, a convolution's `kh·kw·in × out`), if it has weights; the layer
    /// has one bias per output.
    pub fn parameter_shape(&self) -> Option<(usize, usize)> {
        match *self {
            LayerSpec::Linear { inputs, outputs } => Some((inputs, outputs)),
            LayerSpec::Conv2d {
                in_channels,
                out_channels,
                kernel,
                ..
            } => Some((kernel * kernel * in_channels, out_channels)),
            LayerSpec::BatchNorm { channels } => Some((1, channels)),
            _ => None,
        }
    }
}

impl fmt::Display for LayerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LayerSpec::Linear { inputs, outputs } => write!(f, "Linear {inputs}→{outputs}"),
            LayerSpec::Conv2d {
                in_channels,
                out_channels,
                kernel,
                stride,
                padding,
            } => write!(
                f,
                "Conv2d {kernel}×{kernel}, {in_channels}→{out_channels}, stride {stride}, padding {padding}"
            ),
            LayerSpec::Relu => f.write_str("ReLU"),
            LayerSpec::MaxPool2d {
                kernel,
                stride,
                padding,
            } => {
                write!(f, "MaxPool {kernel}×{kernel}")?;
                if stride != kernel {
                    write!(f, ", stride {stride}")?;
                }
                if padding != 0 {
                    write!(f, ", padding {padding}")?;
                }
                Ok(())
            }
            LayerSpec::AvgPool2d {
                kernel,
                stride,
                padding,
            } => {
                write!(f, "AvgPool {kernel}×{kernel}, stride {stride}")?;
                if padding != 0 {
                    write!(f, ", padding {padding}")?;
                }
                Ok(())
            }
            LayerSpec::Flatten => f.write_str("Flatten"),
            LayerSpec::BatchNorm { channels } => write!(f, "BatchNorm {channels}"),
        }
    }
}

/// A pooling window: `kernel`×`kernel`, moved by `stride` over the input with `padding`
/// more positions on every side.
///
/// What a padded position holds depends on the pooling: max pooling never picks it (it
/// holds a copy of the nearest value inside the image, so the maximum and its argmax are
/// the image's); average pooling counts it as a zero (PyTorch's `count_include_pad`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The side of the window.
    pub kernel: usize,
    /// The step between windows.
    pub stride: usize,
    /// Positions added on every side of the input, fewer than `kernel`.
    pub padding: usize,
}

impl Window {
    /// The number of windows along a side of `side` values (padded on both ends), rounded
    /// down as PyTorch's floor mode and ONNX do; `None` if the window is larger than the
    /// padded side, or has no size or step.
    pub fn output_side(self, side: usize) -> Option<usize> {
        let span = (side + 2 * self.padding).checked_sub(self.kernel)?;
        (self.kernel > 0 && self.stride > 0).then(|| span / self.stride + 1)
    }
}

/// The shape of the values between two layers, per example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueShape {
    /// An image: height, width, channels.
    Image {
        /// Rows.
        height: usize,
        /// Columns.
        width: usize,
        /// Channels.
        channels: usize,
    },
    /// A row of values.
    Row(usize),
}

impl ValueShape {
    /// The geometry of a convolution on a batch of `batch` values of this shape.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] for a row, which is not an image.
    pub fn conv_geometry(
        self,
        batch: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Result<Conv2dGeometry> {
        match self {
            ValueShape::Image {
                height,
                width,
                channels,
            } => Conv2dGeometry::new(batch, height, width, channels, kernel, stride, padding),
            ValueShape::Row(features) => Err(Error::InvalidShape {
                operation: "conv2d",
                shape: Shape::from([batch, features]),
                reason: "a convolution needs images, not rows",
            }),
        }
    }

    /// The last dimension: an image's channels, a row's length (what a per-channel layer
    /// such as batch normalisation scales).
    pub fn last_dim(&self) -> usize {
        match *self {
            ValueShape::Image { channels, .. } => channels,
            ValueShape::Row(n) => n,
        }
    }

    /// Values per example.
    pub fn len(&self) -> usize {
        match *self {
            ValueShape::Image {
                height,
                width,
                channels,
            } => height * width * channels,
            ValueShape::Row(n) => n,
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tensor shape of a batch of `batch` examples.
    pub fn batch(&self, batch: usize) -> Shape {
        match *self {
            ValueShape::Image {
                height,
                width,
                channels,
            } => Shape::from([batch, height, width, channels]),
            ValueShape::Row(n) => Shape::from([batch, n]),
        }
    }
}

impl fmt::Display for ValueShape {
    /// `28×28×1 images` or `30 values`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ValueShape::Image {
                height,
                width,
                channels,
            } => write!(f, "{height}×{width}×{channels} images"),
            ValueShape::Row(n) => write!(f, "{n} values"),
        }
    }
}

/// A network: its input shape and its layers, with every layer's input shape checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSpec {
    name: String,
    input: ValueShape,
    layers: Vec<LayerSpec>,
    shapes: Vec<ValueShape>,
}

impl NetworkSpec {
    /// Checks the layers against the input shape.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidShape`] naming the first layer whose input does not fit it.
    pub fn new(name: impl Into<String>, input: ValueShape, layers: Vec<LayerSpec>) -> Result<Self> {
        let mut shapes = vec![input];
        let mut shape = input;
        for layer in &layers {
            shape = output_shape(layer, shape)?;
            shapes.push(shape);
        }
        Ok(NetworkSpec {
            name: name.into(),
            input,
            layers,
            shapes,
        })
    }

    /// Network A (SecureML): FC 784→128, ReLU, FC 128→128, ReLU, FC 128→10
    /// (`securenn-dsl/networks/A.toml`).
    pub fn a() -> Self {
        Self::paper("A", include_str!("../../networks/A.toml"))
    }

    /// Network B (MiniONN): Conv 5×5 1→16, MaxPool, ReLU, Conv 5×5 16→16, MaxPool, ReLU,
    /// FC 256→100, ReLU, FC 100→10 (`securenn-dsl/networks/B.toml`).
    pub fn b() -> Self {
        Self::paper("B", include_str!("../../networks/B.toml"))
    }

    /// Network C (LeNet): Conv 5×5 1→20, MaxPool, ReLU, Conv 5×5 20→50, MaxPool, ReLU,
    /// FC 800→500, ReLU, FC 500→10 (`securenn-dsl/networks/C.toml`).
    pub fn c() -> Self {
        Self::paper("C", include_str!("../../networks/C.toml"))
    }

    /// Network D (Chameleon), as the paper describes it: Conv 5×5 stride 2 padding 2, 1→5
    /// (980 values), ReLU, FC 980→100, ReLU, FC 100→10 (`securenn-dsl/networks/D.toml`).
    pub fn d() -> Self {
        Self::paper("D", include_str!("../../networks/D.toml"))
    }

    /// The network named `name` (`A`, `B`, `C` or `D`, either case).
    ///
    /// # Errors
    ///
    /// [`Error::Network`] for any other name.
    pub fn by_name(name: &str) -> Result<Self> {
        match name.to_ascii_uppercase().as_str() {
            "A" => Ok(Self::a()),
            "B" => Ok(Self::b()),
            "C" => Ok(Self::c()),
            "D" => Ok(Self::d()),
            _ => Err(Error::Network {
                source_name: name.to_owned(),
                problem: "unknown network; expected one of A, B, C, D, or a network file \
                          (`.toml`)"
                    .to_owned(),
            }),
        }
    }

    /// One of the paper's networks, from the file shipped with the crate; a test reads
    /// every one of them.
    fn paper(name: &str, toml: &str) -> Self {
        match Self::from_toml(toml, name) {
            Ok(spec) => spec,
            Err(error) => unreachable!("network {name} is well formed: {error}"),
        }
    }

    /// The network's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The input's shape per example.
    pub fn input(&self) -> ValueShape {
        self.input
    }

    /// The layers, first to last.
    pub fn layers(&self) -> &[LayerSpec] {
        &self.layers
    }

    /// The shape entering layer `i`; `shape_before(layers().len())` is the output's.
    pub fn shape_before(&self, i: usize) -> Option<ValueShape> {
        self.shapes.get(i).copied()
    }

    /// The output's shape per example.
    pub fn output(&self) -> ValueShape {
        self.shapes[self.shapes.len() - 1]
    }

    /// The number of trained parameters.
    pub fn parameters(&self) -> usize {
        self.layers
            .iter()
            .filter_map(LayerSpec::parameter_shape)
            .map(|(rows, outputs)| rows * outputs + outputs)
            .sum()
    }
}

/// The largest max-pooling window side: its backward pass (DMaxpool) routes at most 64
/// positions.
const MAX_POOL_KERNEL: usize = 8;

/// The shape `layer` makes of `input`.
pub(crate) fn output_shape(layer: &LayerSpec, input: ValueShape) -> Result<ValueShape> {
    let mismatch = |reason| Error::InvalidShape {
        operation: "network layer",
        shape: input.batch(1),
        reason,
    };
    match (*layer, input) {
        (LayerSpec::Linear { inputs, outputs }, ValueShape::Row(n))
            if n == inputs && outputs > 0 =>
        {
            Ok(ValueShape::Row(outputs))
        }
        (LayerSpec::Linear { .. }, _) => {
            Err(mismatch("a linear layer needs rows of its input size"))
        }
        (
            LayerSpec::Conv2d {
                in_channels,
                out_channels,
                kernel,
                stride,
                padding,
            },
            ValueShape::Image {
                height,
                width,
                channels,
            },
        ) if channels == in_channels && out_channels > 0 => {
            let g = Conv2dGeometry::new(1, height, width, channels, kernel, stride, padding)?;
            Ok(ValueShape::Image {
                height: g.out_height(),
                width: g.out_width(),
                channels: out_channels,
            })
        }
        (LayerSpec::Conv2d { .. }, _) => Err(mismatch(
            "a convolution needs images with its input channels",
        )),
        (LayerSpec::Relu, shape) => Ok(shape),
        (LayerSpec::MaxPool2d { kernel, .. }, _) if kernel > MAX_POOL_KERNEL => Err(mismatch(
            "max pooling windows are at most 8×8 (DMaxpool routes at most 64 positions)",
        )),
        (
            LayerSpec::MaxPool2d {
                kernel, padding, ..
            }
            | LayerSpec::AvgPool2d {
                kernel, padding, ..
            },
            _,
        ) if padding >= kernel => Err(mismatch(
            "pooling pads fewer positions than its window's side",
        )),
        (
            LayerSpec::MaxPool2d {
                kernel,
                stride,
                padding,
            }
            | LayerSpec::AvgPool2d {
                kernel,
                stride,
                padding,
            },
            ValueShape::Image {
                height,
                width,
                channels,
            },
        ) => {
            let window = Window {
                kernel,
                stride,
                padding,
            };
            match (window.output_side(height), window.output_side(width)) {
                (Some(height), Some(width)) if height > 0 && width > 0 => Ok(ValueShape::Image {
                    height,
                    width,
                    channels,
                }),
                _ => Err(mismatch(
                    "pooling needs images at least as large as its window",
                )),
            }
        }
        (LayerSpec::MaxPool2d { .. } | LayerSpec::AvgPool2d { .. }, _) => Err(mismatch(
            "pooling needs images at least as large as its window",
        )),
        (LayerSpec::Flatten, shape) => Ok(ValueShape::Row(shape.len())),
        (LayerSpec::BatchNorm { channels }, shape)
            if channels > 0 && shape.last_dim() == channels =>
        {
            Ok(shape)
        }
        (LayerSpec::BatchNorm { .. }, _) => Err(mismatch(
            "batch normalisation needs one scale per channel of its input",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_papers_networks_have_the_papers_shapes() {
        let a = NetworkSpec::a();
        assert_eq!(a.output(), ValueShape::Row(10));
        assert_eq!(
            a.parameters(),
            784 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10
        );
        // B: 28 → 24 (conv) → 12 (pool) → 8 (conv) → 4 (pool); 4·4·16 = 256.
        let b = NetworkSpec::b();
        assert_eq!(b.shape_before(7), Some(ValueShape::Row(256)));
        // C: 4·4·50 = 800.
        assert_eq!(NetworkSpec::c().shape_before(7), Some(ValueShape::Row(800)));
        // D: 28 → 14 with stride 2 and padding 2; 14·14·5 = 980.
        assert_eq!(NetworkSpec::d().shape_before(3), Some(ValueShape::Row(980)));
        for spec in [a, b, NetworkSpec::c(), NetworkSpec::d()] {
            assert_eq!(spec.output(), ValueShape::Row(10), "{}", spec.name());
        }
    }

    #[test]
    fn ill_fitting_layers_are_refused() {
        let wrong = NetworkSpec::new(
            "x",
            ValueShape::Row(10),
            vec![LayerSpec::Linear {
                inputs: 11,
                outputs: 2,
            }],
        );
        assert!(matches!(wrong, Err(Error::InvalidShape { .. })));
        let mnist = ValueShape::Image {
            height: 28,
            width: 28,
            channels: 1,
        };
        let wrong = NetworkSpec::new(
            "x",
            mnist,
            vec![LayerSpec::MaxPool2d {
                kernel: 29,
                stride: 1,
                padding: 0,
            }],
        );
        assert!(matches!(wrong, Err(Error::InvalidShape { .. })));
        // A 9×9 window fits the image, but DMaxpool routes at most 64 positions.
        let wide = vec![LayerSpec::MaxPool2d {
            kernel: 9,
            stride: 9,
            padding: 0,
        }];
        assert!(matches!(
            NetworkSpec::new("x", mnist, wide),
            Err(Error::InvalidShape { .. })
        ));
        assert!(matches!(
            NetworkSpec::by_name("E"),
            Err(Error::Network { .. })
        ));
        assert_eq!(
            NetworkSpec::by_name("c").map(|s| s.name().to_owned()).ok(),
            Some("C".to_owned())
        );
    }
}
