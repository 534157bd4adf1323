import json
import shutil
import subprocess
import sys
import threading
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from mnist_core import jobs
from mnist_core.config import TrainConfig
from mnist_core.finetune import fine_tune_config
from mnist_core.jobs import JobRunner, JobSpec
from mnist_core.store import list_models, load_model

from .conftest import SMALL_CONFIG

JOB_TIMEOUT_S = 300  # a hung job fails the test instead of hanging the run
STATE_ORDER = [jobs.PREPARING, jobs.TRAINING, jobs.EVALUATING, jobs.DONE]


def spec(config, data_path, models_dir, **options) -> JobSpec:
    return JobSpec.of(config, data_path=data_path, models_dir=models_dir, **options)


def _finished(job):
    assert job.wait(JOB_TIMEOUT_S), f"{job} did not finish"
    return job.snapshot()


def test_trains_in_the_background_reporting_progress_then_saves(small_npz, tmp_path, capfd):
    runner = JobRunner()
    assert runner.current() is None
    job, started = runner.start(spec(SMALL_CONFIG, small_npz, tmp_path))
    assert started and runner.current() is job

    states = [job.snapshot().state]
    while not job.wait(0.02):
        states.append(job.snapshot().state)
    snapshot = job.snapshot()
    states.append(snapshot.state)
    seen = list(dict.fromkeys(states))
    assert seen == [s for s in STATE_ORDER if s in seen] and seen[-1] == jobs.DONE

    assert snapshot.is_finished and snapshot.error is None and not snapshot.stop_requested
    assert snapshot.messages == (f"Reading MNIST from {small_npz}",)
    assert snapshot.progress.epoch == 2 and snapshot.progress.fraction == 1.0
    assert snapshot.epochs_done == 2
    epoch, kernel = snapshot.first_layer
    assert epoch == 2 and kernel.shape == (784, 128)
    steps = [at for at, _ in snapshot.loss_chunks]
    assert steps == sorted(steps) and steps[-1] == 2.0
    assert all(loss > 0 for _, loss in snapshot.loss_chunks)
    saved = snapshot.saved
    assert [m.name for m in list_models(tmp_path)] == [saved.name]
    assert dict(snapshot.history) == dict(saved.record.history)
    assert saved.record.epochs_run == 2 and not saved.record.stopped_early
    assert saved.record.config == SMALL_CONFIG
    assert snapshot.started <= snapshot.finished
    assert runner.current() is job  # the finished job stays visible
    # TensorFlow's start-up lines went to the job's log, not to the server's output.
    assert capfd.readouterr() == ("", "")
    log = job.spec.log_path.read_text()
    assert log.startswith(f"\n== job {job.id}, ") and len(log.splitlines()) > 2

    with pytest.raises(FrozenInstanceError):
        snapshot.state = jobs.FAILED
    with pytest.raises(TypeError):
        snapshot.history["loss"] = ()


def test_one_job_at_a_time_and_stop_keeps_what_was_learned(small_npz, tmp_path):
    runner = JobRunner()
    long_run = TrainConfig(epochs=50, validation_size=500)
    job, started = runner.start(spec(long_run, small_npz, tmp_path))
    second, second_started = runner.start(spec(SMALL_CONFIG, small_npz, tmp_path))
    assert started and not second_started and second is job

    job.stop()  # before the first batch ends: training stops inside epoch 1
    snapshot = _finished(job)
    assert snapshot.state == jobs.STOPPED and snapshot.stop_requested
    assert snapshot.epochs_done == 1
    record = snapshot.saved.record
    assert record.stopped_early and record.epochs_run == 1 < long_run.epochs
    assert record.evaluation.accuracy > 0.1  # scored on the test images, as when done
    assert [m.name for m in list_models(tmp_path)] == [snapshot.saved.name]

    after, after_started = runner.start(
        spec(TrainConfig(epochs=1, validation_size=0), small_npz, tmp_path)
    )
    assert after_started and after is not job and runner.current() is after
    assert _finished(after).state == jobs.DONE


