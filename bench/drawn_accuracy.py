"""How well do our models read drawn digits? MNIST test accuracy beside drawn-set accuracy.

Trains (or reuses from models/, by name) the reference MLP, the CNN, and the `best` preset
(the CNN with a dense layer, trained on augmented batches); scores each on the 10,000 MNIST
test images and on the drawn-digit set (scripts/drawn_synthesis.py, built first if missing)
after our MNIST-style preprocessing, plus the MLP on naively resized canvases (280 -> 28, no
preprocessing) as the baseline. Also measures the augmentation's throughput. Writes
bench/results/drawn_accuracy.md and prints it.

    python bench/drawn_accuracy.py [--retrain] [--models-dir DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, uninstalled

from mnist_core import drawn as drawn_digits
from mnist_core.augment import Augmentation, augment_batch
from mnist_core.classify import Classifier
from mnist_core.config import PRESETS, TrainConfig
from mnist_core.data import Mnist, prepare_mnist
from mnist_core.pixels import to_unit
from mnist_core.store import ModelFileError, SavedModel, delete_model, find_model
from scripts.drawn_synthesis import build_drawn_set

RESULTS = Path(__file__).resolve().parent / "results" / "drawn_accuracy.md"
REFERENCE_MLP = TrainConfig()
CNN = TrainConfig(architecture="cnn", epochs=15, batch_size=128)  # keras-io mnist_convnet's
BEST = PRESETS["best"]  # the same convolutions, a dense layer, on augmented batches
AUGMENTATION = Augmentation()
TARGETS = {  # from issue 5
    "mlp_drawn": 0.90,
    "augmented_drawn": 0.97,
    "augmented_mnist": 0.992,
    "training_seconds": 600,
}
SOURCES = {  # row label -> which images of the drawn set
    "re-drawn MNIST": lambda sources: np.char.startswith(sources, "mnist"),
    "1s with a flag": lambda sources: sources == "mnist+flag",
    "7s with a crossbar": lambda sources: sources == "mnist+crossbar",
    "handwriting fonts": lambda sources: np.char.startswith(sources, "font:"),
}


@dataclasses.dataclass
class Row:
    """One model's scores on one input pipeline."""

    model: str
    inputs: str
    mnist_accuracy: float
    predicted: np.ndarray  # on the drawn set
    fit_seconds: float | None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retrain", action="store_true", help="ignore saved bench models")
    parser.add_argument("--models-dir", help="where models are kept (default: models/)")
    args = parser.parse_args(argv)

    mnist = prepare_mnist()
    drawn = load_or_build_drawn_set()
    say(f"drawn set: {len(drawn)} canvases; preprocessing them...")
    started = time.perf_counter()
    digits = drawn.digits
    preprocess_ms = (time.perf_counter() - started) / len(drawn) * 1000
    throughput = augmentation_throughput(mnist.train[0])
    say(f"augmentation: {throughput:,.0f} images/s")

    models = {
        "bench-reference-mlp": REFERENCE_MLP,
        "bench-cnn": CNN,
        "bench-best": BEST,
    }
    rows = []
    for name, config in models.items():
        train_it = functools.partial(train_model, config, mnist, name, args.models_dir)
        classifier, fit_seconds = reuse_or_train(name, train_it, args)
        mnist_accuracy = accuracy(classifier, *mnist.test)
        row = Row(
            name, "our preprocessing", mnist_accuracy, predict(classifier, digits), fit_seconds
        )
        drawn_accuracy = np.mean(row.predicted == drawn.labels)
        say(f"{name}: MNIST {mnist_accuracy:.2%}, drawn {drawn_accuracy:.2%}")
        rows.append(row)
        if config == REFERENCE_MLP:
            naive = predict(classifier, naive_resize(drawn.canvases))
            rows.append(Row(name, "naive resize", mnist_accuracy, naive, None))

    report = markdown(rows, drawn, preprocess_ms, throughput)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
    print(report)
    return 0


def load_or_build_drawn_set() -> drawn_digits.DrawnSet:
    if not drawn_digits.DEFAULT_PATH.exists():
        say("building the drawn-digit set (scripts/build_drawn_set.py does the same)...")
        drawn_digits.save_drawn_set(build_drawn_set())
    return drawn_digits.load_drawn_set()


def reuse_or_train(name, train_model, args) -> tuple[Classifier, float | None]:
    """The saved model `name` unless --retrain (which replaces it), with its fit time."""
    try:
        saved = find_model(name, args.models_dir)
    except ModelFileError:
        pass
    else:
        if not args.retrain:
            say(f"{name}: reusing the saved model")
            return Classifier.load(saved.path), saved.record.fit_seconds
        delete_model(name, args.models_dir)
    say(f"{name}: training...")
    saved = train_model()
    return Classifier.load(saved.path), saved.record.fit_seconds


