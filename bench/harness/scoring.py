"""What the drawn-digit benches score a classifier on: drawings, their flagged 1s, and MNIST."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from mnist_core.drawn import DrawnSet, evaluate_drawn
from mnist_core.evaluate import score_classifier


class DrawnScores(NamedTuple):
    drawn: float  # accuracy on every drawing
    flagged_ones: float  # on the 1s drawn with a European flag, the form MNIST lacks


def drawn_scores(classifier, drawings: DrawnSet) -> DrawnScores:
    """Accuracies of `classifier` (a `classify.Classifier`) on `drawings`."""
    flagged = drawings.sources == "mnist+flag"
    return DrawnScores(
        evaluate_drawn(classifier, drawings).accuracy,
        score_classifier(classifier, drawings.digits[flagged], drawings.labels[flagged]).accuracy,
    )


def mnist_accuracy(classifier, images: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of `classifier` on MNIST images given as uint8 pixels."""
    return score_classifier(classifier, images, labels).accuracy
