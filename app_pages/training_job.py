"""This session's link to the machine's one training job, shared by the Train and Draw pages.

The job lives on disk (`mnist_core.jobs`), so every session of every server process sees the
same job. A session that starts a job, or watches one run, makes its model the active one when
it ends.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages.active_model import active_model, set_active_model
from mnist_core.config import TrainConfig
from mnist_core.finetune import fine_tune_config
from mnist_core.jobs import JobRunner, JobSnapshot, JobSpec, TrainingJob, jobs_dir
from mnist_core.store import SavedModel, list_models

TRAIN_PAGE = "app_pages/train.py"  # where a job's progress shows
_FOLLOWED_JOB = "followed_training_job"  # id of the job whose model this session will activate
PREVIOUS_MODEL = "model_before_training"  # the active model a finished job's model replaced


def job_runner() -> JobRunner:
    """The runner of the jobs folder in use, shared by all sessions of this server process."""
    return _runner_of(jobs_dir().resolve())


@st.cache_resource
def _runner_of(directory: Path) -> JobRunner:
    return JobRunner(directory)


def start_training(
    config: TrainConfig, *, fine_tune: str | None = None, name: str | None = None
) -> tuple[TrainingJob, bool]:
    """Start training `config` (going on from the saved model `fine_tune`, if named, and
    saving as `name`, if given): (the new job, True), or (the job already running, False).
    Either way this session follows it."""
    job, started = job_runner().start(JobSpec.of(config, fine_tune=fine_tune, name=name))
    follow(job)
    return job, started


def start_fine_tuning(base: SavedModel) -> tuple[TrainingJob, bool]:
    """Fine-tune `base` on MNIST and the user's drawings, as `start_training` does."""
    return start_training(fine_tune_config(base), fine_tune=base.name)


def follow(job: TrainingJob) -> None:
    """Make `job`'s model this session's active one when it ends (see `activate_if_followed`)."""
    if job.is_running:
        st.session_state[_FOLLOWED_JOB] = job.id


def activate_if_followed(snapshot: JobSnapshot) -> None:
    """If this session followed the finished job, make the model it saved the active one, and
    remember the one active until then as the way back."""
    if snapshot.is_finished and st.session_state.get(_FOLLOWED_JOB) == snapshot.id:
        del st.session_state[_FOLLOWED_JOB]
        if snapshot.saved is not None:
            others = [saved for saved in list_models() if saved.name != snapshot.saved.name]
            previous = active_model(others)
            st.session_state[PREVIOUS_MODEL] = previous.name if previous else None
            set_active_model(snapshot.saved.name)
