import gc
import time
import weakref

from app_pages import garbage


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
