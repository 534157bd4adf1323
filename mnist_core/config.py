"""Hyperparameters of a training run: one frozen, validated dataclass.

The defaults are the reference model (Flatten, two Dense(128, relu) each with Dropout(0.2),
Dense(10, softmax); Adam; 10 epochs of batch 32); every other module reads them from here, so
there is one source of truth for "the reference settings".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

ARCHITECTURES = ("mlp", "cnn", "cnn-dense")
# The architectures whose `hidden_units` and `dropout` shape a hidden layer; keras-io's CNN
# has none and fixes its own dropout.
HIDDEN_LAYER_ARCHITECTURES = frozenset({"mlp", "cnn-dense"})

# (low, high) inclusive bounds for the numeric fields; the UI and CLI show these.
BOUNDS = {
    "epochs": (1, 200),
    "batch_size": (1, 4096),
    "hidden_units": (1, 4096),
    "dropout": (0.0, 0.9),
    "learning_rate": (1e-6, 1.0),
    "validation_size": (0, 30000),
    "seed": (0, 2**31 - 1),
    "ones_bias": (0.0, 5.0),
}


class ConfigError(ValueError):
    """A hyperparameter is out of range or of the wrong kind; the message says which."""


@dataclass(frozen=True)
class TrainConfig:
    """What to train and how. Defaults reproduce the reference MLP exactly."""

    architecture: str = "mlp"
    epochs: int = 10
    batch_size: int = 32
    hidden_units: int = 128
    dropout: float = 0.2
    learning_rate: float = 0.001  # Keras' Adam default
    validation_size: int = 10_000  # the last N training images
    seed: int = 42
    augment: bool = False  # distort training images on the fly (mnist_core.augment)
    # Added to the output layer's bias for 1 once a new model is trained: log-odds in favour
    # of 1, against a flagged 1 read as 7 (MNIST's 1s are bare strokes). 0 changes nothing.
    ones_bias: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.augment, bool):
            raise ConfigError(f"augment must be true or false, not {self.augment!r}")
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(
                f"architecture must be one of {', '.join(ARCHITECTURES)}, not {self.architecture!r}"
            )
        for name, (low, high) in BOUNDS.items():
            value = getattr(self, name)
            is_int_field = isinstance(low, int)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name} must be a number, not {value!r}")
            if is_int_field and value != int(value):
                raise ConfigError(f"{name} must be a whole number, not {value!r}")
            if not low <= value <= high:  # also false for NaN
                raise ConfigError(f"{name} must be between {low} and {high}, not {value!r}")
            object.__setattr__(self, name, int(value) if is_int_field else float(value))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Build from a (sidecar) dict, ignoring keys this version does not know."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


PRESETS = {
    "reference": TrainConfig(),
    # The convnet with a dense layer, on augmented batches at keras-io's batch 128: the model
    # for drawn digits. Chosen on the validation writers (fonts no test writer uses), never on
    # a test set: bench/drawn_validation.py, whose results the README quotes.
    "best": TrainConfig(
        architecture="cnn-dense",
        epochs=25,
        batch_size=128,
        dropout=0.5,
        augment=True,
        ones_bias=1.0,
    ),
}
