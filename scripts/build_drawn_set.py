"""Build a drawn-digit set into data/: by default the test writers, the app's honest measure.

    python scripts/build_drawn_set.py [--set writers|validation-writers|redrawn-mnist]
                                      [--seed N] [--per-digit N] [--output FILE]

`writers` (data/drawn_digits.npz): held-out fonts traced by simulated writers (writers.py), the
set the app and `evaluate` report. `validation-writers` (data/drawn_validation.npz): the same
made from other fonts, for choosing settings. `redrawn-mnist` (data/redrawn_mnist.npz): MNIST
test digits re-drawn as strokes and typed fonts (drawn_synthesis.py), the older set, kept for
comparison. The same seed, fonts and library versions give the same set: the fingerprint
printed at the end lets two machines compare theirs.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, uninstalled

from mnist_core.data import DataError
from mnist_core.drawn import DEFAULT_PATH, DrawnSet, DrawnSetError, save_drawn_set
from scripts import drawn_synthesis, writers

OUTPUTS = {
    "writers": DEFAULT_PATH,
    "validation-writers": DEFAULT_PATH.with_name("drawn_validation.npz"),
    "redrawn-mnist": DEFAULT_PATH.with_name("redrawn_mnist.npz"),
}


def build(kind: str, seed: int | None, per_digit: int | None) -> DrawnSet:
    if kind == "redrawn-mnist":
        return drawn_synthesis.build_drawn_set(
            drawn_synthesis.DEFAULT_SEED if seed is None else seed,
            per_digit or drawn_synthesis.DEFAULT_PER_DIGIT,
        )
    seed = writers.DEFAULT_SEED if seed is None else seed
    people = writers.make_writers(writers.writer_fonts(kind == "validation-writers"), seed)
    return writers.build_writers_set(people, per_digit or writers.DEFAULT_PER_DIGIT, seed)


def fingerprint(drawn: DrawnSet) -> str:
    """sha256 of the set's arrays: equal fingerprints, equal sets."""
    digest = hashlib.sha256()
    for array in (drawn.canvases, drawn.digits, drawn.labels, drawn.sources):
        digest.update(array.tobytes())
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=sorted(OUTPUTS), default="writers", dest="kind")
    parser.add_argument("--seed", type=int, help="default: the set's own")
    parser.add_argument("--per-digit", type=int, help="drawings of each digit (by each writer)")
    parser.add_argument("--output", type=Path, help="default: the set's file in data/")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    output = args.output or OUTPUTS[args.kind]
    try:
        drawn = build(args.kind, args.seed, args.per_digit)
        save_drawn_set(drawn, output)
    except (DrawnSetError, DataError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    groups = len(set(drawn.sources))
    print(
        f"{len(drawn)} drawn digits from {groups} sources ({args.kind}) written to {output} "
        f"in {time.perf_counter() - started:.0f} s"
    )
    print(f"fingerprint {fingerprint(drawn)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
