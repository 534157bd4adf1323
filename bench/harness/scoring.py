"""What the drawn-digit benches score a classifier on: drawings, their flagged 1s, and MNIST."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from mnist_core.drawn import DrawnSet, evaluate_drawn
from mnist_core.evaluate import score_classifier


class DrawnScores(NamedTuple):
    drawn: float  # accuracy on every drawing
    flagged_ones: float  # on the 1s drawn with a European flag, the form MNIST lacks
    mnist: float  # on the MNIST images given


def drawn_scores(
    classifier, drawings: DrawnSet, mnist_images: np.ndarray, mnist_labels: np.ndarray
) -> DrawnScores:
    """Accuracies of `classifier` (a `classify.Classifier`); MNIST images are uint8 pixels."""
    flagged = drawings.sources == "mnist+flag"
    return DrawnScores(
        evaluate_drawn(classifier, drawings).accuracy,
        score_classifier(classifier, drawings.digits[flagged], drawings.labels[flagged]).accuracy,
        score_classifier(classifier, mnist_images / 255, mnist_labels).accuracy,
    )
