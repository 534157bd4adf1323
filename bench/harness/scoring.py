"""What the drawn-digit benches score a classifier on: the saved drawn sets, and MNIST."""

from __future__ import annotations

import sys

import numpy as np

from mnist_core.drawn import DrawnSet, DrawnSetError, load_drawn_set, save_drawn_set
from mnist_core.evaluate import score_classifier
from scripts.build_drawn_set import OUTPUTS, build


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
