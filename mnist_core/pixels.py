"""The two forms of a digit's pixels: uint8 at rest, float32 in [0, 1] at the model's edge.

MNIST stores its digits as uint8, and so does everything kept here (the feedback database, the
drawn-digit set, the mistakes in a model's record). A model reads float32 in [0, 1]: the one
conversion is made right before the model, and back once when a prepared image is kept.
"""

from __future__ import annotations

import numpy as np

FULL_INK = 255


def to_unit(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels 0..255 -> float32 in [0, 1], the model's input."""
    return np.divide(pixels, FULL_INK, dtype=np.float32)


def to_pixels(images: np.ndarray) -> np.ndarray:
    """Images in [0, 1] (a prepared drawing) -> uint8 0..255, rounded, as they are kept."""
    return np.rint(np.clip(images, 0, 1) * FULL_INK).astype(np.uint8)
