"""One BLAS thread per server process.

The Draw page classifies one drawing per stroke: matrix products far too small to share out.
OpenBLAS still hands each one to its threads, which then spin waiting for the next; with many
people drawing, that spinning took most of a stroke's server CPU (`bench/rerun_floor.py`).
A server's sessions already keep its cores busy with their own reruns.
"""

from __future__ import annotations

import functools
import threading

from threadpoolctl import threadpool_limits


@functools.cache
def use_one_blas_thread() -> None:
    """Limit the BLAS libraries NumPy loaded to one thread, for the rest of the process.

    Set from a thread of its own: threadpoolctl keeps the thread that set the limit, and a
    script run's thread holds its session's state, which would then never be freed."""
    setter = threading.Thread(
        target=threadpool_limits, kwargs={"limits": 1, "user_api": "blas"}, name="blas-limit"
    )
    setter.start()
    setter.join()
