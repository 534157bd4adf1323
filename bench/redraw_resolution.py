"""Drawing resolution: how finely must the Draw page draw a drawing's strokes?

On every stroke the Draw page draws the drawing's strokes into MNIST's 28x28 with one pen
(`strokes.strokes_to_mnist`), `supersampling` times finer and averaged down. Each
supersampling is scored on the same drawings: the validation and test writers' sets
(scripts/writers.py), built as scripts/build_drawn_set.py builds them but drawn at each
supersampling, and scored as the app scores them (`drawn.evaluate_drawn`) by the saved bench
models (bench/drawn_accuracy.py trains them). The time is that of `strokes_to_mnist` alone on
test writers' drawings as a browser sends them (strokes with a point every few pixels,
`tests/e2e/light_sessions.writers_drawings`), the supersamplings taking turns call by call in
random order. `strokes.DIGIT_SUPERSAMPLING` is
chosen on the validation writers.

    python bench/redraw_resolution.py [--models bench-best ...] [--calls 300]
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from harness.report import Report, markdown_table

from mnist_core.classify import Classifier
from mnist_core.drawn import evaluate_drawn
from mnist_core.store import ModelFileError, find_model
from mnist_core.strokes import DIGIT_SUPERSAMPLING, strokes_to_mnist
from scripts.writers import DEFAULT_SEED, build_writers_set, make_writers, writer_fonts
from tests.e2e.light_sessions import writers_drawings

SUPERSAMPLINGS = (10, 5, 2)
BASELINE = 10
TIMED_DRAWINGS = 500
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
        "Drawing resolution: accuracy and time at each supersampling",
        f"Supersampling {DIGIT_SUPERSAMPLING} is the Draw page's; {BASELINE}, the finest tried. "
        "Accuracy: every validation and test writer's drawings (as the drawn sets are made), "
        "drawn at each supersampling. Time: the median of "
        f"{args.calls} `strokes_to_mnist` calls per supersampling, taking turns, on test "
        "writers' drawings as a browser sends them.",
    )
    rows = []
    for writers in ("validation", "test"):
        people = make_writers(writer_fonts(writers == "validation"), DEFAULT_SEED)
        for supersampling in SUPERSAMPLINGS:
            drawn = build_writers_set(people, supersampling=supersampling)
            for name, classifier in classifiers.items():
                evaluation = evaluate_drawn(classifier, drawn)
                per_digit = evaluation.per_class_accuracy
                worst = int(np.argmin(per_digit))
                rows.append(
                    [
                        f"{writers} writers",
                        name,
                        supersampling,
                        f"**{evaluation.accuracy:.2%}**",
                        f"{per_digit[1]:.2%}",
                        f"{per_digit[worst]:.2%} ({worst}s)",
                    ]
                )
    headers = ["drawings", "model", "supersampling", "accuracy", "1s", "worst digit"]
    times = time_drawing(args.calls)
    timing = markdown_table(
        ["supersampling", "strokes_to_mnist, median ms", f"ratio to {BASELINE}"],
        [
            [s, f"{1000 * times[s]:.3f}", f"{times[s] / times[BASELINE]:.2f}"]
            for s in SUPERSAMPLINGS
        ],
    )
    report.add(markdown_table(headers, rows), timing)
    report.publish()
    return 0


def time_drawing(calls: int) -> dict[int, float]:
    """The median seconds of one `strokes_to_mnist` at each supersampling, over test writers'
    drawings as pen strokes."""
    drawings = [strokes for strokes, _ in itertools.islice(writers_drawings(), TIMED_DRAWINGS)]
    turns = [(s, drawings[n % len(drawings)]) for n in range(calls) for s in SUPERSAMPLINGS]
    random.Random(0).shuffle(turns)
    seconds: dict[int, list[float]] = {s: [] for s in SUPERSAMPLINGS}
    for supersampling, drawing in turns:
        started = time.perf_counter()
        strokes_to_mnist(drawing, supersampling=supersampling)
        seconds[supersampling].append(time.perf_counter() - started)
    return {s: float(np.median(taken)) for s, taken in seconds.items()}


if __name__ == "__main__":
    sys.exit(main())
