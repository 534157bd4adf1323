"""Random distortions of training digits, made per batch so memory stays flat.

People draw digits slanted, squeezed, rotated, thick or thin and wobbly; MNIST's are neat.
`augment_batch` distorts a batch of digits the way drawings differ from MNIST: one affine map
(shift, scale per axis, rotation, shear) and an elastic wobble (Simard, Steinkraus & Platt 2003:
random displacement fields smoothed by a Gaussian), composed into a single resampling per image
so the strokes are blurred once, after a stroke-thickness change (grey dilation or erosion).
Given the labels, some 1s first get a European flag and some 7s a crossbar (`add_styles`).
Labels are never touched: every distortion keeps the digit what it was.

NumPy and SciPy do the work; Keras is needed only for `AugmentedBatches`, which feeds
`model.fit` a freshly distorted copy of every batch, every epoch.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import keras
import numpy as np
from scipy import ndimage

from mnist_core.pixels import to_unit
from mnist_core.preprocess import cross_filter

FOOTED_SHARE = 0.4  # of the flagged 1s, those that also get a foot
FLAG_LENGTH = (0.2, 0.6)  # of the 1's height
FLAG_ANGLE = (15.0, 60.0)  # degrees below the horizontal, pointing left


class AugmentationError(ValueError):
    """An augmentation setting or a batch to augment is not usable; the message says why."""


@dataclass(frozen=True)
class Augmentation:
    """How strongly to distort; each value is drawn uniformly per image within these limits.

    The defaults keep a digit recognisable and inside the 28x28 frame while covering what MNIST
    preprocessing leaves of a drawing's variety: slant, aspect, tilt, wobble and pen width.
    `NO_AUGMENTATION` changes nothing.
    """

    max_shift: float = 2.0  # pixels, on each axis
    scale: tuple[float, float] = (0.85, 1.1)  # per axis, so the aspect ratio varies too
    max_rotation: float = 12.0  # degrees, either way
    max_shear: float = 0.25  # horizontal shift per row, as a fraction: slant either way
    thickness: tuple[float, float] = (-0.5, 1.0)  # 3x3-cross dilations (< 0: erosions)
    elastic_alpha: float = 20.0  # Simard's alpha: scale of the displacement field, in pixels
    elastic_sigma: float = 4.0  # Simard's sigma: smoothing of the field, in pixels
    style_share: float = 0.3  # of the 1s given a European flag, and of the 7s a crossbar

    def __post_init__(self) -> None:
        for name in ("max_shift", "max_rotation", "max_shear", "elastic_alpha"):
            value = getattr(self, name)
            if not 0 <= value < math.inf:
                raise AugmentationError(f"{name} must be zero or positive, not {value!r}")
        if not self.elastic_sigma > 0:
            raise AugmentationError(f"elastic_sigma must be positive, not {self.elastic_sigma!r}")
        for name in ("scale", "thickness"):
            low, high = getattr(self, name)
            if not low <= high:
                raise AugmentationError(f"{name} must be a (low, high) range, not {(low, high)!r}")
        if not self.scale[0] > 0:
            raise AugmentationError(f"scale must be positive, not {self.scale!r}")
        if self.max_rotation > 180:
            raise AugmentationError(f"max_rotation is in degrees, at most 180: {self.max_rotation}")
        if not 0 <= self.style_share <= 1:
            raise AugmentationError(f"style_share must be in [0, 1], not {self.style_share!r}")


NO_AUGMENTATION = Augmentation(
    max_shift=0,
    scale=(1, 1),
    max_rotation=0,
    max_shear=0,
    thickness=(0, 0),
    elastic_alpha=0,
    style_share=0,
)


def augment_batch(
    images: np.ndarray,
    rng: np.random.Generator,
    augmentation: Augmentation | None = None,
    labels: np.ndarray | None = None,
) -> np.ndarray:
    """A distorted copy of `images` (n, height, width), same shape and dtype, values in range.

    Integer images (uint8 pixels) are rounded back to integers; float images keep their values'
    range. The same `rng` state gives the same result. With `labels`, some 1s and 7s are first
    written the European way (see `add_styles`).
    """
    augmentation = augmentation or Augmentation()
    images = np.asarray(images)
    if images.ndim != 3 or 0 in images.shape[1:]:
        raise AugmentationError(
            f"expected a batch of images (n, height, width), got {images.shape}"
        )
    if images.dtype.kind not in "uif":
        raise AugmentationError(f"expected images of numbers, got values of type {images.dtype}")
    pixels = images.astype(np.float32)
    if labels is not None and augmentation.style_share > 0:
        pixels = add_styles(pixels, np.asarray(labels), rng, augmentation.style_share)
    pixels = _change_thickness(pixels, rng.uniform(*augmentation.thickness, size=len(images)))
    rows, columns = _affine_coordinates(images.shape, augmentation, rng)
    if augmentation.elastic_alpha > 0:
        row_shift, column_shift = _elastic_displacements(images.shape, augmentation, rng)
        rows += row_shift
        columns += column_shift
    distorted = _bilinear(pixels, rows, columns)
    if images.dtype.kind == "f":
        return distorted.astype(images.dtype)
    limits = np.iinfo(images.dtype)
    return np.clip(np.rint(distorted), limits.min, limits.max).astype(images.dtype)


def add_styles(
    pixels: np.ndarray, labels: np.ndarray, rng: np.random.Generator, share: float
) -> np.ndarray:
    """Give `share` of the 1s a flag and of the 7s a crossbar, as European writers do.

    MNIST's writers were American: its 1s are bare strokes and its 7s uncrossed, so a model
    trained on it reads a flagged 1 as a 7. The added stroke is a straight line as wide as the
    digit's own, of a random length and angle: from the top of a 1 down to the left, or across
    a 7's stem at mid-height. Some flagged 1s also stand on a foot, as many people (and most
    typefaces) write them. `pixels` is float (n, height, width); a changed copy is returned.
    """
    styled = pixels.copy()
    chosen = np.flatnonzero(np.isin(labels, (1, 7)) & (rng.random(len(labels)) < share))
    for index in chosen:
        image = styled[index]
        ink = np.argwhere(image > 0.5 * image.max(initial=0))
        if len(ink) < 2:
            continue
        top, bottom = ink[:, 0].min(), ink[:, 0].max()
        height = max(bottom - top, 1)
        if labels[index] == 1:
            start = np.array([top, ink[ink[:, 0] == top, 1].mean()])
            length = rng.uniform(*FLAG_LENGTH) * height
            angle = np.radians(rng.uniform(*FLAG_ANGLE))
            end = start + length * np.array([np.sin(angle), -np.cos(angle)])  # down, left
            if rng.random() < FOOTED_SHARE:
                base = np.array([bottom, ink[ink[:, 0] == bottom, 1].mean()])
                half = np.array([0, rng.uniform(0.12, 0.3) * height])
                foot = _line(image.shape, base - half, base + half, rng.uniform(1.5, 2.5))
                image = styled[index] = np.maximum(image, image.max() * foot)
        else:
            middle = (top + bottom) / 2
            stem = ink[np.abs(ink[:, 0] - middle) <= 1, 1]
            centre = np.array([middle, stem.mean() if len(stem) else ink[:, 1].mean()])
            half, tilt = rng.uniform(0.12, 0.25) * height, np.radians(rng.uniform(-8, 8))
            offset = half * np.array([np.sin(tilt), np.cos(tilt)])
            start, end = centre - offset, centre + offset
        width = rng.uniform(1.5, 2.5)
        styled[index] = np.maximum(image, image.max() * _line(image.shape, start, end, width))
    return styled


def _line(shape: tuple[int, int], start: np.ndarray, end: np.ndarray, width: float) -> np.ndarray:
    """An anti-aliased straight stroke from `start` to `end` (row, column): (height, width)
    coverage in [0, 1], full within width/2 of the segment and fading over one pixel."""
    points = np.stack(np.indices(shape), axis=-1).astype(np.float64)
    direction = end - start
    along = np.clip((points - start) @ direction / max(direction @ direction, 1e-9), 0, 1)
    distance = np.linalg.norm(points - (start + along[..., None] * direction), axis=-1)
    return np.clip(width / 2 + 0.5 - distance, 0, 1)


def _change_thickness(pixels: np.ndarray, amounts: np.ndarray) -> np.ndarray:
    """Dilate (amount > 0) or erode (< 0) each image by |amount| steps of a 3x3 cross; a
    fractional step blends the two nearest whole ones, so thickness varies smoothly."""
    steps = math.ceil(np.abs(amounts).max(initial=0))
    result = pixels.copy()
    for extreme, sign in ((np.maximum, 1), (np.minimum, -1)):
        chosen = np.flatnonzero(amounts * sign > 0)
        previous = pixels[chosen]
        wanted = np.abs(amounts[chosen])[:, np.newaxis, np.newaxis]
        for step in range(1, steps + 1):
            changed = cross_filter(previous, extreme)
            weight = np.clip(wanted - (step - 1), 0, 1)  # 1 for whole steps, the fraction last
            result[chosen] += weight * (changed - previous)
            previous = changed
    return result


def _affine_coordinates(
    shape: tuple[int, ...], augmentation: Augmentation, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Where each output pixel samples its image: rows and columns, each (n, height, width).

    Each image is scaled, sheared, rotated about its centre and shifted; the coordinates are
    that map's inverse applied to the output grid.
    """
    n, height, width = shape
    angle = np.radians(rng.uniform(-augmentation.max_rotation, augmentation.max_rotation, n))
    shear = rng.uniform(-augmentation.max_shear, augmentation.max_shear, n)
    scale_rows, scale_columns = rng.uniform(*augmentation.scale, size=(2, n))
    shift_rows, shift_columns = rng.uniform(-augmentation.max_shift, augmentation.max_shift, (2, n))

    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.array([[cos, -sin], [sin, cos]])  # acts on (row, column)
    slant = np.array([[np.ones(n), np.zeros(n)], [-shear, np.ones(n)]])  # the top leans right
    stretch = np.array([[scale_rows, np.zeros(n)], [np.zeros(n), scale_columns]])
    forward = np.einsum("ijn,jkn,kln->nil", rotation, slant, stretch)
    inverse = np.linalg.inv(forward)[:, :, :, np.newaxis, np.newaxis]  # output -> input offset

    centre_row, centre_column = (height - 1) / 2, (width - 1) / 2
    rows = np.arange(height, dtype=np.float64)[:, np.newaxis] - centre_row
    columns = np.arange(width, dtype=np.float64)[np.newaxis, :] - centre_column
    rows = rows - shift_rows[:, np.newaxis, np.newaxis]  # (n, height, 1)
    columns = columns - shift_columns[:, np.newaxis, np.newaxis]  # (n, 1, width)
    sampled_rows = inverse[:, 0, 0] * rows + inverse[:, 0, 1] * columns + centre_row
    sampled_columns = inverse[:, 1, 0] * rows + inverse[:, 1, 1] * columns + centre_column
    return sampled_rows, sampled_columns