def train_model(config: TrainConfig, mnist: Mnist, name: str, models_dir) -> SavedModel:
    from mnist_core.workflow import train_evaluate_save

    return train_evaluate_save(config, mnist, name=name, models_dir=models_dir)[1]


def predict(classifier: Classifier, images: np.ndarray) -> np.ndarray:
    chunks = [images[start : start + 500] for start in range(0, len(images), 500)]
    return np.concatenate(
        [classifier.probabilities(to_unit(chunk)).argmax(axis=1) for chunk in chunks]
    )


def accuracy(classifier: Classifier, images: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(predict(classifier, images) == labels))


def naive_resize(canvases: np.ndarray) -> np.ndarray:
    """What an app without preprocessing feeds its model: the canvas shrunk to 28x28."""
    shrunk = [np.asarray(Image.fromarray(canvas).resize((28, 28))) for canvas in canvases]
    return np.stack(shrunk)


def augmentation_throughput(images: np.ndarray, batch_size: int = 128) -> float:
    """Images per second through augment_batch with the bench's settings, on one core."""
    rng = np.random.default_rng(0)
    count = 20_000
    started = time.perf_counter()
    for start in range(0, count, batch_size):
        augment_batch(images[start : start + batch_size], rng, AUGMENTATION)
    return count / (time.perf_counter() - started)


def markdown(rows: list[Row], drawn, preprocess_ms: float, throughput: float) -> str:
    lines = [
        "# Drawn digits versus MNIST test accuracy",
        "",
        f"Drawn set: {len(drawn):,} canvases ({np.bincount(drawn.labels).min()} per digit), "
        "built by scripts/build_drawn_set.py; scripts/drawn_synthesis.py says how it is made "
        "and how it differs from real mouse drawings. MNIST test: 10,000 images. Columns 0-9: "
        "drawn accuracy per digit.",
        "",
        *accuracy_table(rows, drawn.labels),
        "",
        "Drawn accuracy by kind of image (our preprocessing):",
        "",
        *kind_table(rows, drawn),
        "",
        "Targets (issue 5):",
        "",
        *target_lines(rows, drawn.labels),
        "",
        f"Preprocessing: {preprocess_ms:.2f} ms per 280x280 canvas. Augmentation: "
        f"{throughput:,.0f} images/s on one core with {AUGMENTATION}.",
        f"CNN: {CNN}. `best`: {BEST}, on augmented batches.",
        "",
    ]
    return "\n".join(lines)


def accuracy_table(rows: list[Row], labels: np.ndarray) -> list[str]:
    digits = range(10)
    lines = [
        "| model | inputs | MNIST test | drawn | " + " | ".join(map(str, digits)) + " | training |",
        "|" + " --- |" * 15,
    ]
    for row in rows:
        correct = row.predicted == labels
        per_digit = " | ".join(f"{np.mean(correct[labels == d]):.0%}" for d in digits)
        fit = f"{row.fit_seconds:.0f} s" if row.fit_seconds is not None else ""
        lines.append(
            f"| {row.model} | {row.inputs} | {row.mnist_accuracy:.2%} | {np.mean(correct):.2%} "
            f"| {per_digit} | {fit} |"
        )
    return lines


def kind_table(rows: list[Row], drawn) -> list[str]:
    masks = {kind: chosen(drawn.sources) for kind, chosen in SOURCES.items()}
    lines = [
        "| model | " + " | ".join(f"{kind} ({mask.sum()})" for kind, mask in masks.items()) + " |",
        "|" + " --- |" * (len(masks) + 1),
    ]
    for row in rows:
        if row.inputs == "our preprocessing":
            correct = row.predicted == drawn.labels
            scores = " | ".join(f"{np.mean(correct[mask]):.1%}" for mask in masks.values())
            lines.append(f"| {row.model} | {scores} |")
    return lines


def target_lines(rows: list[Row], labels: np.ndarray) -> list[str]:
    by_name = {(row.model, row.inputs): row for row in rows}
    mlp = by_name["bench-reference-mlp", "our preprocessing"]
    augmented = by_name["bench-best", "our preprocessing"]
    checks = [
        ("reference MLP, drawn", np.mean(mlp.predicted == labels), TARGETS["mlp_drawn"]),
        (
            "`best` (CNN with a dense layer + augmentation), drawn",
            np.mean(augmented.predicted == labels),
            TARGETS["augmented_drawn"],
        ),
        ("`best`, MNIST test", augmented.mnist_accuracy, TARGETS["augmented_mnist"]),
    ]
    lines = [
        f"- {what}: {value:.2%} (target >= {target:.1%}): {'met' if value >= target else 'NOT met'}"
        for what, value, target in checks
    ]
    if augmented.fit_seconds is not None:
        seconds, limit = augmented.fit_seconds, TARGETS["training_seconds"]
        verdict = "met" if seconds < limit else "NOT met"
        lines.append(f"- `best` training: {seconds:.0f} s (target < {limit} s): {verdict}")
    return lines


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
