"""Learning one person's handwriting at once, from the drawings they corrected: no training.

A model reads a drawing through its last hidden layer, its features (`Classifier.features`):
drawings it takes for the same digit lie close together there. `PersonalClassifier` keeps each
of the person's labelled drawings at that place, with copies shifted by a pixel (a person never
draws the same digit twice in the same spot). A new drawing close to a remembered one, both in
the model's features and in its own pixels, is read as the person said that one was; the closer
it is, the more the memory decides over the model, and a drawing far from every remembered one
is read by the model alone, so a memory changes nothing but what looks like what it holds.
Like Teachable Machine's first version (k-nearest neighbours over a network's features), it
learns from a handful of examples in milliseconds.

Only NumPy: the Draw page builds one per person and model, and asks it on every stroke.
"""

from __future__ import annotations

import numpy as np

from mnist_core.classify import Classifier

# A remembered drawing counts once the new one is this close to it (cosine similarity) in the
# model's features and decides alone from the second value; chosen on the validation writers
# (bench/personal_memory.py).
MATCH_FROM = 0.80
MATCH_FULL = 0.92
# The same for the drawings' own pixels (each less its mean): a model's features may find
# different digits alike (a weak model's do), a person's two drawings of one digit seldom are.
PIXELS_FROM = 0.70
PIXELS_FULL = 0.85
# The memory's vote between the digits it holds: a softmax of their best matches / this.
TEMPERATURE = 0.05
# Each drawing is also remembered moved by a pixel each way.
SHIFTS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))


class PersonalClassifier:
    """`base` (a loaded `Classifier`) with a memory of one person's labelled drawings.

    `images` are (n, 28, 28) float32 in [0, 1] as `preprocess.to_mnist` makes them, `labels`
    (n,) digits; n may be 0, and then it answers exactly as `base`. `probabilities` has the same
    shapes and contract as `Classifier.probabilities`.
    """

    def __init__(self, base: Classifier, images: np.ndarray, labels: np.ndarray) -> None:
        images, labels = _checked(images, labels)
        self._remember(base, images, labels, _shifted_memory(base, images))

    def adding(self, images: np.ndarray, labels: np.ndarray) -> PersonalClassifier:
        """A reader that also remembers `images`, put before the drawings this one holds (the
        store lists them newest first): only the new drawings' features are computed, so a
        person's memory grows by one drawing in the time one drawing takes, however many it
        holds."""
        images, labels = _checked(images, labels)
        if not len(labels):
            return self
        if not self.size:
            return PersonalClassifier(self.base, images, labels)
        grown = object.__new__(PersonalClassifier)
        grown._remember(
            self.base,
            np.concatenate([images, self.images]),
            np.concatenate([labels, self.labels]),
            np.concatenate([_shifted_memory(self.base, images), self._by_shift()], axis=1),
        )
        return grown

    def _remember(
        self, base: Classifier, images: np.ndarray, labels: np.ndarray, by_shift: np.ndarray
    ) -> None:
        """`by_shift`: (shifts, drawings, features), as `_shifted_memory` makes it."""
        self.base = base
        self.size = len(labels)
        self.images, self.labels = images, labels  # as given: what it remembers
        # unit rows, shift by shift as `_pixel_match` orders its matches
        self._memory = by_shift.reshape(-1, by_shift.shape[-1]) if self.size else None
        self._pixels = _unit_rows(_centred(images)) if self.size else None  # once: _pixel_match
        self._labels = np.tile(labels, len(SHIFTS))
        self._digits = np.unique(labels)

    def _by_shift(self) -> np.ndarray:
        """The memory as `_shifted_memory` makes it: (shifts, drawings, features), a view."""
        return self._memory.reshape(len(SHIFTS), self.size, -1)

    def __repr__(self) -> str:
        return f"PersonalClassifier(base={self.base.name!r}, drawings={self.size})"

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """(28, 28) -> (10,), or (n, 28, 28) -> (n, 10); pixels in [0, 1]."""
        images = np.asarray(images, dtype=np.float32)
        if images.ndim == 2:
            return self.probabilities(images[np.newaxis])[0]
        features = self.base.features(images)
        answers = self.base.output(features)
        if self._memory is None:
            return answers
        # how much each remembered copy is the new drawing (n, copies): alike to both eyes
        match = _ramp(_unit_rows(features) @ self._memory.T, MATCH_FROM, MATCH_FULL) * _ramp(
            self._pixel_match(images), PIXELS_FROM, PIXELS_FULL
        )
        closest = np.full((len(images), 10), -np.inf, dtype=np.float32)
        for digit in self._digits:
            closest[:, digit] = match[:, self._labels == digit].max(axis=1)
        weight = closest.max(axis=1, keepdims=True)
        votes = np.exp((closest - weight) / TEMPERATURE)  # exp(-inf) = 0: digits never shown
        votes /= votes.sum(axis=1, keepdims=True)
        return (1 - weight) * answers + weight * votes

    def _pixel_match(self, images: np.ndarray) -> np.ndarray:
        """(n, copies) cosine of `images` with each remembered shifted copy, in `_labels`'
        order. A copy moved by (r, c) matches a drawing as the unmoved one matches the drawing
        moved back by (-r, -c), as long as no ink leaves the frame (`to_mnist` leaves a blank
        border around the digit). So each drawing's pixels are kept once, not once per shift."""
        moved = np.stack([_shift(images, -rows, -columns) for rows, columns in SHIFTS], axis=1)
        match = _unit_rows(_centred(moved.reshape(-1, 28, 28))) @ self._pixels.T
        return match.reshape(len(images), -1)  # (n, shifts, drawings): shift by shift


