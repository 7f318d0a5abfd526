"""Writes the NPZ data files of securenn's tests with numpy itself, the format's reference.

    python3 tests/npz/make_npz.py OUT_DIR

bars.npz: 8x8 one-channel uint8 images of a bright bar (class 0 horizontal, 1 vertical,
2 the main diagonal, 3 the anti-diagonal) over noise, saved by np.savez; bars-compressed.npz
holds the same arrays saved by np.savez_compressed; rows.npz: float32 rows of 6 features
in two classes. The other files each hold one defect that securenn must refuse by name.
"""

import io
import sys
import zipfile
from pathlib import Path

import numpy as np


def bars(rng, n):
    labels = rng.integers(0, 4, size=n, dtype=np.int64)
    images = rng.integers(0, 60, size=(n, 8, 8)).astype(np.float64)
    for image, label in zip(images, labels):
        at = rng.integers(1, 7)
        if label == 0:
            image[at, :] += 180
        elif label == 1:
            image[:, at] += 180
        elif label == 2:
            image[np.arange(8), np.arange(8)] += 180
        else:
            image[np.arange(8), 7 - np.arange(8)] += 180
    return np.clip(images, 0, 255).astype(np.uint8), labels


def npy_bytes(array):
    out = io.BytesIO()
    np.lib.format.write_array(out, array)
    return out.getvalue()


def raw_npz(path, members):
    """An archive of raw .npy members, as np.savez lays it out."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name + ".npy", data)


def main(out):
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    x_train, y_train = bars(rng, 512)
    x_test, y_test = bars(rng, 256)
    good = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    np.savez(out / "bars.npz", **good)
    np.savez_compressed(out / "bars-compressed.npz", **good)

    rows_train = rng.normal(size=(64, 6)).astype(np.float32)
    rows_test = rng.normal(size=(16, 6)).astype(np.float32)
    np.savez(
        out / "rows.npz",
        x_train=rows_train,
        y_train=(rows_train[:, 0] > 0).astype(np.uint8),
        x_test=rows_test,
        y_test=(rows_test[:, 0] > 0).astype(np.uint8),
    )

    def defect(name, **changes):
        np.savez(out / name, **{**good, **changes})

    nan = x_train.astype(np.float32)
    nan[3, 2, 1] = np.nan
    defect("nan.npz", x_train=nan)
    defect("negative-label.npz", y_train=np.where(np.arange(512) == 5, -1, y_train))
    defect("huge-label.npz", y_test=np.where(np.arange(256) == 7, 300, y_test))
    defect("float-labels.npz", y_train=y_train.astype(np.float32))
    defect("short-labels.npz", y_train=y_train[:500])
    defect("test-shape.npz", x_test=x_test[:, :7, :])
    defect("one-d.npz", x_train=x_train.reshape(-1))
    defect("big-endian.npz", x_train=x_train.astype(">f4"))
    np.savez(out / "missing.npz", x_train=x_train, y_train=y_train, x_test=x_test)

    members = {name: npy_bytes(array) for name, array in good.items()}
    raw_npz(out / "truncated-array.npz", {**members, "x_test": members["x_test"][:-100]})
    archive = (out / "bars.npz").read_bytes()
    (out / "truncated-archive.npz").write_bytes(archive[: len(archive) // 2])
    (out / "not-a-zip.npz").write_bytes(b"x_train,y_train\n1,2\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
