"""What is known about a saved model: one typed record, kept as JSON beside its `.h5`.

`store` writes and reads it; everything else reads its fields. A record from an older version
of the app (the same JSON layout since the first) loads as it is; one that lacks a field this
version needs is refused with a message naming the field, never shown with blanks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

import numpy as np

from mnist_core.config import ConfigError, TrainConfig
from mnist_core.evaluate import Evaluation

_TIMESTAMP = "seconds"


class RecordError(ValueError):
    """A model's record cannot be read; the message says which field is missing or wrong."""


@dataclass(frozen=True)
class FineTuned:
    """Where a fine-tuned model came from: its base and the user's drawings it learnt."""

    base_model: str
    drawings: int
    last_drawing_id: int  # it is scored only on the user's drawings newer than this one


@dataclass(frozen=True, eq=False)
class ModelRecord:
    """How a model was trained and how it scored on the MNIST test set (eq=False: it holds
    arrays; compare `to_dict()`)."""

    config: TrainConfig
    history: Mapping[str, tuple[float, ...]]  # metric name -> its value after each epoch
    evaluation: Evaluation  # on the 10,000 MNIST test images
    epochs_run: int  # epochs begun: the last is partial when training was stopped
    stopped_early: bool
    fit_seconds: float
    data_source: str  # where MNIST was read from
    # From the start of training to the model scored, the per-epoch scoring included: what a
    # person waits. None in records from before it was kept.
    run_seconds: float | None = None
    fine_tuned: FineTuned | None = None
    # The test set's confusion matrix after each epoch, (10, 10) counts: how it learnt.
    epoch_confusions: tuple[np.ndarray, ...] = ()
    # Stamped by `store.save_model`: when, and with which libraries.
    created: datetime | None = None
    versions: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        history = {name: tuple(values) for name, values in self.history.items()}
        object.__setattr__(self, "history", MappingProxyType(history))
        confusions = tuple(np.asarray(matrix, np.int64) for matrix in self.epoch_confusions)
        if any(matrix.shape != (10, 10) for matrix in confusions):
            raise RecordError("each epoch's confusion matrix must be 10 x 10")
        object.__setattr__(self, "epoch_confusions", confusions)

    @property
    def waited_seconds(self) -> float:
        """What a person waited for the model: `run_seconds`, or the fitting alone in records
        from before it was kept."""
        return self.fit_seconds if self.run_seconds is None else self.run_seconds

    @property
    def drawings_learnt_up_to(self) -> int:
        """The id of the last of the user's drawings it learnt from (0: none)."""
        return self.fine_tuned.last_drawing_id if self.fine_tuned else 0

    def to_dict(self) -> dict:
        values = {
            "config": self.config.to_dict(),
            "history": {name: list(values) for name, values in self.history.items()},
            "evaluation": self.evaluation.to_dict(),
            "epochs_run": self.epochs_run,
            "stopped_early": self.stopped_early,
            "fit_seconds": self.fit_seconds,
            "data_source": self.data_source,
            "versions": dict(self.versions),
        }
        if self.run_seconds is not None:
            values["run_seconds"] = self.run_seconds
        if self.created is not None:
            values["created"] = self.created.isoformat(timespec=_TIMESTAMP)
        if self.fine_tuned is not None:
            values["fine_tuned"] = dataclasses.asdict(self.fine_tuned)
        if self.epoch_confusions:
            values["epoch_confusions"] = [matrix.tolist() for matrix in self.epoch_confusions]
        return values

    @classmethod
    def from_dict(cls, values: Mapping) -> ModelRecord:
        """The record in a sidecar's JSON; keys this version does not know are ignored."""
        if not isinstance(values, Mapping):
            raise RecordError("it is not a JSON object")
        try:
            return cls(
                config=_read(values, "config", TrainConfig.from_dict),
                history=_read(values, "history", _history),
                evaluation=_read(values, "evaluation", Evaluation.from_dict),
                epochs_run=_read(values, "epochs_run", int),
                stopped_early=_read(values, "stopped_early", bool),
                fit_seconds=_read(values, "fit_seconds", float),
                data_source=_read(values, "data_source", str),
                run_seconds=_read(values, "run_seconds", float, optional=True),
                fine_tuned=_read(values, "fine_tuned", lambda v: FineTuned(**v), optional=True),
                epoch_confusions=_read(values, "epoch_confusions", tuple, optional=True) or (),
                created=_read(values, "created", datetime.fromisoformat),
                versions=_read(values, "versions", dict, optional=True) or {},
            )
        except ConfigError as error:
            raise RecordError(f"its training settings are not valid: {error}") from None


def _history(values: Mapping) -> dict[str, tuple[float, ...]]:
    return {str(name): tuple(float(v) for v in series) for name, series in values.items()}


def _read(values: Mapping, key: str, parse, *, optional: bool = False):
    """`parse(values[key])`, or a RecordError naming `key`."""
    if key not in values or values[key] is None:
        if optional:
            return None
        raise RecordError(f"it has no {key!r}")
    try:
        return parse(values[key])
    except ConfigError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise RecordError(f"its {key!r} cannot be read ({error})") from None