def _checked(images, labels) -> tuple[np.ndarray, np.ndarray]:
    images = np.asarray(images, dtype=np.float32)
    labels = np.asarray(labels)
    if images.ndim == 2 and images.size == 0:
        images = images.reshape(0, 28, 28)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"expected (n, 28, 28) images, got {images.shape}")
    if labels.shape != (len(images),):
        raise ValueError(f"expected one label per image ({len(images)}), got {labels.shape}")
    if labels.size and (labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"labels must be digits 0 to 9, got {labels!r:.80}")
    if not np.isfinite(images).all() or images.min(initial=0) < 0 or images.max(initial=0) > 1:
        raise ValueError("images must be finite pixels in [0, 1]")
    return images, labels.astype(np.int64)


def _shifted_memory(base: Classifier, images: np.ndarray) -> np.ndarray:
    """(shifts, n, features): `base`'s features of `images` moved by each of `SHIFTS`, each row
    of unit length, so that rows of several calls may simply be put together."""
    if not len(images):
        return np.zeros((len(SHIFTS), 0, 0), np.float32)
    shifted = np.concatenate([_shift(images, rows, columns) for rows, columns in SHIFTS])
    return _unit_rows(base.features(shifted)).reshape(len(SHIFTS), len(images), -1)


def _shift(images: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """`images` moved by whole pixels, blank where they move in from outside."""
    moved = np.zeros_like(images)
    height, width = images.shape[1:]
    moved[:, max(rows, 0) : height + min(rows, 0), max(columns, 0) : width + min(columns, 0)] = (
        images[
            :, max(-rows, 0) : height + min(-rows, 0), max(-columns, 0) : width + min(-columns, 0)
        ]
    )
    return moved


def _ramp(values: np.ndarray, start: float, full: float) -> np.ndarray:
    """0 up to `start`, rising to 1 at `full`."""
    return np.clip((values - start) / (full - start), 0, 1)


def _centred(images: np.ndarray) -> np.ndarray:
    flat = images.reshape(len(images), 28 * 28)
    return flat - flat.mean(axis=1, keepdims=True)


def _unit_rows(features: np.ndarray) -> np.ndarray:
    flat = features.reshape(len(features), -1)  # a CNN's features may still be maps
    return flat / np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-12)
