"""Training in the background: one job at a time per server, watched through snapshots.

A page starts a job and returns at once; every rerun of every session then reads the job's
latest snapshot, so the app stays responsive, several sessions can watch the same run and a
session that comes back later sees how it ended.

The model trains in a child process (`python -m mnist_core.jobs`), not a thread: Streamlit
calls `keras.backend.clear_session()` after every script run, which resets Keras' global
state (layer names, seeds) under a model being built in the same process. multiprocessing
is no help either: its children re-run the parent's `__main__`, which under Streamlit is the
app script. The child gets its `JobSpec` as JSON on its command line, stops when anything
arrives on its stdin (or the server goes away), and reports back through a pipe: each state
it enters, the data's messages, its progress, and last how it ended.
"""

from __future__ import annotations

import dataclasses
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

import numpy as np

from mnist_core.config import ConfigError, TrainConfig
from mnist_core.data import DataError, prepare_mnist
from mnist_core.feedback import FeedbackError, FeedbackStore
from mnist_core.feedback import feedback_path as feedback_path_of
from mnist_core.files import chosen_path
from mnist_core.progress import BATCH, EPOCH, Progress
from mnist_core.store import ModelFileError, find_model
from mnist_core.store import models_dir as models_dir_of

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from mnist_core.store import SavedModel

PREPARING = "preparing data"
TRAINING = "training"
EVALUATING = "evaluating"
DONE = "done"
STOPPED = "stopped"
FAILED = "failed"
FINAL_STATES = frozenset({DONE, STOPPED, FAILED})
STATES = frozenset({PREPARING, TRAINING, EVALUATING}) | FINAL_STATES

# What the child sends, as (kind, payload) pairs.
STATE = "state"  # payload: a state; for DONE and STOPPED, then the saved model's name
MESSAGE = "message"  # payload: a line about preparing the data
PROGRESS = "progress"  # payload: a `Progress` as a dict
WEIGHTS = "weights"  # payload: the epoch just ended, the first layer's weights (an array)

# Errors whose message is already a sentence for the user, including the machine's own
# (a full disk, a missing file): they are shown as they are. Anything else is a bug and is
# logged with its traceback.
EXPLAINED_ERRORS = (DataError, ConfigError, FeedbackError, ModelFileError, OSError)
MAX_ERROR_LENGTH = 300

_PROJECT_ROOT = Path(__file__).resolve().parent.parent  # where the child imports us from
DEFAULT_LOG = _PROJECT_ROOT / "logs" / "training.log"
LOG_ENV_VAR = "MNIST_TRAINING_LOG"
_log = logging.getLogger(__name__)
_job_numbers = itertools.count(1)


@dataclass(frozen=True)
class JobSpec:
    """Everything a training job's child process needs, with every path resolved here.

    With `fine_tune` (a saved model's name) the job goes on training that model on MNIST and
    the user's labelled drawings in `feedback_path`, `config` giving its epochs and rate.
    """

    config: TrainConfig
    models_dir: Path
    feedback_path: Path
    log_path: Path  # where the child's own output goes (TensorFlow's chatter, tracebacks)
    data_path: Path | None = None  # None: MNIST from the usual sources (`data.prepare_mnist`)
    fine_tune: str | None = None
    name: str | None = None  # of the model to save; None: the architecture and the time

    @classmethod
    def of(
        cls,
        config: TrainConfig,
        *,
        fine_tune: str | None = None,
        name: str | None = None,
        data_path=None,
        models_dir=None,
        feedback_path=None,
        log_path=None,
    ) -> JobSpec:
        """A spec whose folders default as everywhere else (arguments, environment, defaults)."""
        return cls(
            config=config,
            models_dir=models_dir_of(models_dir).resolve(),
            feedback_path=feedback_path_of(feedback_path).resolve(),
            log_path=chosen_path(log_path, LOG_ENV_VAR, DEFAULT_LOG).resolve(),
            data_path=None if data_path is None else Path(data_path),
            fine_tune=fine_tune,
            name=name,
        )

    def to_json(self) -> str:
        values = {**dataclasses.asdict(self), "config": self.config.to_dict()}
        return json.dumps({key: _plain(value) for key, value in values.items()})

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        values = json.loads(text)
        paths = ("models_dir", "feedback_path", "log_path", "data_path")
        return cls(
            **{
                **values,
                "config": TrainConfig.from_dict(values["config"]),
                **{key: None if values[key] is None else Path(values[key]) for key in paths},
            }
        )


