"""Redraw resolution: how finely must the Draw page redraw a drawing's strokes?

The Draw page redraws every drawing's strokes with one pen (`strokes.redraw`) on every stroke,
drawn `supersampling` times larger and averaged down. Each supersampling is scored on the same
drawings: every validation and test writer's (scripts/writers.py) strokes, drawn as
scripts/build_drawn_set.py draws its sets, redrawn at each supersampling and read by the saved
bench models (bench/drawn_accuracy.py trains them). The time is that of `redraw` alone on the
same writers' drawings as a browser sends them (strokes with a point every few pixels,
`tests/e2e/light_sessions.as_pen_strokes`), the supersamplings taking turns call by call in
random order. `strokes.REDRAWN_SUPERSAMPLING` is chosen on the validation writers.

    python bench/redraw_resolution.py [--models bench-best ...] [--calls 300]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from harness.report import Report, markdown_table

from mnist_core.classify import Classifier
from mnist_core.preprocess import to_mnist
from mnist_core.store import ModelFileError, find_model
from mnist_core.strokes import REDRAWN_SUPERSAMPLING, Stroke, redraw
from scripts.writers import DEFAULT_PER_DIGIT, DEFAULT_SEED, make_writers, writer_fonts
from tests.e2e.light_sessions import as_pen_strokes

SUPERSAMPLINGS = (4, 2, 1)  # 4: what the page did before
BASELINE = 4
MODELS = ("bench-best", "bench-cnn", "bench-reference-mlp")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--calls", type=int, default=300, help="timed calls per supersampling")
    args = parser.parse_args(argv)
    try:
        classifiers = {name: Classifier.load(find_model(name).path) for name in args.models}
    except ModelFileError as error:
        print(f"{error}: run bench/drawn_accuracy.py first, which trains them", file=sys.stderr)
        return 1
    report = Report(
        "redraw_resolution",
        "Redraw resolution: accuracy and time at each supersampling",
        f"Supersampling {REDRAWN_SUPERSAMPLING} is the Draw page's; {BASELINE}, what it did "
        "before. Accuracy: every validation and test writer's drawings (as the drawn sets are "
        "made), redrawn at each supersampling. Time: the median of "
        f"{args.calls} `redraw` calls per supersampling, taking turns, on test writers' drawings "
        "as a browser sends them.",
    )
    rows = []
    for writers in ("validation", "test"):
        drawings, labels = writers_drawings(writers == "validation")
        for supersampling in SUPERSAMPLINGS:
            images = np.stack([to_mnist(redraw(d, supersampling=supersampling)) for d in drawings])
            for name, classifier in classifiers.items():
                right = classifier.probabilities(images).argmax(axis=1) == labels
                per_digit = [right[labels == digit].mean() for digit in range(10)]
                worst = int(np.argmin(per_digit))
                rows.append(
                    [
                        f"{writers} writers",
                        name,
                        supersampling,
                        f"**{right.mean():.2%}**",
                        f"{per_digit[1]:.2%}",
                        f"{per_digit[worst]:.2%} ({worst}s)",
                    ]
                )
    headers = ["drawings", "model", "supersampling", "accuracy", "1s", "worst digit"]
    times = time_redraws(args.calls)
    timing = markdown_table(
        ["supersampling", "redraw, median ms", f"ratio to {BASELINE}"],
        [
            [s, f"{1000 * times[s]:.3f}", f"{times[s] / times[BASELINE]:.2f}"]
            for s in SUPERSAMPLINGS
        ],
    )
    report.add(markdown_table(headers, rows), timing)
    report.publish()
    return 0


def writers_drawings(validation: bool) -> tuple[list[list[Stroke]], np.ndarray]:
    """Every writer's strokes and digits, drawn in build_drawn_set.py's order and random
    numbers, so that the page's supersampling reads the saved set's drawings."""
    rng = np.random.default_rng(DEFAULT_SEED)
    drawings, labels = [], []
    for writer in make_writers(writer_fonts(validation), DEFAULT_SEED):
        for digit in range(10):
            for _ in range(DEFAULT_PER_DIGIT):
                drawings.append(writer.strokes(digit, rng)[0])
                labels.append(digit)
    return drawings, np.array(labels)


def time_redraws(calls: int) -> dict[int, float]:
    """The median seconds of one `redraw` at each supersampling, over the test writers'
    drawings as pen strokes."""
    drawings = [as_pen_strokes(d) for d in writers_drawings(validation=False)[0][::7]]
    turns = [(s, drawings[n % len(drawings)]) for n in range(calls) for s in SUPERSAMPLINGS]
    random.Random(0).shuffle(turns)
    seconds: dict[int, list[float]] = {s: [] for s in SUPERSAMPLINGS}
    for supersampling, drawing in turns:
        started = time.perf_counter()
        redraw(drawing, supersampling=supersampling)
        seconds[supersampling].append(time.perf_counter() - started)
    return {s: float(np.median(taken)) for s, taken in seconds.items()}


if __name__ == "__main__":
    sys.exit(main())
