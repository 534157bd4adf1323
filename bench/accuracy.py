"""Test accuracy: the original script against the reference MLP and the CNN of mnist_core.

The original script and `mnist_core.train.train` with the reference settings (10 epochs,
batch 32, the last 10,000 training images for validation) run from the same seeds, each in a
fresh process, side by side; then the CNN with keras-io's "simple MNIST convnet" recipe.
Targets: the reference MLP matches the original (97.8-98.1% here); the CNN reaches 99.1%.

    python bench/accuracy.py [--seeds 42 1 2]

Prints a markdown table and writes it to bench/results/accuracy.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from harness import training
from harness.report import Report, markdown_table
from harness.workers import is_worker, run_worker, worker_main

from mnist_core.config import TrainConfig

REFERENCE_BAND = (0.978, 0.981)  # the original script's test accuracy here
CNN_TARGET = 0.991
# keras-io's mnist_convnet: batch 128, 15 epochs, the last 10% of the training images validate.
CNN = TrainConfig(architecture="cnn", batch_size=128, epochs=15, validation_size=6_000)
WORKERS = {
    "original": lambda seed: training.original_script(int(seed)),
    "reference": lambda seed: training.ours(TrainConfig(seed=int(seed))),
    "cnn": lambda: training.ours(CNN),
}
LABELS = {
    "original": "original script",
    "reference": "mnist_core reference MLP",
    "cnn": "mnist_core CNN",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2], help="MLP seeds")
    args = parser.parse_args(argv)

    report = Report(
        "accuracy",
        "Test accuracy: original script, reference MLP and CNN",
        "Each run is a fresh process on the real MNIST; test accuracy on the 10,000 test "
        "images, validation accuracy after the last epoch. The MLP sides alternate per seed. "
        f"CNN settings: batch {CNN.batch_size}, {CNN.epochs} epochs, the last "
        f"{CNN.validation_size:,} training images validate (keras-io's validation_split=0.1), "
        f"Adam {CNN.learning_rate}, seed {CNN.seed}.",
    )
    runs: list[tuple[str, int, dict]] = []
    for index, seed in enumerate(args.seeds):
        sides = ("original", "reference") if index % 2 == 0 else ("reference", "original")
        runs += [(side, seed, run_worker(__file__, side, seed)) for side in sides]
        say(runs[-2:])
    runs.append(("cnn", CNN.seed, run_worker(__file__, "cnn")))
    say(runs[-1:])

    report.add(table(runs), verdict(runs))
    report.publish()
    return 0


def table(runs: list[tuple[str, int, dict]]) -> str:
    rows = [
        [
            LABELS[name],
            seed,
            f"{run['val_accuracy']:.2%}",
            f"**{run['test_accuracy']:.2%}**",
            f"{run['fit_seconds']:.0f}",
        ]
        for name, seed, run in sorted(runs, key=lambda item: list(LABELS).index(item[0]))
    ]
    headers = ["model", "seed", "val accuracy", "test accuracy", "fit s"]
    return markdown_table(headers, rows)


def verdict(runs: list[tuple[str, int, dict]]) -> str:
    accuracy = {
        name: statistics.median(run["test_accuracy"] for side, _, run in runs if side == name)
        for name in LABELS
    }
    low, high = REFERENCE_BAND
    reference_met = low <= accuracy["reference"] <= high
    cnn_met = accuracy["cnn"] >= CNN_TARGET
    return (
        f"Reference MLP median {accuracy['reference']:.2%}, original script median "
        f"{accuracy['original']:.2%} (target band {low:.1%}-{high:.1%}): "
        f"{'met' if reference_met else 'NOT met'}.  \n"
        f"CNN {accuracy['cnn']:.2%} (target ≥ {CNN_TARGET:.1%}): {'met' if cnn_met else 'NOT met'}."
    )


def say(runs: list[tuple[str, int, dict]]) -> None:
    for name, seed, run in runs:
        print(f"{LABELS[name]}, seed {seed}: {run['test_accuracy']:.2%}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(worker_main(WORKERS) if is_worker() else main())
