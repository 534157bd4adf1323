import gc
import subprocess
import sys
import time
import weakref
from pathlib import Path

from app_pages import garbage

REPO_ROOT = Path(__file__).resolve().parents[1]


class Node:
    """An object in a reference cycle: only a full collection frees it."""

    def __init__(self) -> None:
        self.me = self


def test_the_collector_thread_frees_reference_cycles_and_starts_once(monkeypatch):
    monkeypatch.setattr(garbage, "COLLECT_EVERY_SECONDS", 0.05)
    garbage.collect_garbage_regularly.clear()
    gc.disable()  # only the thread may collect
    collector = garbage.collect_garbage_regularly()
    try:
        cycle = weakref.ref(Node())
        deadline = time.monotonic() + 5
        while cycle() is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert cycle() is None
        assert collector.thread.is_alive() and collector.thread.daemon
        assert garbage.collect_garbage_regularly() is collector  # one per process
    finally:
        collector.stop()
        garbage.collect_garbage_regularly.clear()
        gc.enable()
    assert not collector.thread.is_alive()


MALLOC_BLOCKS = """
import ctypes, sys
import numpy as np
from app_pages import garbage

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split())]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "fixed":
    garbage.fix_mmap_threshold()
np.ones(4 << 20, np.uint8)  # a large block, freed at once
before = libc.mallinfo2().hblkhd
canvas = np.ones((280, 280, 4), np.uint8)
print(libc.mallinfo2().hblkhd - before)
"""


def mapped_bytes_of_a_canvas(threshold: str) -> int:
    """How much more malloc holds in mappings of their own while a canvas-sized array lives,
    after a larger block was freed, in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", MALLOC_BLOCKS, threshold],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    return int(done.stdout)


def test_canvas_sized_blocks_stay_in_mappings_freed_with_them_once_the_threshold_is_fixed():
    canvas_bytes = 280 * 280 * 4
    assert mapped_bytes_of_a_canvas("glibc's own") == 0  # it came from a heap, kept when freed
    assert mapped_bytes_of_a_canvas("fixed") >= canvas_bytes
