"""Drive the real app: a `streamlit run` server, headless Debian Chromium, strokes on the canvas.

Shared by the end-to-end tests and `bench/stroke_latency.py`, so both see the app the same way.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, Playwright, WebSocketRoute, expect

from mnist_core.config import TrainConfig
from mnist_core.data import Mnist
from mnist_core.store import SavedModel
from mnist_core.strokes import CANVAS_SIZE
from scripts.serve import REPLICA_COOKIE, REPLICA_HEADER

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS_DIR = REPO_ROOT / "artifacts" / "screenshots"

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT = {"width": 1366, "height": 768}  # a laptop
CANVAS = ".st-key-canvas canvas.upper-canvas"  # fabric.js draws the pointer's strokes here
CANVAS_TOOLBAR = ".st-key-canvas .dc-toolbar-card"
MODEL_PICKER = ".st-key-model_picker"  # the sidebar's selectbox of saved models
DRAW_HINT = "Draw a digit in the black square"  # the Draw page's words while the canvas is blank
APP = '[data-testid="stApp"]'
IDLE_APP = f'{APP}[data-test-script-state="notRunning"]'

IMAGES_LOADED = "() => [...document.images].every(image => image.complete)"
ANIMATIONS_FINISHED = "e => Promise.all(e.getAnimations({subtree: true}).map(a => a.finished))"

TENSORFLOW_LIBRARY = "libtensorflow_framework"  # loaded by `import tensorflow` (and Keras)

SERVER_START_TIMEOUT_S = 60
SERVER_STOP_TIMEOUT_S = 10

Point = tuple[float, float]
Stroke = Sequence[Point]


def _oval(centre: Point, radius_x: float, radius_y: float, points: int = 48) -> list[Point]:
    """A closed loop from the top, anticlockwise as most people write a 0, overlapping a bit."""
    cx, cy = centre
    angles = [2 * math.pi * k / points for k in range(points + 3)]
    return [(cx - radius_x * math.sin(a), cy - radius_y * math.cos(a)) for a in angles]


# Digits as a person draws them, in canvas pixels (0..280, origin top left). Each is one stroke,
# so the app answers once per digit.
DIGIT_STROKES: dict[int, list[Stroke]] = {
    0: [_oval((140, 145), 48, 82)],
    1: [[(146, 55), (143, 145), (140, 235)]],
    7: [[(88, 68), (192, 68), (150, 150), (122, 235)]],
}


# The MLP for 3 epochs on the full data: ~97% on the test set in ~15 s. It reads the strokes
# above with probability >= 0.99; a 2-epoch model of the 3000-image slice manages 0.80 to 0.99.
READER_CONFIG = TrainConfig(epochs=3)


def train_reader(mnist: Mnist, models_dir: Path, name: str = "reference") -> SavedModel:
    """Train, score and save READER_CONFIG on `mnist` into `models_dir`, for real."""
    from mnist_core.workflow import train_evaluate_save

    return train_evaluate_save(READER_CONFIG, mnist, name=name, models_dir=models_dir)[1]


class StreamlitServer:
    """`streamlit run streamlit_app.py` (or `script`) on a free local port, in a process group
    of its own."""

    def __init__(
        self, env: Mapping[str, str], log_path: Path, script: str = "streamlit_app.py"
    ) -> None:
        self.env = {**os.environ, **env}
        self.script = script
        self.log_path = log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> float:
        """Start the server and wait until it answers its health check; return the seconds taken."""
        command = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            self.script,
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(self.port),
            # Nothing to watch in a test run; watching the repo (and .venv) costs seconds of CPU.
            "--server.fileWatcherType",
            "none",
        ]
        started = time.perf_counter()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends it and its children
            )
        deadline = started + SERVER_START_TIMEOUT_S
        while not self._healthy():
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{self.log_tail()}")
            if time.perf_counter() > deadline:
                self.stop()
                raise RuntimeError(f"streamlit not healthy after {SERVER_START_TIMEOUT_S} s")
            time.sleep(0.05)
        return time.perf_counter() - started

    def stop(self) -> None:
        """End the whole process group: politely, then for sure."""
        if self.process is None or self.process.poll() is not None:
            return
        group = os.getpgid(self.process.pid)
        os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(SERVER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.process.wait()

    def has_loaded(self, library: str) -> bool:
        """Whether the server process has a shared library whose file name contains `library`
        mapped into memory (Linux)."""
        return library in Path(f"/proc/{self.process.pid}/maps").read_text()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def __enter__(self) -> StreamlitServer:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


class ProxiedServers:
    """`scripts/serve.py`: `processes` Streamlit processes behind nginx, the folders in `env`."""

    def __init__(self, processes: int, env: Mapping[str, str], run_dir: Path) -> None:
        self.processes, self.env, self.run_dir = processes, {**os.environ, **env}, run_dir
        self.port = free_port()
        while not all(_is_free(self.port + n) for n in range(1, processes + 1)):
            self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> dict[str, str]:
        """Start them and wait until every process answers through nginx; return a cookie that
        lands on each, by the process's address."""
        command = [sys.executable, "scripts/serve.py", f"--replicas={self.processes}"]
        command += [f"--port={self.port}", f"--run-dir={self.run_dir}"]
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        found: dict[str, str] = {}
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while len(found) < self.processes:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"only {len(found)} of {self.processes} processes answered")
            cookie = secrets.token_hex(8)
            replica = self.replica_of(cookie)
            if replica is None:
                time.sleep(0.2)
            else:
                found.setdefault(replica, cookie)
        return found

    def replica_of(self, cookie: str) -> str | None:
        """The process (its address) nginx sends a browser with `cookie` to, once it answers."""
        request = urllib.request.Request(
            f"{self.url}/_stcore/health", headers={"Cookie": f"{REPLICA_COOKIE}={cookie}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return response.headers[REPLICA_HEADER] if response.status == 200 else None
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def pids(self) -> list[int]:
        """The Streamlit processes' ids (as started last: a process that died is restarted)."""
        return [int(path.read_text()) for path in sorted(self.run_dir.glob("streamlit-*.pid"))]

    def pid_of(self, replica: str) -> int:
        port = replica.rpartition(":")[2]
        return int((self.run_dir / f"streamlit-{port}.pid").read_text())

    def stop(self) -> None:
        """Stop scripts/serve.py, which stops its processes and nginx."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(SERVER_STOP_TIMEOUT_S * 2)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium (installed by `make browser`), never a Playwright download."""
    executable = shutil.which("chromium")
    if executable is None:
        raise RuntimeError("chromium is not installed: run `make browser`")
    return playwright.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))


