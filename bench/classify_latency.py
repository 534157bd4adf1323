"""Classify latency: one canvas drawing to 10 probabilities, as the Draw page does it.

A drawing's strokes, as the canvas sends them, are drawn straight into MNIST's 28x28 with one
pen (`strokes.strokes_to_mnist`) and go through `Classifier.probabilities` (ours), against the
same preprocessing followed by Keras' `model.predict` (the baseline) and, for reference, a direct
`model(x)` call, on the same loaded model. Each architecture (MLP, CNN, CNN with a dense layer)
is trained for one epoch on a slice first: latency does not depend on the weights.

Ours is timed twice. As the Draw page runs it: in a worker process that never imports
TensorFlow. And taking turns, call by call, with the Keras calls in this process: there
TensorFlow's threads keep the CPUs busy for a while after each of its calls, which the Draw
page never has to share them with.
Target: our median as the Draw page runs it, at most 1 ms.

    python bench/classify_latency.py [--calls 300]

Prints a markdown table and writes it to bench/results/classify_latency.md.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's banners off the report

import numpy as np
from harness.report import Report, markdown_table
from harness.workers import is_worker, run_worker, worker_main

from mnist_core.classify import Classifier
from mnist_core.config import ARCHITECTURES, TrainConfig
from mnist_core.data import prepare_mnist, slice_mnist
from mnist_core.store import load_model
from mnist_core.strokes import strokes_to_mnist

TARGET_MEDIAN_MS = 1.0
WARM_UP_CALLS = 5
AGREEMENT = 1e-5  # largest difference allowed between our probabilities and model.predict's
# Digits drawn as on the 280x280 canvas, in canvas pixels; the calls cycle through them.
DIGIT_STROKES = (
    [[(140 + 55 * math.cos(t), 140 + 85 * math.sin(t)) for t in np.linspace(0, 2 * np.pi, 41)]],
    [[(140, 40), (140, 240)]],
    [[(80, 90), (120, 55), (180, 65), (190, 110), (80, 225), (210, 225)]],
    [[(170, 230), (170, 40), (70, 170), (210, 170)]],
    [[(70, 60), (210, 60), (120, 230)]],
)


Method = Callable[[Sequence], np.ndarray]  # a drawing's strokes -> probabilities
# Row labels of the methods timed.
PREPROCESS = "`strokes_to_mnist` alone, as the Draw page"
OURS = "**ours**: `strokes_to_mnist` + `Classifier.probabilities`, as the Draw page"
OURS_BESIDE_KERAS = "ours, taking turns with the Keras calls"
KERAS_CALL = "`strokes_to_mnist` + Keras `model(x)`"
BASELINE = "baseline: `strokes_to_mnist` + `model.predict`"


def main(argv: list[str] | None = None) -> int:
    # Training imports TensorFlow: only here, so the worker times the Draw page's path without it.
    from mnist_core.workflow import train_evaluate_save

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="timed calls per method")
    args = parser.parse_args(argv)

    report = Report(
        "classify_latency",
        "Classify latency: canvas drawing to probabilities",
        f"Model loaded once per process; {args.calls} timed calls per method after "
        f"{WARM_UP_CALLS} warm-up calls, taking turns call by call in random order, over "
        f"{len(DIGIT_STROKES)} drawings (strokes on the 280x280 canvas). Every row but the "
        'first includes the preprocessing. The two rows "as the Draw page" take turns in a worker '
        "process that never imports TensorFlow, as the Draw page's server; the other three "
        "in one process with TensorFlow. Ratio: the method's median over `model.predict`'s.",
    )
    mnist = slice_mnist(prepare_mnist(), 5_000, 1_000)
    verdicts = []
    with tempfile.TemporaryDirectory() as models_dir:
        for architecture in ARCHITECTURES:
            config = TrainConfig(architecture=architecture, epochs=1, validation_size=1_000)
            _, saved = train_evaluate_save(config, mnist, name=architecture, models_dir=models_dir)
            model = load_model(saved.path)
            methods = keras_methods(saved.path, model)
            check_agreement(methods, DIGIT_STROKES)
            times = run_worker(__file__, "draw_page", saved.path, args.calls)["times"]
            times.update(time_calls(methods, DIGIT_STROKES, args.calls))
            report.add(f"**{architecture.upper()}**\n\n" + table(times))
            verdicts.append(verdict(architecture, times))
    report.add("  \n".join(verdicts))
    report.publish()
    return 0


def draw_page_methods(model_path: str | os.PathLike) -> dict[str, Method]:
    """What the Draw page runs, by row label: each takes a drawing's strokes."""
    classifier = Classifier.load(model_path)
    return {
        PREPROCESS: strokes_to_mnist,
        OURS: lambda strokes: classifier.probabilities(strokes_to_mnist(strokes)),
    }


