"""Where a training run is, as plain data: what `train` reports and a job's snapshot shows.

No Keras here: the app's server reads progress on every rerun, and importing Keras there would
cost each script run a `clear_session()` and a slower garbage collection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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