class ConsoleErrors:
    """Every console error and uncaught exception a page reports, from when it is attached."""

    def __init__(self, page: Page) -> None:
        self.messages: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.messages.append(f"uncaught: {error}"))

    def _on_console(self, message) -> None:
        if message.type == "error":
            source = message.location.get("url")
            self.messages.append(f"console: {message.text}" + (f" ({source})" if source else ""))

    def unexpected(self, harmless: Mapping[str, str]) -> list[str]:
        """The messages no `harmless` pattern (regex -> why it is harmless) matches."""
        return [m for m in self.messages if not any(re.search(p, m) for p in harmless)]


def wait_until_idle(page: Page, timeout_ms: float = 30_000) -> None:
    """Wait for the script run to finish, then make sure it did not end in an exception."""
    page.wait_for_selector(IDLE_APP, timeout=timeout_ms)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def open_app(page: Page, url: str) -> None:
    page.goto(url)
    wait_until_idle(page)


class DroppableConnection:
    """The page's websocket to the server, passed through Playwright so that a test can drop it
    as a bad network would; the page then reconnects to its session on its own."""

    def __init__(self, page: Page) -> None:
        self._open: list[tuple[WebSocketRoute, WebSocketRoute]] = []
        page.route_web_socket(re.compile(r"/_stcore/stream$"), self._connect)
        open_app(page, page.url)  # again: the websocket opened before the route bypasses it

    def _connect(self, page_side: WebSocketRoute) -> None:
        self._open.append((page_side, page_side.connect_to_server()))

    def drop(self) -> None:
        page_side, server_side = self._open.pop()
        server_side.close()
        page_side.close()


def go_to(page: Page, title: str) -> None:
    """Follow the sidebar's navigation link to the page called `title`, as a user would."""
    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True)
    address = link.get_attribute("href")
    link.click()
    # The link may keep query parameters the app sets, such as the active model's name.
    expect(page).to_have_url(re.compile(rf"^{re.escape(address)}(\?.*)?$"))
    wait_until_idle(page)


def open_panel(page: Page, label: str) -> Locator:
    """Open the main area's expander called `label`, and wait until it has finished growing:
    a click on its content while it grows can be lost (CI runs lost one: the page sent
    nothing), where a person, who reads before clicking, clicks an open panel."""
    panel = (
        main(page).get_by_test_id("stExpander").filter(has=page.locator("summary", has_text=label))
    )
    panel.locator("summary").click()
    panel.evaluate(ANIMATIONS_FINISHED)
    return panel


