"""`make serve`: two Streamlit processes behind a real nginx, one training job for both.

A browser session on each process (nginx picks the process by the browser's cookie): one
starts training, its server process is killed mid-run, the job trains on, and the session on
the other process sees its progress and stops it; the stopped model is saved.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from mnist_core.store import list_models
from scripts.serve import REPLICA_HEADER
from tests.e2e.browser import (
    REPO_ROOT,
    VIEWPORT,
    fill_train_form,
    free_port,
    go_to,
    main,
    open_app,
    train_button,
)

pytestmark = pytest.mark.e2e

START_TIMEOUT_S = 90
RUN_TIMEOUT_MS = 120_000
COOKIE = "mnist_replica"


class Proxied:
    """scripts/serve.py with two processes, its folders the test's own."""

    def __init__(self, env: dict[str, str], run_dir: Path) -> None:
        self.port = free_port()
        while not all(_free(self.port + n) for n in (1, 2)):
            self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.run_dir = run_dir
        self.process = subprocess.Popen(
            [
                sys.executable,
                "scripts/serve.py",
                "--replicas",
                "2",
                "--port",
                str(self.port),
                "--run-dir",
                str(run_dir),
            ],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def replica_of(self, cookie: str) -> str | None:
        """The process (its address) nginx sends a browser with `cookie` to, once it answers."""
        request = urllib.request.Request(
            f"{self.url}/_stcore/health", headers={"Cookie": f"{COOKIE}={cookie}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return response.headers[REPLICA_HEADER] if response.status == 200 else None
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def cookies_for_each_replica(self) -> dict[str, str]:
        """A cookie that lands on each of the two processes: address -> cookie."""
        found: dict[str, str] = {}
        deadline = time.monotonic() + START_TIMEOUT_S
        while len(found) < 2:
            assert self.process.poll() is None, self.process.stdout.read().decode()
            assert time.monotonic() < deadline, f"the processes did not both answer: {found}"
            cookie = secrets.token_hex(8)
            replica = self.replica_of(cookie)
            if replica is None:
                time.sleep(0.2)
            else:
                found.setdefault(replica, cookie)
        return found

    def pid_of(self, replica: str) -> int:
        port = replica.rpartition(":")[2]
        return int((self.run_dir / f"streamlit-{port}.pid").read_text())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _free(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def proxied(server, tmp_path) -> Iterator[Proxied]:
    """The app as `make serve` runs it, on the e2e server's data, models and jobs folders."""
    env = {key: value for key, value in server.env.items() if key.startswith("MNIST_")}
    env["MNIST_JOBS_DIR"] = str(tmp_path / "jobs")
    serving = Proxied(env, tmp_path / "serve")
    try:
        yield serving
    finally:
        serving.stop()


def session_on(browser: Browser, proxied: Proxied, cookie: str) -> Page:
    context = browser.new_context(viewport=VIEWPORT)
    context.add_cookies([{"name": COOKIE, "value": cookie, "url": proxied.url}])
    page = context.new_page()
    open_app(page, proxied.url)
    return page


def test_sessions_on_two_processes_share_one_job_that_outlives_the_process_that_started_it(
    browser, proxied, models_folder
):
    (first, first_cookie), (second, second_cookie) = proxied.cookies_for_each_replica().items()
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
    expect(watching).to_contain_text("Epoch 2 of 50", timeout=RUN_TIMEOUT_MS)  # it trains on
    main(watcher).get_by_role("button", name="Stop", exact=True).click()
    expect(main(watcher).get_by_text("Stopped at epoch")).to_be_visible(timeout=RUN_TIMEOUT_MS)

    [new] = [m for m in list_models(models_folder) if m.name not in saved_before]
    assert new.record.stopped_early and 2 <= new.record.epochs_run < 50
    assert proxied.replica_of(first_cookie) == first  # started again, and still that browser's
    assert second != first
