"""Training in the background: one job at a time per machine, kept on disk, watched through
snapshots.

A page starts a job and returns at once; every rerun of every session then reads the job's
latest snapshot, so the app stays responsive, several sessions can watch the same run and a
session that comes back later sees how it ended.

The model trains in a child process (`python -m mnist_core.jobs FOLDER`), not a thread:
Streamlit calls `keras.backend.clear_session()` after every script run, which resets Keras'
global state (layer names, seeds) under a model being built in the same process.
multiprocessing is no help either: its children re-run the parent's `__main__`, which under
Streamlit is the app script.

The job lives in its folder, `<jobs dir>/<number>/`, not in a server's memory, so that every
server process behind a proxy (`make serve`) sees the same job and can stop it, and a server
process that dies takes nothing with it: the child runs in a session of its own and trains on.
The child appends its reports to the folder's `reports.jsonl`, one JSON line each: each state it
enters, the data's messages, its progress, and last how it ended. It stops when the folder's
`stop` file appears. It holds a lock on the folder's `lock` file for as long as it lives, so a
job whose lock is free and that never said how it ended has died.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from mnist_core.config import ConfigError, TrainConfig
from mnist_core.data import DataError, prepare_mnist
from mnist_core.feedback import FeedbackError, FeedbackStore
from mnist_core.feedback import feedback_path as feedback_path_of
from mnist_core.files import chosen_path, write_atomically
from mnist_core.progress import BATCH, EPOCH, Progress
from mnist_core.store import ModelFileError, find_model
from mnist_core.store import models_dir as models_dir_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

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
WEIGHTS = "weights"  # payload: the epoch just ended; its first layer's weights are in a file

# Errors whose message is already a sentence for the user, including the machine's own
# (a full disk, a missing file): they are shown as they are. Anything else is a bug and is
# logged with its traceback.
EXPLAINED_ERRORS = (DataError, ConfigError, FeedbackError, ModelFileError, OSError)
MAX_ERROR_LENGTH = 300

_PROJECT_ROOT = Path(__file__).resolve().parent.parent  # where the child imports us from
DEFAULT_LOG = _PROJECT_ROOT / "logs" / "training.log"
LOG_ENV_VAR = "MNIST_TRAINING_LOG"
DEFAULT_JOBS_DIR = _PROJECT_ROOT / "jobs"
JOBS_ENV_VAR = "MNIST_JOBS_DIR"
KEPT_JOBS = 5  # finished jobs' folders kept; older ones are removed when a job starts
STOP_POLL_SECONDS = 0.1  # how often the child looks for the stop file
WAIT_POLL_SECONDS = 0.05
CHILD_EXIT_SECONDS = 30  # after its last report, for the child to finish exiting
# In a job's folder:
_SPEC, _REPORTS, _LOCK, _STOP, _PID = "spec.json", "reports.jsonl", "lock", "stop", "pid"
_WEIGHTS = "first_layer.npz"  # the latest epoch's first-layer weights
_START_LOCK = "start.lock"  # in the jobs folder: one starter at a time, across processes
_log = logging.getLogger(__name__)


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
    """One job, as its folder on disk says it is: any number of these, in any server process,
    may watch the same folder, and `snapshot()`, `stop()` and `wait()` are safe from any thread.

    `snapshot()` reads the reports the child has added since the last call; `stop()` leaves the
    stop file the child looks for. `launch` makes the folder and starts the child.
    """

    def __init__(self, folder: Path, spec: JobSpec | None = None):
        self.folder = Path(folder)
        self.id = int(self.folder.name)
        self.spec = spec or JobSpec.from_json((self.folder / _SPEC).read_text(encoding="utf-8"))
        self._lock = threading.Lock()
        self._read_to = 0  # bytes of the reports file applied so far
        self._child: subprocess.Popen | None = None  # in the process that launched it
        self._snapshot = JobSnapshot(
            id=self.id,
            spec=self.spec,
            state=PREPARING,
            progress=None,
            history=MappingProxyType({}),
            loss_chunks=(),
            first_layer=None,
            messages=(),
            stop_requested=False,
            error=None,
            saved=None,
            started=datetime.fromtimestamp((self.folder / _SPEC).stat().st_mtime, UTC),
            finished=None,
        )

    def __repr__(self) -> str:
        return f"TrainingJob(id={self.id}, state={self.snapshot().state!r}, spec={self.spec})"

    @classmethod
    def launch(cls, folder: Path, spec: JobSpec, command: list[str] | None = None) -> TrainingJob:
        """Make the job's folder and start its child (`command`, by default this module's own
        `__main__` given the folder) in a session of its own, so that a server process that
        dies or is stopped leaves it training. The child inherits a lock on the folder's lock
        file and holds it while it lives: see `_child_alive`."""
        draft = folder.with_name(f".{folder.name}.new")
        shutil.rmtree(draft, ignore_errors=True)
        draft.mkdir(parents=True)
        (draft / _SPEC).write_text(spec.to_json(), encoding="utf-8")
        (draft / _REPORTS).touch()
        lock = os.open(draft / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            draft.rename(folder)  # readers see the folder only once its lock is held
            job = cls(folder, spec)
            with job._opened_log() as log:
                try:
                    job._child = subprocess.Popen(
                        command or [sys.executable, "-m", __name__, str(folder)],
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        pass_fds=(lock,),
                        start_new_session=True,
                        env={**os.environ, "PYTHONPATH": _python_path()},
                    )
                except OSError as error:
                    _append_report(folder, STATE, FAILED, f"training could not start: {error}")
                else:
                    (folder / _PID).write_text(str(job._child.pid), encoding="ascii")
        finally:
            os.close(lock)  # the child's copy keeps the lock
        return job

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
        return not self.snapshot().is_finished

    def snapshot(self) -> JobSnapshot:
        """The job as its folder says it is now."""
        with self._lock:
            if not self._snapshot.is_finished:
                self._read_reports()
            if not self._snapshot.is_finished and not self._child_alive():
                self._read_reports()  # its last report may have landed since
                if not self._snapshot.is_finished:
                    self._finish(FAILED, error=self._death())
            if not self._snapshot.stop_requested and (self.folder / _STOP).exists():
                self._replace(stop_requested=True)
            return self._snapshot

    def stop(self) -> None:
        """Ask training to stop after the current batch; what was learned is still saved."""
        if not self.snapshot().is_finished:
            (self.folder / _STOP).touch()
            with self._lock:
                self._replace(stop_requested=True)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (True) or `timeout` seconds passed (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.snapshot().is_finished:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(WAIT_POLL_SECONDS)
        return True

    def _child_alive(self) -> bool:
        """Whether the child still holds the folder's lock (the kernel frees it when the child
        dies, however it dies)."""
        try:
            lock = os.open(self.folder / _LOCK, os.O_RDWR)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(lock)  # closing also frees the lock if we just took it
        return False

    def _death(self) -> str:
        if self._child is not None:
            return f"the training process died (exit code {self._child.wait()})"
        return f"the training process ended without saying how (see {_shown(self.spec.log_path)})"

    def _read_reports(self) -> None:
        """Apply the whole lines the child has written since the last call."""
        try:
            with (self.folder / _REPORTS).open("rb") as reports:
                reports.seek(self._read_to)
                written = reports.read()
        except FileNotFoundError:
            return
        whole = written[: written.rfind(b"\n") + 1]
        self._read_to += len(whole)
        for line in whole.splitlines():
            try:
                kind, *payload = json.loads(line)
            except (TypeError, ValueError):  # not a [kind, ...] list
                kind, payload = "unreadable", []
            self._apply(kind, payload)
            if self._snapshot.is_finished:
                return

    def _apply(self, kind: str, payload: list) -> None:
        if kind == MESSAGE:
            self._replace(messages=(*self._snapshot.messages, *payload))
        elif kind == PROGRESS:
            self._record(Progress(**payload[0]))
        elif kind == WEIGHTS:
            # suppress: weights that cannot be read leave the last ones shown
            with suppress(OSError, ValueError), np.load(self.folder / _WEIGHTS) as weights:
                self._replace(first_layer=(int(weights["epoch"]), weights["kernel"]))
        elif kind == STATE and payload and payload[0] in FINAL_STATES:
            state, detail = payload
            self._reap_child()
            if state == FAILED:
                self._finish(FAILED, error=detail)
                return
            try:
                self._finish(state, saved=find_model(detail, self.spec.models_dir))
            except ModelFileError as error:  # deleted, or unreadable, the moment it was saved
                self._finish(FAILED, error=f"the model was saved but cannot be read: {error}")
        elif kind == STATE and payload and payload[0] in STATES:
            self._replace(state=payload[0])
        else:
            self._end_child()
            self._finish(FAILED, error=f"the training process sent an unknown report {kind!r}")

    def _reap_child(self) -> None:
        """Wait for a child this process launched to exit after its last report, so that it
        leaves no zombie behind."""
        if self._child is not None:
            with suppress(subprocess.TimeoutExpired):
                self._child.wait(CHILD_EXIT_SECONDS)

    def _end_child(self) -> None:
        """Kill the child, from whichever process: a job that failed must not train on."""
        with suppress(OSError, ValueError):
            pid = int((self.folder / _PID).read_text(encoding="ascii"))
            if self._child_alive():
                os.kill(pid, signal.SIGKILL)
        if self._child is not None:
            self._child.wait()

    def _record(self, progress: Progress) -> None:
        history, chunks = self._snapshot.history, self._snapshot.loss_chunks
        if progress.kind == EPOCH:
            history = {
                name: (*history.get(name, ()), value) for name, value in progress.metrics.items()
            }
        else:
            chunks = (*chunks, *_chunk_loss(self._snapshot.progress, progress))
        self._replace(
            progress=progress, history=MappingProxyType(dict(history)), loss_chunks=chunks
        )

    def _finish(self, state: str, *, saved=None, error=None) -> None:
        self._replace(state=state, saved=saved, error=error, finished=datetime.now(UTC))

    def _replace(self, **changes) -> None:
        """Put a new snapshot in place of the old one (the caller holds the lock)."""
        self._snapshot = dataclasses.replace(self._snapshot, **changes)


class JobRunner:
    """Starts training jobs, one at a time for every process sharing the jobs folder (the
    machine's, by default), and finds the latest for everyone to see."""

    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        self.directory = jobs_dir(directory).resolve()
        self._lock = threading.Lock()
        self._jobs: dict[int, TrainingJob] = {}  # watched here, by id

    def start(self, spec: JobSpec) -> tuple[TrainingJob, bool]:
        """Start the job `spec` describes: (the new job, True), or (the running job, False)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._lock, _held(self.directory / _START_LOCK):
            latest = self._latest()
            if latest is not None and latest.is_running:
                return latest, False
            number = max(_job_numbers(self.directory), default=0) + 1  # unreadable ones too
            job = TrainingJob.launch(self.directory / str(number), spec)
            self._jobs[number] = job
            self._forget_old(number)
            return job, True

    def current(self) -> TrainingJob | None:
        """The running job, else the last one to finish, else None."""
        with self._lock:
            return self._latest()

    def _latest(self) -> TrainingJob | None:
        numbers = sorted(_job_numbers(self.directory), reverse=True)
        for number in numbers:
            if number not in self._jobs:
                try:
                    self._jobs[number] = TrainingJob(self.directory / str(number))
                except (OSError, ValueError, KeyError, TypeError, ConfigError):
                    continue  # not a job this version can read: the one before, then
            return self._jobs[number]
        return None

    def _forget_old(self, newest: int) -> None:
        for number in _job_numbers(self.directory):
            if number <= newest - KEPT_JOBS:
                shutil.rmtree(self.directory / str(number), ignore_errors=True)
                self._jobs.pop(number, None)


def jobs_dir(directory: str | os.PathLike | None = None) -> Path:
    """Where jobs keep their state: the argument, else $MNIST_JOBS_DIR, else ./jobs."""
    return chosen_path(directory, JOBS_ENV_VAR, DEFAULT_JOBS_DIR)


def _job_numbers(directory: Path) -> list[int]:
    if not directory.is_dir():
        return []
    return [int(path.name) for path in directory.iterdir() if path.name.isdigit()]


@contextmanager
def _held(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` for the block, across processes."""
    with path.open("a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        yield


def _append_report(folder: Path, kind: str, *payload) -> None:
    with (folder / _REPORTS).open("a", encoding="utf-8") as reports:
        reports.write(json.dumps([kind, *payload]) + "\n")


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


def _child_main(folder: Path) -> None:
    stop_requested = threading.Event()

    def watch_for_stop() -> None:
        while not (folder / _STOP).exists():
            time.sleep(STOP_POLL_SECONDS)
        stop_requested.set()

    def send(kind: str, *payload) -> None:
        if kind == WEIGHTS:  # too big for a line: in a file of its own, the line says when
            epoch, kernel = payload
            write_atomically(folder / _WEIGHTS, lambda temp: _save_weights(temp, epoch, kernel))
            payload = (epoch,)
        _append_report(folder, kind, *payload)

    threading.Thread(target=watch_for_stop, daemon=True).start()
    spec = JobSpec.from_json((folder / _SPEC).read_text(encoding="utf-8"))
    run_job(spec, send, stop_requested.is_set)


def _save_weights(path: Path, epoch: int, kernel) -> None:
    with path.open("wb") as file:
        np.savez(file, epoch=epoch, kernel=np.asarray(kernel))


if __name__ == "__main__":
    _child_main(Path(sys.argv[1]))
