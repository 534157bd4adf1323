"""A stroke's server CPU against Streamlit's own floor.

The same simulated people as bench/classroom.py's (light sessions on Streamlit's websocket, each
sending a test writer's drawing every 5 s) draw on three pages in turn, each served by a fresh
`streamlit run` process, round after round:

- the canvas alone (bench/minimal_app.py with MNIST_BENCH_CANVAS_ONLY=1): the canvas component
  as it comes and a Prediction that does not look at the drawing, so nothing of ours runs;
- the canvas, the model and the Prediction (bench/minimal_app.py): the least a page that reads
  the drawing can do;
- the app's Draw page.

Target (issue 15): at most 8 ms of server CPU per stroke rerun on the Draw page.

    python bench/rerun_floor.py [--rounds 2] [--people 60] [--seconds 30]

Prints a markdown table and writes it to bench/results/rerun_floor.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from classroom import APP, MINIMAL_APP, Servers, opened, reader_and_env, run_step
from harness.report import Report, markdown_table

TARGET_MS = 8.0
PAGES = {  # name: (script, environment)
    "the canvas alone (Streamlit's floor)": (MINIMAL_APP, {"MNIST_BENCH_CANVAS_ONLY": "1"}),
    "canvas + model + Prediction": (MINIMAL_APP, {}),
    "the Draw page": (APP, {}),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--people", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=30, help="of drawing, per page")
    parser.add_argument("--period", type=float, default=5, help="seconds between a person's digits")
    args = parser.parse_args(argv)
    report = Report(
        "rerun_floor",
        "A stroke's server CPU against Streamlit's own floor",
        f"{args.people} simulated people (bench/classroom.py's), each drawing a test writer's "
        f"digit every {args.period:g} s for {args.seconds:g} s, on each page in turn, each page "
        "on a fresh server process; the pages take turns in each round, in reverse order every "
        "other round, no one pressing Clear. CPU: the server's, while the people draw, per answer.",
    )
    folder = Path(tempfile.mkdtemp(prefix="rerun-floor-"))
    classifier, env = reader_and_env(folder)
    cpu: dict[str, list[float]] = {page: [] for page in PAGES}
    for round_number in range(args.rounds):
        order = list(PAGES) if round_number % 2 == 0 else list(reversed(PAGES))
        for page in order:
            script, extra = PAGES[page]
            run = folder / f"round-{round_number}-page-{list(PAGES).index(page)}"
            run.mkdir()
            with Servers(1, {**env, **extra}, run, page, script) as servers:
                recording, drawings = opened(servers, classifier, args.period)
                # Strokes alone on every page: the canvas alone has no Clear to press.
                strokes_only = dataclasses.replace(recording, clearing=[])
                step = run_step(
                    servers, strokes_only, drawings, args.people, args.seconds, args.period
                )
            cpu[page].append(step.server_cpu_ms_per_rerun)
            print(f"round {round_number + 1}, {page}: {cpu[page][-1]:.1f} ms", file=sys.stderr)
    shutil.rmtree(folder, ignore_errors=True)
    floor = statistics.median(cpu[next(iter(PAGES))])
    rows = [
        [
            page,
            ", ".join(f"{ms:.1f}" for ms in runs),
            f"**{statistics.median(runs):.1f}**",
            f"{statistics.median(runs) / floor:.2f}",
        ]
        for page, runs in cpu.items()
    ]
    headers = ["page", "server CPU ms per rerun, each round", "median", "x the canvas alone"]
    ours = statistics.median(cpu["the Draw page"])
    report.add(
        markdown_table(headers, rows),
        f"The Draw page: {ours:.1f} ms per stroke rerun (target <= {TARGET_MS:g} ms): "
        f"{'met' if ours <= TARGET_MS else 'NOT met'}. Streamlit's own floor, the canvas "
        f"alone: {floor:.1f} ms" + (", itself above the target." if floor > TARGET_MS else "."),
    )
    report.publish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
