"""Measure in fresh processes: each run starts cold, and one run's memory or caches never
favour the next. A bench script is both the driver and its own worker:

    python bench/X.py                    # driver: runs the workers, prints the table
    python bench/X.py --worker NAME ARG  # worker: one measurement, one JSON line

Drivers interleave the sides (A B B A A B ...) so that a busy, shared machine slows both alike.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

WORKER_FLAG = "--worker"
_RESULT_PREFIX = "BENCH-RESULT "
Worker = Callable[..., dict]


class WorkerError(RuntimeError):
    """A worker process failed; the message carries the end of its error output."""


def is_worker(argv: Sequence[str] | None = None) -> bool:
    argv = sys.argv[1:] if argv is None else argv
    return bool(argv) and argv[0] == WORKER_FLAG


def worker_main(workers: Mapping[str, Worker], argv: Sequence[str] | None = None) -> int:
    """In a worker process: run `workers[NAME](*ARGS)` and print its result with the peak RSS."""
    argv = sys.argv[1:] if argv is None else argv
    name, *args = argv[1:]
    result = workers[name](*args)
    result["peak_rss_mib"] = peak_rss_mib()
    print(_RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


def run_worker(script: str | os.PathLike, name: str, *args: object, timeout: float = 3600) -> dict:
    """Run `script --worker name args...` in a fresh Python and return the dict it printed."""
    command = [sys.executable, os.fspath(script), WORKER_FLAG, name, *map(str, args)]
    # TensorFlow's start-up banners go to stderr; keep them out of the way unless it fails.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    results = [line for line in done.stdout.splitlines() if line.startswith(_RESULT_PREFIX)]
    if done.returncode or not results:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise WorkerError(f"worker {name} {args} exited with {done.returncode}:\n{tail}")
    return json.loads(results[-1].removeprefix(_RESULT_PREFIX))


def interleaved(names: Sequence[str], rounds: int) -> Iterator[tuple[int, str]]:
    """(round, name) in A B, B A, A B ... order: neither side always goes first."""
    for round_number in range(1, rounds + 1):
        order = names if round_number % 2 else list(reversed(names))
        for name in order:
            yield round_number, name


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
