"""Exports: each format's size and the time one image takes in its own runtime.

For each saved model, every format `mnist_core.export` writes is loaded in its runtime
(Keras, TensorFlow's SavedModel `serve`, LiteRT's interpreter, ONNX Runtime) and classifies
one preprocessed digit at a time, the runtimes taking turns call by call with the app's own
NumPy classifier (the baseline, same run). Also checked: each agrees with the .h5 to 1e-4.

    python bench/export_formats.py [--models bench-reference-mlp bench-best] [--calls 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from harness.report import Report, markdown_table

from mnist_core.classify import Classifier
from mnist_core.data import prepare_mnist
from mnist_core.export import FORMATS, SUFFIXES, export_model, size_of
from mnist_core.pixels import to_unit
from mnist_core.store import find_model, load_model

AGREEMENT = 1e-4


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["bench-reference-mlp", "bench-best"])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args(argv)
    report = Report(
        "export_formats",
        "Exports: size and per-image latency in each runtime",
        f"{args.calls} calls of one image each per runtime, in turns, after 5 warm-up calls; "
        "the image is an MNIST test digit already prepared (28x28 float32). Agreement: the "
        "largest difference from the .h5's probabilities on 100 test digits.",
    )
    digits = to_unit(prepare_mnist().test[0][:100])
    for name in args.models:
        saved = find_model(name)
        expected = load_model(saved.path).predict(digits, verbose=0)
        with tempfile.TemporaryDirectory() as folder:
            exports = {
                fmt: export_model(saved, fmt, Path(folder) / f"{name}{SUFFIXES[fmt]}")
                for fmt in FORMATS
            }
            runners = {"NumPy classifier (the app's)": Classifier.load(saved.path).probabilities}
            runners |= {fmt: runner(fmt, path) for fmt, path in exports.items()}
            times = timed(runners, digits, args.calls)
            sizes = {fmt: size_of(path) for fmt, path in exports.items()}
            rows = [
                [
                    fmt,
                    f"{sizes.get(fmt, saved.path.stat().st_size) / 1024:,.0f}",
                    f"{times[fmt]:.3f}",
                    f"{np.abs(run(digits) - expected).max():.1e}",
                ]
                for fmt, run in runners.items()
            ]
        verdicts = [
            f"- {row[0]}: agrees to {AGREEMENT:g}: "
            + ("met" if float(row[3]) <= AGREEMENT else "NOT met")
            for row in rows
        ]
        headers = ["format", "size KiB (.h5 for NumPy)", "median ms / image", "max difference"]
        report.add(f"**{name}**", markdown_table(headers, rows), "\n".join(verdicts))
    report.publish()
    return 0


def runner(fmt: str, path: Path):
    """A function from (n, 28, 28) float32 to (n, 10) probabilities, in `fmt`'s runtime."""
    if fmt == "keras":
        import keras

        model = keras.models.load_model(path)
        return lambda images: model(images, training=False).numpy()
    if fmt == "savedmodel":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))
        return lambda images: loaded.serve(images).numpy()
    if fmt == "tflite":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path))
        (given,) = interpreter.get_input_details()
        interpreter.allocate_tensors()
        output = interpreter.get_output_details()[0]["index"]

        def run(images):
            if list(interpreter.get_input_details()[0]["shape"]) != list(images.shape):
                interpreter.resize_tensor_input(given["index"], list(images.shape))
                interpreter.allocate_tensors()
            interpreter.set_tensor(given["index"], images)
            interpreter.invoke()
            return interpreter.get_tensor(output)

        return run
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    return lambda images: session.run(None, {input_name: images})[0]


def timed(runners: dict, digits: np.ndarray, calls: int) -> dict[str, float]:
    """Median ms of one image per runner, the runners taking turns call by call."""
    times = {name: [] for name in runners}
    for call in range(calls + 5):
        image = digits[call % len(digits)][None]
        for name, run in runners.items():
            started = time.perf_counter()
            run(image)
            if call >= 5:
                times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


if __name__ == "__main__":
    sys.exit(main())
