"""Garbage collection at a better moment than after every script run, and freed memory given
back to the system.

Streamlit runs a full `gc.collect()` after every script run, each stroke's included, which was
most of a stroke's server CPU; `.streamlit/config.toml` turns that off (`runner.postScriptGC`).
Without any full collection, though, reference cycles left by closed sessions pile up until
Python's own collector reaches its oldest generation, then all at once. So one thread per
server process collects every COLLECT_EVERY_SECONDS instead: cycles are freed within seconds,
at the cost of one collection now and then rather than one per stroke.

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

import contextlib
import ctypes
import gc
import threading

import streamlit as st
from streamlit import runtime

COLLECT_EVERY_SECONDS = 10.0
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


def collect() -> None:
    """A full collection, then malloc's free pages handed back to the system."""
    gc.collect()
    if _GLIBC is not None:
        _GLIBC.malloc_trim(0)


def forget_expired_sessions() -> None:
    """Have Streamlit's event loop drop and shut down the closed sessions whose time to
    reconnect is over (see the module's docstring). Its session store is not public: with
    another Streamlit that stores them differently, nothing is done."""
    if not runtime.exists():
        return
    server = runtime.get_instance()
    storage = getattr(getattr(server, "_session_mgr", None), "_session_storage", None)
    expire = getattr(getattr(storage, "_cache", None), "expire", None)
    if not callable(expire):
        return
    with contextlib.suppress(RuntimeError):  # the server is starting or stopping: no loop
        server._get_async_objs().eventloop.call_soon_threadsafe(_shut_down_expired, expire)


def _shut_down_expired(expire) -> None:
    for _session_id, info in expire():
        info.session.shutdown()


class Collector:
    """A thread that forgets expired sessions and runs `collect()` every `seconds`, until
    `stop()`."""

    def __init__(self, seconds: float) -> None:
        self._stopped = threading.Event()
        self.thread = threading.Thread(
            target=self._collect, args=(seconds,), name="garbage-collector", daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self.thread.join()

    def _collect(self, seconds: float) -> None:
        while not self._stopped.wait(seconds):
            forget_expired_sessions()
            collect()


@st.cache_resource
def collect_garbage_regularly() -> Collector:
    """Once per server process: fix malloc's mmap threshold, and start the thread that collects
    garbage regularly."""
    fix_mmap_threshold()
    return Collector(COLLECT_EVERY_SECONDS)
