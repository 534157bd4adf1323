"""The drawn-digit test set: digits as drawn on the app's canvas, for measuring, never for
training. This module is its file format, loading and scoring; `scripts/drawn_synthesis.py`
makes it (and says how, and how it differs from real drawings).

Each drawing is kept as the model reads it, a 28x28 digit made as the Draw page makes one (the
simulated writers' strokes through `strokes.strokes_to_mnist`; the older re-drawn MNIST set's
pictures through `preprocess.to_mnist`), so a model is scored on the app's own preprocessing;
and as a 280x280 picture, white ink on black (the writers' redrawn with one pen,
`strokes.redraw`; the re-drawn MNIST set's as its pen drew it).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_core.evaluate import Evaluation, score_classifier
from mnist_core.files import chosen_path, write_atomically
from mnist_core.preprocess import MNIST_SIZE
from mnist_core.strokes import CANVAS_SIZE

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "drawn_digits.npz"
PATH_ENV_VAR = "MNIST_DRAWN_SET"  # another saved set, e.g. a small one for tests
_ARRAYS = ("canvases", "digits", "labels", "sources")
FILE_FORMAT = 2  # 2: the digits as the app reads them are kept, not made from the canvases


class DrawnSetError(Exception):
    """The drawn-digit set cannot be built or read as asked; the message says why."""


@dataclass(frozen=True, eq=False)
class DrawnSet:
    """Canvas images (n, 280, 280) uint8 grey, white ink on black (None when loaded without
    them); the digits the app reads of them (n, 28, 28) uint8; their labels (n,) uint8; and
    where each came from (n,) str: "mnist", "mnist+flag", "mnist+crossbar", "font:<file>",
    "writer:<name>"."""

    canvases: np.ndarray | None
    digits: np.ndarray
    labels: np.ndarray
    sources: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


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
                digits=drawn.digits,
                labels=drawn.labels,
                sources=drawn.sources,
                format=FILE_FORMAT,
            )

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, write)


def drawn_set_path(path: str | os.PathLike | None = None) -> Path:
    """Where the set is: `path`, else $MNIST_DRAWN_SET, else `data/drawn_digits.npz`."""
    return chosen_path(path, PATH_ENV_VAR, DEFAULT_PATH)


def load_drawn_set(path: str | os.PathLike | None = None, *, pictures: bool = True) -> DrawnSet:
    """The set saved at `drawn_set_path(path)`, checked. Without `pictures` its canvases are
    left unread (None): scoring needs only the digits, and the canvases are most of the file."""
    path = drawn_set_path(path)
    if not path.is_file():
        raise DrawnSetError(f"{path} does not exist: build it with `make data`")
    try:
        with np.load(path, allow_pickle=False) as archive:
            file_format = archive["format"]
            if file_format != FILE_FORMAT:
                raise DrawnSetError(
                    f"{path} has format {file_format}, this version reads {FILE_FORMAT}: "
                    "build it again (`make data`, or scripts/build_drawn_set.py for another set)"
                )
            arrays = {key: archive[key] for key in _ARRAYS if pictures or key != "canvases"}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise DrawnSetError(f"{path} is not a drawn-digit set: {error}") from error
    canvases, digits, labels, sources = (arrays.get(key) for key in _ARRAYS)
    canvases_fit = canvases is None or (
        canvases.shape[1:] == (CANVAS_SIZE, CANVAS_SIZE)
        and canvases.dtype == np.uint8
        and len(canvases) == len(digits)
    )
    if (
        not canvases_fit
        or digits.shape[1:] != (MNIST_SIZE, MNIST_SIZE)
        or digits.dtype != np.uint8
        or not len(digits) == len(labels) == len(sources)
    ):
        found = "" if canvases is None else f"{canvases.dtype} canvases of shape {canvases.shape}, "
        raise DrawnSetError(
            f"{path} holds {found}{digits.dtype} digits of shape {digits.shape}, "
            f"{len(labels)} labels and {len(sources)} sources; expected n uint8 canvases of "
            f"{CANVAS_SIZE}x{CANVAS_SIZE} and digits of {MNIST_SIZE}x{MNIST_SIZE} with a label "
            "and a source each"
        )
    return DrawnSet(canvases, digits, labels.astype(np.uint8), sources)
