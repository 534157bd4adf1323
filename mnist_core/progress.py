"""Where a training run is, as plain data: what `train` reports and a job's snapshot shows,
and how long a run is expected to take.

No Keras here: the app's server reads progress on every rerun, and importing Keras there would
cost each script run a `clear_session()` and a slower garbage collection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mnist_core.config import TrainConfig
    from mnist_core.store import SavedModel

BATCH, EPOCH = "batch", "epoch"


@dataclass(frozen=True)
class Progress:
    """Sent after every chunk of batches (`BATCH`) and at the end of every epoch (`EPOCH`)."""

    kind: str
    epoch: int  # 1-based
    epochs: int
    batch: int  # batches done in this epoch
    batches: int  # batches per epoch
    metrics: Mapping[str, float]
    elapsed: float  # seconds since fitting began

    @property
    def fraction(self) -> float:
        """Share of the whole run done, in [0, 1]."""
        return ((self.epoch - 1) * self.batches + self.batch) / (self.epochs * self.batches)

    @property
    def seconds_left(self) -> float | None:
        """Estimated time to the end at the pace so far, or None before any batch."""
        done = self.fraction
        return self.elapsed * (1 - done) / done if done > 0 else None


# What sets how long an epoch takes; a model trained with the same values trains at its pace.
_PACE_SETTINGS = ("architecture", "augment", "batch_size", "hidden_units", "validation_size")


@dataclass(frozen=True)
class Pace:
    """How long `config` would train here, judged by a model trained the same way before."""

    model: str  # the saved model whose pace it is
    seconds_per_epoch: float
    epochs: int

    @property
    def seconds(self) -> float:
        return self.seconds_per_epoch * self.epochs


def expected_pace(config: TrainConfig, saved: Iterable[SavedModel]) -> Pace | None:
    """The pace of the newest of `saved` trained from scratch like `config` (same settings
    that set an epoch's time) and not stopped, so a person knows before pressing Train how
    long they will wait; None when no model was trained like it yet."""
    wanted = [getattr(config, name) for name in _PACE_SETTINGS]
    like = [
        model
        for model in saved
        if [getattr(model.record.config, name) for name in _PACE_SETTINGS] == wanted
        and model.record.fine_tuned is None
        and not model.record.stopped_early
        and model.record.epochs_run > 0
        and model.record.created is not None
    ]
    if not like:
        return None
    newest = max(like, key=lambda model: model.record.created)
    per_epoch = newest.record.waited_seconds / newest.record.epochs_run
    return Pace(newest.name, per_epoch, config.epochs)
