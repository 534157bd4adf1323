"""A saved model in the formats other runtimes read, each with its model card inside.

- `keras`: a `.keras` file, Keras 3's own format (`.h5` is the one it calls legacy), read by
  `keras.models.load_model`; the card is an extra entry of the zip, `model_card.md`.
- `savedmodel`: TF Serving's layout, `PATH/<version>/saved_model.pb`, whose `serve` signature
  takes (n, 28, 28) float32 in [0, 1]; exporting to a PATH that holds versions adds the next
  one. The card is `<version>/assets.extra/model_card.md`, where TF Serving keeps extras.
- `tflite`: a LiteRT flatbuffer, the card in its metadata under "model_card".
- `onnx`: an ONNX file with a dynamic batch, the card in its metadata_props.

Keras' `model.export` writes the last three. Everything is written to a temporary name beside
the output and moved onto it at the end, so a failed export leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mnist_core.files import chosen_path
from mnist_core.preprocess import MNIST_STROKE_WIDTH
from mnist_core.store import SavedModel, load_model

FORMATS = ("keras", "savedmodel", "tflite", "onnx")
SUFFIXES = {"keras": ".keras", "savedmodel": "-savedmodel", "tflite": ".tflite", "onnx": ".onnx"}
CARD_NAME = "model_card.md"
CARD_KEY = "model_card"  # the name of the card in LiteRT's metadata and ONNX's metadata_props
DEFAULT_EXPORTS_DIR = Path(__file__).resolve().parent.parent / "exports"
EXPORTS_DIR_ENV_VAR = "MNIST_EXPORTS_DIR"
_VERSION = re.compile(r"^[0-9]+$")


_READ_IMAGE = """
# digit.png: a 28x28 white digit on black, as mnist_core.preprocess.to_mnist makes one
image = np.asarray(Image.open("digit.png").convert("L"), dtype=np.float32)[None] / 255
"""
_CLASSIFY = {  # format -> (the runtime's import, how it classifies `image`)
    "keras": (
        "import keras",
        """model = keras.models.load_model("{file}")
print(model.predict(image, verbose=0).argmax())""",
    ),
    "savedmodel": (
        "import tensorflow as tf",
        """model = tf.saved_model.load("{file}")  # one version: TF Serving serves its folder
print(model.serve(image).numpy().argmax())""",
    ),
    "tflite": (
        "from ai_edge_litert.interpreter import Interpreter",
        """interpreter = Interpreter(model_path="{file}")
interpreter.allocate_tensors()
interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
interpreter.invoke()
print(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).argmax())""",
    ),
    "onnx": (
        "import onnxruntime",
        """session = onnxruntime.InferenceSession("{file}")
print(session.run(None, {{session.get_inputs()[0].name: image}})[0].argmax())""",
    ),
}


def snippet(fmt: str, file: str) -> str:
    """Python that loads the export at `file` in its runtime and classifies digit.png."""
    runtime_import, classify = _CLASSIFY[check_format(fmt)]
    imports = sorted(["import numpy as np", runtime_import], key=lambda line: line.split()[1])
    header = "\n".join([*imports, "from PIL import Image"])
    return f"{header}\n{_READ_IMAGE}\n{classify.format(file=file)}\n"


class ExportError(ValueError):
    """The export cannot be made; the message says why. Nothing was written."""


def default_output(model_name: str, fmt: str, directory=None) -> Path:
    """Where an export goes unless told: exports/<name>.keras, exports/<name>-savedmodel, ..."""
    folder = chosen_path(directory, EXPORTS_DIR_ENV_VAR, DEFAULT_EXPORTS_DIR)
    return folder / f"{model_name}{SUFFIXES[check_format(fmt)]}"


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: choose {', '.join(FORMATS)}")
    return fmt


def export_model(saved: SavedModel, fmt: str, out: str | os.PathLike | None = None) -> Path:
    """Write `saved` in `fmt` to `out` (default: `default_output`); return what was written:
    the file, or for `savedmodel` the new version's folder."""
    check_format(fmt)
    out = Path(out) if out is not None else default_output(saved.name, fmt)
    target = _savedmodel_version(out) if fmt == "savedmodel" else _free_file(out, fmt)
    model = load_model(saved.path)
    model(np.zeros((1, 28, 28), np.float32))  # ONNX's converter needs a model called once
    card = model_card(saved)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_beside(target) as temp:
        written = temp / target.name
        try:
            _WRITERS[fmt](model, written, card)
        except Exception as error:  # each converter fails in its own way: say which and why
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise ExportError(f"{saved.name} cannot be exported as {fmt}: {first_line}") from error
        try:
            os.rename(written, target)  # refuses, for a folder, if one appeared meanwhile
        except OSError as error:
            raise ExportError(f"{target} was taken while exporting: {error}") from None
    return target


