"""Why a model answers what it does, in NumPy on its saved layers (no TensorFlow).

- `evidence`: for each pixel, how much its ink supports a digit. Occlusion (Zeiler & Fergus
  2014): the ink of a small cross around the pixel is taken away and the digit's log odds
  measured again; what the digit loses is the pixel's evidence (a gain, negative
  evidence, means that ink speaks against it). Faithful by construction, and checked: taking
  away the ink it ranks highest hurts the digit far more than taking away the brightest ink
  (tests, bench/explain_faithfulness.py).
- `Neighbours`: the training digits nearest to a drawing in the model's last hidden layer,
  where the model puts digits it takes for the same.
- `Classifier.responses` and `Classifier.first_kernel` show the network's inside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_core.classify import Classifier
from mnist_core.config import TrainConfig
from mnist_core.data import split_validation

_CROSS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))  # the pixel and its four neighbours
_INK = 0.05  # pixels below this are background: taking them away changes nothing
_FLOOR = 1e-12  # a division-by-zero guard
VALIDATION_SIZE = TrainConfig().validation_size


def evidence(classifier: Classifier, image: np.ndarray, digit: int) -> np.ndarray:
    """(28, 28) float32: how much each pixel's ink supports `digit`, in log odds (which,
    unlike the probability, still moves when the model is all but sure); 0 where there is no
    ink. `image` is (28, 28) in [0, 1], as `to_mnist` makes it.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.shape != (28, 28):
        raise ValueError(f"expected one (28, 28) image, got {image.shape}")
    if not 0 <= digit <= 9:
        raise ValueError(f"a digit is 0-9, not {digit}")
    rows, columns = np.nonzero(image >= _INK)
    result = np.zeros((28, 28), np.float32)
    if len(rows) == 0:
        return result
    occluded = np.repeat(image[np.newaxis], len(rows), axis=0)
    for down, right in _CROSS:
        r, c = rows + down, columns + right
        inside = (r >= 0) & (r < 28) & (c >= 0) & (c < 28)
        occluded[np.flatnonzero(inside), r[inside], c[inside]] = 0
    log_odds = classifier.log_odds(np.concatenate([image[np.newaxis], occluded]), digit)
    result[rows, columns] = log_odds[0] - log_odds[1:]
    return result


def runner_up(probabilities: np.ndarray) -> int:
    """The digit the model thinks second likeliest."""
    return int(np.argsort(probabilities)[-2])


def blank_top(image: np.ndarray, ranking: np.ndarray, count: int) -> np.ndarray:
    """`image` with the `count` pixels that `ranking` (28, 28) puts highest set to 0."""
    blanked = image.copy().reshape(-1)
    blanked[np.argsort(ranking.reshape(-1))[::-1][:count]] = 0
    return blanked.reshape(image.shape)


@dataclass(frozen=True, eq=False)
class Neighbours:
    """Digits a drawing can be compared with, as the model sees them: their features (the
    last hidden layer's), unit length, with the images and labels. eq=False: it holds arrays."""

    features: np.ndarray  # (n, d), each row of length 1
    images: np.ndarray  # (n, 28, 28) uint8 or float in [0, 1]
    labels: np.ndarray  # (n,)

    @classmethod
    def of(cls, classifier: Classifier, images: np.ndarray, labels: np.ndarray) -> Neighbours:
        """`images` ((n, 28, 28), uint8 pixels or floats in [0, 1]) as `classifier` sees them."""
        unit = images.astype(np.float32) / (255 if images.dtype == np.uint8 else 1)
        chunks = [classifier.features(unit[i : i + 1000]) for i in range(0, len(unit), 1000)]
        features = np.concatenate(chunks) if chunks else np.zeros((0, 1), np.float32)
        return cls(_unit_rows(features), images, np.asarray(labels))

    def nearest(self, classifier: Classifier, image: np.ndarray, count: int = 8) -> list[int]:
        """The indices of the `count` digits nearest to `image` (28, 28), nearest first."""
        if len(self.labels) == 0:
            return []
        query = _unit_rows(classifier.features(np.asarray(image, np.float32)[np.newaxis]))[0]
        similarity = self.features @ query
        count = min(count, len(similarity))
        closest = np.argpartition(-similarity, count - 1)[:count]
        return [int(i) for i in closest[np.argsort(-similarity[closest])]]


def training_neighbours(classifier: Classifier, mnist) -> Neighbours:
    """The training digits a model learnt from, less the validation images the default settings
    hold out (the last VALIDATION_SIZE, when there are more): its look-alikes are among these."""
    held_out = VALIDATION_SIZE if len(mnist.train[1]) > 2 * VALIDATION_SIZE else 0
    (images, labels), _held_out = split_validation(*mnist.train, held_out)
    return Neighbours.of(classifier, images, labels)


def _unit_rows(features: np.ndarray) -> np.ndarray:
    lengths = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(lengths, _FLOOR)
