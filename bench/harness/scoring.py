"""What the drawn-digit benches score a classifier on: the saved drawn sets, and MNIST."""

from __future__ import annotations

import sys

import numpy as np

from mnist_core.drawn import DrawnSet, DrawnSetError, load_drawn_set, save_drawn_set
from mnist_core.evaluate import score_classifier
from scripts.build_drawn_set import OUTPUTS, build
from scripts.writers import font_of

INTERVAL_RESAMPLES = 10_000


def saved_drawn_set(kind: str) -> DrawnSet:
    """The saved set of `kind` (see scripts/build_drawn_set.py), built first if it is missing
    or was made by another version."""
    path = OUTPUTS[kind]
    try:
        return load_drawn_set(path)
    except DrawnSetError as error:
        print(
            f"{error}\nbuilding the {kind} set (scripts/build_drawn_set.py --set {kind})...",
            file=sys.stderr,
        )
    save_drawn_set(build(kind, None, None), path)
    return load_drawn_set(path)


def by_writer(correct: np.ndarray, drawn: DrawnSet) -> np.ndarray:
    """Each writer's accuracy (in the order of `np.unique(drawn.sources)`), from `correct`, one
    bool per drawing."""
    return np.array(
        [correct[drawn.sources == person].mean() for person in np.unique(drawn.sources)]
    )


def by_digit(correct: np.ndarray, drawn: DrawnSet) -> np.ndarray:
    """The accuracy on each digit 0-9, from `correct`, one bool per drawing."""
    return np.array([correct[drawn.labels == digit].mean() for digit in range(10)])


def mnist_accuracy(classifier, images: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of `classifier` on MNIST images given as uint8 pixels."""
    return score_classifier(classifier, images, labels).accuracy


def font_interval(
    correct: np.ndarray, drawn: DrawnSet, digit: int | None = None, seed: int = 0
) -> tuple[float, float]:
    """A 95% bootstrap interval for the accuracy on `digit` (None: on every drawing) of a
    writers' set, from `correct`, one bool per drawing, resampling whole fonts.

    A misreading comes from the shape a font gives a digit, and each font has several writers
    who all draw it so: the drawings of one font are not independent draws, the fonts are. With
    a few dozen fonts, one font more or less that writes a digit oddly moves it by points."""
    chosen = np.ones(len(drawn), bool) if digit is None else drawn.labels == digit
    fonts = np.array([font_of(source) for source in drawn.sources[chosen]])
    _, font_index = np.unique(fonts, return_inverse=True)
    right = np.bincount(font_index, weights=correct[chosen])
    total = np.bincount(font_index)
    picks = np.random.default_rng(seed).integers(len(total), size=(INTERVAL_RESAMPLES, len(total)))
    accuracies = right[picks].sum(axis=1) / total[picks].sum(axis=1)
    low, high = np.percentile(accuracies, [2.5, 97.5])
    return float(low), float(high)
