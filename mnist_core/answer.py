"""What a classifier says about one drawing or picture, in the words a person reads at a glance.

A drawing's strokes (`strokes.strokes_to_mnist`) or a picture (`preprocess.to_mnist`) become
the 28x28 digit MNIST's were and go through the classifier; the ten probabilities become a
verdict that hedges when the model is unsure. Only numpy and Pillow here: the Draw page calls
this on every stroke.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from mnist_core.pixels import to_pixels
from mnist_core.preprocess import to_mnist
from mnist_core.strokes import Stroke, strokes_to_mnist

SURE_PROBABILITY = 0.6
"""Below this top probability the verdict hedges."""

SURE_MARGIN = 0.3
"""The verdict also hedges when the runner-up is closer than this to the top digit."""

PREVIEW_SCALE = 5
"""28 px drawn as 140 px: big enough to see what the model sees, pixel by pixel."""


class DigitClassifier(Protocol):
    def probabilities(self, images: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Verdict:
    """The most likely digit and the runner-up, each with its probability."""

    digit: int
    probability: float
    runner_up: int
    runner_up_probability: float

    @property
    def is_sure(self) -> bool:
        return (
            self.probability >= SURE_PROBABILITY
            and self.probability - self.runner_up_probability >= SURE_MARGIN
        )

    def __str__(self) -> str:
        """ "7", or "not sure: 4 or 9" when the model hesitates."""
        if self.is_sure:
            return str(self.digit)
        return f"not sure: {self.digit} or {self.runner_up}"


def a_digit(digit: int) -> str:
    """A digit with its article, as it is said: "a 7", "an 8"."""
    return f"{'an' if digit == 8 else 'a'} {digit}"


def verdict(probabilities: np.ndarray) -> Verdict:
    """The verdict of ten class probabilities (ties go to the smaller digit)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape != (10,) or not np.isfinite(probabilities).all():
        raise ValueError(f"expected 10 finite probabilities, got {probabilities!r}")
    first, second = np.argsort(-probabilities, kind="stable")[:2]
    return Verdict(
        int(first), float(probabilities[first]), int(second), float(probabilities[second])
    )


@dataclass(frozen=True)
class Answer:
    """The 28x28 digit the model saw, its ten probabilities and the verdict."""

    image: np.ndarray  # (28, 28) float32 in [0, 1]
    probabilities: np.ndarray  # (10,)
    verdict: Verdict

    def preview(self, scale: int = PREVIEW_SCALE) -> np.ndarray:
        """The 28x28 image enlarged by whole pixels (uint8), so it stays sharp on screen."""
        return to_pixels(self.image).repeat(scale, axis=0).repeat(scale, axis=1)


def read_digit(picture, classifier: DigitClassifier) -> Answer:
    """Prepare `picture` as MNIST's digits were and ask `classifier` what it is.

    `picture` is anything `preprocess.to_mnist` accepts (a decoded upload, a canvas's pixels);
    raises `preprocess.EmptyImageError` for a blank picture, `preprocess.ImageError` for a
    non-image.
    """
    return _answer(to_mnist(picture), classifier)


def read_drawing(strokes: Sequence[Stroke], classifier: DigitClassifier) -> Answer:
    """What `classifier` reads in a drawing's strokes, as the Draw page reads every stroke;
    raises `preprocess.EmptyImageError` when there are none."""
    return _answer(strokes_to_mnist(strokes), classifier)


def _answer(image: np.ndarray, classifier: DigitClassifier) -> Answer:
    probabilities = np.asarray(classifier.probabilities(image))
    return Answer(image, probabilities, verdict(probabilities))
