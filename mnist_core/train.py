"""Fit a model on MNIST, reporting progress as plain data and stopping when asked."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from mnist_core.config import TrainConfig
from mnist_core.data import split_validation
from mnist_core.model import build_model, compile_model
from mnist_core.pixels import to_unit
from mnist_core.progress import BATCH, EPOCH, Progress

# Batches run per call into TensorFlow. At batch size 32 the Python overhead of each step
# dominates; 64 steps per call cut it most (bench/train_speed.py; more measured no faster) and
# still report progress many times an epoch.
STEPS_PER_EXECUTION = 64
# XLA fuses each MLP step's many small operations, which pays for its compiling over the
# reference run. On a CPU it makes convolutions much slower, so the CNNs run without it.
XLA_ARCHITECTURES = frozenset({"mlp"})
# Validation only scores images, so big batches give the same metrics in far fewer steps; 1000
# divides the usual 10,000 (and keras-io's 6,000): one batch shape, one XLA compilation.
VALIDATION_BATCH_SIZE = 1000
METRIC_NAMES = ("loss", "accuracy", "val_loss", "val_accuracy")


@dataclass
class TrainResult:
    model: keras.Model
    config: TrainConfig
    history: dict[str, list[float]] = field(default_factory=dict)
    fit_seconds: float = 0.0
    stopped_early: bool = False

    @property
    def epochs_run(self) -> int:
        """Epochs begun; the last one is partial when training was stopped."""
        return len(self.history.get("loss", []))


def train(
    config: TrainConfig,
    data,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    start_from: keras.Model | None = None,
    log_dir: Path | None = None,
    after_epoch: Callable[[int, keras.Model], None] | None = None,
) -> TrainResult:
    """Train `config`'s model on `data` = ((x_train, y_train), (x_test, y_test)).

    The last `config.validation_size` training images are held out and scored every epoch.
    The test set is not touched here. The same seed gives the same weights. `start_from`, a
    model of `config`'s architecture, is trained on from its weights instead of a new one.
    With `log_dir`, Keras' TensorBoard callback writes the curves there, epoch by epoch.
    `after_epoch(epoch, model)` is called after each epoch (1-based); the time it takes is not
    counted in `fit_seconds`.
    """
    (x_all, y_all), _ = data
    (x_fit, y_fit), (x_val, y_val) = split_validation(x_all, y_all, config.validation_size)
    keras.utils.set_random_seed(config.seed)
    speed = {
        "steps_per_execution": STEPS_PER_EXECUTION,
        "jit_compile": config.architecture in XLA_ARCHITECTURES,
    }
    if start_from is None:
        model = build_model(config, **speed)
    else:
        model = compile_model(start_from, config, **speed)
    batches = -(-len(x_fit) // config.batch_size)
    reporter = _Reporter(config.epochs, batches, on_progress, should_stop)
    validation = (to_unit(x_val), y_val) if len(x_val) else None

    watcher = _AfterEpoch(after_epoch)
    started = time.perf_counter()
    fitted = model.fit(
        **_training_inputs(config, x_fit, y_fit),
        epochs=config.epochs,
        validation_data=validation,
        validation_batch_size=VALIDATION_BATCH_SIZE,
        callbacks=[reporter, watcher, *_tensorboard(log_dir)],
        verbose=0,
    )
    fit_seconds = time.perf_counter() - started - watcher.seconds
    if start_from is None:  # a model trained on keeps the bias it was given
        _add_ones_bias(model, config.ones_bias)
    history = {
        name: [float(v) for v in fitted.history[name]]
        for name in METRIC_NAMES
        if name in fitted.history
    }
    return TrainResult(model, config, history, fit_seconds, reporter.stopped)


def _add_ones_bias(model: keras.Model, log_odds: float) -> None:
    """Raise the output layer's bias for 1 by `log_odds`: after the softmax, the odds of 1
    against every other digit grow by exp(log_odds), whatever the drawing. Done after training,
    which would otherwise learn the bias back to what fits MNIST's bare 1s."""
    if log_odds:
        kernel, bias = model.layers[-1].get_weights()
        bias[1] += log_odds
        model.layers[-1].set_weights([kernel, bias])


class _AfterEpoch(keras.callbacks.Callback):
    """Calls `after_epoch(epoch, model)` at each epoch's end, timing it."""

    def __init__(self, after_epoch):
        super().__init__()
        self.after_epoch = after_epoch
        self.seconds = 0.0

    def on_epoch_end(self, epoch, logs=None):
        if self.after_epoch is not None:
            started = time.perf_counter()
            self.after_epoch(epoch + 1, self.model)
            self.seconds += time.perf_counter() - started


def _tensorboard(log_dir: Path | None) -> list[keras.callbacks.Callback]:
    if log_dir is None:
        return []
    return [
        keras.callbacks.TensorBoard(
            log_dir=str(log_dir), write_graph=False, update_freq="epoch", profile_batch=0
        )
    ]


def _training_inputs(config: TrainConfig, x_fit: np.ndarray, y_fit: np.ndarray) -> dict:
    """`fit`'s data: the scaled arrays, or batches distorted anew every epoch."""
    if config.augment:
        from mnist_core.augment import AugmentedBatches

        return {"x": AugmentedBatches(x_fit, y_fit, config.batch_size, seed=config.seed)}
    return {"x": to_unit(x_fit), "y": y_fit, "batch_size": config.batch_size}


class _Reporter(keras.callbacks.Callback):
    """Turns Keras callback calls into `Progress` values and honours `should_stop`."""

    def __init__(self, epochs, batches, on_progress, should_stop):
        super().__init__()
        self.epochs, self.batches = epochs, batches
        self.on_progress = on_progress or (lambda progress: None)
        self.should_stop = should_stop or (lambda: False)
        self.stopped = False
        self.epoch, self.batch = 1, 0
        self.started = time.perf_counter()

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        # with several steps per execution Keras may name a step past the epoch's end
        self.batch = min(batch + 1, self.batches)
        self._report(BATCH, self.batch, logs)
        if self.should_stop():
            self.stopped = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self._report(EPOCH, self.batch, logs)

    def _report(self, kind, batch, logs):
        metrics = {k: float(v) for k, v in (logs or {}).items() if k in METRIC_NAMES}
        elapsed = time.perf_counter() - self.started
        self.on_progress(
            Progress(kind, self.epoch, self.epochs, batch, self.batches, metrics, elapsed)
        )
