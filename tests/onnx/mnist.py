"""A model trained in the clear on MNIST and exported to ONNX, and ONNX Runtime's accuracy.

    python3 tests/onnx/mnist.py train models/mnist-mlp.onnx
    python3 tests/onnx/mnist.py evaluate models/mnist-mlp.onnx

`train` fits, in numpy, the network that `torch.nn.Sequential(nn.Flatten(), nn.Linear(784,
128), nn.ReLU(), nn.Linear(128, 10))` is, on the 60,000 vendored training images
(data/mnist, pixels / 255), with plain minibatch SGD on the cross-entropy (seed 0, 10 epochs),
and writes it as `torch.onnx.export` would: input `image` of shape (batch, 1, 28, 28),
Flatten, Gemm with transB=1, Relu, Gemm with transB=1, opset 17. `evaluate` prints ONNX
Runtime's accuracy on the 10,000 test images: the figure private inference is held to.

Pinned versions: tests/requirements.txt.
"""

import gzip
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

DATA = Path(__file__).resolve().parents[2] / "data" / "mnist"


def idx(name):
    with gzip.open(DATA / name, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def images(split):
    x = idx(f"{split}-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y = idx(f"{split}-labels-idx1-ubyte.gz").astype(np.int64)
    return x.reshape(-1, 1, 28, 28), y


def train(out):
    rng = np.random.default_rng(0)
    x, y = images("train")
    x = x.reshape(len(x), -1)
    w1 = (rng.uniform(-1, 1, (128, 784)) / np.sqrt(784)).astype(np.float32)
    b1 = np.zeros(128, np.float32)
    w2 = (rng.uniform(-1, 1, (10, 128)) / np.sqrt(128)).astype(np.float32)
    b2 = np.zeros(10, np.float32)
    lr, batch = 0.1, 64
    for epoch in range(10):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            idx_ = order[start:start + batch]
            xb, yb = x[idx_], y[idx_]
            h = xb @ w1.T + b1
            r = np.maximum(h, 0)
            z = r @ w2.T + b2
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(yb)), yb] -= 1
            dz = p / len(yb)
            dw2, db2 = dz.T @ r, dz.sum(axis=0)
            dr = dz @ w2
            dh = dr * (h > 0)
            dw1, db1 = dh.T @ xb, dh.sum(axis=0)
            w1 -= lr * dw1
            b1 -= lr * db1
            w2 -= lr * dw2
            b2 -= lr * db2
        print(f"epoch {epoch + 1} done")
    init = [numpy_helper.from_array(a.astype(np.float32), n) for n, a in
            [("fc1.weight", w1), ("fc1.bias", b1), ("fc2.weight", w2), ("fc2.bias", b2)]]
    nodes = [
        helper.make_node("Flatten", ["image"], ["flat"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["flat", "fc1.weight", "fc1.bias"], ["h"], transB=1, name="fc1"),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        helper.make_node("Gemm", ["r", "fc2.weight", "fc2.bias"], ["logits"], transB=1,
                         name="fc2"),
    ]
    graph = helper.make_graph(
        nodes, "mnist-mlp",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, out)
    print(f"wrote {out}")


def evaluate(path):
    x, y = images("t10k")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    predicted = session.run(None, {name: x})[0].argmax(axis=1)
    accuracy = (predicted == y).mean()
    print(f"ONNX Runtime: accuracy {accuracy * 100:.2f}% on 10000 test images")


if __name__ == "__main__":
    command, path = sys.argv[1], sys.argv[2]
    {"train": train, "evaluate": evaluate}[command](path)
