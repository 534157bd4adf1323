"""One real app for the browser tests: a `streamlit run` server for the whole session, headless
Chromium, and a fresh browser context (a new Streamlit session) per test.

The server trains on a 3000/1000-image slice of MNIST, so training through the UI takes seconds,
and starts with a reference MLP trained for real on the full data, good enough to read mouse
digits.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from mnist_core.data import Mnist, save_cache
from mnist_core.store import SavedModel
from tests.e2e.browser import (
    TENSORFLOW_LIBRARY,
    VIEWPORT,
    ConsoleErrors,
    StreamlitServer,
    launch_chromium,
    open_app,
    train_reader,
)

# Browser console errors that are not the app's fault: pattern (regex) -> why it is harmless.
HARMLESS_CONSOLE_ERRORS: dict[str, str] = {}
# What `streamlit run` prints as it starts and stops; any other line in the server's log (a
# warning, a traceback, TensorFlow's start-up lines) is one a user would wonder about.
SERVER_BANNER = re.compile(
    r"^(\s*|.* Uvicorn server started on .*|\s*You can now view your Streamlit app .*"
    r"|\s*URL: http\S+|\s*Stopping\.\.\.)$"
)


@dataclass(frozen=True)
class Startup:
    """How the server came up, measured once per session and shown after the run."""

    healthy_seconds: float  # from `streamlit run` to its health check answering
    first_page_seconds: float  # from `streamlit run` to the first page shown in the browser
    tensorflow_loaded: bool  # by the server once that page was shown


STARTUP = pytest.StashKey[Startup]()


def pytest_terminal_summary(terminalreporter, config) -> None:
    if (startup := config.stash.get(STARTUP, None)) is not None:
        terminalreporter.write_line(
            f"streamlit run: healthy after {startup.healthy_seconds:.2f} s, first page shown "
            f"after {startup.first_page_seconds:.2f} s, TensorFlow loaded by then: "
            f"{'yes' if startup.tensorflow_loaded else 'no'}"
        )


@pytest.fixture(scope="session")
def models_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e-models")


@pytest.fixture(scope="session")
def reference_model(mnist: Mnist, models_folder: Path) -> SavedModel:
    """The model the Draw test reads digits with, saved where the server looks."""
    return train_reader(mnist, models_folder)


@pytest.fixture(scope="session")
def small_data_file(small_mnist: Mnist, tmp_path_factory) -> Path:
    """The slice the server trains on, as a Keras-layout .npz for $MNIST_DATA."""
    path = tmp_path_factory.mktemp("e2e-data") / "mnist-small.npz"
    save_cache(small_mnist, path)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def server(
    request, browser: Browser, reference_model: SavedModel, small_data_file: Path, tmp_path_factory
) -> Iterator[StreamlitServer]:
    """The app, started once; how it came up is recorded in the `startup` fixture."""
    env = {
        "MNIST_MODELS_DIR": str(reference_model.path.parent),
        "MNIST_DATA": str(small_data_file),
        "MNIST_FEEDBACK_DB": str(tmp_path_factory.mktemp("e2e-feedback") / "feedback.sqlite"),
        "MNIST_TRAINING_LOG": str(tmp_path_factory.mktemp("e2e-logs") / "training.log"),
        "MNIST_RUNS_DIR": str(tmp_path_factory.mktemp("e2e-runs")),
        "MNIST_JOBS_DIR": str(tmp_path_factory.mktemp("e2e-jobs")),
    }
    app = StreamlitServer(env, log_path=tmp_path_factory.mktemp("e2e-server") / "streamlit.log")
    started = time.perf_counter()
    healthy_seconds = app.start()
    try:
        first = browser.new_page(viewport=VIEWPORT)
        open_app(first, app.url)
        request.config.stash[STARTUP] = Startup(
            healthy_seconds=healthy_seconds,
            first_page_seconds=time.perf_counter() - started,
            tensorflow_loaded=app.has_loaded(TENSORFLOW_LIBRARY),
        )
        first.close()
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="session")
def startup(request, server: StreamlitServer) -> Startup:
    return request.config.stash[STARTUP]


@pytest.fixture
def app_page(browser: Browser, server: StreamlitServer) -> Iterator[Page]:
    """The app's first page in a new browser context; console errors fail the test."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    errors = ConsoleErrors(page)
    logged_before = server.log_path.stat().st_size
    open_app(page, server.url)
    yield page
    context.close()
    unexpected = errors.unexpected(HARMLESS_CONSOLE_ERRORS)
    if unexpected:
        pytest.fail("the browser reported errors:\n" + "\n".join(unexpected), pytrace=False)
    with server.log_path.open(encoding="utf-8", errors="replace") as log:
        log.seek(logged_before)
        worrying = [line for line in log.read().splitlines() if not SERVER_BANNER.match(line)]
    if worrying:
        pytest.fail("the server logged:\n" + "\n".join(worrying[:20]), pytrace=False)


@pytest.fixture(autouse=True, scope="session")
def _patient_expectations() -> None:
    """Streamlit reruns take a moment on two cores; wait up to 10 s for what should appear."""
    expect.set_options(timeout=10_000)
