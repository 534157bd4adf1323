"""Build the drawn-digit test set (see drawn_synthesis.py) into data/drawn_digits.npz.

The same seed, MNIST file, fonts and library versions give the same set: the fingerprint printed
at the end lets two machines compare theirs.

    python scripts/build_drawn_set.py [--seed 2024] [--per-digit 300] [--no-fonts] [--output F]
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, uninstalled

from mnist_core.data import DataError
from mnist_core.drawn import DEFAULT_PATH, DrawnSet, DrawnSetError, save_drawn_set
from scripts.drawn_synthesis import DEFAULT_PER_DIGIT, DEFAULT_SEED, build_drawn_set


def fingerprint(drawn: DrawnSet) -> str:
    """sha256 of the set's arrays: equal fingerprints, equal sets."""
    digest = hashlib.sha256()
    for array in (drawn.canvases, drawn.labels, drawn.sources):
        digest.update(array.tobytes())
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--per-digit", type=int, default=DEFAULT_PER_DIGIT)
    parser.add_argument("--no-fonts", action="store_true", help="only re-drawn MNIST digits")
    parser.add_argument("--output", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    try:
        drawn = build_drawn_set(args.seed, args.per_digit, fonts=() if args.no_fonts else None)
        save_drawn_set(drawn, args.output)
    except (DrawnSetError, DataError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    kinds = collections.Counter(source.split(":")[0] for source in drawn.sources)
    print(
        f"{len(drawn)} drawn digits ({', '.join(f'{n} {kind}' for kind, n in kinds.items())}) "
        f"written to {args.output} in {time.perf_counter() - started:.0f} s"
    )
    print(f"fingerprint {fingerprint(drawn)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