def model_card(saved: SavedModel) -> str:
    """What someone deploying the model needs to know, as Markdown: what it is, what it
    scored, and the input it expects."""
    record = saved.record
    config = record.config
    evaluation = record.evaluation
    settings = ", ".join(f"{key} {value}" for key, value in config.to_dict().items())
    tuned = record.fine_tuned
    lines = [
        f"# {saved.name}: a handwritten-digit classifier",
        "",
        f"- Architecture: {config.architecture}; settings: {settings}.",
        f"- Trained on MNIST ({record.data_source}); {record.epochs_run} epochs"
        + (" (stopped early)" if record.stopped_early else "")
        + (
            f"; fine-tuned from {tuned.base_model} on {tuned.drawings} labelled drawings"
            if tuned
            else ""
        )
        + f"; saved {record.created:%Y-%m-%d %H:%M} UTC.",
        f"- MNIST test set (10,000 digits): accuracy {evaluation.accuracy:.2%}, "
        f"loss {evaluation.loss:.4f}.",
        f"- Per digit (recall): {_per_digit(evaluation)}.",
        f"- Drawn digits: {_drawn_accuracy(saved)}",
        "",
        "## Input",
        "",
        "A batch of (n, 28, 28) float32 in [0, 1]: a white digit on black, prepared the way",
        "MNIST's were. `mnist_core.preprocess.to_mnist` does it for any picture: crop to the ink,",
        f"even the strokes to {MNIST_STROKE_WIDTH:.0%} of the digit's longer side, fit into",
        "20x20 keeping the aspect ratio, and centre on the centre of mass in 28x28.",
        "",
        "## Output",
        "",
        "(n, 10) probabilities (softmax) of the digits 0-9; the answer is the largest.",
        "",
    ]
    return "\n".join(lines)


def _drawn_accuracy(saved: SavedModel) -> str:
    """The model's score on the drawn-digit test set, where it is built, with what it is."""
    from mnist_core.classify import Classifier
    from mnist_core.drawn import DrawnSetError, evaluate_drawn, load_drawn_set

    try:
        drawn = load_drawn_set(pictures=False)
    except DrawnSetError as error:
        return f"not measured ({error})."
    scored = evaluate_drawn(Classifier.load(saved.path), drawn)
    return (
        f"accuracy {scored.accuracy:.2%} on {scored.count:,} digits drawn on the app's canvas "
        "by simulated writers, each tracing a handwriting font no model here trained on "
        "(real people's drawings read somewhat worse: see the project's README)."
    )


def _per_digit(evaluation) -> str:
    report = evaluation.report
    return ", ".join(f"{digit} {row['recall']:.1%}" for digit, row in report.items())


def _write_keras(model, path: Path, card: str) -> None:
    model.save(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(CARD_NAME, card)


def _write_savedmodel(model, path: Path, card: str) -> None:
    model.export(str(path), format="tf_saved_model", verbose=False)
    extras = path / "assets.extra"
    extras.mkdir()
    (extras / CARD_NAME).write_text(card, encoding="utf-8")


def _write_tflite(model, path: Path, card: str) -> None:
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model.export(str(path), format="litert", verbose=False)
    flatbuffer = flatbuffer_utils.read_model(str(path))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(card.encode(), dtype=np.uint8)
    flatbuffer.buffers.append(buffer)
    metadata = schema.MetadataT()
    metadata.name = CARD_KEY
    metadata.buffer = len(flatbuffer.buffers) - 1
    flatbuffer.metadata = [*(flatbuffer.metadata or []), metadata]
    flatbuffer_utils.write_model(flatbuffer, str(path))


def _write_onnx(model, path: Path, card: str) -> None:
    import onnx

    model.export(str(path), format="onnx", verbose=False)
    graph = onnx.load(str(path))
    entry = graph.metadata_props.add()
    entry.key, entry.value = CARD_KEY, card
    onnx.save(graph, str(path))


_WRITERS = {
    "keras": _write_keras,
    "savedmodel": _write_savedmodel,
    "tflite": _write_tflite,
    "onnx": _write_onnx,
}


def _free_file(out: Path, fmt: str) -> Path:
    """`out`, checked to be a free file name with the format's suffix."""
    suffix = SUFFIXES[fmt]
    if out.suffix != suffix:
        raise ExportError(f"a {fmt} export is a {suffix} file: {out} does not end in {suffix}")
    if out.exists():
        raise ExportError(f"{out} exists already: choose another --out")
    return out


def _savedmodel_version(out: Path) -> Path:
    """The next version folder in `out`: 1 for a new folder, else one past the highest."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} is a file: a SavedModel export is a folder of versions")
    entries = list(out.iterdir()) if out.is_dir() else []
    others = [entry.name for entry in entries if not _VERSION.match(entry.name)]
    if others:
        raise ExportError(
            f"{out} holds {others[0]!r}, which is not a version: TF Serving reads a folder of "
            "numbered versions only, so choose an empty or new folder"
        )
    versions = [int(entry.name) for entry in entries]
    return out / str(max(versions, default=0) + 1)


@contextlib.contextmanager
def _temporary_beside(target: Path) -> Iterator[Path]:
    """A temporary folder next to `target` (so the final move is a rename), removed after."""
    folder = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def read_card(path: str | os.PathLike) -> str:
    """The model card inside an export made here (a file, or a SavedModel version's folder)."""
    path = Path(path)
    if path.is_dir():
        return (path / "assets.extra" / CARD_NAME).read_text(encoding="utf-8")
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as archive:
            return archive.read(CARD_NAME).decode()
    if path.suffix == ".onnx":
        import onnx

        props = {entry.key: entry.value for entry in onnx.load(str(path)).metadata_props}
        return props[CARD_KEY]
    from tensorflow.lite.tools import flatbuffer_utils

    flatbuffer = flatbuffer_utils.read_model(str(path))
    (index,) = [m.buffer for m in flatbuffer.metadata if m.name.decode() == CARD_KEY]
    return bytes(flatbuffer.buffers[index].data).decode()


def size_of(path: Path) -> int:
    """Bytes in an export: its file, or every file in its folder."""
    if path.is_dir():
        return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())
    return path.stat().st_size
