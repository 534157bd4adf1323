"""Explanations: is the evidence faithful, and are the nearest training digits alike?

- Faithfulness, on 200 MNIST test digits: the answer's probability, and what is left of it
  when the top 10% of the ink pixels are blanked, ranked by evidence (`explain.evidence`),
  by brightness (the baseline, same digits) and at random.
- Look-alikes: for the test digits the model reads right, the share of the 8 nearest of the
  50,000 training digits (in the last hidden layer) that have the same label.
- Time: one evidence map, and one search of the 50,000.

    python bench/explain_quality.py [--models bench-reference-mlp bench-best] [--digits 200]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from harness.report import Report, markdown_table

from mnist_core.classify import Classifier
from mnist_core.data import prepare_mnist
from mnist_core.explain import Neighbours, blank_top, evidence, training_neighbours
from mnist_core.pixels import to_unit
from mnist_core.store import find_model

BLANKED_SHARE = 0.10
NEAREST = 8
TARGETS = {"drop": 0.20, "ratio": 2.5, "map_ms": 50, "alike": 0.90, "search_ms": 20}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["bench-reference-mlp", "bench-best"])
    parser.add_argument("--digits", type=int, default=200)
    args = parser.parse_args(argv)
    mnist = prepare_mnist()
    pool_of = functools.partial(training_neighbours, mnist=mnist)
    test_images, test_labels = to_unit(mnist.test[0][: args.digits]), mnist.test[1][: args.digits]
    report = Report(
        "explain_quality",
        "Explanations: faithful evidence, alike neighbours",
        f"{args.digits} MNIST test digits; the top {BLANKED_SHARE:.0%} of each digit's ink "
        f"pixels blanked; the {NEAREST} nearest of the 50,000 training digits (MNIST's 60,000 "
        "less the validation images the default settings hold out).",
    )
    rows, verdicts = [], []
    for name in args.models:
        classifier = Classifier.load(find_model(name).path)
        row, checks = score(classifier, test_images, test_labels, pool_of(classifier))
        rows.append([name, *row])
        verdicts += [f"- {name}, {what}: {'met' if ok else 'NOT met'}" for what, ok in checks]
    headers = [
        "model",
        "answer's probability",
        "left, evidence blanked",
        "left, brightest blanked",
        "left, random blanked",
        "drop ratio",
        "ms / map",
        "nearest alike",
        "ms / search",
    ]
    report.add(markdown_table(headers, rows), "\n".join(verdicts))
    report.publish()
    return 0


def score(classifier, images, labels, pool: Neighbours):
    rng = np.random.default_rng(0)
    before, left = [], {"evidence": [], "brightest": [], "random": []}
    map_ms = []
    for image in images:
        probabilities = classifier.probabilities(image)
        digit = int(probabilities.argmax())
        started = time.perf_counter()
        ranking = evidence(classifier, image, digit)
        map_ms.append((time.perf_counter() - started) * 1000)
        ink = image >= 0.05
        count = max(1, round(BLANKED_SHARE * ink.sum()))
        rankings = {
            "evidence": np.where(ink, ranking, -np.inf),
            "brightest": image,
            "random": np.where(ink, rng.random(image.shape), -np.inf),
        }
        before.append(probabilities[digit])
        for kind, order in rankings.items():
            left[kind].append(classifier.probabilities(blank_top(image, order, count))[digit])
    alike, search_ms = [], []
    for image, label in zip(images, labels, strict=True):
        if classifier.probabilities(image).argmax() != label:
            continue
        started = time.perf_counter()
        nearest = pool.nearest(classifier, image, NEAREST)
        search_ms.append((time.perf_counter() - started) * 1000)
        alike.append(np.mean(pool.labels[nearest] == label))
    drop = {kind: np.mean(before) - np.mean(values) for kind, values in left.items()}
    ratio = drop["evidence"] / max(drop["brightest"], 1e-9)
    times = statistics.median(map_ms), statistics.median(search_ms)
    row = [
        f"{np.mean(before):.3f}",
        f"{np.mean(left['evidence']):.3f}",
        f"{np.mean(left['brightest']):.3f}",
        f"{np.mean(left['random']):.3f}",
        f"**{ratio:.1f}x**",
        f"{times[0]:.1f}",
        f"{np.mean(alike):.1%}",
        f"{times[1]:.2f}",
    ]
    checks = [
        (f"evidence drop {drop['evidence']:.3f} >= {TARGETS['drop']}", drop["evidence"] >= 0.2),
        (f"{ratio:.1f}x the brightest's drop >= {TARGETS['ratio']}x", ratio >= TARGETS["ratio"]),
        (f"{times[0]:.1f} ms a map <= {TARGETS['map_ms']}", times[0] <= TARGETS["map_ms"]),
        (f"{np.mean(alike):.1%} alike >= {TARGETS['alike']:.0%}", np.mean(alike) >= 0.9),
        (f"{times[1]:.2f} ms a search <= {TARGETS['search_ms']}", times[1] <= 20),
    ]
    return row, checks


if __name__ == "__main__":
    sys.exit(main())
