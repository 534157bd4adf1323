"""Garbage collection at a better moment than after every script run, and freed memory given
back to the system.

Streamlit runs a full `gc.collect()` after every script run, each stroke's included, which was
most of a stroke's server CPU; `.streamlit/config.toml` turns that off (`runner.postScriptGC`).
Without any full collection, though, reference cycles left by closed sessions pile up until
Python's own collector reaches its oldest generation, then all at once. So one thread per
server process collects every COLLECT_EVERY_SECONDS instead: cycles are freed within seconds,
at the cost of one collection now and then rather than one per stroke.

A full collection walks every object alive, and most of them are the server's own: modules,
Keras, the model, which live as long as the process. So the thread freezes what survives its
first collection (`gc.freeze`), and later collections walk only what came since: a collection
then costs little even when one person draws alone, every stroke sharing it with few others.
Whatever a session held when it was frozen is freed once the server has had no session for a
round: the thread unfreezes everything, collects, and freezes what is left, the server's own.
(A collection asked for while another is under way returns at once, so a freeze that meets one
may keep that moment's garbage frozen until the next such round: rare, and bounded by it.)

Freed is not yet returned. glibc's malloc raises its mmap threshold each time a large block is
freed, so canvas-sized arrays soon come from the heaps of the script threads, where freeing
them leaves holes the heaps keep: the memory closed sessions used stayed with the process. A
fixed threshold (`mallopt`) keeps large blocks in mappings of their own, unmapped when freed,
and `malloc_trim` after each collection hands back the heaps' free pages. Elsewhere than glibc
both are skipped.

And a closed session is kept for a while in case its browser reconnects, in a cache that
drops it, once that time is over, only at its next write (the next session closing): after a
class leaves, its sessions and everything they hold would stay until someone else comes and
goes. The same thread drops them on time (on Streamlit's event loop, where its session store
lives) and shuts them down as Streamlit's own close does.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import threading

import streamlit as st
from streamlit import runtime

COLLECT_EVERY_SECONDS = 10.0
_SESSIONS_TIMEOUT_SECONDS = 5.0  # the event loop is busy: count the server as not empty
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's initial value, kept from then on
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's <malloc.h>


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not Linux, or not glibc
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


_GLIBC = _glibc()


def fix_mmap_threshold() -> None:
    """Keep large blocks out of malloc's heaps for good (see the module's docstring)."""
    if _GLIBC is not None:
        _GLIBC.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def collect(*, refreeze: bool = False) -> None:
    """A full collection of what is not frozen, then malloc's free pages handed back to the
    system. With `refreeze`, everything is collected, and what survives is frozen."""
    if refreeze:
        gc.unfreeze()
    gc.collect()
    if refreeze:
        gc.freeze()
    if _GLIBC is not None:
        _GLIBC.malloc_trim(0)


def sessions_after_forgetting_expired() -> int | None:
    """Have Streamlit's event loop drop and shut down the closed sessions whose time to
    reconnect is over (see the module's docstring); how many sessions it still has, open or
    kept to reconnect: 0 without a Streamlit server, None when it cannot tell (the server is
    starting or stopping, or busier than _SESSIONS_TIMEOUT_SECONDS). Streamlit's session store
    is not public: with another Streamlit that stores them differently, none are dropped."""
    if not runtime.exists():
        return 0
    server = runtime.get_instance()
    manager = getattr(server, "_session_mgr", None)
    if manager is None:
        return None
    storage = getattr(manager, "_session_storage", None)
    expire = getattr(getattr(storage, "_cache", None), "expire", None)

    async def forget_and_count() -> int:
        if callable(expire):
            for _session_id, info in expire():
                info.session.shutdown()
        return manager.num_sessions()

    try:
        loop = server._get_async_objs().eventloop
    except RuntimeError:  # the server is starting or stopping: no loop
        return None
    counting = forget_and_count()
    try:
        return asyncio.run_coroutine_threadsafe(counting, loop).result(_SESSIONS_TIMEOUT_SECONDS)
    except RuntimeError:  # the loop closed meanwhile
        counting.close()
        return None
    except TimeoutError:  # the loop is too busy to answer now
        return None


class Collector:
    """A thread that forgets expired sessions and collects every `seconds`, until `stop()`.
    The first time, and once the server has had no session for a whole round after having
    some, it collects everything and freezes what survives; otherwise it collects only what is
    not frozen."""

    def __init__(self, seconds: float) -> None:
        self._stopped = threading.Event()
        self.thread = threading.Thread(
            target=self._collect, args=(seconds,), name="garbage-collector", daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        """End the thread, and leave nothing frozen."""
        self._stopped.set()
        self.thread.join()
        gc.unfreeze()

    def _collect(self, seconds: float) -> None:
        visited = None  # whether sessions came since the last freeze; None: nothing frozen yet
        was_empty = False
        while not self._stopped.wait(seconds):
            empty = sessions_after_forgetting_expired() == 0  # None, unknown: not empty
            # Empty a round ago too: the last sessions have finished shutting down.
            if visited is None or (visited and empty and was_empty):
                collect(refreeze=True)
                visited = False
            else:
                collect()
            visited, was_empty = visited or not empty, empty


@st.cache_resource
def collect_garbage_regularly() -> Collector:
    """Once per server process: fix malloc's mmap threshold, and start the thread that collects
    garbage regularly."""
    fix_mmap_threshold()
    return Collector(COLLECT_EVERY_SECONDS)
