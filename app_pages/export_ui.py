"""The Models page's "Export for deployment": a saved model as .keras, a TF Serving SavedModel
(zipped), LiteRT or ONNX, with a snippet that loads it and reads a digit.

The export runs `python -m mnist_core export` in a process of its own: it needs TensorFlow,
which the server never imports (the Draw page starts fast and stays small because of it).
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import streamlit as st

from app_pages.active_model import file_version
from mnist_core.export import FORMATS, default_output, snippet
from mnist_core.store import SavedModel

FORMAT_NAMES = {
    "keras": "Keras (.keras)",
    "savedmodel": "TF Serving (SavedModel, .zip)",
    "tflite": "LiteRT (.tflite)",
    "onnx": "ONNX (.onnx)",
}
RUNTIMES = {
    "keras": "Keras 3 (`pip install keras tensorflow`)",
    "savedmodel": "TensorFlow or TF Serving: unzip it, and serve the folder (it holds version 1)",
    "tflite": "LiteRT (`pip install ai-edge-litert`), on phones and small boards too",
    "onnx": "ONNX Runtime (`pip install onnxruntime`), from Python, C++, C#, Java or JavaScript",
}
EXPORT_TIMEOUT_S = 300
_REQUESTED = "export_requested"  # the (model name, file version, format) Prepare was pressed for
_PREPARED = "export_prepared"  # (model name, file version, format) -> (file name, bytes)


def export_ui(saved: SavedModel) -> None:
    with st.expander("Export for deployment", key="export_panel"):
        fmt = st.segmented_control(
            "Format", FORMATS, format_func=FORMAT_NAMES.get, default="onnx", key="export_format"
        )
        if fmt is None:
            return
        st.caption(
            f"Runs in {RUNTIMES[fmt]}. A model card (its settings, scores and the input it "
            "expects) is inside the export."
        )
        wanted = (saved.name, file_version(saved), fmt)
        prepared = st.session_state.get(_PREPARED)
        if prepared is None or prepared[0] != wanted:
            prepared = _prepare(saved, wanted)
            if prepared is None:
                return
        _wanted, file_name, data = prepared
        st.download_button(
            f"Download {file_name}",
            data=data,
            file_name=file_name,
            mime="application/octet-stream",
            type="primary",
            key="export_download",
        )
        unpacked = default_output(saved.name, fmt).name + ("/1" if fmt == "savedmodel" else "")
        st.markdown("Load it and read one digit (a 28x28 white-on-black `digit.png`):")
        st.code(snippet(fmt, unpacked), language="python")


def _prepare(saved: SavedModel, wanted: tuple) -> tuple | None:
    """The prepared download for `wanted`, or None: Prepare not pressed for it yet, or the
    export failed (said on the page).

    The press and the result are kept in the session, not in the run: another rerun (a
    reconnect, a click elsewhere) can end this run at its next element, and the export must
    survive it. The result is stored before anything else is drawn.
    """
    if st.session_state.get(_REQUESTED) != wanted:
        st.session_state.pop(_REQUESTED, None)  # pressed for another model or format
        st.button(
            f"Prepare the {FORMAT_NAMES[wanted[2]]} download",
            key="export_prepare",
            on_click=st.session_state.__setitem__,
            args=(_REQUESTED, wanted),
        )
        return None
    with st.spinner("Exporting: TensorFlow starts in a process of its own…"):
        try:
            result = _export(saved, wanted[2])
        finally:  # tried once per press, even if it raised
            del st.session_state[_REQUESTED]
        prepared = None if isinstance(result, str) else (wanted, *result)
        if prepared is not None:
            st.session_state[_PREPARED] = prepared
    if prepared is None:
        st.error(f"The export failed: {result}")
    return prepared


def _export(saved: SavedModel, fmt: str) -> tuple[str, bytes] | str:
    """(the download's file name, its bytes), or the one line saying why it failed."""
    with tempfile.TemporaryDirectory(prefix="mnist-export-") as folder:
        out = Path(folder) / default_output(saved.name, fmt).name
        command = [sys.executable, "-m", "mnist_core", "export", str(saved.path), "--format", fmt]
        try:
            completed = subprocess.run(
                [*command, "--out", str(out)],
                capture_output=True,
                text=True,
                timeout=EXPORT_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return f"it took longer than {EXPORT_TIMEOUT_S} s"
        if completed.returncode != 0:
            errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
            return errors[-1].removeprefix("error: ") if errors else "the exporter crashed"
        if fmt != "savedmodel":
            return out.name, out.read_bytes()
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for file in sorted(out.rglob("*")):
                zipped.write(file, file.relative_to(folder).as_posix())
        return f"{out.name}.zip", archive.getvalue()
