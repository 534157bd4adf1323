"""Saved models on disk: `<name>.h5` (the Keras model) beside `<name>.json` (its record).

A model is listed only once its JSON sidecar (its `record.ModelRecord`) exists, and both files
are written to a temporary name and then moved into place, so an interrupted save never shows
up half-done.
Loading reads the file's layer list first and refuses anything but the plain layers we
build: no code stored in a model file is ever run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from mnist_core.files import chosen_path, flush_to_disk, temporary_file, write_atomically
from mnist_core.record import ModelRecord, RecordError

DEFAULT_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
MODELS_DIR_ENV_VAR = "MNIST_MODELS_DIR"
SIDECAR_FORMAT = 1
_TEMP_PREFIX = ".tmp-"
MAX_NAME_LENGTH = 64
_NAME_PATTERN = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_NAME_LENGTH - 1}}}$")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# Exactly what mnist_core.model builds and mnist_core.classify can run.
SAFE_LAYERS = frozenset(
    {"InputLayer", "Flatten", "Dense", "Dropout", "Reshape", "Conv2D", "MaxPooling2D"}
)
SAFE_ACTIVATIONS = frozenset({"relu", "softmax", "linear"})


class ModelFileError(ValueError):
    """A model file is missing, corrupt, unsafe or not a 28x28 -> 10 digit classifier."""


@dataclass(frozen=True)
class SavedModel:
    """One saved model: its files and the record written beside it."""

    name: str
    path: Path  # the .h5 file
    record: ModelRecord

    @property
    def sidecar_path(self) -> Path:
        return self.path.with_suffix(".json")


def models_dir(directory: str | os.PathLike | None = None) -> Path:
    """The folder models live in: the argument, else $MNIST_MODELS_DIR, else ./models."""
    return chosen_path(directory, MODELS_DIR_ENV_VAR, DEFAULT_MODELS_DIR)


def check_name(name: str) -> str:
    """A model name safe to use as a file name inside the models folder, or ModelFileError."""
    if not _NAME_PATTERN.match(name) or name.endswith((".h5", ".json")):
        raise ModelFileError(
            f"{name!r} is not a valid model name: use up to {MAX_NAME_LENGTH} letters, digits, "
            "'.', '_' or '-', starting with a letter or digit"
        )
    return name


def with_suffix(name: str, suffix: str) -> str:
    """`name` + `suffix`, `name` shortened as needed to keep within MAX_NAME_LENGTH."""
    return f"{name[: MAX_NAME_LENGTH - len(suffix)]}{suffix}"


def default_name(architecture: str) -> str:
    """What a model nobody named is called: its architecture and the time, `mlp-20261128-101500`."""
    return f"{architecture}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"


def is_taken(name: str, directory=None) -> bool:
    """Whether a file of a model called `name` exists, listed or not (a save under way)."""
    h5_path = models_dir(directory) / f"{name}.h5"
    return h5_path.exists() or h5_path.with_suffix(".json").exists()


def save_model(
    model, record: ModelRecord, name: str, directory=None, *, rename_if_taken: bool = False
) -> SavedModel:
    """Write `model` and its `record` (stamped with the time and library versions) as
    `<name>.h5` + `<name>.json`, atomically.

    The name is claimed with a hard link, which fails when the file exists, so two saves at
    once never overwrite each other or a model saved before: the later one raises
    ModelFileError, or with `rename_if_taken` takes the first free `<name>-2`, `<name>-3`, ...
    """
    folder = models_dir(directory)
    folder.mkdir(parents=True, exist_ok=True)
    check_name(name)
    with temporary_file(folder, _temp_prefix(), ".h5") as temp_h5, _no_legacy_warning():
        model.save(temp_h5)
        flush_to_disk(temp_h5)
        h5_path = _claim_name(temp_h5, name, rename_if_taken)
    record = dataclasses.replace(
        record, created=datetime.now(UTC).replace(microsecond=0), versions=_library_versions()
    )
    sidecar = {"format": SIDECAR_FORMAT, "name": h5_path.stem, **record.to_dict()}
    _write_json_atomically(h5_path.with_suffix(".json"), sidecar)
    return SavedModel(h5_path.stem, h5_path, record)


@contextlib.contextmanager
def _no_legacy_warning() -> Iterator[None]:
    """Keras warns on every `.h5` save that the format is legacy; `.h5` is this project's
    format on purpose, so the warning would only leave users wondering."""
    absl = logging.getLogger("absl")
    quiet = _WithoutLegacyWarning()
    absl.addFilter(quiet)
    try:
        yield
    finally:
        absl.removeFilter(quiet)


class _WithoutLegacyWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "considered legacy" not in record.getMessage()


def _claim_name(temp_h5: Path, name: str, rename_if_taken: bool) -> Path:
    """Link the written `temp_h5` as `<name>.h5` (or the first free `<name>-N.h5`)."""
    candidates = (with_suffix(name, f"-{n}") if n > 1 else name for n in itertools.count(1))
    for candidate in candidates if rename_if_taken else [name]:
        if is_taken(check_name(candidate), temp_h5.parent):
            continue
        h5_path = temp_h5.parent / f"{candidate}.h5"
        try:
            os.link(temp_h5, h5_path)
        except FileExistsError:  # another save took it since we looked
            continue
        return h5_path
    raise ModelFileError(f"a model named {name!r} already exists in {temp_h5.parent}")


def list_models(directory=None) -> list[SavedModel]:
    """Every complete saved model, newest first; leftovers of interrupted saves are removed."""
    return scan_models(directory)[0]


def scan_models(directory=None) -> tuple[list[SavedModel], dict[str, str]]:
    """(every complete saved model, newest first; name -> why, for each model whose record
    cannot be read, which is therefore not listed). Leftovers of interrupted saves are removed."""
    folder = models_dir(directory)
    if not folder.is_dir():
        return [], {}
    remove_leftovers(folder)
    models, unreadable = [], {}
    for sidecar in folder.glob("*.json"):
        h5_path = sidecar.with_suffix(".h5")
        if not h5_path.is_file():
            continue  # being deleted: its record goes first, then its file
        try:
            models.append(read_saved_model(h5_path))
        except ModelFileError as error:
            unreadable[sidecar.stem] = str(error)
    models.sort(key=lambda m: (m.record.created, m.name), reverse=True)
    return models, unreadable


def find_model(name: str, directory=None) -> SavedModel:
    """The saved model called `name`, or ModelFileError saying why there is none."""
    h5_path = models_dir(directory) / f"{check_name(name)}.h5"
    if not h5_path.with_suffix(".json").is_file():
        raise ModelFileError(f"no saved model named {name!r} in {models_dir(directory)}")
    return read_saved_model(h5_path)


def read_saved_model(h5_path: str | os.PathLike) -> SavedModel:
    """The model saved at `h5_path` with the record beside it, or ModelFileError."""
    h5_path = Path(h5_path)
    sidecar = h5_path.with_suffix(".json")
    if not h5_path.is_file():
        raise ModelFileError(f"no model file at {h5_path}")
    try:
        status = sidecar.stat()
        record = _read_record(str(sidecar), status.st_ino, status.st_mtime_ns, status.st_size)
    except FileNotFoundError:
        raise ModelFileError(f"{h5_path} has no record beside it ({sidecar.name})") from None
    except RecordError as error:  # a ValueError: first
        raise ModelFileError(f"{sidecar} is not a model record this app reads: {error}") from None
    except (OSError, ValueError) as error:
        raise ModelFileError(f"{sidecar} cannot be read: {error}") from None
    return SavedModel(h5_path.stem, h5_path, record)


@functools.lru_cache(maxsize=64)
def _read_record(sidecar: str, inode: int, modified_ns: int, size: int) -> ModelRecord:
    """The record in `sidecar`, parsed once per version of the file (the other arguments say
    which): the app lists every model on every page run, and a record holds its mistakes'
    images. Records are written whole and renamed into place, so a new one is a new inode."""
    return ModelRecord.from_dict(json.loads(Path(sidecar).read_text()))


def delete_model(name: str, directory=None) -> None:
    """Remove a saved model: its record first, so it is never listed without its file."""
    h5_path = models_dir(directory) / f"{check_name(name)}.h5"
    h5_path.with_suffix(".json").unlink(missing_ok=True)
    h5_path.unlink(missing_ok=True)


def remove_leftovers(directory=None) -> list[Path]:
    """Delete temporary files of saves whose process died; return what was removed.

    A temporary file names the process writing it, so a save still running in this or
    another live process is left alone.
    """
    removed = []
    for path in models_dir(directory).glob(f"{_TEMP_PREFIX}*"):
        if not _writer_alive(path):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _writer_alive(temp: Path) -> bool:
    """Whether the process named in a temporary file's name is still running."""
    try:
        pid = int(temp.name.removeprefix(_TEMP_PREFIX).split("-", 1)[0])
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True


