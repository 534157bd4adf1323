"""Shared fixtures: the real MNIST (cached by `make data`), small slices of it, and one
small model trained for real once per test session."""

from __future__ import annotations

import pytest

from mnist_core.config import TrainConfig
from mnist_core.data import Mnist, prepare_mnist, slice_mnist

# Small enough to train in about a second, large enough to learn something (~85-90%).
SMALL_CONFIG = TrainConfig(epochs=2, validation_size=500, seed=7)


@pytest.fixture(scope="session")
def mnist() -> Mnist:
    """The full 60k/10k MNIST from the project's cache (or its first-time preparation)."""
    return prepare_mnist()


@pytest.fixture(scope="session")
def small_mnist(mnist) -> Mnist:
    return slice_mnist(mnist, 3000, 1000)


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
    """No test writes to the user's data/feedback.sqlite."""
    monkeypatch.setenv("MNIST_FEEDBACK_DB", str(tmp_path / "feedback.sqlite"))
