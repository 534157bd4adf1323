"""The server runs NumPy's BLAS on one thread: a stroke's small matrix products gain nothing
from more, and idle BLAS threads spin on the CPU the other sessions need."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHECK = """
import numpy as np
from threadpoolctl import threadpool_info
from app_pages.blas_threads import use_one_blas_thread

def blas_threads():
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

before = blas_threads()
use_one_blas_thread()
print(before, blas_threads())
"""


def test_the_server_process_keeps_blas_to_one_thread():
    process = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "2"},
        capture_output=True,
        text=True,
        check=True,
    )
    before, after = process.stdout.strip().split("] [")
    assert before == "[2" and after == "1]"  # NumPy loaded a BLAS with 2 threads; now it has 1


CALLED_FROM_A_SCRIPT_THREAD = """
import gc, threading, weakref
import numpy as np
from app_pages.blas_threads import use_one_blas_thread

class SessionState:
    pass

script_thread = threading.Thread(target=use_one_blas_thread)
script_thread.state = SessionState()  # as a script run's thread holds its session's state
state = weakref.ref(script_thread.state)
script_thread.start()
script_thread.join()
del script_thread
gc.collect()
print(state() is None)
"""


def test_setting_it_from_a_script_run_keeps_nothing_of_that_run_alive():
    process = subprocess.run(
        [sys.executable, "-c", CALLED_FROM_A_SCRIPT_THREAD],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert process.stdout.strip() == "True"