def _elastic_displacements(
    shape: tuple[int, ...], augmentation: Augmentation, rng: np.random.Generator
) -> np.ndarray:
    """(2, n, height, width) row and column displacements: uniform noise in [-1, 1] smoothed by
    a Gaussian of `elastic_sigma` pixels, times `elastic_alpha` (Simard et al. 2003)."""
    _, height, width = shape
    noise = rng.uniform(-1, 1, size=(2, *shape))
    smooth_rows = _gaussian_matrix(height, augmentation.elastic_sigma)
    smooth_columns = _gaussian_matrix(width, augmentation.elastic_sigma)
    return augmentation.elastic_alpha * (smooth_rows @ noise @ smooth_columns.T)


@functools.lru_cache(maxsize=8)
def _gaussian_matrix(size: int, sigma: float) -> np.ndarray:
    """(size, size) matrix applying scipy's 1-D Gaussian filter (zeros beyond the edges): as a
    matrix product the smoothing of a whole batch is one BLAS call."""
    return ndimage.gaussian_filter1d(np.eye(size), sigma, axis=0, mode="constant")


def _bilinear(pixels: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """pixels[i] sampled at (rows[i], columns[i]) with linear interpolation, 0 outside the image.

    Whole-number coordinates return the pixels exactly.
    """
    n, height, width = pixels.shape
    padded = np.pad(pixels, ((0, 0), (1, 1), (1, 1))).reshape(-1)  # a zero frame around each
    rows = np.clip(rows + 1, 0, height + 1)  # beyond the frame is the frame: zero
    columns = np.clip(columns + 1, 0, width + 1)
    top = np.minimum(np.floor(rows), height).astype(np.intp)
    left = np.minimum(np.floor(columns), width).astype(np.intp)
    down, right = (rows - top).astype(np.float32), (columns - left).astype(np.float32)
    padded_width = width + 2
    corner = (np.arange(n)[:, None, None] * (height + 2) + top) * padded_width + left
    upper = padded[corner] * (1 - right) + padded[corner + 1] * right
    lower = padded[corner + padded_width] * (1 - right) + padded[corner + padded_width + 1] * right
    return upper * (1 - down) + lower * down


class AugmentedBatches(keras.utils.PyDataset):
    """Batches of (distorted images as float32 in [0, 1], labels) for `model.fit`, from uint8
    images `x` and labels `y`.

    Every epoch shuffles the images and distorts each batch anew, from a generator seeded by
    (seed, epoch, batch index): the same seed gives the same batches, in any worker order.
    Memory stays at a few batches (`max_queue_size`) beyond `x` itself. fit's own `shuffle`
    only reorders the batches and may stay on.

    `workers` threads make batches while the model trains: with two, a CNN epoch on augmented
    batches takes about as long as on plain arrays; with one, Keras waits for every batch.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        augmentation: Augmentation | None = None,
        seed: int = 0,
        workers: int = 2,
        **kwargs,
    ) -> None:
        super().__init__(workers=workers, **kwargs)
        if np.asarray(x).dtype != np.uint8:
            raise AugmentationError(f"expected uint8 pixels 0..255, got {np.asarray(x).dtype}")
        if len(x) != len(y):
            raise AugmentationError(f"{len(x)} images but {len(y)} labels")
        if len(x) == 0 or batch_size < 1:
            raise AugmentationError(
                f"need images and a batch size of at least 1, got {len(x)} images "
                f"and batch size {batch_size}"
            )
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.augmentation = augmentation or Augmentation()
        self.seed = seed
        self.epoch = 0
        self._order = self._shuffled_order()

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        chosen = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        rng = np.random.default_rng((self.seed, self.epoch, index))
        images = augment_batch(self.x[chosen], rng, self.augmentation, self.y[chosen])
        return to_unit(images), self.y[chosen]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._shuffled_order()

    def _shuffled_order(self) -> np.ndarray:
        return np.random.default_rng((self.seed, self.epoch)).permutation(len(self.x))
