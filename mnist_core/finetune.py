"""Fine-tuning a saved model on the user's labelled drawings: its settings and its data.

Tens or hundreds of drawings against 60,000 MNIST images: alone, they would make the model
forget MNIST; diluted, they would barely count. So each drawing is repeated until the drawings
are DRAWING_SHARE of an epoch, mixed into all of MNIST, and the saved weights move slowly: a
tenth of Adam's usual learning rate. DRAWING_SHARE was picked on drawings made like the
drawn-digit set with a third seed, not on that test set: a larger share cost the `best` model
MNIST test accuracy (bench/finetune.py). No TensorFlow
here: the app's server plans a fine-tuning job with it, and `workflow.fine_tune_evaluate_save`
runs it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mnist_core.config import TrainConfig
from mnist_core.store import SavedModel

DRAWING_SHARE = 0.02
FINE_TUNE_EPOCHS = 3
FINE_TUNE_LEARNING_RATE = 1e-4
MIN_DRAWINGS = 10


def fine_tune_config(
    base: SavedModel,
    epochs: int = FINE_TUNE_EPOCHS,
    learning_rate: float = FINE_TUNE_LEARNING_RATE,
) -> TrainConfig:
    """The base model's own settings, for `epochs` more at `learning_rate`."""
    return dataclasses.replace(base.record.config, epochs=epochs, learning_rate=learning_rate)


def mix_in(
    drawings: tuple[np.ndarray, np.ndarray], train_set: tuple[np.ndarray, np.ndarray], share: float
) -> tuple[np.ndarray, np.ndarray]:
    """`train_set` with each drawing repeated until the drawings are about `share` of the mix.

    The drawings come first: the validation images `train` holds out are the last ones, so
    they stay MNIST's and the validation score stays comparable with the base model's.
    """
    (x_drawn, y_drawn), (x_mnist, y_mnist) = drawings, train_set
    repeats = max(1, round(share * len(x_mnist) / ((1 - share) * len(x_drawn))))
    return (
        np.concatenate([np.tile(x_drawn, (repeats, 1, 1)), x_mnist]),
        np.concatenate([np.tile(y_drawn, repeats), y_mnist]).astype(y_mnist.dtype),
    )
