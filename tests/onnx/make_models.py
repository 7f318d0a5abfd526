"""Writes the ONNX fixtures of securenn's import tests, and what ONNX Runtime computes on them.

    python3 tests/onnx/make_models.py OUT_DIR

For each model NAME it writes OUT_DIR/NAME.onnx (built with the `onnx` package, weights
drawn from a seeded generator, laid out as PyTorch exports them) and OUT_DIR/NAME.npz,
a data set for `securenn infer --data`: 1,000 inputs (`x_test`, images in NHWC as securenn
reads them, while the model takes NCHW), ONNX Runtime's class for each (`y_test`), and its
scores (`logits`, the model's output before any final Softmax). Inputs are standard
normal (as normalised images and tables are); a near tie (two best scores within
NEAR_TIE = 2^-8 of each other) is redrawn, and the script prints how many were (at most 1%
of them may be). Random weights favour one class
with scores of any size, so each model's last layer is rescaled and its bias moved until
every class occurs and the scores spread as a trained model's do (LAST_LAYER). `x_train`/`y_train` are
the same arrays (the loader wants both).

Models:
- mlp: Gemm (transB=1, as torch.nn.Linear exports) - Relu - Gemm, on rows of 20.
- lenet: Conv (padding 1) - BatchNormalization - Relu - AveragePool - Conv - Relu - MaxPool
  - Flatten - Gemm - Relu - Dropout - Gemm - Softmax, on 1x12x12 images: its first Gemm
  reads a Flatten of several channels, so a wrong row order gives other classes.
- matmul: MatMul + Add, Relu, MatMul + Add (how tf2onnx writes dense layers), Gemm with
  transB=0, alpha and beta, on rows of 8.
- global: Conv (stride 2) - Relu - GlobalAveragePool - Reshape to [0, -1] (its shape a
  Constant node) - Gemm, on 3x9x9 images.
- rowbn: Conv (padding 1) - Relu - MaxPool 3x3 with stride 2 (overlapping windows, and on
  10x10 maps a last row and column no window reaches, rounded down) -
  `x.view(x.size(0), x.size(1) * x.size(2) * x.size(3))` (Shape, Gather, Squeeze,
  Unsqueeze, Mul, Cast, Concat, Reshape) - BatchNormalization of the flattened rows (not folded: it follows a Flatten) - Gemm with
  transB=0 - LogSoftmax, on 1x10x10 images.
- padpool: ResNet's stem as PyTorch exports it: Conv (padding 1) - BatchNormalization -
  MaxPool 3x3, stride 2, padding 1 (with no Relu around it, so that negative maxima show
  whether the padding counted: padding with zeros changes the classes) - Conv - Relu -
  AveragePool 3x3, stride 1, padding 1 with
  count_include_pad=1 - `x.view(x.size(0), -1)` (Shape, Gather, Unsqueeze, Concat,
  Reshape) - Gemm, on 2x10x10 images.
- keras: a Keras CNN as tf2onnx writes it: NHWC input - Transpose to NCHW - Conv - Relu -
  MaxPool - Transpose back to NHWC - Identity - Reshape to [-1, 64] - MatMul + Add - Relu -
  MatMul + Add - Softmax, on 8x8x3 images (the data set's images are the model's own
  input, NHWC).
- columns: rows of 10 transposed to one column per example - Gemm with the weights first
  (W.x^T + C, C of [16, 1]) - Relu - MatMul with the weights first + Add - Relu - Gemm
  with transA=1 (back to rows) and transB=1, its B a Transpose of an initializer -
  ArgMax.

It also writes models that securenn refuses, one reason each (OUT_DIR/refused-*.onnx, see
REFUSED), a model whose input leaves its image size open (open-shape.onnx, imported with
--input-shape), and each model's ONNX Runtime scores as text (OUT_DIR/NAME-logits.csv).

Pinned versions: tests/requirements.txt.
"""

import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

EXAMPLES = 1000
# A near tie: an input whose two best ONNX Runtime scores are closer than this. Private
# scores carry the rounding of 13 fractional bits (weights rounded by up to 2^-14 each,
# every product truncated), 2 to 25 units in the last place in these models, so the class
# of a near tie is a coin toss in securenn as it would be in any 13-bit arithmetic. Near
# ties (0.1% to 0.7% of random inputs here) are redrawn, and counted: the script prints how
# many, and on random inputs kept as drawn the agreement is 998 to 1,000 of 1,000.
NEAR_TIE = 2.0 ** -8
OPSET = 17


