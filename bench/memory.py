"""Peak memory (resident set) of a training run and of a process that only classifies.

Each measurement is a fresh process that reports its own peak RSS (VmHWM) when done:
the original script's training beside `mnist_core.train.train` with the reference settings;
then a process that loads a saved model and classifies canvas images (preprocessing included),
with our `Classifier` beside Keras' `model.predict`; and, for scale, one that only imports Keras.

    python bench/memory.py [--classifications 1000]

Prints a markdown table and writes it to bench/results/memory.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from harness import training
from harness.report import Report, markdown_table
from harness.workers import is_worker, run_worker, worker_main

from mnist_core.config import TrainConfig

REFERENCE = TrainConfig()
CANVAS_STROKES = [[(70, 60), (210, 60), (120, 230)]]  # a 7, as drawn on the canvas


def save_small_model(architecture: str, models_dir: str) -> dict:
    """Train `architecture` for one epoch on a slice and save it: memory does not depend on
    the weights."""
    from mnist_core.data import prepare_mnist, slice_mnist
    from mnist_core.workflow import train_evaluate_save

    mnist = slice_mnist(prepare_mnist(), 5_000, 1_000)
    config = TrainConfig(architecture=architecture, epochs=1, validation_size=1_000)
    _, saved = train_evaluate_save(config, mnist, name=architecture, models_dir=models_dir)
    return {"path": str(saved.path)}


def classify_with_ours(model_path: str, count: str) -> dict:
    from mnist_core.classify import Classifier

    classifier = Classifier.load(model_path)
    return _classify(lambda image: classifier.probabilities(image), int(count))


def classify_with_keras(model_path: str, count: str) -> dict:
    from mnist_core.store import load_model

    model = load_model(model_path)
    return _classify(lambda image: model.predict(image[None], verbose=0)[0], int(count))


def _classify(probabilities, count: int) -> dict:
    """Preprocess and classify a canvas image `count` times; the seconds it took."""
    from mnist_core.preprocess import to_mnist
    from mnist_core.strokes import render_strokes

    canvas = render_strokes(CANVAS_STROKES)
    started = time.perf_counter()
    for _ in range(count):
        probabilities(to_mnist(canvas))
    return {"seconds": time.perf_counter() - started}


def import_keras() -> dict:
    import keras  # noqa: F401

    return {}


def import_inference_without_tensorflow() -> dict:
    """What classifying needs once the weights are read: NumPy, Pillow, SciPy, h5py."""
    import h5py  # noqa: F401

    import mnist_core.classify
    import mnist_core.preprocess  # noqa: F401

    return {}


WORKERS = {
    "save-model": save_small_model,
    "train-original": lambda: training.original_script(REFERENCE.seed),
    "train-ours": lambda: training.ours(REFERENCE),
    "classify-ours": classify_with_ours,
    "classify-keras": classify_with_keras,
    "import-keras": import_keras,
    "import-inference": import_inference_without_tensorflow,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifications", type=int, default=1000, help="per process")
    args = parser.parse_args(argv)
    count = args.classifications

    report = Report(
        "memory",
        "Peak memory: training and classifying",
        "Peak RSS (VmHWM) of each process, from start to exit; every row is a fresh Python. "
        "Training: the whole run (load MNIST, fit the reference MLP, score the test set). "
        f"Classifying: load a saved model, then {count} times preprocess a canvas image "
        "(280x280 RGBA) and classify it.",
    )
    rows = []

    def measure(label: str, worker: str, *args: object) -> None:
        run = run_worker(__file__, worker, *args)
        seconds = run.get("seconds", run.get("fit_seconds"))
        rows.append([label, f"**{run['peak_rss_mib']:.0f}**", f"{seconds:.1f}" if seconds else ""])
        print(f"{label}: {run['peak_rss_mib']:.0f} MiB", file=sys.stderr)

    measure("train: original script", "train-original")
    measure("train: `mnist_core.train.train` (reference)", "train-ours")
    with tempfile.TemporaryDirectory() as models_dir:
        for architecture in ("mlp", "cnn"):
            path = run_worker(__file__, "save-model", architecture, models_dir)["path"]
            name = architecture.upper()
            measure(f"classify {name}: `Classifier` (ours)", "classify-ours", path, count)
            measure(f"classify {name}: `model.predict`", "classify-keras", path, count)
    measure("only `import keras`, for scale", "import-keras")
    measure("only import h5py, `preprocess`, `classify` (no TensorFlow)", "import-inference")

    headers = ["process", "peak RSS MiB", "seconds (fit, or classifying)"]
    report.add(markdown_table(headers, rows))
    report.publish()
    return 0


if __name__ == "__main__":
    sys.exit(worker_main(WORKERS) if is_worker() else main())
