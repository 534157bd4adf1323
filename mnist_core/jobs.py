"""Training in the background: one job at a time per server, watched through snapshots.

A page starts a job and returns at once; every rerun of every session then reads the job's
latest snapshot, so the app stays responsive, several sessions can watch the same run and a
session that comes back later sees how it ended.

The model trains in a child process (`python -m mnist_core.jobs`), not a thread: Streamlit
calls `keras.backend.clear_session()` after every script run, which resets Keras' global
state (layer names, seeds) under a model being built in the same process. multiprocessing
is no help either: its children re-run the parent's `__main__`, which under Streamlit is the
app script. The child gets its job as JSON on its command line, stops when anything arrives
on its stdin (or the server goes away), and sends its reports back through a pipe.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys
import threading
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from mnist_core.config import ConfigError, TrainConfig
from mnist_core.data import DataError, prepare_mnist
from mnist_core.feedback import FeedbackError, FeedbackStore
from mnist_core.store import ModelFileError, find_model

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from mnist_core.store import SavedModel
    from mnist_core.train import Progress

PREPARING = "preparing data"
TRAINING = "training"
EVALUATING = "evaluating"
DONE = "done"
STOPPED = "stopped"
FAILED = "failed"
FINAL_STATES = frozenset({DONE, STOPPED, FAILED})

# Errors whose message is already a sentence for the user; anything else is a bug or the
# machine (memory, disk) and is logged with its traceback.
EXPLAINED_ERRORS = (DataError, ConfigError, FeedbackError, ModelFileError, OSError)
MAX_ERROR_LENGTH = 300

_PROJECT_ROOT = Path(__file__).resolve().parent.parent  # where the child imports us from
_log = logging.getLogger(__name__)
_job_numbers = itertools.count(1)


@dataclass(frozen=True)
class JobProgress:
    """`mnist_core.train.Progress` as plain data. That module imports Keras, and Keras in the
    server costs every script run a `clear_session()` and a slower garbage collection."""

    kind: str  # "batch" or "epoch"
    epoch: int  # 1-based
    epochs: int
    batch: int  # batches done in this epoch
    batches: int  # batches per epoch
    metrics: Mapping[str, float]
    elapsed: float  # seconds since fitting began
    fraction: float  # share of the whole run done, in [0, 1]
    seconds_left: float | None  # at the pace so far; None before the first batch

    @classmethod
    def of(cls, progress: Progress) -> JobProgress:
        return cls(**{name: getattr(progress, name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class JobSnapshot:
    """A job as it was at one moment: what a page draws. Later progress never changes it."""

    id: int
    state: str
    config: TrainConfig
    fine_tune: str | None  # the name of the model being fine-tuned, None for a new model
    progress: JobProgress | None  # the latest report from training, None before the first
    history: Mapping[str, tuple[float, ...]]  # metric name -> its value after each epoch
    messages: tuple[str, ...]  # from preparing the data, in order
    stop_requested: bool
    error: str | None  # one line for the user when the job failed
    saved: SavedModel | None  # the saved model once done or stopped
    started: datetime
    finished: datetime | None

    @property
    def is_finished(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def epochs_done(self) -> int:
        return len(self.history.get("loss", ()))


class TrainingJob:
    """Prepare the data, then train, evaluate and save one model, in a child process.

    With `fine_tune` (a saved model's name) the job goes on training that model on MNIST and
    the user's labelled drawings, `config` giving its epochs and learning rate.
    A thread here applies the child's reports; `snapshot()`, `stop()` and `wait()` are safe
    to call from any thread.
    """

    def __init__(
        self, config: TrainConfig, *, data_path=None, models_dir=None, name=None, fine_tune=None
    ):
        self.id = next(_job_numbers)
        self.config = config
        self.fine_tune = fine_tune
        self._data_path, self._models_dir, self._name = data_path, models_dir, name
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._stop_requested = False
        self._state = PREPARING
        self._progress: JobProgress | None = None
        self._history: dict[str, list[float]] = {}
        self._messages: list[str] = []
        self._error: str | None = None
        self._saved: SavedModel | None = None
        self._started = datetime.now(UTC)
        self._finished_at: datetime | None = None
        self._child: subprocess.Popen | None = None

    def __repr__(self) -> str:
        return f"TrainingJob(id={self.id}, state={self.snapshot().state!r}, config={self.config})"

    def start(self) -> TrainingJob:
        """Launch the child process and the thread that listens to it."""
        reports, child_end = os.pipe()
        try:
            self._child = subprocess.Popen(
                [sys.executable, "-m", __name__, str(child_end), self._work_json()],
                stdin=subprocess.PIPE,
                pass_fds=(child_end,),
                env={**os.environ, "PYTHONPATH": _python_path()},
            )
        finally:
            os.close(child_end)  # the child's copy is the only one: its exit ends our reading
        listener = threading.Thread(
            target=self._listen,
            args=(Connection(reports, writable=False),),
            name=f"training-job-{self.id}",
            daemon=True,
        )
        listener.start()
        return self

    def _work_json(self) -> str:
        """What the child is to do, readable in `ps`."""
        return json.dumps(
            {
                "config": self.config.to_dict(),
                "data_path": _path_or_none(self._data_path),
                "models_dir": _path_or_none(self._models_dir),
                "name": self._name,
                "fine_tune": self.fine_tune,
            }
        )

    @property
    def is_running(self) -> bool:
        return not self._finished.is_set()

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            return JobSnapshot(
                id=self.id,
                state=self._state,
                config=self.config,
                fine_tune=self.fine_tune,
                progress=self._progress,
                history=MappingProxyType({k: tuple(v) for k, v in self._history.items()}),
                messages=tuple(self._messages),
                stop_requested=self._stop_requested,
                error=self._error,
                saved=self._saved,
                started=self._started,
                finished=self._finished_at,
            )

    def stop(self) -> None:
        """Ask training to stop after the current batch; what was learned is still saved."""
        with self._lock:
            if self._stop_requested or self._state in FINAL_STATES:
                return
            self._stop_requested = True
            try:
                self._child.stdin.write(b"stop\n")
                self._child.stdin.flush()
            except OSError:  # the child has just ended: nothing left to stop
                pass

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (True) or `timeout` seconds passed (False)."""
        return self._finished.wait(timeout)

    def _listen(self, reports: Connection) -> None:
        """Apply the child's reports until its last one, or until it dies without one."""
        with reports:
            while True:
                try:
                    kind, payload = reports.recv()
                except EOFError:
                    code = self._child.wait()
                    self._finish(FAILED, error=f"the training process died (exit code {code})")
                    return
                if kind == "message":
                    with self._lock:
                        self._messages.append(payload)
                elif kind == "progress":
                    self._record(JobProgress(**payload))
                elif kind == TRAINING:
                    with self._lock:
                        self._state = TRAINING
                else:
                    self._child.wait()
                    self._finish(kind, **payload)
                    return

    def _record(self, progress: JobProgress) -> None:
        with self._lock:
            self._progress = progress
            self._state = TRAINING
            if progress.kind == "epoch":
                for name, value in progress.metrics.items():
                    self._history.setdefault(name, []).append(value)
                # Keras ends the epoch it was stopped in, then the test set is scored
                if progress.epoch == progress.epochs or self._stop_requested:
                    self._state = EVALUATING

    def _finish(self, state: str, *, saved=None, error=None) -> None:
        with self._lock:
            self._state, self._saved, self._error = state, saved, error
            self._finished_at = datetime.now(UTC)
            self._child.stdin.close()
        self._finished.set()


class JobRunner:
    """Starts training jobs, one at a time, and keeps the latest for everyone to see."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._job: TrainingJob | None = None

    def start(self, config: TrainConfig, **job_options) -> tuple[TrainingJob, bool]:
        """Start training `config` (see `TrainingJob` for the options): (the new job, True),
        or (the running job, False)."""
        with self._lock:
            if self._job is not None and self._job.is_running:
                return self._job, False
            self._job = TrainingJob(config, **job_options).start()
            return self._job, True

    def current(self) -> TrainingJob | None:
        """The running job, else the last one to finish, else None."""
        with self._lock:
            return self._job


def describe_error(error: Exception) -> str:
    """One line for the user: our own errors speak for themselves, others are named."""
    lines = str(error).strip().splitlines()
    line = lines[0] if lines else type(error).__name__
    if len(line) > MAX_ERROR_LENGTH:
        line = line[: MAX_ERROR_LENGTH - 1] + "…"
    if isinstance(error, EXPLAINED_ERRORS):
        return line
    return f"unexpected {type(error).__name__}: {line} (details are in the server log)"


def _python_path() -> str:
    inherited = os.environ.get("PYTHONPATH")
    return os.pathsep.join([str(_PROJECT_ROOT), inherited] if inherited else [str(_PROJECT_ROOT)])


def _path_or_none(path) -> str | None:
    return None if path is None else os.fspath(path)


def _train_and_report(reports: Connection, work: dict, should_stop: Callable[[], bool]) -> None:
    """The child's side: do `work` (see `TrainingJob._work_json`), sending (kind, payload)
    reports: "message"s while preparing the data, then TRAINING, "progress", and last DONE or
    STOPPED with the saved model, or FAILED with the reason."""

    def send(kind: str, payload=None) -> None:
        reports.send((kind, payload))

    try:
        config = TrainConfig.from_dict(work["config"])
        mnist = prepare_mnist(work["data_path"], on_progress=lambda text: send("message", text))
        send(TRAINING)
        from mnist_core import workflow  # imports TensorFlow

        options = {
            "name": work["name"],
            "models_dir": work["models_dir"],
            "on_progress": lambda progress: send("progress", vars(JobProgress.of(progress))),
            "should_stop": should_stop,
        }
        if work["fine_tune"]:
            base = find_model(work["fine_tune"], work["models_dir"])
            result, saved = workflow.fine_tune_evaluate_save(
                base, FeedbackStore.open(), mnist, config, **options
            )
        else:
            result, saved = workflow.train_evaluate_save(config, mnist, **options)
    except Exception as error:
        if not isinstance(error, EXPLAINED_ERRORS):
            _log.exception("training job failed")
        send(FAILED, {"error": describe_error(error)})
    else:
        send(STOPPED if result.stopped_early else DONE, {"saved": saved})


def _child_main(reports_fd: int, work_json: str) -> None:
    stop_requested = threading.Event()

    def wait_for_stop() -> None:
        # a raw read: a buffered one would hold stdin's lock and abort the exit
        os.read(sys.stdin.fileno(), 1)  # "stop", or the end of input if the server has gone
        stop_requested.set()

    threading.Thread(target=wait_for_stop, daemon=True).start()
    # BrokenPipeError: the server has gone, and nobody is left to report to
    with Connection(reports_fd, readable=False) as reports, suppress(BrokenPipeError):
        _train_and_report(reports, json.loads(work_json), stop_requested.is_set)


if __name__ == "__main__":
    _child_main(int(sys.argv[1]), sys.argv[2])
