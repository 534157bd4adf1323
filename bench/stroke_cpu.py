"""A stroke's server CPU, measured as issue 15 measured it: one real browser draws digits.

Headless Chromium draws digits with the mouse on a page of a real `streamlit run`, one stroke
each, and waits for the Prediction, then presses Clear and waits for the blank canvas, as a
person would. The server's CPU (user and system, from /proc) over the whole drawing is divided
by the reruns the browser asked for (its messages are counted; each stroke must ask for exactly
one). Before drawing, the page sits open for a while with nobody drawing: what the server
spends then, per second, is its background (Streamlit polls its config files, and its secrets
files where there are any, runs its event loop, and the app collects garbage), part of every
rerun's share at a human pace. Three servers take turns, each fresh, in reverse order every
other round: the Draw page with Streamlit's default, a full garbage collection after every
script run (the issue measured 48 ms a rerun so, before the app collected and froze on its
own), the Draw page as the app serves it, and the floor: bench/minimal_app.py, the canvas, the
model and a Prediction with Clear above them, nothing else, served as the app is.

Unlike bench/classroom.py's crowd, one person at a human pace: each rerun runs alone, and the
server's background is shared by few reruns.

    python bench/stroke_cpu.py [--rounds 2] [--digits 30]

Target (issue 15): at most 8 ms of server CPU per rerun on the Draw page. Prints a markdown
table and writes it to bench/results/stroke_cpu.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's banners off the report

from classroom import APP, MINIMAL_APP, cpu_seconds, server_env
from harness.report import Report, markdown_table
from harness.workers import interleaved
from playwright.sync_api import Page, WebSocket, sync_playwright

from app_pages.garbage import COLLECT_EVERY_SECONDS
from tests.e2e.browser import (
    VIEWPORT,
    StreamlitServer,
    clear_canvas,
    draw_digit,
    go_to,
    launch_chromium,
    open_app,
    prediction,
    wait_until_idle,
)
from tests.e2e.light_sessions import is_rerun

TARGET_MS = 8.0
DIGITS = (0, 1, 7)  # drawn in turn: one stroke each (tests/e2e/browser.py)
WARM_UP_DIGITS = 3  # the first answers load the model and draw the first charts
SETTLE_S = 0.25  # after the answer is shown: the script thread finishes and hands back
# With the page open and nobody drawing, before the digits measured: first a round of the
# app's collector (its first, which freezes what it finds, costs more than the rest), then two.
IDLE_AFTER_S = COLLECT_EVERY_SECONDS + 2
IDLE_S = 2 * COLLECT_EVERY_SECONDS
TIMEOUT_MS = 30_000
DEFAULT_GC = "the Draw page, Streamlit's default GC"
OURS = "the Draw page, the app's settings"
FLOOR = "canvas + model + Prediction only"
SERVERS = {  # name: (script, environment)
    DEFAULT_GC: (APP, {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "true"}),
    OURS: (APP, {}),
    FLOOR: (MINIMAL_APP, {}),
}


@dataclass
class Drawing:
    """What one page's server spent while a person drew its digits."""

    idle_ms_per_s: float = 0.0  # the server's CPU while the page is open and nobody draws
    cpu_s: float = 0.0  # from the first digit measured to the last answer, Clears included
    seconds: float = 0.0  # how long that took
    reruns: int = 0  # the reruns the browser asked for meanwhile
    stroke_reruns: int = 0  # of those, asked for by the strokes themselves

    @property
    def ms_per_rerun(self) -> float:
        return 1000 * self.cpu_s / self.reruns

    @property
    def idle_ms_per_rerun(self) -> float:
        """The share of each rerun that the server spends anyway, idle, in that time."""
        return self.idle_ms_per_s * self.seconds / self.reruns


class RerunCounter:
    """How many reruns a page has asked Streamlit for so far."""

    def __init__(self, page: Page) -> None:
        self.count = 0
        page.on("websocket", self._watch)

    def _watch(self, socket: WebSocket) -> None:
        if socket.url.endswith("/_stcore/stream"):
            socket.on("framesent", self._sent)

    def _sent(self, payload: str | bytes) -> None:
        self.count += is_rerun(payload if isinstance(payload, bytes) else payload.encode())


