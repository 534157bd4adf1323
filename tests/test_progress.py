"""How long a training run is expected to take, judged by the models trained before it."""

from datetime import UTC, datetime
from pathlib import Path

from mnist_core.config import PRESETS, TrainConfig
from mnist_core.progress import expected_pace
from mnist_core.record import FineTuned
from mnist_core.store import SavedModel

from .conftest import make_record

BEST = PRESETS["best"]


def _saved(
    name: str, config: TrainConfig, day: int, fit_seconds: float, epochs_run: int, **changes
):
    record = make_record(
        config=config,
        fit_seconds=fit_seconds,
        epochs_run=epochs_run,
        created=datetime(2026, 12, day, tzinfo=UTC),
        **changes,
    )
    return SavedModel(name, Path(f"{name}.h5"), record)


def test_the_newest_model_trained_alike_sets_the_pace_for_the_epochs_asked():
    saved = [
        _saved("older", BEST, 1, fit_seconds=1000, epochs_run=25),
        _saved("newer", BEST, 3, fit_seconds=500, epochs_run=25),
        _saved(
            "tuned", BEST, 5, fit_seconds=30, epochs_run=3, fine_tuned=FineTuned("newer", 12, 40)
        ),
        _saved("stopped", BEST, 6, fit_seconds=5, epochs_run=1, stopped_early=True),
        _saved("the mlp", TrainConfig(), 7, fit_seconds=30, epochs_run=10),
    ]
    pace = expected_pace(BEST, saved)
    assert (pace.model, pace.seconds_per_epoch, pace.seconds) == ("newer", 20, 500)

    longer = TrainConfig(**{**BEST.to_dict(), "epochs": 50, "seed": 3, "learning_rate": 0.01})
    assert expected_pace(longer, saved).seconds == 1000  # same pace: only the epochs differ
    assert expected_pace(TrainConfig(), saved).model == "the mlp"


def test_the_pace_counts_the_whole_wait_when_the_record_has_it():
    saved = [_saved("best", BEST, 1, fit_seconds=500, epochs_run=25, run_seconds=600)]
    assert expected_pace(BEST, saved).seconds == 600  # each epoch's scoring included


def test_no_pace_without_a_model_trained_alike():
    saved = [_saved("best", BEST, 1, fit_seconds=500, epochs_run=25)]
    for other in ({"batch_size": 64}, {"augment": False}, {"architecture": "cnn"}):
        assert expected_pace(TrainConfig(**{**BEST.to_dict(), **other}), saved) is None
    assert expected_pace(BEST, []) is None
