"""Writes the ONNX fixtures of securenn's import tests, and what ONNX Runtime computes on them.

    python3 tests/onnx/make_models.py OUT_DIR

For each model NAME it writes OUT_DIR/NAME.onnx (built with the `onnx` package, weights
drawn from a seeded generator, laid out as PyTorch exports them) and OUT_DIR/NAME.npz,
a data set for `securenn infer --data`: 1,000 inputs (`x_test`, images in NHWC as securenn
reads them, while the model takes NCHW), ONNX Runtime's class for each (`y_test`), and its
scores (`logits`, the model's output before any final Softmax). `x_train`/`y_train` are
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
  10x10 maps a last row and column no window reaches, rounded down) - Flatten -
  BatchNormalization of the flattened rows (not folded: it follows a Flatten) - Gemm with
  transB=0 - LogSoftmax, on 1x10x10 images.

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
OPSET = 17


def weight(rng, name, shape, scale):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def model(name, nodes, inputs_shape, outputs, initializers, softmax, opset=OPSET):
    """A model of `nodes` from input `x` (batch left open) to `outputs` classes."""
    last = nodes[-1].output[0]
    if softmax:
        kind = softmax if isinstance(softmax, str) else "Softmax"
        nodes = nodes + [helper.make_node(kind, [last], ["probabilities"], axis=1)]
        last = "probabilities"
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", *inputs_shape])],
        [helper.make_tensor_value_info(last, TensorProto.FLOAT, ["batch", outputs])],
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
    padded = helper.make_node("MaxPool", ["c"], ["p"], kernel_shape=[2, 2], strides=[2, 2],
                              pads=[1, 1, 1, 1], name="pool")
    nodes, init = conv_then(rng, padded)
    init[1] = weight(rng, "fc.weight", (3, 2 * 5 * 5), 0.3)
    onnx.save(model("padded", nodes, (1, 8, 8), 3, init, False), out / "refused-pool-padding.onnx")
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


REFUSED = ["sigmoid", "trans-a", "opset", "pool-padding", "group", "dilation"]

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
    ]
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[3, 3], strides=[2, 2],
                         name="maxpool"),
        helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
        helper.make_node("BatchNormalization", ["f", "bn.scale", "bn.bias", "bn.mean", "bn.var"],
                         ["b"], name="bn"),
        helper.make_node("Gemm", ["b", "fc.weight", "fc.bias"], ["out"], name="fc"),
    ]
    return nodes, (1, 10, 10), 5, init


MODELS = {"mlp": (mlp, False), "lenet": (lenet, True), "matmul": (matmul, False),
          "global": (global_pool, False), "rowbn": (row_batch_norm, "LogSoftmax")}


def main(out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for index, (name, (build, softmax)) in enumerate(MODELS.items()):
        rng = np.random.default_rng(1000 + index)
        nodes, shape, classes, init = build(rng)
        scores = model(name, nodes, shape, classes, init, softmax=False)
        written = model(name, nodes, shape, classes, init, softmax=softmax)
        onnx.save(written, out / f"{name}.onnx")
        x = rng.uniform(0.0, 1.0, (EXAMPLES, *shape)).astype(np.float32)
        session = onnxruntime.InferenceSession(scores.SerializeToString(),
                                               providers=["CPUExecutionProvider"])
        logits = session.run(None, {"x": x})[0]
        labels = logits.argmax(axis=1).astype(np.uint8)
        # securenn reads images as NHWC.
        x_securenn = x.transpose(0, 2, 3, 1) if x.ndim == 4 else x
        np.savez(out / f"{name}.npz", x_train=x_securenn, y_train=labels, x_test=x_securenn,
                 y_test=labels, logits=logits)
        np.savetxt(out / f"{name}-logits.csv", logits, delimiter=",", fmt="%.9g")
    refused(out, np.random.default_rng(999))
    print(f"wrote {len(MODELS)} models and {len(REFUSED) + 1} others to {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "onnx-fixtures")