def draw_and_measure(url: str, pid: int, digits: int) -> Drawing:
    """Draw WARM_UP_DIGITS, sit idle for IDLE_AFTER_S and IDLE_S more, then draw `digits`
    digits, each followed by Clear."""
    drawing = Drawing()
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport=VIEWPORT)
        reruns = RerunCounter(page)
        open_app(page, url)
        go_to(page, "Draw")
        for n in range(WARM_UP_DIGITS + digits):
            if n == WARM_UP_DIGITS:
                time.sleep(IDLE_AFTER_S)
                idle_from = cpu_seconds([pid])
                time.sleep(IDLE_S)
                drawing.idle_ms_per_s = 1000 * (cpu_seconds([pid]) - idle_from) / IDLE_S
                cpu_from, time_from = cpu_seconds([pid]), time.monotonic()
                reruns_from = reruns.count
            stroke_from = reruns.count
            draw_digit(page, DIGITS[n % len(DIGITS)])
            prediction(page).wait_for(timeout=TIMEOUT_MS)
            wait_until_idle(page, TIMEOUT_MS)
            time.sleep(SETTLE_S)
            if n >= WARM_UP_DIGITS:
                drawing.stroke_reruns += reruns.count - stroke_from
            if n == WARM_UP_DIGITS + digits - 1:
                break  # the last answer ends the measure
            clear_canvas(page)
            wait_until_idle(page, TIMEOUT_MS)
            time.sleep(SETTLE_S)
        drawing.cpu_s = cpu_seconds([pid]) - cpu_from
        drawing.seconds = time.monotonic() - time_from
        drawing.reruns = reruns.count - reruns_from
        browser.close()
    return drawing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--digits", type=int, default=30, help="digits measured, per server")
    args = parser.parse_args(argv)
    report = Report(
        "stroke_cpu",
        "A stroke's server CPU, with one real browser drawing",
        f"Headless Chromium draws {args.digits} digits ({', '.join(map(str, DIGITS))} in turn, "
        f"one stroke each, after {WARM_UP_DIGITS} to warm up and {IDLE_AFTER_S + IDLE_S:g} s "
        "idle), pressing Clear after each, on three fresh `streamlit run` servers in turn "
        "(the Draw page two ways, and a page with nothing but the canvas, the model and the "
        "Prediction), in reverse order every other round. CPU: the server's over the "
        "drawing, per rerun the browser asked for; idle: the server's per second while the "
        f"page was open and nobody drew (the wait's last {IDLE_S:g} s), and what that comes to "
        "per rerun at the pace drawn.",
    )
    folder = Path(tempfile.mkdtemp(prefix="stroke-cpu-"))
    env = server_env(folder)
    drawings: dict[str, list[Drawing]] = {name: [] for name in SERVERS}
    for round_number, name in interleaved(list(SERVERS), args.rounds):
        run = folder / f"round-{round_number}-{list(SERVERS).index(name)}"
        run.mkdir()
        script, extra = SERVERS[name]
        with StreamlitServer({**env, **extra}, run / "streamlit.log", script) as server:
            drawing = draw_and_measure(server.url, server.process.pid, args.digits)
        if drawing.stroke_reruns != args.digits:  # the count is right, and so is the page
            raise SystemExit(
                f"{name}: {args.digits} strokes asked for {drawing.stroke_reruns} reruns, "
                "not one each"
            )
        drawings[name].append(drawing)
        print(
            f"round {round_number}, {name}: {drawing.ms_per_rerun:.1f} ms a rerun", file=sys.stderr
        )
    shutil.rmtree(folder, ignore_errors=True)
    report.add(*results(drawings))
    report.publish()
    return 0


def results(drawings: dict[str, list[Drawing]]) -> tuple[str, str]:
    """The table, and the verdict on the target."""
    median = {
        name: statistics.median(d.ms_per_rerun for d in runs) for name, runs in drawings.items()
    }
    rows = [
        [
            name,
            ", ".join(f"{d.ms_per_rerun:.1f} ({d.reruns})" for d in runs),
            f"**{median[name]:.1f}**",
            ", ".join(f"{d.idle_ms_per_s:.1f}" for d in runs),
            ", ".join(f"{d.idle_ms_per_rerun:.1f}" for d in runs),
            f"{median[name] / median[DEFAULT_GC]:.2f}",
        ]
        for name, runs in drawings.items()
    ]
    headers = [
        "server",
        "server CPU ms per rerun (reruns), each round",
        "median",
        "idle: ms per s",
        "idle's share: ms per rerun",
        "x Streamlit's default",
    ]
    ours = median[OURS]
    verdict = (
        f"The Draw page: {ours:.1f} ms of server CPU per rerun (target <= {TARGET_MS:g} ms): "
        f"{'met' if ours <= TARGET_MS else 'NOT met'}; with Streamlit's default GC "
        f"{median[DEFAULT_GC]:.1f} ms; the page with nothing but the canvas, the model and the "
        f"Prediction {median[FLOOR]:.1f} ms."
    )
    return markdown_table(headers, rows), verdict


if __name__ == "__main__":
    sys.exit(main())
