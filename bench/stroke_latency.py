"""Stroke to Prediction in a real browser, with a warm server.

Draws digits with the mouse on the Draw page of a real `streamlit run` and times, inside the
browser, from the stroke's mouse-up to the "Prediction" metric showing the new digit, and to the
canvas sending the drawing to the server (the component's own share). For comparison, in the
same run: the Clear button, from its mouse-up to the blank-canvas hint (a rerun with no drawing
to read). Target: stroke median under 0.5 s.

    python bench/stroke_latency.py [--strokes 20]

Prints a markdown table and writes it to bench/results/stroke_latency.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's banners off the report

from harness.report import Report, markdown_table
from playwright.sync_api import Page, sync_playwright

from mnist_core.data import prepare_mnist
from tests.e2e.browser import (
    DRAW_HINT,
    VIEWPORT,
    StreamlitServer,
    clear_button,
    draw_digit,
    go_to,
    launch_chromium,
    open_app,
    train_reader,
    wait_until_idle,
)

DIGITS = (0, 1, 7)  # drawn in turn, so every answer differs from the one before
WARM_UP_STROKES = len(DIGITS)  # the first answers load the model and draw the first charts
TARGET_MEDIAN_S = 0.5
TARGET_WHY_MEDIAN_S = 0.4
TIMEOUT_MS = 10_000

# Stamps every mouse-up (in the capture phase: before the canvas or a button reacts to it) and
# the first message the page then sends to the server: the canvas' drawing, or the click.
STAMP_MOUSE_UP_AND_SEND = """
document.addEventListener("mouseup", () => {
  window.mouseUpAt = performance.now();
  window.sentAt = null;
}, true);
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  window.sentAt ??= performance.now();
  return send.call(this, data);
};
"""
SENT_MS = "() => window.sentAt - window.mouseUpAt"
# Milliseconds from the last mouse-up to the first frame that shows the answer, or null.
PREDICTION_SHOWN = """digit => {
  const metrics = document.querySelectorAll('[data-testid="stMain"] [data-testid="stMetric"]');
  for (const metric of metrics) {
    const label = metric.querySelector('[data-testid="stMetricLabel"]')?.innerText.trim();
    const value = metric.querySelector('[data-testid="stMetricValue"]')?.innerText.trim();
    if (label === "Prediction" && value === digit) return performance.now() - window.mouseUpAt;
  }
  return null;
}"""
HINT_SHOWN = """hint => document.querySelector('[data-testid="stMain"]').innerText.includes(hint)
  ? performance.now() - window.mouseUpAt : null"""

SENT = "stroke → canvas sends it"
STROKE = "stroke → Prediction"
STROKE_WHY = "stroke → Prediction, with Why this answer? shown"
CLEAR = "Clear → hint"


def time_stroke(page: Page, digit: int) -> tuple[float, float]:
    """Draw `digit` on the blank canvas; seconds from mouse-up until the canvas sends the
    drawing, and until the Prediction shows it."""
    draw_digit(page, digit)
    shown = page.wait_for_function(PREDICTION_SHOWN, arg=str(digit), timeout=TIMEOUT_MS)
    return page.evaluate(SENT_MS) / 1000, shown.json_value() / 1000


def time_clear(page: Page) -> float:
    """Press Clear; seconds from mouse-up until the blank-canvas hint shows."""
    clear_button(page).click()
    shown = page.wait_for_function(HINT_SHOWN, arg=DRAW_HINT, timeout=TIMEOUT_MS)
    return shown.json_value() / 1000


def measure(url: str, strokes: int) -> dict[str, list[float]]:
    """Seconds per stroke and per Clear, after warming up the page and the model; then per
    stroke with the "Why this answer?" panel shown (evidence, look-alikes computed each time)."""
    timings: dict[str, list[float]] = {SENT: [], STROKE: [], STROKE_WHY: [], CLEAR: []}
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport=VIEWPORT)
        page.add_init_script(STAMP_MOUSE_UP_AND_SEND)
        open_app(page, url)
        go_to(page, "Draw")
        for n in range(WARM_UP_STROKES + strokes):
            (sent, shown), cleared = time_stroke(page, DIGITS[n % len(DIGITS)]), time_clear(page)
            if n >= WARM_UP_STROKES:
                for name, seconds in ((SENT, sent), (STROKE, shown), (CLEAR, cleared)):
                    timings[name].append(seconds)
        draw_digit(page, DIGITS[0])
        page.get_by_text("Why this answer?", exact=True).click()
        page.get_by_text("Why 0 and not", exact=False).wait_for(timeout=60_000)  # look-alikes
        time_clear(page)
        for n in range(WARM_UP_STROKES + strokes):
            wait_until_idle(page)  # the panel's removal moves the page: let it settle first
            (_sent, shown), _cleared = time_stroke(page, DIGITS[n % len(DIGITS)]), time_clear(page)
            if n >= WARM_UP_STROKES:
                timings[STROKE_WHY].append(shown)
        browser.close()
    return timings


def table(timings: dict[str, list[float]]) -> str:
    rows = [
        [
            name,
            len(seconds),
            f"{statistics.median(seconds):.3f}",
            f"{statistics.quantiles(seconds, n=20)[-1]:.3f}",
            f"{max(seconds):.3f}",
        ]
        for name, seconds in timings.items()
    ]
    return markdown_table(["measure", "n", "median s", "p95 s", "max s"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=20, help="strokes timed (default 20)")
    args = parser.parse_args(argv)

    report = Report(
        "stroke_latency",
        "Stroke to Prediction in the browser",
        f"Headless Chromium on the Draw page of `streamlit run`, timed in the browser from "
        f"mouse-up to the first frame showing the answer; {args.strokes} strokes after "
        f"{WARM_UP_STROKES} warm-up ones, digits {', '.join(map(str, DIGITS))} in turn, Clear "
        "between them. The model: the MLP trained for 3 epochs on the full data. "
        '"Canvas sends it": when the canvas component sends the drawing (its own delay).',
    )
    with tempfile.TemporaryDirectory(prefix="stroke-latency-") as folder:
        models = Path(folder) / "models"
        print("Training the model that reads the strokes…", file=sys.stderr)
        train_reader(prepare_mnist(), models)
        server = StreamlitServer({"MNIST_MODELS_DIR": str(models)}, Path(folder) / "server.log")
        with server:
            timings = measure(server.url, args.strokes)

    median = statistics.median(timings[STROKE])
    met = "met" if median < TARGET_MEDIAN_S else "MISSED"
    with_why = statistics.median(timings[STROKE_WHY])
    met_why = "met" if with_why <= TARGET_WHY_MEDIAN_S else "MISSED"
    report.add(
        table(timings),
        f"Stroke to Prediction: median {median:.3f} s (target < {TARGET_MEDIAN_S} s): {met}.  \n"
        f"With the Why panel shown: median {with_why:.3f} s "
        f"(target <= {TARGET_WHY_MEDIAN_S} s): {met_why}.",
    )
    report.publish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
