"""One training run from start to saved model: train, evaluate on the test set, save.

The CLI and the Train page both call `train_evaluate_save`, so a model trained either way
carries the same record.
"""

from __future__ import annotations

from collections.abc import Callable

from mnist_core.config import TrainConfig
from mnist_core.data import Mnist
from mnist_core.evaluate import evaluate
from mnist_core.store import SavedModel, default_name, save_model
from mnist_core.train import Progress, TrainResult, train


def train_evaluate_save(
    config: TrainConfig,
    mnist: Mnist,
    *,
    name: str | None = None,
    models_dir=None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[TrainResult, SavedModel]:
    """Train `config` on `mnist`, score it on the 10,000 test images and save both."""
    result = train(config, (mnist.train, mnist.test), on_progress, should_stop)
    x_test, y_test = mnist.test
    evaluation = evaluate(result.model, x_test, y_test)
    record = {
        "config": config.to_dict(),
        "history": result.history,
        "epochs_run": result.epochs_run,
        "stopped_early": result.stopped_early,
        "fit_seconds": result.fit_seconds,
        "data_source": mnist.source,
        "evaluation": evaluation.to_dict(),
    }
    # A name taken while we trained gets a suffix: never lose the training, nor overwrite.
    name = name or default_name(config.architecture)
    saved = save_model(result.model, record, name, models_dir, rename_if_taken=True)
    return result, saved
