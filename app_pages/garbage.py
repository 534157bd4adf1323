"""Garbage collection at a better moment than after every script run.

Streamlit runs a full `gc.collect()` after every script run, each stroke's included, which was
most of a stroke's server CPU; `.streamlit/config.toml` turns that off (`runner.postScriptGC`).
Without any full collection, though, reference cycles left by closed sessions pile up until
Python's own collector reaches its oldest generation, then all at once. So one thread per
server process collects every COLLECT_EVERY_SECONDS instead: cycles are freed within seconds,
at the cost of one collection now and then rather than one per stroke.
"""

from __future__ import annotations

import gc
import threading

import streamlit as st

COLLECT_EVERY_SECONDS = 10.0


class Collector:
    """A thread that runs `gc.collect()` every `seconds` until `stop()`."""

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
            gc.collect()


@st.cache_resource
def collect_garbage_regularly() -> Collector:
    """Start, once per server process, the thread that collects garbage regularly."""
    return Collector(COLLECT_EVERY_SECONDS)
