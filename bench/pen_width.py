"""Pen width: does the Draw page's pen slider change what the model reads?

Every writer (scripts/writers.py) draws every digit with the pen set to each width the slider
offers, the rest of their hand unchanged. Each drawing reaches the model four ways: its
strokes drawn into the 28x28 with one pen (`strokes.strokes_to_mnist`, what the Draw page
does, ours); redrawn with the Draw page's pen on the canvas (`strokes.redraw`) and prepared as
a picture (`preprocess.to_mnist`: the page's way before, with today's pen); and as the canvas
shows it with the writer's pen, with strokes evened to MNIST's width
(`preprocess.even_stroke_width`, what the page did before that) and without (the baseline);
same drawings, same run. Reported per model: accuracy at each width, and the spread (best
width minus worst), which should stay within TARGET_SPREAD, with its noise: the same drawings
are read at every width, so the noise is the standard error of the per-drawing difference
between the best and the worst width (a spread within two of them could be luck).

`strokes.DIGIT_PEN` and `preprocess.MNIST_STROKE_WIDTH` were chosen with `--writers
validation` (`--pen` tries another); the README's table comes from the test writers.

    python bench/pen_width.py [--writers test|validation] [--models bench-best ...]
                              [--pen FRACTION]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from harness.report import Report, markdown_table

from mnist_core.classify import Classifier
from mnist_core.preprocess import to_mnist
from mnist_core.store import find_model
from mnist_core.strokes import (
    DIGIT_PEN,
    PEN_WIDTHS,
    STROKE_WIDTH,
    Stroke,
    redraw,
    render_strokes,
    strokes_to_mnist,
)
from scripts.writers import DEFAULT_SEED, make_writers, writer_fonts

WIDTHS_TRIED = (PEN_WIDTHS[0], 12, STROKE_WIDTH, PEN_WIDTHS[1])  # the slider's ends, its default
PER_DIGIT = 20
TARGET_SPREAD = 0.005


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", choices=("test", "validation"), default="test")
    parser.add_argument("--models", nargs="+", default=["bench-reference-mlp", "bench-best"])
    parser.add_argument("--pen", type=float, default=DIGIT_PEN)
    args = parser.parse_args(argv)
    people = make_writers(writer_fonts(args.writers == "validation"), DEFAULT_SEED)
    report = Report(
        "pen_width",
        "Pen width: accuracy at each width the slider offers",
        f"{len(people)} {args.writers} writers, {PER_DIGIT} drawings of each digit each at every "
        "pen width (px on the 280 px canvas), otherwise in their own hand; their strokes "
        f"drawn into the 28x28 with a pen {args.pen:.1%} of MNIST's 20 px box wide, as the Draw "
        "page does, redrawn on the canvas with the page's pen and prepared as a picture, "
        "and as the canvas shows them, with strokes evened to MNIST's width and without.",
    )
    prepares = pipelines(args.pen)
    inputs = {pipeline: {} for pipeline in prepares}
    for width in WIDTHS_TRIED:
        for drawing in drawings(people, width):
            shown = render_strokes(drawing, width=width)
            for pipeline, prepare in prepares.items():
                inputs[pipeline].setdefault(width, []).append(prepare(drawing, shown))
    labels = np.tile(np.repeat(np.arange(10), PER_DIGIT), len(people))
    rows, verdicts = [], []
    for name in args.models:
        classifier = Classifier.load(find_model(name).path)
        for pipeline, by_width in inputs.items():
            right = np.array(
                [read(classifier, by_width[width]) == labels for width in WIDTHS_TRIED]
            )
            accuracy = right.mean(axis=1)
            spread = accuracy.max() - accuracy.min()
            difference = right[accuracy.argmax()].astype(int) - right[accuracy.argmin()]
            noise = difference.std() / np.sqrt(len(labels))
            cells = [f"{value:.2%}" for value in accuracy]
            rows.append(
                [name, pipeline, *cells, f"**{spread * 100:.2f} points**", f"{noise * 100:.2f}"]
            )
            verdict = "met" if spread <= TARGET_SPREAD else "NOT met"
            verdicts.append(
                f"- {name}, {pipeline}: spread {spread * 100:.2f} points, noise "
                f"{noise * 100:.2f} (target <= {TARGET_SPREAD * 100:.1f}): {verdict}"
            )
    headers = [
        "model",
        "pipeline",
        *(f"pen {width}" for width in WIDTHS_TRIED),
        "spread",
        "noise (1 standard error)",
    ]
    report.add(markdown_table(headers, rows), "\n".join(verdicts))
    report.publish()
    return 0


def drawings(people, pen_width: float) -> list[list[Stroke]]:
    """Every writer's strokes for each digit, PER_DIGIT times, with the pen at `pen_width`: the
    same strokes at every width (the same random numbers)."""
    drawn = []
    for seed, writer in enumerate(people):
        rng = np.random.default_rng((DEFAULT_SEED, seed))
        writer = dataclasses.replace(writer, pen=pen_width)
        drawn += [writer.strokes(digit, rng)[0] for digit in range(10) for _ in range(PER_DIGIT)]
    return drawn


def pipelines(pen: float) -> dict:
    """Name -> (the strokes, the canvas as it shows them) -> the model's input."""
    return {
        "as drawn": lambda drawing, shown: to_mnist(shown, even_width=False),
        "as drawn, evened": lambda drawing, shown: to_mnist(shown),
        "redrawn on the canvas, prepared as a picture": lambda drawing, shown: to_mnist(
            redraw(drawing)
        ),
        "one pen (the Draw page)": lambda drawing, shown: strokes_to_mnist(drawing, pen),
    }


def read(classifier: Classifier, images: list[np.ndarray]) -> np.ndarray:
    return classifier.probabilities(np.stack(images)).argmax(axis=1)


if __name__ == "__main__":
    sys.exit(main())