def weight(rng, name, shape, scale):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def model(name, nodes, inputs_shape, outputs, initializers, softmax, opset=OPSET):
    """A model of `nodes` from input `x` (batch left open) to `outputs` classes."""
    last = nodes[-1].output[0]
    output = helper.make_tensor_value_info(last, TensorProto.FLOAT, ["batch", outputs])
    if softmax:
        kind = softmax if isinstance(softmax, str) else "Softmax"
        nodes = nodes + [helper.make_node(kind, [last], ["probabilities"], axis=1)]
        last = "probabilities"
        output = (helper.make_tensor_value_info(last, TensorProto.INT64, ["batch", 1])
                  if kind == "ArgMax" else
                  helper.make_tensor_value_info(last, TensorProto.FLOAT, ["batch", outputs]))
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", *inputs_shape])],
        [output],
        initializers,
    )
    built = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    built.ir_version = 8
    onnx.checker.check_model(built)
    return built


def mlp(rng):
    init = [
        weight(rng, "fc1.weight", (32, 20), 0.3),
        weight(rng, "fc1.bias", (32,), 0.1),
        weight(rng, "fc2.weight", (4, 32), 0.3),
        weight(rng, "fc2.bias", (4,), 0.1),
    ]
    nodes = [
        helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h1"], transB=1, name="fc1"),
        helper.make_node("Relu", ["h1"], ["r1"], name="relu1"),
        helper.make_node("Gemm", ["r1", "fc2.weight", "fc2.bias"], ["out"], transB=1, name="fc2"),
    ]
    return nodes, (20,), 4, init


def lenet(rng):
    init = [
        weight(rng, "conv1.weight", (4, 1, 3, 3), 0.5),
        weight(rng, "conv1.bias", (4,), 0.1),
        numpy_helper.from_array(rng.uniform(0.5, 1.5, 4).astype(np.float32), "bn.scale"),
        weight(rng, "bn.bias", (4,), 0.1),
        weight(rng, "bn.mean", (4,), 0.1),
        numpy_helper.from_array(rng.uniform(0.5, 2.0, 4).astype(np.float32), "bn.var"),
        weight(rng, "conv2.weight", (6, 4, 3, 3), 0.3),
        weight(rng, "conv2.bias", (6,), 0.1),
        weight(rng, "fc1.weight", (16, 24), 0.3),
        weight(rng, "fc1.bias", (16,), 0.1),
        weight(rng, "fc2.weight", (5, 16), 0.4),
        weight(rng, "fc2.bias", (5,), 0.1),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "conv1.weight", "conv1.bias"], ["c1"],
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("BatchNormalization", ["c1", "bn.scale", "bn.bias", "bn.mean", "bn.var"],
                         ["b1"], epsilon=1e-5, name="bn"),
        helper.make_node("Relu", ["b1"], ["r1"], name="relu1"),
        helper.make_node("AveragePool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2],
                         name="avgpool"),
        helper.make_node("Conv", ["p1", "conv2.weight", "conv2.bias"], ["c2"],
                         kernel_shape=[3, 3], name="conv2"),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("MaxPool", ["r2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2],
                         name="maxpool"),
        helper.make_node("Flatten", ["p2"], ["f"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["f", "fc1.weight", "fc1.bias"], ["h1"], transB=1, name="fc1"),
        helper.make_node("Relu", ["h1"], ["r3"], name="relu3"),
        helper.make_node("Dropout", ["r3"], ["d"], name="dropout"),
        helper.make_node("Gemm", ["d", "fc2.weight", "fc2.bias"], ["out"], transB=1, name="fc2"),
    ]
    return nodes, (1, 12, 12), 5, init


def matmul(rng):
    init = [
        weight(rng, "dense1.kernel", (8, 12), 0.4),
        weight(rng, "dense1.bias", (12,), 0.1),
        weight(rng, "dense2.kernel", (12, 10), 0.3),
        weight(rng, "dense2.bias", (10,), 0.1),
        weight(rng, "out.kernel", (10, 3), 0.4),
        weight(rng, "out.bias", (3,), 0.1),
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "dense1.kernel"], ["m1"], name="dense1"),
        helper.make_node("Add", ["m1", "dense1.bias"], ["a1"], name="dense1_bias"),
        helper.make_node("Relu", ["a1"], ["r1"], name="relu1"),
        helper.make_node("MatMul", ["r1", "dense2.kernel"], ["m2"], name="dense2"),
        helper.make_node("Add", ["m2", "dense2.bias"], ["a2"], name="dense2_bias"),
        helper.make_node("Relu", ["a2"], ["r2"], name="relu2"),
        helper.make_node("Gemm", ["r2", "out.kernel", "out.bias"], ["out"], alpha=0.5, beta=2.0,
                         name="out"),
    ]
    return nodes, (8,), 3, init