def keras_methods(model_path: Path, model) -> dict[str, Method]:
    """Ours and the Keras calls on the same loaded model, by row label."""
    ours = draw_page_methods(model_path)[OURS]
    return {
        OURS_BESIDE_KERAS: ours,
        KERAS_CALL: lambda strokes: model(a_batch_of(strokes), training=False).numpy()[0],
        BASELINE: lambda strokes: model.predict(a_batch_of(strokes), verbose=0)[0],
    }


def a_batch_of(strokes) -> np.ndarray:
    """A drawing as Keras takes it: a batch of one 28x28 digit."""
    return strokes_to_mnist(strokes)[np.newaxis]


def time_draw_page(model_path: str, calls: str) -> dict:
    """Worker: the Draw page's methods timed in a process that has not imported TensorFlow."""
    times = time_calls(draw_page_methods(model_path), DIGIT_STROKES, int(calls))
    if "tensorflow" in sys.modules:
        raise RuntimeError("the Draw page's path imported TensorFlow")
    return {"times": times}


def check_agreement(methods: dict[str, Method], drawings: Sequence) -> None:
    """Refuse to time a fast path that answers differently from the baseline."""
    for drawing in drawings:
        difference = np.abs(methods[OURS_BESIDE_KERAS](drawing) - methods[BASELINE](drawing)).max()
        if difference > AGREEMENT:
            raise SystemExit(f"ours and model.predict differ by {difference:.2g} > {AGREEMENT}")


def time_calls(
    methods: dict[str, Method], drawings: Sequence, calls: int
) -> dict[str, list[float]]:
    """Milliseconds per call of each method. The methods take turns call by call in a fresh
    random order each time: a slow call evicts the caches the next one needs, and no method
    should always come after the same one."""
    times: dict[str, list[float]] = {label: [] for label in methods}
    shuffle = np.random.default_rng(0).permutation
    for index in range(WARM_UP_CALLS + calls):
        drawing = drawings[index % len(drawings)]
        for label in shuffle(list(methods)):
            method = methods[label]
            started = time.perf_counter()
            method(drawing)
            elapsed_ms = (time.perf_counter() - started) * 1000
            if index >= WARM_UP_CALLS:
                times[label].append(elapsed_ms)
    return times


def table(times: dict[str, list[float]]) -> str:
    baseline = np.median(times[BASELINE])
    rows = [
        [
            label,
            f"{np.median(values):.3f}",
            f"{np.percentile(values, 95):.3f}",
            f"{np.median(values) / baseline:.3f}",
        ]
        for label, values in times.items()
    ]
    return markdown_table(["method", "median ms", "p95 ms", "ratio"], rows)


def verdict(architecture: str, times: dict[str, list[float]]) -> str:
    ours, baseline = (float(np.median(times[label])) for label in (OURS, BASELINE))
    met = "met" if ours <= TARGET_MEDIAN_MS else "NOT met"
    return (
        f"{architecture.upper()}: ours {ours:.3f} ms median, model.predict {baseline:.1f} ms, "
        f"{baseline / ours:.0f}x faster (target ≤ {TARGET_MEDIAN_MS:g} ms): {met}."
    )


WORKERS = {"draw_page": time_draw_page}

if __name__ == "__main__":
    sys.exit(worker_main(WORKERS) if is_worker() else main())
