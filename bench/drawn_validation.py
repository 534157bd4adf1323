"""Validation drawings: how the `best` preset's settings were chosen without the drawn test set.

Builds two sets of drawings (2,000 and 3,000) the way the drawn-digit set is made
(scripts/drawn_synthesis.py), but from MNIST *training* digits and with other seeds, and scores
saved models on them and on the 10,000 MNIST validation images (the last of the training set, which
`train` holds out). Settings are compared here; the drawn-digit set (bench/drawn_accuracy.py)
only reports the chosen one.

    python bench/drawn_validation.py MODEL [MODEL ...]

Prints a markdown table and writes it to bench/results/drawn_validation.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from harness.report import Report, markdown_table
from harness.scoring import drawn_scores, mnist_accuracy

from mnist_core.classify import Classifier
from mnist_core.data import prepare_mnist, split_validation
from mnist_core.store import find_model
from scripts.drawn_synthesis import build_drawn_set

# (seed, drawings per digit) of each validation set; the drawn test set uses drawn.DEFAULT_SEED.
# Two sets, since one of 2,000 drawings put a model 0.6 points above where the other did.
VALIDATION_SETS = ((778, 200), (779, 300))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", metavar="MODEL", help="saved models' names")
    args = parser.parse_args(argv)
    sets = " and ".join(f"{per * 10:,} (seed {seed})" for seed, per in VALIDATION_SETS)
    report = Report(
        "drawn_validation",
        "Validation drawings: choosing settings without the test set",
        f"Two sets of drawings built like the drawn-digit set from MNIST training digits, "
        f"{sets}, and the 10,000 MNIST validation images. Each set's cell: all its "
        "drawings, then (in brackets) its 1s drawn with a flag.",
    )
    mnist = prepare_mnist()
    drawing_sets = [
        build_drawn_set(seed, per, mnist_test=mnist.train) for seed, per in VALIDATION_SETS
    ]
    _, (x_val, y_val) = split_validation(*mnist.train, 10_000)
    rows = []
    for name in args.models:
        saved = find_model(name)
        classifier = Classifier.load(saved.path)
        config = saved.record.config
        settings = f"{config.architecture}, {config.epochs} epochs"
        if config.augment:
            settings += ", augmented"
        row = [name, settings]
        for drawings in drawing_sets:
            scores = drawn_scores(classifier, drawings)
            row.append(f"**{scores.drawn:.2%}** ({scores.flagged_ones:.1%})")
        rows.append([*row, f"{mnist_accuracy(classifier, x_val, y_val):.2%}"])
    headers = [
        "model",
        "settings",
        *(f"seed {seed} drawings (flagged 1s)" for seed, _ in VALIDATION_SETS),
        "MNIST validation",
    ]
    report.add(markdown_table(headers, rows))
    report.publish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