def global_pool(rng):
    init = [
        weight(rng, "conv.weight", (8, 3, 3, 3), 0.4),
        weight(rng, "conv.bias", (8,), 0.1),
        weight(rng, "fc.weight", (6, 8), 0.5),
        weight(rng, "fc.bias", (6,), 0.1),
    ]
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [0, -1])
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], kernel_shape=[3, 3],
                         strides=[2, 2], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
        helper.make_node("Constant", [], ["shape"], value=shape, name="shape"),
        helper.make_node("Reshape", ["g", "shape"], ["v"], name="view"),
        helper.make_node("Gemm", ["v", "fc.weight", "fc.bias"], ["out"], transB=1, name="fc"),
    ]
    return nodes, (3, 9, 9), 6, init


def conv_then(rng, second, channels=2):
    """Conv (1 to `channels`, 3x3) then `second` (a node from "c" to "p"), Flatten, Gemm."""
    init = [
        weight(rng, "conv.weight", (channels, 1, 3, 3), 0.5),
        weight(rng, "fc.weight", (3, channels * 4 * 4), 0.3),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight"], ["c"], kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], name="conv"),
        second,
        helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc.weight"], ["out"], transB=1, name="fc"),
    ]
    return nodes, init


def refused(out, rng):
    """Models securenn refuses, each for one reason the test names."""
    rows = [weight(rng, "w1", (8, 4), 0.3), weight(rng, "w2", (3, 8), 0.3)]
    sigmoid = [
        helper.make_node("Gemm", ["x", "w1"], ["h"], transB=1, name="fc1"),
        helper.make_node("Sigmoid", ["h"], ["s"], name="squash"),
        helper.make_node("Gemm", ["s", "w2"], ["out"], transB=1, name="fc2"),
    ]
    onnx.save(model("sigmoid", sigmoid, (4,), 3, rows, False), out / "refused-sigmoid.onnx")
    trans_a = [helper.make_node("Gemm", ["x", "w1"], ["out"], transA=1, name="fc")]
    onnx.save(model("trans-a", trans_a, (4,), 8, rows[:1], False), out / "refused-trans-a.onnx")
    old = [helper.make_node("Gemm", ["x", "w1", "b1"], ["out"], transB=1, name="fc")]
    bias = weight(rng, "b1", (8,), 0.1)
    onnx.save(model("old", old, (4,), 8, [rows[0], bias], False, opset=9),
              out / "refused-opset.onnx")
    padded = helper.make_node("AveragePool", ["c"], ["p"], kernel_shape=[2, 2], strides=[2, 2],
                              pads=[1, 1, 1, 1], name="pool")
    nodes, init = conv_then(rng, padded)
    init[1] = weight(rng, "fc.weight", (3, 2 * 5 * 5), 0.3)
    onnx.save(model("padded", nodes, (1, 8, 8), 3, init, False),
              out / "refused-average-padding.onnx")
    batch_first = helper.make_node("Transpose", ["c"], ["p"], perm=[1, 0, 2, 3], name="swap")
    nodes, init = conv_then(rng, batch_first)
    init[1] = weight(rng, "fc.weight", (3, 2 * 8 * 8), 0.3)
    onnx.save(model("swap", nodes, (1, 8, 8), 3, init, False), out / "refused-transpose.onnx")
    grouped_init = [weight(rng, "conv.weight", (2, 1, 3, 3), 0.5),
                    weight(rng, "fc.weight", (3, 2 * 8 * 8), 0.3)]
    grouped = [
        helper.make_node("Conv", ["x", "conv.weight"], ["c"], kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], group=2, name="grouped"),
        helper.make_node("Flatten", ["c"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc.weight"], ["out"], transB=1, name="fc"),
    ]
    onnx.save(model("grouped", grouped, (2, 8, 8), 3, grouped_init, False),
              out / "refused-group.onnx")
    dilated_init = [weight(rng, "conv.weight", (2, 1, 3, 3), 0.5),
                    weight(rng, "fc.weight", (3, 2 * 4 * 4), 0.3)]
    dilated = [
        helper.make_node("Conv", ["x", "conv.weight"], ["c"], kernel_shape=[3, 3],
                         dilations=[2, 2], name="dilated"),
        helper.make_node("Flatten", ["c"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc.weight"], ["out"], transB=1, name="fc"),
    ]
    onnx.save(model("dilated", dilated, (1, 8, 8), 3, dilated_init, False),
              out / "refused-dilation.onnx")
    # The image size left open: --input-shape 1,8,8 gives it.
    pooled = helper.make_node("AveragePool", ["c"], ["p"], kernel_shape=[2, 2], strides=[2, 2],
                              name="pool")
    nodes, init = conv_then(rng, pooled)
    open_shape = model("open", nodes, (1, "height", "width"), 3, init, False)
    onnx.save(open_shape, out / "open-shape.onnx")


REFUSED = ["sigmoid", "trans-a", "opset", "average-padding", "transpose", "group", "dilation"]

def row_batch_norm(rng):
    init = [
        weight(rng, "conv.weight", (3, 1, 3, 3), 0.5),
        weight(rng, "conv.bias", (3,), 0.1),
        numpy_helper.from_array(rng.uniform(0.5, 1.5, 48).astype(np.float32), "bn.scale"),
        weight(rng, "bn.bias", (48,), 0.2),
        weight(rng, "bn.mean", (48,), 0.2),
        numpy_helper.from_array(rng.uniform(0.5, 2.0, 48).astype(np.float32), "bn.var"),
        weight(rng, "fc.weight", (48, 5), 0.3),
        weight(rng, "fc.bias", (5,), 0.1),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "first"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "axis0"),
        *(numpy_helper.from_array(np.array(i, dtype=np.int64), f"axis{i}") for i in (1, 2, 3)),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[3, 3], strides=[2, 2],
                         name="maxpool"),
        # x.view(x.size(0), x.size(1) * x.size(2) * x.size(3)), computed on the shape.
        helper.make_node("Shape", ["p"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "first"], ["batch_list"], axis=0, name="batch"),
        helper.make_node("Squeeze", ["batch_list", "axis0"], ["batch"], name="squeeze"),
        helper.make_node("Unsqueeze", ["batch", "axis0"], ["batch_again"], name="unsqueeze"),
        *(helper.make_node("Gather", ["shape", f"axis{i}"], [f"size{i}"], axis=0,
                           name=f"size{i}") for i in (1, 2, 3)),
        helper.make_node("Mul", ["size1", "size2"], ["size12"], name="mul12"),
        helper.make_node("Mul", ["size12", "size3"], ["features"], name="mul123"),
        helper.make_node("Cast", ["features"], ["features64"], to=TensorProto.INT64,
                         name="cast"),
        helper.make_node("Unsqueeze", ["features64", "axis0"], ["features_list"],
                         name="unsqueeze_features"),
        helper.make_node("Concat", ["batch_again", "features_list"], ["target"], axis=0,
                         name="target"),
        helper.make_node("Reshape", ["p", "target"], ["f"], name="view"),
        helper.make_node("BatchNormalization", ["f", "bn.scale", "bn.bias", "bn.mean", "bn.var"],
                         ["b"], name="bn"),
        helper.make_node("Gemm", ["b", "fc.weight", "fc.bias"], ["out"], name="fc"),
    ]
    return nodes, (1, 10, 10), 5, init


def padded_pool(rng):
    init = [
        weight(rng, "conv1.weight", (4, 2, 3, 3), 0.4),
        weight(rng, "conv1.bias", (4,), 0.1),
        numpy_helper.from_array(rng.uniform(0.5, 1.5, 4).astype(np.float32), "bn.scale"),
        weight(rng, "bn.bias", (4,), 0.3),
        numpy_helper.from_array(rng.uniform(0.5, 2.5, 4).astype(np.float32), "bn.mean"),
        numpy_helper.from_array(rng.uniform(0.5, 2.0, 4).astype(np.float32), "bn.var"),
        weight(rng, "conv2.weight", (6, 4, 3, 3), 0.3),
        weight(rng, "conv2.bias", (6,), 0.1),
        weight(rng, "fc.weight", (5, 6 * 5 * 5), 0.2),
        weight(rng, "fc.bias", (5,), 0.1),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "minus_one"),
        numpy_helper.from_array(np.array(0, dtype=np.int64), "batch_axis"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "conv1.weight", "conv1.bias"], ["c1"],
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("BatchNormalization", ["c1", "bn.scale", "bn.bias", "bn.mean", "bn.var"],
                         ["b1"], name="bn1"),
        helper.make_node("MaxPool", ["b1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1], name="maxpool"),
        helper.make_node("Conv", ["p1", "conv2.weight", "conv2.bias"], ["c2"],
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv2"),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("AveragePool", ["r2"], ["p2"], kernel_shape=[3, 3], strides=[1, 1],
                         pads=[1, 1, 1, 1], count_include_pad=1, name="avgpool"),
        # x.view(x.size(0), -1), as torch.onnx.export writes it with a dynamic batch.
        helper.make_node("Shape", ["p2"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "batch_axis"], ["batch"], axis=0, name="gather"),
        helper.make_node("Unsqueeze", ["batch", "zero"], ["batch_list"], name="unsqueeze"),
        helper.make_node("Concat", ["batch_list", "minus_one"], ["target"], axis=0,
                         name="concat"),
        helper.make_node("Reshape", ["p2", "target"], ["v"], name="view"),
        helper.make_node("Gemm", ["v", "fc.weight", "fc.bias"], ["out"], transB=1, name="fc"),
    ]
    return nodes, (2, 10, 10), 5, init


def keras(rng):
    init = [
        weight(rng, "conv.kernel", (4, 3, 3, 3), 0.4),
        weight(rng, "conv.bias", (4,), 0.1),
        weight(rng, "dense1.kernel", (64, 16), 0.25),
        weight(rng, "dense1.bias", (16,), 0.1),
        weight(rng, "dense2.kernel", (16, 4), 0.4),
        weight(rng, "dense2.bias", (4,), 0.1),
        numpy_helper.from_array(np.array([-1, 64], dtype=np.int64), "flat_shape"),
    ]
    nodes = [
        helper.make_node("Transpose", ["x"], ["nchw"], perm=[0, 3, 1, 2], name="to_nchw"),
        helper.make_node("Conv", ["nchw", "conv.kernel", "conv.bias"], ["c"],
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2],
                         name="pool"),
        helper.make_node("Transpose", ["p"], ["nhwc"], perm=[0, 2, 3, 1], name="to_nhwc"),
        helper.make_node("Identity", ["nhwc"], ["nhwc_same"], name="identity"),
        helper.make_node("Reshape", ["nhwc_same", "flat_shape"], ["f"], name="flatten"),
        helper.make_node("MatMul", ["f", "dense1.kernel"], ["m1"], name="dense1"),
        helper.make_node("Add", ["m1", "dense1.bias"], ["a1"], name="dense1_bias"),
        helper.make_node("Relu", ["a1"], ["r1"], name="dense1_relu"),
        helper.make_node("MatMul", ["r1", "dense2.kernel"], ["m2"], name="dense2"),
        helper.make_node("Add", ["m2", "dense2.bias"], ["out"], name="dense2_bias"),
    ]
    return nodes, (8, 8, 3), 4, init


def columns(rng):
    init = [
        weight(rng, "w1", (16, 10), 0.3),
        weight(rng, "c1", (16, 1), 0.1),
        weight(rng, "w2", (12, 16), 0.3),
        weight(rng, "b2", (12, 1), 0.1),
        weight(rng, "w3_t", (12, 4), 0.4),
        weight(rng, "c3", (4,), 0.1),
    ]
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0], name="to_columns"),
        helper.make_node("Gemm", ["w1", "xt", "c1"], ["h1"], name="fc1"),
        helper.make_node("Relu", ["h1"], ["r1"], name="relu1"),
        helper.make_node("MatMul", ["w2", "r1"], ["m2"], name="fc2"),
        helper.make_node("Add", ["m2", "b2"], ["a2"], name="fc2_bias"),
        helper.make_node("Relu", ["a2"], ["r2"], name="relu2"),
        helper.make_node("Transpose", ["w3_t"], ["w3"], perm=[1, 0], name="w3"),
        helper.make_node("Gemm", ["r2", "w3", "c3"], ["out"], transA=1, transB=1, name="fc3"),
    ]
    return nodes, (10,), 4, init


