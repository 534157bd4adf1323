"""Several people drawing at once: stroke-to-Prediction latency and the server's memory.

Opens N browser sessions at once against one warm `streamlit run` (N = 1, 5 and 20 by default),
each drawing digits on the Draw page, and times every stroke inside its browser the way
bench/stroke_latency.py does: from mouse-up to the first frame showing the right digit.
Meanwhile it samples the resident memory of the server process and its children from /proc.

    python bench/load.py [--sessions 1 5 20] [--strokes 5]

Prints a markdown table and writes it to bench/results/load.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's banners off the report

import numpy as np
from harness.report import Report, load_average, markdown_table
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from stroke_latency import DIGITS, HINT_SHOWN, PREDICTION_SHOWN, STAMP_MOUSE_UP_AND_SEND

from mnist_core.data import prepare_mnist
from mnist_core.strokes import CANVAS_SIZE
from tests.e2e.browser import (
    CANVAS,
    CANVAS_TOOLBAR,
    DIGIT_STROKES,
    DRAW_HINT,
    IDLE_APP,
    VIEWPORT,
    StreamlitServer,
    Stroke,
    launch_chromium,
    process_tree,
    train_reader,
)

ANSWER_TIMEOUT_MS = 60_000  # a stroke not answered (rightly) by then counts as missed
PAGE_TIMEOUT_MS = 180_000  # opening 20 pages at once on 2 cores takes a while
MEMORY_SAMPLE_S = 0.25


@dataclass(frozen=True)
class Round:
    """N sessions drawing at once: what each stroke took, and the server's memory."""

    sessions: int
    seconds: list[float]  # mouse-up to the right Prediction, per answered stroke
    missed: int  # strokes answered wrongly, or not within ANSWER_TIMEOUT_MS
    rss_before_mib: float  # the server with no session open
    rss_peak_mib: float  # the most it held while the sessions opened and drew
    server_cpu_s: float  # CPU time the server used in the round, all threads
    wall_s: float  # how long the round took, opening the pages included
    load_after: str  # load average at the end of the round


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server process so far, all threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def server_rss_mib(pid: int) -> float:
    """Resident memory of `pid` and its children (training jobs, if any), in MiB."""
    total_kib = 0
    for process in process_tree(pid):
        try:
            status = Path(f"/proc/{process}/status").read_text()
        except OSError:  # it ended while we looked
            continue
        total_kib += next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
        )
    return total_kib / 1024


async def open_draw_page(browser: Browser, url: str) -> tuple[BrowserContext, Page]:
    """A new session on the Draw page, reached through the sidebar as a person would."""
    context = await browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = await context.new_page()
    await page.add_init_script(STAMP_MOUSE_UP_AND_SEND)
    await page.goto(url)
    await page.wait_for_selector(IDLE_APP)
    await page.get_by_test_id("stSidebarNav").get_by_role("link", name="Draw", exact=True).click()
    await page.wait_for_selector(CANVAS_TOOLBAR, state="attached")
    return context, page


async def draw(page: Page, strokes: list[Stroke]) -> None:
    """`tests.e2e.browser.draw` for the async API, one mouse move per point."""
    await page.wait_for_selector(CANVAS_TOOLBAR, state="attached")
    box = await page.locator(CANVAS).bounding_box()
    scale_x, scale_y = box["width"] / CANVAS_SIZE, box["height"] / CANVAS_SIZE
    for stroke in strokes:
        points = [(box["x"] + x * scale_x, box["y"] + y * scale_y) for x, y in stroke]
        await page.mouse.move(*points[0])
        await page.mouse.down()
        for point in points[1:]:
            await page.mouse.move(*point)
        await page.mouse.up()


async def time_stroke(page: Page, digit: int) -> float | None:
    """Draw `digit`, then Clear; seconds from mouse-up to the right Prediction, or None."""
    await draw(page, DIGIT_STROKES[digit])
    try:
        shown = await page.wait_for_function(
            PREDICTION_SHOWN, arg=str(digit), timeout=ANSWER_TIMEOUT_MS
        )
        seconds = await shown.json_value() / 1000
    except PlaywrightTimeoutError:
        seconds = None
    await page.get_by_test_id("stMain").get_by_role("button", name="Clear", exact=True).click()
    await page.wait_for_function(HINT_SHOWN, arg=DRAW_HINT)
    return seconds


async def draw_session(
    page: Page, first: int, strokes: int, start: asyncio.Barrier
) -> list[float | None]:
    """One person: a warm-up stroke (its page loads the chart code), then, once every session
    is ready, `strokes` digits in turn from DIGITS[first]. Seconds per stroke, None if missed."""
    await time_stroke(page, DIGITS[first % len(DIGITS)])
    await start.wait()
    return [await time_stroke(page, DIGITS[(first + k) % len(DIGITS)]) for k in range(strokes)]


