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
    # The page tests run the app, which starts a collector in this process: only ours may run.
    garbage.collect_garbage_regularly().stop()
    garbage.collect_garbage_regularly.clear()
    gc.disable()  # only the thread may collect
    collector = garbage.collect_garbage_regularly()
    try:
        deadline = time.monotonic() + 5
        while not gc.get_freeze_count() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert gc.get_freeze_count()  # the first round froze what it found alive
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
    assert gc.get_freeze_count() == 0  # nothing stays frozen once it stops


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


def numbers_printed_by(program: str, argument: str) -> list[int]:
    """What `program` prints when run with `argument` in a fresh Python process."""
    done = subprocess.run(
        [sys.executable, "-c", program, argument],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    return [int(line) for line in done.stdout.split()]


def mapped_bytes_of_a_canvas(threshold: str) -> int:
    """How much more malloc holds in mappings of their own while a canvas-sized array lives,
    after a larger block was freed, in a fresh process."""
    [mapped] = numbers_printed_by(MALLOC_BLOCKS, threshold)
    return mapped


def test_canvas_sized_blocks_stay_in_mappings_freed_with_them_once_the_threshold_is_fixed():
    canvas_bytes = 280 * 280 * 4
    assert mapped_bytes_of_a_canvas("glibc's own") == 0  # it came from a heap, kept when freed
    assert mapped_bytes_of_a_canvas("fixed") >= canvas_bytes


CLOSED_SESSIONS = """
import asyncio, gc, sys, tempfile, weakref
from pathlib import Path
from streamlit.runtime import Runtime, RuntimeConfig
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.runtime.memory_session_storage import MemorySessionStorage
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from app_pages import garbage

class Browser:
    def write_forward_msg(self, msg):
        pass

class Node:
    def __init__(self):
        self.me = self

def hold_a_cycle(session):  # what a session may hold in a cycle: only a collection frees it
    session.held = Node()
    return weakref.ref(session.held)

async def main(collector):
    script = Path(tempfile.mkdtemp()) / "app.py"
    script.write_text("")
    server = Runtime(RuntimeConfig(
        script_path=str(script),
        media_file_storage=MemoryMediaFileStorage("/media"),
        uploaded_file_manager=MemoryUploadedFileManager("/upload"),
        session_storage=MemorySessionStorage(ttl_seconds=0.2),
    ))
    await server.start()
    ids = [server.connect_session(Browser(), {}) for _ in range(3)]
    held = [hold_a_cycle(server.get_app_session(id_)) for id_ in ids]
    for id_ in ids:
        server.disconnect_session(id_)
    alive = lambda: sum(cycle() is not None for cycle in held)
    if collector == "collector":
        thread = garbage.Collector(0.05)
        for _ in range(500):  # until its first round has frozen the kept sessions
            if gc.get_freeze_count():
                break
            await asyncio.sleep(0.01)
        print(alive() if gc.get_freeze_count() else -1)
        await asyncio.sleep(1.0)  # the sessions' time to reconnect, many times over
        print(alive())  # what the thread alone freed
        thread.stop()
    else:
        await asyncio.sleep(1.0)
        gc.collect()
        print(alive())
    server.stop()
    await server.stopped

asyncio.run(main(sys.argv[1]))
"""


def sessions_alive_after_they_closed(collector: str) -> list[int]:
    """Of three sessions of a real Streamlit runtime, in a fresh process (the runtime is one
    per process), how many still hold a reference cycle after they closed and their reconnect
    time passed, with no other session coming or going; with the collector, first how many were
    holding it (kept to reconnect) when its first round froze what it found (-1: it did not)."""
    return numbers_printed_by(CLOSED_SESSIONS, collector)


def test_the_collector_thread_frees_closed_sessions_once_their_reconnect_time_is_over():
    assert sessions_alive_after_they_closed("none") == [3]  # Streamlit alone keeps them
    # Frozen while kept, they are freed once the server has no session left.
    assert sessions_alive_after_they_closed("collector") == [3, 0]