def load_model(path: str | os.PathLike):
    """Load a `.h5` digit classifier after checking it is safe and has the right shape."""
    path = Path(path)
    check_model_file(path)
    import keras

    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # h5py and Keras raise many kinds for a broken file
        raise ModelFileError(f"{path} could not be loaded as a Keras model: {error}") from None
    if tuple(model.input_shape) != (None, 28, 28) or tuple(model.output_shape) != (None, 10):
        raise ModelFileError(
            f"{path} maps {model.input_shape} to {model.output_shape}; "
            "a digit classifier maps (None, 28, 28) to (None, 10)"
        )
    return model


@dataclass(frozen=True)
class LayerSpec:
    """One layer as stored in a `.h5` file: its class name, its config and its weights."""

    kind: str
    config: dict
    weights: tuple[np.ndarray, ...]


def read_layers(path: str | os.PathLike) -> list[LayerSpec]:
    """The checked layer stack of a `.h5` model, read with h5py alone (no TensorFlow)."""
    path = Path(path)
    layers = check_model_file(path)
    import h5py

    try:
        with h5py.File(path, "r") as file:
            stored = file["model_weights"]
            return [
                LayerSpec(
                    layer["class_name"],
                    layer["config"],
                    _layer_weights(stored, layer["config"]["name"]),
                )
                for layer in layers
            ]
    except (OSError, KeyError, ValueError, TypeError):
        raise ModelFileError(f"{path} holds a model whose weights cannot be read") from None


