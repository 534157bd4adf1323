"""The benches are run by hand, not by `make test`: at least check that each one still imports
what it uses from the library (a renamed helper once broke one unseen)."""

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
STREAMLIT_SCRIPTS = {"minimal_app"}  # run by `streamlit run`, not imported
BENCHES = sorted(
    path.stem for path in (REPO_ROOT / "bench").glob("*.py") if path.stem not in STREAMLIT_SCRIPTS
)


def test_every_bench_imports():
    assert len(BENCHES) >= 10 and "classroom" in BENCHES
    done = subprocess.run(
        [sys.executable, "-c", "; ".join(f"import {name}" for name in BENCHES)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT / "bench",
        env={"PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": ""},
    )
    assert done.returncode == 0, done.stderr[-2000:]