def pick_model(page: Page, name: str, picker: Locator | None = None) -> None:
    """Choose the saved model `name` in `picker`, a selectbox of models (by default the
    sidebar's, which makes it the active model)."""
    described = re.compile(f"^{re.escape(name)}( ·.*)?$")  # "<name>" or "<name> · MLP · 97.9%"
    picker = picker or page.locator(MODEL_PICKER).get_by_role("combobox")
    picker.click()
    page.get_by_role("option", name=described).click()
    expect(picker).to_have_value(described)
    picker.blur()  # a focused picker is outlined, in screenshots too
    wait_until_idle(page)


def draw(page: Page, strokes: Sequence[Stroke], *, steps_per_segment: int = 6) -> None:
    """Draw `strokes` (canvas pixels) with the mouse on the canvas, at the size it is shown."""
    # The toolbar is built with the drawing surface: once it is there, strokes register.
    page.wait_for_selector(CANVAS_TOOLBAR, state="attached")
    # Wholly in view: the page may have scrolled away from it, or left it half above the top.
    page.locator(CANVAS).evaluate("canvas => canvas.scrollIntoView({block: 'center'})")
    box = page.locator(CANVAS).bounding_box()
    if box is None:
        raise AssertionError(f"no canvas on the page ({CANVAS})")
    scale_x, scale_y = box["width"] / CANVAS_SIZE, box["height"] / CANVAS_SIZE
    for stroke in strokes:
        points = [(box["x"] + x * scale_x, box["y"] + y * scale_y) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=steps_per_segment)
        page.mouse.up()


def draw_digit(page: Page, digit: int) -> None:
    draw(page, DIGIT_STROKES[digit])


def main(page: Page) -> Locator:
    """The page's own content, without the sidebar."""
    return page.get_by_test_id("stMain")


def metric(page: Page, label: str) -> Locator:
    """The `st.metric` labelled `label` in the page's content (it may not be there)."""
    return (
        main(page)
        .get_by_test_id("stMetric")
        .filter(has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True))
    )


def prediction(page: Page) -> Locator:
    """The value of the Draw page's "Prediction" metric."""
    return metric(page, "Prediction").get_by_test_id("stMetricValue")


def open_tab(page: Page, label: str) -> Locator:
    """Click the tab labelled `label` in the page's content; its panel."""
    main(page).get_by_role("tab", name=label, exact=True).click()
    return main(page).get_by_role("tabpanel", name=label, exact=True)


def clear_button(page: Page) -> Locator:
    return main(page).get_by_role("button", name="Clear", exact=True)


def clear_canvas(page: Page) -> None:
    """Press the Draw page's Clear button and wait for the blank-canvas hint."""
    clear_button(page).click()
    expect(page.get_by_text(DRAW_HINT)).to_be_visible()


def screenshot(page: Page, name: str, *, settled: bool = True) -> None:
    """Save what a laptop screen shows as artifacts/screenshots/<name>.png, and when the page
    is taller than the screen, all of it as <name>-full.png.

    With `settled`, first wait for the script run to end (a page that redraws itself every
    second, like training progress, is taken as it is)."""
    if settled:
        wait_until_idle(page)
    page.wait_for_function(IMAGES_LOADED)
    SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS_DIR / f"{name}.png")
    height = main(page).evaluate("content => content.scrollHeight")  # stMain is the scroller
    if height > VIEWPORT["height"]:
        page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
        try:
            page.screenshot(path=SCREENSHOTS_DIR / f"{name}-full.png")
        finally:
            page.set_viewport_size(VIEWPORT)


def fill_train_form(page: Page, settings: Mapping[str, int]) -> None:
    """Type `settings` (field label -> value) into the Train page's form, without submitting."""
    for label, value in settings.items():
        field = page.get_by_role("spinbutton", name=label, exact=True)
        field.fill(str(value))
        field.press("Tab")  # number inputs commit their value when they lose focus


def train_button(page: Page) -> Locator:
    """The Train page's submit button (it reads "A model is training…" while one runs)."""
    return main(page).get_by_role("button", name="Train", exact=True)


def process_tree(pid: int) -> list[int]:
    """`pid` and every live process it started, directly or not (read from Linux's /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # it ended while we looked
            continue
        # The command name, in parentheses, may hold spaces: count fields after its ")".
        parent = int(text.rpartition(")")[2].split()[1])
        children.setdefault(parent, []).append(int(stat.parent.name))
    tree, pending = [], [pid]
    while pending:
        tree.append(pending.pop())
        pending.extend(children.get(tree[-1], ()))
    return tree