async def measure_round(browser: Browser, url: str, pid: int, sessions: int, strokes: int) -> Round:
    """Open `sessions` Draw pages at once and have each draw `strokes` timed digits."""
    rss_before = peak = server_rss_mib(pid)
    cpu_before, started = server_cpu_seconds(pid), time.perf_counter()

    async def sample_memory() -> None:
        nonlocal peak
        while True:
            peak = max(peak, server_rss_mib(pid))
            await asyncio.sleep(MEMORY_SAMPLE_S)

    sampler = asyncio.create_task(sample_memory())
    opened = []
    try:
        opened = await asyncio.gather(*(open_draw_page(browser, url) for _ in range(sessions)))
        start = asyncio.Barrier(sessions)
        per_session = await asyncio.gather(
            *(draw_session(page, n, strokes, start) for n, (_, page) in enumerate(opened))
        )
    finally:
        sampler.cancel()
        for context, _ in opened:
            await context.close()
    timings = [seconds for session in per_session for seconds in session]
    answered = [seconds for seconds in timings if seconds is not None]
    return Round(
        sessions,
        answered,
        len(timings) - len(answered),
        rss_before,
        peak,
        server_cpu_seconds(pid) - cpu_before,
        time.perf_counter() - started,
        load_average(),
    )


async def measure(url: str, pid: int, session_counts: list[int], strokes: int) -> list[Round]:
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)  # the async API's launch: awaitable
        await measure_round(browser, url, pid, 1, len(DIGITS))  # warm up: the model, caches
        rounds = []
        for sessions in session_counts:
            print(f"{sessions} sessions drawing…", file=sys.stderr)
            rounds.append(await measure_round(browser, url, pid, sessions, strokes))
        await browser.close()
    return rounds


def table(rounds: list[Round]) -> str:
    headers = [
        "sessions",
        "strokes timed",
        "missed",
        "p50 s",
        f"p50 / p50 of {rounds[0].sessions}",
        "p95 s",
        "max s",
        "server RSS before MiB",
        "server RSS peak MiB",
        "server CPU s / round s",
        "load after (1 / 5 / 15 min)",
    ]
    alone = np.median(rounds[0].seconds) if rounds[0].seconds else np.nan
    rows = [
        [
            r.sessions,
            len(r.seconds),
            r.missed,
            f"{np.median(r.seconds):.3f}" if r.seconds else "—",
            f"**{np.median(r.seconds) / alone:.1f}**" if r.seconds else "—",
            f"{np.percentile(r.seconds, 95):.3f}" if r.seconds else "—",
            f"{max(r.seconds):.3f}" if r.seconds else "—",
            f"{r.rss_before_mib:.0f}",
            f"{r.rss_peak_mib:.0f}",
            f"{r.server_cpu_s:.0f} / {r.wall_s:.0f}",
            r.load_after,
        ]
        for r in rounds
    ]
    return markdown_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sessions", type=int, nargs="+", default=[1, 5, 20], help="rounds (default 1 5 20)"
    )
    parser.add_argument("--strokes", type=int, default=5, help="timed per session (default 5)")
    args = parser.parse_args(argv)

    report = Report(
        "load",
        "Many sessions drawing at once",
        "One warm `streamlit run`; per round, N headless Chromium sessions (one browser, a "
        "context each) open the Draw page together, draw one warm-up digit each, then "
        f"{args.strokes} digits each at the same time ({', '.join(map(str, DIGITS))} in turn, "
        "Clear between them), one mouse move per point. Each stroke is timed in its browser "
        "from mouse-up to the first frame showing the right digit; a wrong answer or none "
        f"within {ANSWER_TIMEOUT_MS // 1000} s is missed. Server RSS: the `streamlit run` "
        f"process and its children (VmRSS from /proc), sampled every {MEMORY_SAMPLE_S} s; "
        "server CPU: its user + system time during the round (opening the pages included). "
        "Chromium runs on the same CPUs as the server, so the latencies include the cost of "
        "the browsers themselves; the ratio compares each round's median with the first "
        "round's, the baseline measured in the same run. The model: the MLP trained for 3 "
        "epochs on the full data.",
    )
    with tempfile.TemporaryDirectory(prefix="load-") as folder:
        models = Path(folder) / "models"
        print("Training the model that reads the strokes…", file=sys.stderr)
        train_reader(prepare_mnist(), models)
        server = StreamlitServer({"MNIST_MODELS_DIR": str(models)}, Path(folder) / "server.log")
        with server:
            rounds = asyncio.run(
                measure(server.url, server.process.pid, args.sessions, args.strokes)
            )

    report.add(table(rounds))
    report.publish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
