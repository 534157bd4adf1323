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
