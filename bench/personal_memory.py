"""Personal memory on simulated writers: how fast does the app learn one person's handwriting?

Each writer (scripts/writers.py: a handwriting font no model trained on, in a hand of their
own) draws every digit PER_DIGIT times in a random order. After each drawing the app answers
with the writer's memory as it stands (mnist_core.personal), and the writer corrects every
misread digit, which goes into the memory at once. Reported per model, beside the model
alone on the same drawings (the baseline, same run):

- accuracy on each writer's later half, and the corrections they made over the whole sequence;
- another writer's memory: each writer's drawings read with the final memory of a writer of
  another font, against the model alone (one person's corrections must not hurt another);
- the time one answer takes with MEMORY_FOR_TIMING drawings in memory, against the model alone.

The thresholds of mnist_core.personal were chosen with `--writers validation` (writers from
other fonts); the table in the README comes from the test writers.

    python bench/personal_memory.py [--writers test|validation] [--models bench-best ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from harness.report import Report, markdown_table

from mnist_core.classify import Classifier
from mnist_core.personal import (
    MATCH_FROM,
    MATCH_FULL,
    PIXELS_FROM,
    PIXELS_FULL,
    PersonalClassifier,
)
from mnist_core.pixels import to_pixels, to_unit
from mnist_core.store import find_model
from scripts.writers import DEFAULT_SEED, Writer, make_writers, writer_fonts

PER_DIGIT = 10  # each writer draws 100 digits
MEMORY_FOR_TIMING = 50
TIMED_CALLS = 300
TARGETS = {"later_half": 0.99, "corrections": 10, "other_memory_cost": 0.005, "extra_ms": 0.5}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", choices=("test", "validation"), default="test")
    parser.add_argument("--models", nargs="+", default=["bench-reference-mlp", "bench-best"])
    args = parser.parse_args(argv)
    report = Report(
        "personal_memory",
        "Personal memory: simulated writers correcting every misread digit",
        f"{args.writers.capitalize()} writers, {PER_DIGIT} drawings of each digit each, in a "
        "random order, through the app's preprocessing (kept as uint8, as the store keeps "
        f"them). Memory: a remembered drawing counts from cosine similarity {MATCH_FROM} of "
        f"features (deciding alone at {MATCH_FULL}) and {PIXELS_FROM} of pixels "
        f"({PIXELS_FULL}).",
    )
    people = make_writers(writer_fonts(args.writers == "validation"), DEFAULT_SEED)
    sequences = [drawings_of(writer, seed) for seed, writer in enumerate(people)]
    rows, verdicts = [], []
    for name in args.models:
        base = Classifier.load(find_model(name).path)
        row, verdict = score(name, base, sequences)
        rows.append(row)
        verdicts.append(verdict)
    headers = [
        "model",
        "writers",
        "later half, model alone",
        "later half, with memory",
        "worst writer, with memory",
        "corrections (mean, max)",
        "others' memory: change",
        "answer ms: alone / memory of 50",
    ]
    report.add(markdown_table(headers, rows), "\n".join(verdicts))
    report.publish()
    return 0


def drawings_of(writer: Writer, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The writer's drawings in the order they make them: (images in [0, 1], labels)."""
    rng = np.random.default_rng((DEFAULT_SEED, seed))
    labels = rng.permutation(np.repeat(np.arange(10), PER_DIGIT))
    images = to_unit(to_pixels(np.stack([writer.draw(int(digit), rng) for digit in labels])))
    return images, labels


def session(base: Classifier, images: np.ndarray, labels: np.ndarray):
    """One writer's sequence: (right or not after each drawing, the final memory's indices)."""
    remembered: list[int] = []
    right = np.zeros(len(labels), dtype=bool)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        memory = PersonalClassifier(base, images[remembered], labels[remembered])
        right[i] = memory.probabilities(image).argmax() == label
        if not right[i]:
            remembered.append(i)
    return right, remembered


def score(name: str, base: Classifier, sequences) -> tuple[list, str]:
    half = len(sequences[0][1]) // 2
    alone, with_memory, corrections, memories = [], [], [], []
    for images, labels in sequences:
        right, remembered = session(base, images, labels)
        alone.append(np.mean(base.probabilities(images[half:]).argmax(axis=1) == labels[half:]))
        with_memory.append(right[half:].mean())
        corrections.append(len(remembered))
        memories.append(remembered)
    others = []
    for i, (images, labels) in enumerate(sequences):
        j = (i + len(sequences) // 2) % len(sequences)  # a writer of another font
        other_images, other_labels = sequences[j]
        foreign = PersonalClassifier(base, other_images[memories[j]], other_labels[memories[j]])
        with_other = np.mean(foreign.probabilities(images).argmax(axis=1) == labels)
        others.append(with_other - np.mean(base.probabilities(images).argmax(axis=1) == labels))
    alone_ms, memory_ms = answer_times(base, sequences[0][0])
    later, cost = float(np.mean(with_memory)), -float(np.mean(others))
    row = [
        name,
        len(sequences),
        f"{np.mean(alone):.2%}",
        f"**{later:.2%}**",
        f"{min(with_memory):.0%}",
        f"{np.mean(corrections):.1f}, {max(corrections)}",
        f"{-cost * 100:+.2f} points",
        f"{alone_ms:.3f} / {memory_ms:.3f}",
    ]
    checks = [
        (f"later half >= {TARGETS['later_half']:.0%}", later >= TARGETS["later_half"]),
        (
            f"corrections <= {TARGETS['corrections']}",
            np.mean(corrections) <= TARGETS["corrections"],
        ),
        (
            f"another's memory costs <= {TARGETS['other_memory_cost'] * 100:.1f} points",
            cost <= TARGETS["other_memory_cost"],
        ),
        (
            f"<= {TARGETS['extra_ms']} ms more",
            memory_ms - alone_ms <= TARGETS["extra_ms"],
        ),
    ]
    verdict = "; ".join(f"{what}: {'met' if ok else 'NOT met'}" for what, ok in checks)
    return row, f"- {name}: {verdict}"


def answer_times(base: Classifier, images: np.ndarray) -> tuple[float, float]:
    """Median ms of one answer from the model alone and with MEMORY_FOR_TIMING drawings in
    memory, the two taking turns call by call."""
    rng = np.random.default_rng(0)
    memory = PersonalClassifier(
        base, images[:MEMORY_FOR_TIMING], rng.integers(0, 10, MEMORY_FOR_TIMING)
    )
    times = {"alone": [], "memory": []}
    for call in range(TIMED_CALLS):
        image = images[call % len(images)]
        for key, classifier in (("alone", base), ("memory", memory)):
            started = time.perf_counter()
            classifier.probabilities(image)
            times[key].append((time.perf_counter() - started) * 1000)
    return statistics.median(times["alone"]), statistics.median(times["memory"])


if __name__ == "__main__":
    sys.exit(main())