def test_sessions_pressing_train_at_once_start_one_job(small_npz, tmp_path):
    """Streamlit runs each session's script in a thread of its own: eight of them starting a
    job at the same moment must end up with one job, the same one for all."""
    runner, sessions = JobRunner(), 8
    start = threading.Barrier(sessions)
    answers = []

    def press_train() -> None:
        start.wait()
        answers.append(runner.start(spec(SMALL_CONFIG, small_npz, tmp_path)))

    threads = [threading.Thread(target=press_train) for _ in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    jobs_seen = {id(job) for job, _ in answers}
    assert len(answers) == sessions and len(jobs_seen) == 1
    assert sum(started for _, started in answers) == 1
    assert _finished(runner.current()).state == jobs.DONE
    assert len(list_models(tmp_path)) == 1


@pytest.mark.parametrize(
    ("data", "config", "message"),
    [
        ("not-mnist.npz", SMALL_CONFIG, "is not an .npz file"),
        ("small", TrainConfig(epochs=1, validation_size=3000), "below the 3000 training images"),
    ],
    ids=["bad data file", "validation set as large as the data"],
)
def test_a_failing_job_says_why_and_saves_nothing(small_npz, tmp_path, data, config, message):
    models = tmp_path / "models"
    models.mkdir()
    (models / "notes.txt").write_text("the user's own file")
    data_path = small_npz if data == "small" else tmp_path / data
    if data != "small":
        data_path.write_text("these are not digits")

    job, _ = JobRunner().start(spec(config, data_path, models))
    snapshot = _finished(job)

    assert snapshot.state == jobs.FAILED and snapshot.saved is None
    assert message in snapshot.error and "\n" not in snapshot.error
    assert sorted(p.name for p in models.iterdir()) == ["notes.txt"]


def test_a_fine_tuning_job_without_enough_drawings_says_so(saved_small_model, small_npz, tmp_path):
    _, base = saved_small_model
    models = tmp_path / "models"
    shutil.copytree(base.path.parent, models)
    config = fine_tune_config(base, epochs=1, learning_rate=1e-4)

    job, _ = JobRunner().start(spec(config, small_npz, models, fine_tune="small"))
    snapshot = _finished(job)

    assert snapshot.state == jobs.FAILED and snapshot.fine_tune == "small"
    assert "needs at least 10 labelled drawings; there are 0" in snapshot.error
    assert [saved.name for saved in list_models(models)] == ["small"]


def test_unexpected_errors_are_named_in_one_line_with_where_their_details_are():
    assert jobs.describe_error(RuntimeError("boom\n  at line 3"), jobs.DEFAULT_LOG) == (
        "unexpected RuntimeError: boom (details are in logs/training.log)"
    )
    long = jobs.describe_error(jobs.DataError("x" * 1000), jobs.DEFAULT_LOG)
    assert len(long) == jobs.MAX_ERROR_LENGTH and long.endswith("…")


def test_a_training_process_that_dies_midway_fails_the_job_and_keeps_older_models(
    saved_small_model, small_npz, tmp_path
):
    _, older = saved_small_model
    models = tmp_path / "models"
    shutil.copytree(older.path.parent, models)
    config = TrainConfig(epochs=50, validation_size=500)
    job, _ = JobRunner().start(spec(config, small_npz, models))
    while job.snapshot().progress is None:  # until it is training
        assert not job.wait(0.05), "the job ended before it trained"
    job._child.kill()  # as the kernel's out-of-memory killer would
    snapshot = _finished(job)

    assert snapshot.state == jobs.FAILED and snapshot.saved is None
    assert snapshot.error == "the training process died (exit code -9)"
    assert [saved.name for saved in list_models(models)] == ["small"]
    assert sorted(path.name for path in models.iterdir()) == ["small.h5", "small.json"]
    load_model(models / "small.h5")


WATCH_A_JOB = """
import sys
from mnist_core.config import TrainConfig
from mnist_core.jobs import JobRunner, JobSpec
spec = JobSpec.of(TrainConfig(epochs=1, validation_size=500), data_path=sys.argv[1],
                  models_dir=sys.argv[2])
job, _ = JobRunner().start(spec)
assert job.wait(300)
print(job.snapshot().state, job.snapshot().progress.fraction, "keras" in sys.modules)
"""


def test_the_server_side_of_a_job_never_imports_keras(small_npz, tmp_path):
    """Streamlit runs keras.backend.clear_session() after every script run once Keras is
    imported: seconds of garbage collection on each rerun."""
    watched = subprocess.run(
        [sys.executable, "-c", WATCH_A_JOB, str(small_npz), str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert watched.stdout.split() == ["done", "1.0", "False"], watched.stderr


def job_with_a_waiting_child(jobs_folder) -> jobs.TrainingJob:
    """A job whose child is a process that only waits (holding the job's lock, as a real child
    does): the reports in its folder are the test's."""
    return jobs.TrainingJob.launch(
        jobs_folder / "1",
        spec(SMALL_CONFIG, None, jobs_folder / "models"),
        command=[sys.executable, "-c", "import time; time.sleep(300)"],
    )


def report(job, *line) -> None:
    with (job.folder / "reports.jsonl").open("a") as reports:
        reports.write(json.dumps(line) + "\n")


def test_a_report_the_server_does_not_know_fails_the_job_and_ends_the_child(tmp_path):
    """The protocol is closed: a report of an unknown kind is an error, never a final state."""
    job = job_with_a_waiting_child(tmp_path)
    report(job, jobs.STATE, jobs.TRAINING)
    assert job.snapshot().state == jobs.TRAINING

    report(job, "celebrate", "it trained")

    snapshot = job.snapshot()
    assert snapshot.state == jobs.FAILED and snapshot.is_finished and job.wait(0)
    assert snapshot.error == "the training process sent an unknown report 'celebrate'"
    assert job._child.poll() is not None  # ended, not left running


def test_a_half_written_report_waits_for_the_rest_of_its_line(tmp_path):
    job = job_with_a_waiting_child(tmp_path)
    line = json.dumps([jobs.MESSAGE, "Reading MNIST"]) + "\n"
    with (job.folder / "reports.jsonl").open("a") as reports:
        reports.write(line[:9])
        reports.flush()
        assert job.snapshot().messages == () and job.is_running
        reports.write(line[9:])
    assert job.snapshot().messages == ("Reading MNIST",)
    job._child.kill()
    assert job.wait(5) and job.snapshot().error.startswith("the training process died")


def test_a_model_reported_saved_but_gone_fails_the_job_with_a_reason(tmp_path):
    job = job_with_a_waiting_child(tmp_path)

    report(job, jobs.STATE, jobs.DONE, "vanished")

    snapshot = job.snapshot()
    assert snapshot.state == jobs.FAILED and snapshot.saved is None
    assert snapshot.error.startswith("the model was saved but cannot be read: no saved model")
    job._child.kill()


START_A_JOB_AND_LEAVE = """
import sys
from mnist_core.config import TrainConfig
from mnist_core.jobs import JobRunner, JobSpec
spec = JobSpec.of(TrainConfig(epochs=50, validation_size=500), data_path=sys.argv[1],
                  models_dir=sys.argv[2])
job, started = JobRunner(sys.argv[3]).start(spec)
print(job.id, started)
"""


def test_a_job_outlives_the_server_process_that_started_it_and_any_process_can_stop_it(
    small_npz, tmp_path
):
    """As with several server processes behind a proxy (`make serve`): one starts the job and
    is killed; the job trains on, and a session on another process watches it and stops it."""
    models, folder = tmp_path / "models", tmp_path / "jobs"
    started = subprocess.run(
        [sys.executable, "-c", START_A_JOB_AND_LEAVE, str(small_npz), str(models), str(folder)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        check=True,
    )
    assert started.stdout.split() == ["1", "True"]  # and that process has ended

    other = JobRunner(folder)
    job = other.current()
    assert job.id == 1 and job.is_running
    assert other.start(spec(SMALL_CONFIG, small_npz, models)) == (job, False)  # one per machine
    while job.snapshot().progress is None:
        assert not job.wait(0.05), "the job ended before it trained"
    JobRunner(folder).current().stop()  # from yet another process's runner
    snapshot = _finished(job)

    assert snapshot.state == jobs.STOPPED and snapshot.stop_requested
    assert snapshot.saved.record.stopped_early
    assert [m.name for m in list_models(models)] == [snapshot.saved.name]


def test_a_child_that_dies_is_noticed_by_processes_that_did_not_start_it(small_npz, tmp_path):
    models, folder = tmp_path / "models", tmp_path / "jobs"
    job, _ = JobRunner(folder).start(
        spec(TrainConfig(epochs=50, validation_size=500), small_npz, models)
    )
    watcher = JobRunner(folder).current()
    assert watcher is not job and watcher.is_running
    job._child.kill()

    assert watcher.wait(JOB_TIMEOUT_S)
    assert watcher.snapshot().state == jobs.FAILED
    assert watcher.snapshot().error.startswith("the training process ended without saying how")
    assert list_models(models) == []


def test_only_the_latest_jobs_folders_are_kept(small_npz, tmp_path):
    runner = JobRunner(tmp_path / "jobs")
    for _ in range(jobs.KEPT_JOBS + 2):
        job, started = runner.start(spec(SMALL_CONFIG, tmp_path / "missing.npz", tmp_path))
        assert started and _finished(job).state == jobs.FAILED
    kept = sorted(int(path.name) for path in (tmp_path / "jobs").iterdir() if path.is_dir())
    assert kept == list(range(3, jobs.KEPT_JOBS + 3))
    assert runner.current().id == jobs.KEPT_JOBS + 2


def test_the_spec_reaches_the_child_as_it_was_with_every_path_resolved(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_FEEDBACK_DB", str(tmp_path / "mine.sqlite"))
    monkeypatch.chdir(tmp_path)
    job_spec = JobSpec.of(SMALL_CONFIG, fine_tune="base", name="next", models_dir="models")

    assert job_spec.models_dir == tmp_path / "models"
    assert job_spec.feedback_path == tmp_path / "mine.sqlite"  # not left to the environment
    assert job_spec.log_path.is_absolute()
    assert JobSpec.from_json(job_spec.to_json()) == job_spec


def test_the_loss_between_reports_is_recovered_from_kerass_running_means():
    def report(kind, epoch, batch, loss):
        return jobs.Progress(kind, epoch, 2, batch, 100, {"loss": loss}, 1.0)

    first = report(jobs.BATCH, 1, 64, 2.0)  # the mean of batches 1-64
    second = report(jobs.BATCH, 1, 100, 1.64)  # of 1-100: batches 65-100 averaged 1.0
    assert jobs._chunk_loss(None, first) == [(0.64, 2.0)]
    ((at, loss),) = jobs._chunk_loss(first, second)
    assert at == 1.0 and loss == pytest.approx(1.0)
    next_epoch = report(jobs.BATCH, 2, 10, 0.5)  # a new epoch's mean starts afresh
    assert jobs._chunk_loss(report(jobs.EPOCH, 1, 100, 1.64), next_epoch) == [(1.1, 0.5)]


def test_a_job_folder_this_version_cannot_read_is_passed_over(small_npz, tmp_path):
    folder = tmp_path / "jobs"
    (folder / "3").mkdir(parents=True)
    (folder / "3" / "spec.json").write_text("{not json")
    runner = JobRunner(folder)
    assert runner.current() is None

    job, started = runner.start(spec(SMALL_CONFIG, tmp_path / "missing.npz", tmp_path))
    assert started and job.id == 4 and runner.current() is job
    assert _finished(job).state == jobs.FAILED
