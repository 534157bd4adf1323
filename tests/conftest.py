"""Shared fixtures: the real MNIST (cached by `make data`), small slices of it, and one
small model trained for real once per test session."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from mnist_core.config import TrainConfig
from mnist_core.data import Mnist, prepare_mnist, slice_mnist
from mnist_core.evaluate import Evaluation
from mnist_core.record import ModelRecord

# Small enough to train in about a second, large enough to learn something (~85-90%).
SMALL_CONFIG = TrainConfig(epochs=2, validation_size=500, seed=7)


def make_record(accuracy: float = 0.5, **changes) -> ModelRecord:
    """A record for a model that was never trained: for tests of saving and listing."""
    evaluation = Evaluation(
        loss=1.0,
        accuracy=accuracy,
        confusion=np.zeros((10, 10), np.int64),
        report={},
        mistakes=(),
        count=0,
    )
    values = {
        "config": TrainConfig(),
        "history": {"loss": [2.0, 1.0]},
        "evaluation": evaluation,
        "epochs_run": 2,
        "stopped_early": False,
        "fit_seconds": 1.0,
        "data_source": "nowhere",
    }
    return ModelRecord(**{**values, **changes})


@pytest.fixture(scope="session")
def mnist() -> Mnist:
    """The full 60k/10k MNIST from the project's cache (or its first-time preparation)."""
    return prepare_mnist()


@pytest.fixture(scope="session")
def small_mnist(mnist) -> Mnist:
    return slice_mnist(mnist, 3000, 1000)


@pytest.fixture(scope="session")
def small_npz(small_mnist, tmp_path_factory):
    """The 3,000/1,000-image slice of MNIST as a Keras-layout .npz file, as a user would name it."""
    path = tmp_path_factory.mktemp("data") / "small-mnist.npz"
    (x_train, y_train), (x_test, y_test) = small_mnist.train, small_mnist.test
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    """An empty models folder, also made the default for code that reads the environment."""
    folder = tmp_path / "models"
    monkeypatch.setenv("MNIST_MODELS_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def saved_small_model(small_mnist, tmp_path_factory):
    """(TrainResult, SavedModel) of SMALL_CONFIG trained, evaluated and saved for real."""
    from mnist_core.workflow import train_evaluate_save

    folder = tmp_path_factory.mktemp("session-models")
    return train_evaluate_save(SMALL_CONFIG, small_mnist, name="small", models_dir=folder)


@pytest.fixture(autouse=True)
def private_feedback_db(tmp_path, monkeypatch):
    """No test writes to the user's data/feedback.sqlite, logs/, runs/ or jobs/."""
    monkeypatch.setenv("MNIST_FEEDBACK_DB", str(tmp_path / "feedback.sqlite"))
    monkeypatch.setenv("MNIST_JOBS_DIR", str(tmp_path / "jobs"))
    monkeypatch.setenv("MNIST_TRAINING_LOG", str(tmp_path / "training.log"))
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "runs"))


@pytest.fixture(autouse=True, scope="session")
def private_runs_for_the_session(tmp_path_factory):
    """Models trained once for the whole session keep their TensorBoard logs out of runs/."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MNIST_RUNS_DIR", str(tmp_path_factory.mktemp("session-runs")))
        yield


@pytest.fixture(scope="session")
def trained_models(mnist, tmp_path_factory):
    """Two tiny models, "tiny-b" the newer, trained once for the page tests."""
    from tests.app_support import train_tiny

    folder = tmp_path_factory.mktemp("trained")
    train_tiny(mnist, folder, "tiny-a", seed=1)
    train_tiny(mnist, folder, "tiny-b", seed=2)
    return folder


@pytest.fixture
def with_models(trained_models, models_dir):
    """The trained models, copied into this test's own models folder."""
    shutil.copytree(trained_models, models_dir)
    return models_dir
