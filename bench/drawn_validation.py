"""Validation writers: how the `best` preset's settings are chosen without the test writers.

Scores saved models on the validation writers (data/drawn_validation.npz, scripts/writers.py:
fonts no test writer uses, traced the same way, built if missing) and on the 10,000 MNIST
validation images (the last of the training set, which `train` holds out). Settings are compared
here; the test writers (bench/drawn_accuracy.py) only report the chosen one.

    python bench/drawn_validation.py MODEL[=DESCRIPTION] [MODEL[=DESCRIPTION] ...]

DESCRIPTION says what a model's training changed (the record holds its settings, not the
augmentation's code). Prints a markdown table and writes it to bench/results/drawn_validation.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from harness.report import Report, markdown_table
from harness.scoring import by_digit, by_writer, mnist_accuracy, saved_drawn_set

from mnist_core.classify import Classifier
from mnist_core.data import prepare_mnist, split_validation
from mnist_core.pixels import to_unit
from mnist_core.store import find_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", metavar="MODEL[=DESCRIPTION]")
    args = parser.parse_args(argv)
    writers = saved_drawn_set("validation-writers")
    people = len(set(writers.sources))
    report = Report(
        "drawn_validation",
        "Validation writers: choosing settings without the test writers",
        f"{len(writers):,} drawings by {people} validation writers (fonts no test writer uses), "
        "through the app's preprocessing, and the 10,000 MNIST validation images. Columns 0-9: "
        "accuracy per digit on the validation writers.",
    )
    _, (x_val, y_val) = split_validation(*prepare_mnist().train, 10_000)
    digits = to_unit(writers.digits)
    rows = []
    for argument in args.models:
        name, _, description = argument.partition("=")
        saved = find_model(name)
        classifier = Classifier.load(saved.path)
        correct = classifier.probabilities(digits).argmax(axis=1) == writers.labels
        per_digit = by_digit(correct, writers)
        config = saved.record.config
        settings = f"{config.architecture}, {config.epochs} epochs"
        if config.augment:
            settings += ", augmented"
        if config.ones_bias:
            settings += f", leaning towards 1 (+{config.ones_bias:g} log-odds)"
        rows.append(
            [
                name,
                f"{settings}{'; ' + description if description else ''}",
                f"**{correct.mean():.2%}**",
                f"{by_writer(correct, writers).min():.0%}",
                f"{per_digit.min():.0%}",
                *(f"{accuracy:.0%}" for accuracy in per_digit),
                f"{mnist_accuracy(classifier, x_val, y_val):.2%}",
            ]
        )
    headers = ["model", "settings", "validation writers", "worst writer", "worst digit"]
    headers += [*map(str, range(10)), "MNIST validation"]
    report.add(markdown_table(headers, rows))
    report.publish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
