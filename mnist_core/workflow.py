"""Training runs from start to saved model: train (or fine-tune), score on the test set, save.

The CLI and the app's training job both call these, so a model trained either way carries the
same record.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from mnist_core.classify import Classifier
from mnist_core.config import TrainConfig
from mnist_core.data import Mnist
from mnist_core.evaluate import evaluate, score_classifier
from mnist_core.feedback import FeedbackError, FeedbackStore
from mnist_core.files import chosen_path
from mnist_core.finetune import DRAWING_SHARE, MIN_DRAWINGS, fine_tune_config, mix_in
from mnist_core.progress import Progress
from mnist_core.record import FineTuned, ModelRecord
from mnist_core.store import (
    SavedModel,
    check_name,
    default_name,
    load_model,
    save_model,
    with_suffix,
)
from mnist_core.train import TrainResult, train

DEFAULT_RUNS_DIR = Path(__file__).resolve().parent.parent / "runs"
RUNS_DIR_ENV_VAR = "MNIST_RUNS_DIR"


def train_evaluate_save(
    config: TrainConfig,
    mnist: Mnist,
    *,
    name: str | None = None,
    models_dir=None,
    runs_dir=None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_evaluating: Callable[[], None] | None = None,
    on_weights: Callable[[int, np.ndarray], None] | None = None,
) -> tuple[TrainResult, SavedModel]:
    """Train `config` on `mnist`, score it on the 10,000 test images and save both; the
    TensorBoard logs go to `runs/<saved name>/`.

    `on_evaluating` is called once training has ended, before the (slower) scoring;
    `on_weights(epoch, kernel)` after each epoch with the first layer's weights."""
    started = time.perf_counter()
    watcher = _EpochWatcher(mnist.test, on_weights)
    with _tensorboard_run(runs_dir) as run:
        data = (mnist.train, mnist.test)
        result = train(
            config, data, on_progress, should_stop, log_dir=run.logs, after_epoch=watcher
        )
        run.saved = _evaluate_and_save(
            result, mnist, name, models_dir, None, on_evaluating, watcher.confusions, started
        )
    return result, run.saved


def fine_tune_evaluate_save(
    base: SavedModel,
    feedback: FeedbackStore,
    mnist: Mnist,
    config: TrainConfig | None = None,
    *,
    drawing_share: float = DRAWING_SHARE,
    name: str | None = None,
    models_dir=None,
    runs_dir=None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_evaluating: Callable[[], None] | None = None,
    on_weights: Callable[[int, np.ndarray], None] | None = None,
) -> tuple[TrainResult, SavedModel]:
    """Go on training `base` on MNIST with the user's labelled drawings mixed in, score it on
    the test images and save it as a new model (`<base>-tuned`); `base` stays as it was.
    `config` comes from `finetune.fine_tune_config(base, ...)`; by default, its defaults.

    The record names the base and the last drawing used, so "your drawings" can later score
    the model on newer drawings only: the ones it learnt from are no test of it.
    """
    config = config or fine_tune_config(base)
    name = check_name(name or with_suffix(base.name, "-tuned"))  # refused before training
    last_id = feedback.last_id()
    images, labels = feedback.arrays(up_to_id=last_id)
    if len(labels) < MIN_DRAWINGS:
        raise FeedbackError(
            f"fine-tuning needs at least {MIN_DRAWINGS} labelled drawings; there are "
            f"{len(labels)}: label more with 'Wrong? It was a _' on the Draw page"
        )
    x_train, y_train = mix_in((images, labels), mnist.train, drawing_share)
    tuned = FineTuned(base_model=base.name, drawings=len(labels), last_drawing_id=last_id)
    started = time.perf_counter()
    watcher = _EpochWatcher(mnist.test, on_weights)
    with _tensorboard_run(runs_dir) as run:
        result = train(
            config,
            ((x_train, y_train), mnist.test),
            on_progress,
            should_stop,
            start_from=load_model(base.path),
            log_dir=run.logs,
            after_epoch=watcher,
        )
        run.saved = _evaluate_and_save(
            result, mnist, name, models_dir, tuned, on_evaluating, watcher.confusions, started
        )
    return result, run.saved


def _evaluate_and_save(
    result: TrainResult,
    mnist: Mnist,
    name: str | None,
    models_dir,
    fine_tuned: FineTuned | None,
    on_evaluating: Callable[[], None] | None,
    epoch_confusions: list[np.ndarray],
    started: float,
) -> SavedModel:
    """Score and save; `started` is `time.perf_counter()` when the run began."""
    if on_evaluating is not None:
        on_evaluating()
    evaluation = evaluate(result.model, *mnist.test)
    record = ModelRecord(
        config=result.config,
        history=result.history,
        evaluation=evaluation,
        epochs_run=result.epochs_run,
        stopped_early=result.stopped_early,
        fit_seconds=result.fit_seconds,
        data_source=mnist.source,
        run_seconds=time.perf_counter() - started,
        fine_tuned=fine_tuned,
        epoch_confusions=tuple(epoch_confusions),
    )
    # A name taken while we trained gets a suffix: never lose the training, nor overwrite.
    name = name or default_name(result.config.architecture)
    return save_model(result.model, record, name, models_dir, rename_if_taken=True)


class _EpochWatcher:
    """After each epoch: the test set's confusion matrix, kept for the record, and the first
    layer's weights, for whoever watches the run learn."""

    def __init__(self, test, on_weights: Callable[[int, np.ndarray], None] | None) -> None:
        self.test = test
        self.on_weights = on_weights
        self.confusions: list[np.ndarray] = []

    def __call__(self, epoch: int, model) -> None:
        classifier = Classifier.from_model(model)
        self.confusions.append(score_classifier(classifier, *self.test).confusion)
        if self.on_weights is not None:
            self.on_weights(epoch, classifier.first_kernel)


class _Run:
    """Where a run's TensorBoard logs are written, and the model they end up named after."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.saved: SavedModel | None = None


@contextlib.contextmanager
def _tensorboard_run(runs_dir) -> Iterator[_Run]:
    """Logs written under a temporary name (the model's is known only once it is saved), then
    moved to `runs/<name>/`; a run that fails leaves none behind."""
    runs = chosen_path(runs_dir, RUNS_DIR_ENV_VAR, DEFAULT_RUNS_DIR)
    runs.mkdir(parents=True, exist_ok=True)
    run = _Run(Path(tempfile.mkdtemp(prefix=".training-", dir=runs)))
    try:
        yield run
        final = runs / run.saved.name
        shutil.rmtree(final, ignore_errors=True)  # a deleted model's run, by the same name
        os.rename(run.logs, final)
    finally:
        shutil.rmtree(run.logs, ignore_errors=True)
