"""`make serve`: two Streamlit processes behind a real nginx, one training job for both.

A browser session on each process (nginx picks the process by the browser's cookie): one
starts training, its server process is killed mid-run, the job trains on, and the session on
the other process sees its progress and stops it; the stopped model is saved.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from mnist_core.store import list_models
from scripts.serve import REPLICA_COOKIE
from tests.e2e.browser import (
    VIEWPORT,
    ProxiedServers,
    fill_train_form,
    go_to,
    main,
    open_app,
    train_button,
)

pytestmark = pytest.mark.e2e

RUN_TIMEOUT_MS = 120_000


@pytest.fixture
def proxied(server, tmp_path) -> Iterator[ProxiedServers]:
    """The app as `make serve` runs it, on the e2e server's data and models folders."""
    env = {key: value for key, value in server.env.items() if key.startswith("MNIST_")}
    env["MNIST_JOBS_DIR"] = str(tmp_path / "jobs")
    serving = ProxiedServers(2, env, tmp_path / "serve")
    try:
        yield serving
    finally:
        serving.stop()


def session_on(browser: Browser, proxied: ProxiedServers, cookie: str) -> Page:
    context = browser.new_context(viewport=VIEWPORT)
    context.add_cookies([{"name": REPLICA_COOKIE, "value": cookie, "url": proxied.url}])
    page = context.new_page()
    open_app(page, proxied.url)
    return page


def test_sessions_on_two_processes_share_one_job_that_outlives_the_process_that_started_it(
    browser, proxied, models_folder
):
    (first, first_cookie), (second, second_cookie) = proxied.start().items()
    starter = session_on(browser, proxied, first_cookie)
    watcher = session_on(browser, proxied, second_cookie)
    saved_before = {model.name for model in list_models(models_folder)}

    go_to(starter, "Train")
    fill_train_form(starter, {"Epochs": 50, "Validation images": 500})
    train_button(starter).click()
    progress = main(starter).get_by_test_id("stProgress")
    expect(progress).to_contain_text("Epoch 1 of 50", timeout=RUN_TIMEOUT_MS)

    os.kill(proxied.pid_of(first), signal.SIGKILL)  # the process the job was started from
    go_to(watcher, "Train")
    watching = main(watcher).get_by_test_id("stProgress")
    expect(watching).to_contain_text("of 50", timeout=RUN_TIMEOUT_MS)
    expect(main(watcher).get_by_role("button", name="A model is training…")).to_be_disabled()
    later_epoch = re.compile(r"Epoch ([2-9]|\d\d) of 50")
    expect(watching).to_contain_text(later_epoch, timeout=RUN_TIMEOUT_MS)  # it trains on
    main(watcher).get_by_role("button", name="Stop", exact=True).click()
    expect(main(watcher).get_by_text("Stopped at epoch")).to_be_visible(timeout=RUN_TIMEOUT_MS)

    [new] = [m for m in list_models(models_folder) if m.name not in saved_before]
    assert new.record.stopped_early and 2 <= new.record.epochs_run < 50
    assert proxied.replica_of(first_cookie) == first  # started again, and still that browser's
    assert second != first
