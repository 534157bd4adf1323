"""TensorFlow's oneDNN kernels: an epoch of the `best` preset and of the reference MLP with them
and without.

TensorFlow turns them on by itself only on CPUs with AVX-512's neural-network instructions;
mnist_core turns them on everywhere (mnist_core/__init__.py). Each run is a fresh process that
trains one epoch on the first 12,800 training images (validating on 2,000) from the same seed;
the two sides take turns, round by round. Target: the `best` preset faster with them, the MLP
(compiled by XLA) no slower.

    python bench/onednn.py [--rounds 3]

Prints a markdown table and writes it to bench/results/onednn.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from harness.report import Report, markdown_table
from harness.workers import cpu_seconds, interleaved, is_worker, run_worker, worker_main

from mnist_core.config import PRESETS, TrainConfig

ONEDNN = "TF_ENABLE_ONEDNN_OPTS"
SIDES = {"off": "0", "on": "1"}
MODELS = {
    "best": dataclasses.replace(PRESETS["best"], epochs=1, validation_size=2_000),
    "reference MLP": TrainConfig(epochs=1, validation_size=2_000),
}
TRAINING_IMAGES = 14_800  # 12,800 to fit, 2,000 to validate


def one_epoch(model: str, side: str) -> dict:
    """In a fresh process: one epoch of `model` with oneDNN `side`, timed."""
    os.environ[ONEDNN] = SIDES[side]  # before TensorFlow is imported, which reads it
    from mnist_core.data import prepare_mnist, slice_mnist
    from mnist_core.train import train

    mnist = slice_mnist(prepare_mnist(), TRAINING_IMAGES, 1)
    cpu_started = cpu_seconds()
    result = train(MODELS[model], (mnist.train, mnist.test))
    return {
        "fit_seconds": result.fit_seconds,
        "cpu_seconds": cpu_seconds() - cpu_started,
        "val_accuracy": result.history["val_accuracy"][-1],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side (default 3)")
    args = parser.parse_args(argv)
    report = Report(
        "onednn",
        "TensorFlow's oneDNN kernels, off and on",
        "Each run is a fresh process training one epoch on 12,800 images (validating on "
        "2,000) from the same seed; the sides take turns (A B, B A, ...). Fit s: wall time of "
        f"`fit`. This CPU's AVX-512 neural-network instructions: {_avx512_nn() or 'none'} "
        "(without them TensorFlow leaves oneDNN off unless told).",
    )
    rows, ratios = [], {}
    started = time.perf_counter()
    for model in MODELS:
        runs: dict[str, list[dict]] = {side: [] for side in SIDES}
        for number, side in interleaved(list(SIDES), args.rounds):
            run = run_worker(__file__, "epoch", model, side)
            runs[side].append(run)
            print(f"{model}, round {number}, {side}: {run['fit_seconds']:.1f} s", file=sys.stderr)
        off, on = (_median(runs[side], "fit_seconds") for side in SIDES)
        ratios[model] = on / off
        cpu_ratio = _median(runs["on"], "cpu_seconds") / _median(runs["off"], "cpu_seconds")
        rows.append(
            [
                model,
                ", ".join(f"{r['fit_seconds']:.1f}" for r in runs["off"]),
                ", ".join(f"{r['fit_seconds']:.1f}" for r in runs["on"]),
                f"**{on / off:.2f}**",
                f"{cpu_ratio:.2f}",
                f"{runs['off'][0]['val_accuracy']:.2%}",
                f"{runs['on'][0]['val_accuracy']:.2%}",
            ]
        )
    headers = [
        "model",
        "off: fit s, each round",
        "on: fit s, each round",
        "on / off, medians' ratio",
        "CPU, medians' ratio",
        "off: validation accuracy",
        "on: validation accuracy",
    ]
    met = ratios["best"] < 1 and ratios["reference MLP"] <= 1.05
    report.add(
        markdown_table(headers, rows),
        f"`best` on / off: {ratios['best']:.2f}; reference MLP: {ratios['reference MLP']:.2f} "
        f"(target: `best` below 1, the MLP at most 1.05): {'met' if met else 'NOT met'}. "
        f"{time.perf_counter() - started:.0f} s in all.",
    )
    report.publish()
    return 0


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def _avx512_nn() -> str:
    """The AVX-512 neural-network flags this CPU reports (Linux)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split("flags", 2)[1].splitlines()[0].split()
    except (OSError, IndexError):
        return ""
    return ", ".join(f for f in ("avx512_vnni", "avx512_bf16", "amx_tile") if f in flags)


if __name__ == "__main__":
    sys.exit(worker_main({"epoch": one_epoch}) if is_worker() else main())
