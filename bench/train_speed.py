"""Training speed: the original script's plain `model.fit` against `mnist_core.train.train`.

Both fit the reference MLP (10 epochs, batch 32, 50,000 images, validating on 10,000) from the
same seed, each in a fresh process, interleaved round by round. Target: our median fit time at
most half the original's, at the same accuracy.

    python bench/train_speed.py [--rounds 3]

Prints a markdown table and writes it to bench/results/train_speed.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from harness import training
from harness.report import Report, markdown_table
from harness.workers import interleaved, is_worker, run_worker, worker_main

from mnist_core.config import TrainConfig

REFERENCE = TrainConfig()
TARGET_RATIO = 0.5
SIDES = ("original", "ours")  # the original script's `model.fit`; `mnist_core.train.train`
KEYS = ("fit_seconds", "cpu_seconds", "test_accuracy")
WORKERS = {
    "original": lambda: training.original_script(REFERENCE.seed),
    "ours": lambda: training.ours(REFERENCE),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side (default 3)")
    args = parser.parse_args(argv)

    report = Report(
        "train_speed",
        "Training speed: the reference MLP, original script vs mnist_core",
        "Each run is a fresh process; a round is one run of each side back to back, in "
        "alternating order (A B, B A, ...). Fit s: wall time of scaling and `fit` (10 epochs, "
        "batch 32, validating every epoch). CPU s: CPU time of building and fitting, all "
        "threads; it suffers less than wall time when other work shares the CPUs. Accuracy: "
        "on the 10,000 test images.",
    )
    rounds: list[dict[str, dict]] = [{} for _ in range(args.rounds)]
    for number, side in interleaved(SIDES, args.rounds):
        rounds[number - 1][side] = run = run_worker(__file__, side)
        print(f"round {number}, {side}: fit {run['fit_seconds']:.1f} s", file=sys.stderr)

    report.add(table(rounds), verdict(rounds))
    report.publish()
    return 0


def table(rounds: list[dict[str, dict]]) -> str:
    """One row per round, then the medians; ratios are ours / original."""
    rows = [_row(str(number), runs) for number, runs in enumerate(rounds, start=1)]
    medians = {
        side: {key: statistics.median(runs[side][key] for runs in rounds) for key in KEYS}
        for side in SIDES
    }
    median_ratios = {key: statistics.median(_ratio(runs, key) for runs in rounds) for key in KEYS}
    rows.append(_row("**median**", medians, median_ratios))
    headers = [
        "round",
        "original fit s",
        "ours fit s",
        "fit ratio",
        "original CPU s",
        "ours CPU s",
        "CPU ratio",
        "original accuracy",
        "ours accuracy",
    ]
    return markdown_table(headers, rows)


def _row(label: str, runs: dict[str, dict], ratios: dict[str, float] | None = None) -> list:
    ratios = ratios or {key: _ratio(runs, key) for key in KEYS}
    original, ours = runs["original"], runs["ours"]
    return [
        label,
        f"{original['fit_seconds']:.1f}",
        f"{ours['fit_seconds']:.1f}",
        f"**{ratios['fit_seconds']:.2f}**",
        f"{original['cpu_seconds']:.1f}",
        f"{ours['cpu_seconds']:.1f}",
        f"{ratios['cpu_seconds']:.2f}",
        f"{original['test_accuracy']:.2%}",
        f"{ours['test_accuracy']:.2%}",
    ]


def _ratio(runs: dict[str, dict], key: str) -> float:
    return runs["ours"][key] / runs["original"][key]


def verdict(rounds: list[dict[str, dict]]) -> str:
    ratio = statistics.median(_ratio(runs, "fit_seconds") for runs in rounds)
    met = "met" if ratio <= TARGET_RATIO else "NOT met"
    return (
        f"Median of the rounds' fit-time ratios: {ratio:.2f} (target ≤ {TARGET_RATIO}): {met}. "
        "The median row shows each column's own median, so its accuracies and times may come "
        "from different rounds."
    )


if __name__ == "__main__":
    sys.exit(worker_main(WORKERS) if is_worker() else main())