def _layer_weights(stored, name: str) -> tuple[np.ndarray, ...]:
    """A layer's weights in Keras' order; none for a layer without a group (an input)."""
    if name not in stored:
        return ()
    group = stored[name]
    return tuple(np.asarray(group[w], dtype=np.float32) for w in group.attrs["weight_names"])


def check_model_file(path: Path) -> list[dict]:
    """The layer list of an HDF5 Keras model: a plain stack of `SAFE_LAYERS`, else an error."""
    try:
        with path.open("rb") as file:
            signature = file.read(len(_HDF5_SIGNATURE))
    except OSError as error:
        raise ModelFileError(f"{path} cannot be read: {error.strerror}") from None
    if signature != _HDF5_SIGNATURE:
        raise ModelFileError(f"{path} is not an HDF5 (.h5) file")
    import h5py

    try:
        with h5py.File(path, "r") as file:
            layers = json.loads(file.attrs["model_config"])["config"]["layers"]
        kinds = [(layer["class_name"], layer["config"]) for layer in layers]
    except (OSError, KeyError, ValueError, TypeError):
        raise ModelFileError(f"{path} is an HDF5 file but holds no Keras model") from None
    for kind, config in kinds:
        activation = config.get("activation", "linear")
        if kind not in SAFE_LAYERS:
            raise ModelFileError(f"{path} contains a {kind} layer, which this app does not load")
        if activation not in SAFE_ACTIVATIONS:
            raise ModelFileError(
                f"{path} uses activation {activation!r}, which this app does not load"
            )
    if not _is_a_stack(layers):
        raise ModelFileError(f"{path} is not a plain stack of layers, which this app needs")
    return layers


def _is_a_stack(layers: list[dict]) -> bool:
    """Whether each layer takes the previous one's output (Sequential models always do)."""
    for previous, layer in itertools.pairwise(layers):
        nodes = layer.get("inbound_nodes")
        if nodes is None:
            continue  # Sequential: the order is the graph
        try:
            (node,) = nodes
            (argument,) = node["args"]
            source = argument["config"]["keras_history"][0]
        except (KeyError, TypeError, ValueError, IndexError):
            return False
        if source != previous["config"]["name"]:
            return False
    return True


def _temp_prefix() -> str:
    """Temporaries name the process writing them, so `remove_leftovers` spares live saves."""
    return f"{_TEMP_PREFIX}{os.getpid()}-"


def _write_json_atomically(path: Path, record: dict) -> None:
    text = json.dumps(record, indent=1)
    write_atomically(path, lambda temp: temp.write_text(text), prefix=_temp_prefix())


def _library_versions() -> dict[str, str]:
    from importlib.metadata import version

    names = ("tensorflow", "keras", "numpy", "h5py")
    return {"python": sys.version.split()[0], **{name: version(name) for name in names}}