@dataclass(frozen=True)
class JobSnapshot:
    """A job as it was at one moment: what a page draws. Later progress never changes it."""

    id: int
    spec: JobSpec
    state: str
    progress: Progress | None  # the latest report from training, None before the first
    history: Mapping[str, tuple[float, ...]]  # metric name -> its value after each epoch
    # (epochs done, as a fraction, the mean training loss since the report before) for each
    # chunk of batches: the loss between the epochs' ends
    loss_chunks: tuple[tuple[float, float], ...]
    first_layer: tuple[int, np.ndarray] | None  # after which epoch, the first layer's weights
    messages: tuple[str, ...]  # from preparing the data, in order
    stop_requested: bool
    error: str | None  # one line for the user when the job failed
    saved: SavedModel | None  # the saved model once done or stopped
    started: datetime
    finished: datetime | None

    @property
    def config(self) -> TrainConfig:
        return self.spec.config

    @property
    def fine_tune(self) -> str | None:
        """The name of the model being fine-tuned, None for a new model."""
        return self.spec.fine_tune

    @property
    def is_finished(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def epochs_done(self) -> int:
        return len(self.history.get("loss", ()))


class TrainingJob:
    """Prepare the data, then train, evaluate and save one model, in a child process.

    A thread here applies the child's reports to the job's one snapshot, replaced whole under
    a lock: `snapshot()`, `stop()` and `wait()` are safe to call from any thread.
    """

    def __init__(self, spec: JobSpec):
        self.id = next(_job_numbers)
        self.spec = spec
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._snapshot = JobSnapshot(
            id=self.id,
            spec=spec,
            state=PREPARING,
            progress=None,
            history=MappingProxyType({}),
            loss_chunks=(),
            first_layer=None,
            messages=(),
            stop_requested=False,
            error=None,
            saved=None,
            started=datetime.now(UTC),
            finished=None,
        )
        self._child: subprocess.Popen | None = None

    def __repr__(self) -> str:
        return f"TrainingJob(id={self.id}, state={self.snapshot().state!r}, spec={self.spec})"

    def start(self) -> TrainingJob:
        """Launch the child process and the thread that listens to it."""
        reports, child_end = os.pipe()
        try:
            with self._opened_log() as log:
                self._child = subprocess.Popen(
                    [sys.executable, "-m", __name__, str(child_end), self.spec.to_json()],
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=subprocess.STDOUT,
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

    def _opened_log(self):
        """The job's log, appended to after a line that says which job this is: the server's
        own log stays free of TensorFlow's start-up lines, which would only worry a user."""
        self.spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.spec.log_path.open("a", encoding="utf-8")
        log.write(f"\n== job {self.id}, {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC: {self.spec}\n")
        log.flush()
        return log

    @property
    def is_running(self) -> bool:
        return not self._finished.is_set()

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            return self._snapshot

    def stop(self) -> None:
        """Ask training to stop after the current batch; what was learned is still saved."""
        with self._lock:
            if self._snapshot.stop_requested or self._snapshot.is_finished:
                return
            self._replace(stop_requested=True)
            try:
                self._child.stdin.write(b"stop\n")
                self._child.stdin.flush()
            except OSError:  # the child has just ended: nothing left to stop
                pass

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (True) or `timeout` seconds passed (False)."""
        return self._finished.wait(timeout)

    def _listen(self, reports: Connection) -> None:
        """Apply the child's reports until it says how it ended, or dies without saying."""
        with reports:
            while not self._finished.is_set():
                try:
                    kind, *payload = reports.recv()
                except EOFError:
                    code = self._child.wait()
                    self._finish(FAILED, error=f"the training process died (exit code {code})")
                    return
                except (TypeError, ValueError):  # not a (kind, ...) tuple
                    kind, payload = "unreadable", []
                self._apply(kind, payload)

    def _apply(self, kind: str, payload: list) -> None:
        if kind == MESSAGE:
            with self._lock:
                self._replace(messages=(*self._snapshot.messages, *payload))
        elif kind == PROGRESS:
            self._record(Progress(**payload[0]))
        elif kind == WEIGHTS:
            with self._lock:
                self._replace(first_layer=(int(payload[0]), np.asarray(payload[1])))
        elif kind == STATE and payload and payload[0] in FINAL_STATES:
            state, detail = payload
            self._child.wait()
            if state == FAILED:
                self._finish(FAILED, error=detail)
                return
            try:
                self._finish(state, saved=find_model(detail, self.spec.models_dir))
            except ModelFileError as error:  # deleted, or unreadable, the moment it was saved
                self._finish(FAILED, error=f"the model was saved but cannot be read: {error}")
        elif kind == STATE and payload and payload[0] in STATES:
            with self._lock:
                self._replace(state=payload[0])
        else:
            self._child.kill()
            self._child.wait()
            self._finish(FAILED, error=f"the training process sent an unknown report {kind!r}")

    def _record(self, progress: Progress) -> None:
        with self._lock:
            history, chunks = self._snapshot.history, self._snapshot.loss_chunks
            if progress.kind == EPOCH:
                history = {
                    name: (*history.get(name, ()), value)
                    for name, value in progress.metrics.items()
                }
            else:
                chunks = (*chunks, *_chunk_loss(self._snapshot.progress, progress))
            self._replace(
                progress=progress, history=MappingProxyType(dict(history)), loss_chunks=chunks
            )

    def _finish(self, state: str, *, saved=None, error=None) -> None:
        with self._lock:
            self._replace(state=state, saved=saved, error=error, finished=datetime.now(UTC))
            self._child.stdin.close()
        self._finished.set()

    def _replace(self, **changes) -> None:
        """Put a new snapshot in place of the old one (the caller holds the lock)."""
        self._snapshot = dataclasses.replace(self._snapshot, **changes)


class JobRunner:
    """Starts training jobs, one at a time, and keeps the latest for everyone to see."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._job: TrainingJob | None = None

    def start(self, spec: JobSpec) -> tuple[TrainingJob, bool]:
        """Start the job `spec` describes: (the new job, True), or (the running job, False)."""
        with self._lock:
            if self._job is not None and self._job.is_running:
                return self._job, False
            self._job = TrainingJob(spec).start()
            return self._job, True

    def current(self) -> TrainingJob | None:
        """The running job, else the last one to finish, else None."""
        with self._lock:
            return self._job


def _chunk_loss(before: Progress | None, now: Progress) -> list[tuple[float, float]]:
    """The mean loss over the batches between two reports of one epoch: Keras reports the
    epoch's running mean, so the chunk's is (b * m_b - a * m_a) / (b - a)."""
    loss = now.metrics.get("loss")
    if loss is None or now.batch == 0:
        return []
    same_epoch = before is not None and before.epoch == now.epoch and before.kind == BATCH
    start, start_loss = (before.batch, before.metrics.get("loss", 0.0)) if same_epoch else (0, 0)
    if now.batch <= start:
        return []
    mean = (now.batch * loss - start * start_loss) / (now.batch - start)
    return [(now.epoch - 1 + now.batch / now.batches, mean)]


def describe_error(error: Exception, log_path: Path) -> str:
    """One line for the user: our own errors speak for themselves, others are named, with where
    their traceback was written."""
    lines = str(error).strip().splitlines()
    line = lines[0] if lines else type(error).__name__
    if len(line) > MAX_ERROR_LENGTH:
        line = line[: MAX_ERROR_LENGTH - 1] + "…"
    if isinstance(error, EXPLAINED_ERRORS):
        return line
    return f"unexpected {type(error).__name__}: {line} (details are in {_shown(log_path)})"


def _shown(path: Path) -> str:
    """`path` as a user would type it: relative to the project when it is inside it."""
    return str(path.relative_to(_PROJECT_ROOT)) if path.is_relative_to(_PROJECT_ROOT) else str(path)


def _plain(value):
    return os.fspath(value) if isinstance(value, Path) else value


def _python_path() -> str:
    inherited = os.environ.get("PYTHONPATH")
    return os.pathsep.join([str(_PROJECT_ROOT), inherited] if inherited else [str(_PROJECT_ROOT)])


def run_job(spec: JobSpec, send: Callable[..., None], should_stop: Callable[[], bool]) -> None:
    """The child's side: do what `spec` says, reporting each state as it enters it (see
    STATE, MESSAGE, PROGRESS), and last DONE or STOPPED with the saved model's name, or
    FAILED with the reason."""
    try:
        send(STATE, PREPARING)
        mnist = prepare_mnist(spec.data_path, on_progress=lambda text: send(MESSAGE, text))
        send(STATE, TRAINING)
        from mnist_core import workflow  # imports TensorFlow

        options = {
            "name": spec.name,
            "models_dir": spec.models_dir,
            "on_progress": lambda progress: send(PROGRESS, dataclasses.asdict(progress)),
            "should_stop": should_stop,
            "on_evaluating": lambda: send(STATE, EVALUATING),
            "on_weights": lambda epoch, kernel: send(WEIGHTS, epoch, kernel),
        }
        if spec.fine_tune:
            base = find_model(spec.fine_tune, spec.models_dir)
            feedback = FeedbackStore.open(spec.feedback_path)
            result, saved = workflow.fine_tune_evaluate_save(
                base, feedback, mnist, spec.config, **options
            )
        else:
            result, saved = workflow.train_evaluate_save(spec.config, mnist, **options)
    except Exception as error:
        if not isinstance(error, EXPLAINED_ERRORS):
            _log.exception("training job failed")
        send(STATE, FAILED, describe_error(error, spec.log_path))
    else:
        send(STATE, STOPPED if result.stopped_early else DONE, saved.name)


def _child_main(reports_fd: int, spec_json: str) -> None:
    stop_requested = threading.Event()

    def wait_for_stop() -> None:
        # a raw read: a buffered one would hold stdin's lock and abort the exit
        os.read(sys.stdin.fileno(), 1)  # "stop", or the end of input if the server has gone
        stop_requested.set()

    threading.Thread(target=wait_for_stop, daemon=True).start()
    # BrokenPipeError: the server has gone, and nobody is left to report to
    with Connection(reports_fd, readable=False) as reports, suppress(BrokenPipeError):
        run_job(
            JobSpec.from_json(spec_json),
            lambda *report: reports.send(report),
            stop_requested.is_set,
        )


if __name__ == "__main__":
    _child_main(int(sys.argv[1]), sys.argv[2])
