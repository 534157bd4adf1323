"""The drawn-digit test set: digits as drawn on the app's canvas, for measuring, never for
training. This module is its file format, loading and scoring; `scripts/drawn_synthesis.py`
makes it (and says how, and how it differs from real drawings).

Each image is a 280x280 canvas, white ink on black, as the Draw page reads a drawing (the
simulated writers' strokes redrawn with one pen, `strokes.redraw`; the older re-drawn MNIST set
as its pen drew it), so a model is scored on the app's own preprocessing.
"""

from __future__ import annotations

import functools
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_core.evaluate import Evaluation, score_classifier
from mnist_core.files import chosen_path, write_atomically
from mnist_core.pixels import to_pixels
from mnist_core.preprocess import to_mnist
from mnist_core.strokes import CANVAS_SIZE

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "drawn_digits.npz"
PATH_ENV_VAR = "MNIST_DRAWN_SET"  # another saved set, e.g. a small one for tests
FILE_FORMAT = 1


class DrawnSetError(Exception):
    """The drawn-digit set cannot be built or read as asked; the message says why."""


@dataclass(frozen=True, eq=False)
class DrawnSet:
    """Canvas images (n, 280, 280) uint8 grey, white ink on black, with their labels (n,) uint8
    and where each came from (n,) str: "mnist", "mnist+flag", "mnist+crossbar", "font:<file>"."""

    canvases: np.ndarray
    labels: np.ndarray
    sources: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @functools.cached_property
    def digits(self) -> np.ndarray:
        """The canvases as the app prepares them (`preprocess.to_mnist`), kept as (n, 28, 28)
        uint8 pixels."""
        return to_pixels(np.stack([to_mnist(canvas) for canvas in self.canvases]))


def evaluate_drawn(classifier, drawn: DrawnSet) -> Evaluation:
    """Score `classifier` (a `classify.Classifier`, or anything with its `probabilities`) on the
    drawn set after MNIST-style preprocessing; `.per_class_accuracy` is per digit."""
    return score_classifier(classifier, drawn.digits, drawn.labels)


def save_drawn_set(drawn: DrawnSet, path: str | os.PathLike = DEFAULT_PATH) -> Path:
    """Write `drawn` as a compressed .npz (no pickles), creating the folder; atomically, so a
    reader never finds half a file."""

    def write(temp: Path) -> None:
        with temp.open("wb") as file:
            np.savez_compressed(
                file,
                canvases=drawn.canvases,
                labels=drawn.labels,
                sources=drawn.sources,
                format=FILE_FORMAT,
            )

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, write)


def drawn_set_path(path: str | os.PathLike | None = None) -> Path:
    """Where the set is: `path`, else $MNIST_DRAWN_SET, else `data/drawn_digits.npz`."""
    return chosen_path(path, PATH_ENV_VAR, DEFAULT_PATH)


def load_drawn_set(path: str | os.PathLike | None = None) -> DrawnSet:
    """The set saved at `drawn_set_path(path)`, checked."""
    path = drawn_set_path(path)
    if not path.is_file():
        raise DrawnSetError(f"{path} does not exist: build it with `make data`")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in ("canvases", "labels", "sources", "format")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise DrawnSetError(f"{path} is not a drawn-digit set: {error}") from error
    if arrays["format"] != FILE_FORMAT:
        raise DrawnSetError(
            f"{path} has format {arrays['format']}, this version reads {FILE_FORMAT}"
        )
    canvases, labels, sources = arrays["canvases"], arrays["labels"], arrays["sources"]
    shape_ok = canvases.ndim == 3 and canvases.shape[1:] == (CANVAS_SIZE, CANVAS_SIZE)
    if (
        not shape_ok
        or canvases.dtype != np.uint8
        or not len(canvases) == len(labels) == len(sources)
    ):
        raise DrawnSetError(
            f"{path} holds {canvases.dtype} canvases of shape {canvases.shape}, "
            f"{len(labels)} labels and {len(sources)} sources; expected n uint8 canvases "
            f"of {CANVAS_SIZE}x{CANVAS_SIZE} with a label and a source each"
        )
    return DrawnSet(canvases, labels.astype(np.uint8), sources)
