"""Shared by the page tests: the app under AppTest, and tiny models trained for real."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from mnist_core.config import TrainConfig
from mnist_core.data import Mnist, slice_mnist
from mnist_core.store import SavedModel
from mnist_core.workflow import train_evaluate_save

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
TIMEOUT_S = 60  # the Draw page's first run imports Keras to read a model file


def open_page(page: str, **link: str) -> AppTest:
    """The app showing `page` (like "app_pages/draw.py"), through the entry point's navigation,
    opened from a link with the query parameters `link` (say, person="Ada").

    The app runs once first, so AppTest knows the pages `st.navigation` registered."""
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    app.query_params.update(link)
    return app.run().switch_page(page).run()


def train_tiny(mnist: Mnist, folder: Path, name: str, seed: int = 0) -> SavedModel:
    """A one-epoch model of 1,500 images, trained, evaluated and saved for real (seconds)."""
    config = TrainConfig(epochs=1, validation_size=500, seed=seed)
    tiny_data = slice_mnist(mnist, 2000, 500)
    _, saved = train_evaluate_save(config, tiny_data, name=name, models_dir=folder)
    return saved