MODELS = {"mlp": (mlp, False), "lenet": (lenet, True), "matmul": (matmul, False),
          "global": (global_pool, False), "rowbn": (row_batch_norm, "LogSoftmax"),
          "padpool": (padded_pool, False), "keras": (keras, True),
          "columns": (columns, "ArgMax")}

# Models whose input is already NHWC, as securenn reads images.
NHWC_INPUT = {"keras"}


# Each model's last weights, bias, and the factor (Gemm's beta) the bias is added with.
LAST_LAYER = {"mlp": ("fc2.weight", "fc2.bias", 1.0), "lenet": ("fc2.weight", "fc2.bias", 1.0),
              "matmul": ("out.kernel", "out.bias", 2.0), "global": ("fc.weight", "fc.bias", 1.0),
              "rowbn": ("fc.weight", "fc.bias", 1.0), "padpool": ("fc.weight", "fc.bias", 1.0),
              "keras": ("dense2.kernel", "dense2.bias", 1.0), "columns": ("w3_t", "c3", 1.0)}


def runtime_scores(scores_model, x):
    """ONNX Runtime's output of `scores_model` on `x`, with its graph optimisations off: the
    operators as the file writes them, not as ONNX Runtime rewrites them."""
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(scores_model.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def main(out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts, redrawn = {}, {}
    for index, (name, (build, softmax)) in enumerate(MODELS.items()):
        rng = np.random.default_rng(1000 + index)
        nodes, shape, classes, init = build(rng)
        x = rng.standard_normal((EXAMPLES + EXAMPLES // 10, *shape)).astype(np.float32)
        # Random weights favour one class, with scores of any size: the last layer is
        # rescaled and its bias moved, so that every class occurs and the scores spread as
        # a trained model's do (a standard deviation of 2), and agreeing on the class says
        # something.
        logits = runtime_scores(model(name, nodes, shape, classes, init, softmax=False), x)
        weight_name, bias_name, beta = LAST_LAYER[name]
        factor = 2.0 / (logits - logits.mean(axis=0)).std()
        for i, tensor in enumerate(init):
            values = numpy_helper.to_array(tensor)
            if tensor.name == weight_name:
                values = values * factor
            elif tensor.name == bias_name:
                values = factor * (values - (logits.mean(axis=0) / beta).reshape(values.shape))
            else:
                continue
            init[i] = numpy_helper.from_array(values.astype(np.float32), tensor.name)
        scores = model(name, nodes, shape, classes, init, softmax=False)
        written = model(name, nodes, shape, classes, init, softmax=softmax)
        onnx.save(written, out / f"{name}.onnx")
        logits = runtime_scores(scores, x)
        best_two = np.sort(logits, axis=1)[:, -2:]
        decided = best_two[:, 1] - best_two[:, 0] >= NEAR_TIE
        redrawn[name] = int((~decided[:EXAMPLES]).sum())
        assert redrawn[name] <= EXAMPLES // 100, f"{name}: {redrawn[name]} near ties"
        x, logits = x[decided][:EXAMPLES], logits[decided][:EXAMPLES]
        labels = logits.argmax(axis=1).astype(np.uint8)
        counts[name] = np.bincount(labels, minlength=classes)
        # securenn reads images as NHWC.
        x_securenn = x.transpose(0, 2, 3, 1) if x.ndim == 4 and name not in NHWC_INPUT else x
        np.savez(out / f"{name}.npz", x_train=x_securenn, y_train=labels, x_test=x_securenn,
                 y_test=labels, logits=logits)
        np.savetxt(out / f"{name}-logits.csv", logits, delimiter=",", fmt="%.9g")
    refused(out, np.random.default_rng(999))
    print(f"wrote {len(MODELS)} models and {len(REFUSED) + 1} others to {out}")
    for name, count in counts.items():
        print(f"{name}: examples per class {count.tolist()}; near ties redrawn among the "
              f"first {EXAMPLES}: {redrawn[name]}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "onnx-fixtures")
