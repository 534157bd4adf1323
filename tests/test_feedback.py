import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from mnist_core import feedback
from mnist_core.classify import Classifier
from mnist_core.feedback import FeedbackError, FeedbackStore

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(tmp_path) -> FeedbackStore:
    return FeedbackStore.open(tmp_path / "feedback.sqlite")


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)


def _canvas(seed: int, shape=(280, 280, 4)) -> np.ndarray:
    """Random ink on a fifth of the pixels, black elsewhere."""
    rng = np.random.default_rng(seed)
    canvas = rng.integers(0, 256, shape, dtype=np.uint8)
    canvas[rng.random(shape[:2]) > 0.2] = 0
    return canvas


def _add(store: FeedbackStore, seed: int, label: int = 7, canvas_shape=(280, 280, 4)) -> int:
    """Add a drawing made from `seed`; `canvas_shape=None` adds it without a canvas."""
    canvas = None if canvas_shape is None else _canvas(seed, canvas_shape)
    return store.add(_image(seed), canvas, label, (label + 1) % 10, 0.75, "mlp-test")


def test_writes_and_reads_back(store):
    grey = _canvas(2, shape=(120, 100))
    ids = [
        store.add(_image(1), _canvas(1), 4, 9, 0.625, "cnn-a"),
        store.add(_image(2), grey, 2, 2, np.float32(0.5), "cnn-a"),
        store.add(_image(3), None, np.int64(0), 6, 1.0, ""),  # an upload: no canvas
    ]
    assert store.count() == 3 and len(set(ids)) == 3

    newest, middle, oldest = store.all()  # newest first
    assert [newest.id, middle.id, oldest.id] == ids[::-1]
    assert (oldest.label, oldest.predicted, oldest.confidence, oldest.model_name) == (
        4,
        9,
        0.625,
        "cnn-a",
    )
    assert not oldest.correct and middle.correct
    assert oldest.created.endswith("+00:00")
    np.testing.assert_array_equal(oldest.image, _image(1))
    np.testing.assert_array_equal(oldest.canvas, _canvas(1))
    np.testing.assert_array_equal(middle.canvas, grey)
    assert newest.canvas is None

    images, labels = store.arrays()
    assert images.dtype == np.uint8 and labels.dtype == np.uint8
    np.testing.assert_array_equal(images, [_image(3), _image(2), _image(1)])
    np.testing.assert_array_equal(labels, [0, 2, 4])


def test_the_file_is_wal_mode_sqlite_with_a_schema_version(store):
    _add(store, 1)
    connection = sqlite3.connect(store.path)
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA user_version").fetchone()[0] == feedback.SCHEMA_VERSION
    finally:
        connection.close()


def test_an_empty_store_gives_empty_arrays(store):
    images, labels = store.arrays()
    assert images.shape == (0, 28, 28) and labels.shape == (0,)
    assert store.all() == [] and store.count() == 0


def test_the_path_comes_from_the_argument_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(feedback.PATH_ENV_VAR, raising=False)
    assert feedback.feedback_path() == REPO / "data" / "feedback.sqlite"
    monkeypatch.setenv(feedback.PATH_ENV_VAR, str(tmp_path / "env" / "drawings.sqlite"))
    _add(FeedbackStore.open(), 1)
    assert (tmp_path / "env" / "drawings.sqlite").is_file()
    assert FeedbackStore.open(tmp_path / "arg.sqlite").path == tmp_path / "arg.sqlite"


def test_deletes_a_drawing_once(store):
    kept, gone = _add(store, 1), _add(store, 2)
    assert store.delete(gone) is True
    assert store.delete(gone) is False  # already gone, say deleted by another session
    assert [d.id for d in store.all()] == [kept]


def test_survives_a_restart(store):
    _add(store, 1, label=3)
    _add(store, 2, label=8)
    images, _ = store.arrays()
    pixel_sum = float(images.astype(np.float64).sum())
    other_process = (
        "import sys\n"
        "import numpy as np\n"
        "from mnist_core.feedback import FeedbackStore\n"
        "store = FeedbackStore.open(sys.argv[1])\n"
        "images, labels = store.arrays()\n"
        "print(store.count(), labels.tolist(), float(images.astype(np.float64).sum()))\n"
        "store.add(np.ones((28, 28), np.uint8), None, 5, 5, 0.9, 'from-the-other-process')\n"
        "print(sorted({'tensorflow', 'streamlit', 'sklearn'} & set(sys.modules)))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", other_process, str(store.path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.splitlines() == [f"2 [8, 3] {pixel_sum}", "[]"]  # nothing heavy imported
    assert store.count() == 3 and store.all()[0].model_name == "from-the-other-process"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"label": 10}, "label must be a whole number from 0 to 9"),
        ({"label": -1}, "label must be a whole number from 0 to 9"),
        ({"label": 3.0}, "label must be a whole number from 0 to 9"),
        ({"label": True}, "label must be a whole number from 0 to 9"),
        ({"label": "3"}, "label must be a whole number from 0 to 9"),
        ({"predicted": 11}, "predicted digit must be a whole number"),
        ({"confidence": 1.5}, "confidence must be a probability from 0 to 1"),
        ({"confidence": float("nan")}, "confidence must be a probability"),
        ({"confidence": "high"}, "confidence must be a number"),
        ({"model_name": None}, "model name must be text"),
        ({"model_name": "m" * 201}, "at most 200 characters"),
        ({"image28": np.zeros((28, 27), np.uint8)}, r"image must be 28x28 .* shape \(28, 27\)"),
        ({"image28": np.zeros(784, np.uint8)}, "image must be 28x28"),
        ({"image28": np.full((28, 28), "x")}, "image must be 28x28 uint8 pixels"),
        ({"image28": np.full((28, 28), 0.5)}, "image must be 28x28 uint8 pixels, not float64"),
        ({"canvas": np.zeros((280, 280, 4), np.float32)}, "canvas must be uint8"),
        ({"canvas": np.zeros((280, 280, 2), np.uint8)}, "canvas must be uint8 grey"),
        ({"canvas": np.zeros((280, 280, 4, 1), np.uint8)}, "canvas must be uint8 grey"),
        ({"canvas": np.zeros((281, 280, 4), np.uint8)}, "canvas is 280x281 pixels"),
        ({"canvas": np.zeros((0, 280), np.uint8)}, "not empty"),
    ],
)
def test_refuses_bad_input(store, change, message):
    arguments = {
        "image28": _image(1),
        "canvas": _canvas(1),
        "label": 3,
        "predicted": 5,
        "confidence": 0.5,
        "model_name": "mlp",
        **change,
    }
    with pytest.raises(FeedbackError, match=message):
        store.add(**arguments)
    assert store.count() == 0


def test_refuses_a_file_that_is_not_sqlite_naming_it(tmp_path):
    impostor = tmp_path / "notes.sqlite"
    impostor.write_text("these are my notes, not a database")
    with pytest.raises(FeedbackError, match=f"{impostor} is not a SQLite database"):
        FeedbackStore.open(impostor)
    assert impostor.read_text() == "these are my notes, not a database"
    with pytest.raises(FeedbackError, match=f"{tmp_path} is not a file"):
        FeedbackStore.open(tmp_path)
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 20)
    with pytest.raises(FeedbackError, match=f"{damaged} cannot be used as a drawing store"):
        FeedbackStore.open(damaged)


_EXCLUSIVE_PROBE = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], timeout=0)
try:
    print(connection.execute("PRAGMA journal_mode = DELETE").fetchone()[0])
except sqlite3.OperationalError as error:
    print(error)
"""


def test_opening_the_store_keeps_the_locks_of_this_processs_other_connections(tmp_path):
    """Another session's call, mid-read in this process, keeps its lock while a rerun opens
    the store: otherwise another server process may take the file to itself (here, to leave
    WAL mode; in a classroom, to delete the write-ahead log under the reader)."""
    path = tmp_path / "feedback.sqlite"
    FeedbackStore.open(path)
    reading = sqlite3.connect(path, isolation_level=None)
    reading.execute("BEGIN")
    reading.execute("SELECT count(*) FROM drawings").fetchone()

    FeedbackStore.open(path)
    probe = [sys.executable, "-c", _EXCLUSIVE_PROBE, str(path)]
    answer = subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()

    assert answer == "database is locked"
    reading.close()
    assert subprocess.run(probe, capture_output=True, text=True).stdout.strip() == "delete"


@pytest.mark.parametrize(
    "setup",
    ["CREATE TABLE invoices (total REAL)", "PRAGMA user_version = 99"],
    ids=["another app's database", "a newer schema"],
)
def test_refuses_a_sqlite_database_that_is_not_ours(tmp_path, setup):
    path = tmp_path / "other.sqlite"
    connection = sqlite3.connect(path)
    connection.execute(setup)
    connection.commit()
    connection.close()
    with pytest.raises(FeedbackError, match=f"{path} is a SQLite database but not one of"):
        FeedbackStore.open(path)


def test_a_store_file_replaced_by_another_database_is_refused_at_the_next_open(tmp_path):
    path = tmp_path / "feedback.sqlite"
    FeedbackStore.open(path).add(_image(1), None, 1, 1, 0.5, "m")
    FeedbackStore.open(path)  # opened again as it is
    path.unlink()  # a new file, which may even get the same inode number
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE invoices (total REAL)")
    connection.commit()
    connection.close()
    with pytest.raises(FeedbackError, match=f"{path} is a SQLite database but not one of"):
        FeedbackStore.open(path)


def test_export_then_import_into_a_fresh_store_gives_the_same_drawings(store, tmp_path):
    _add(store, 1, label=1)
    _add(store, 2, label=2, canvas_shape=(90, 60))
    _add(store, 3, label=3, canvas_shape=None)
    store.add(_image(4), None, 4, 4, 0.5, "m", person="Ada")
    export = tmp_path / "drawings.npz"
    assert store.export_npz(export) == 4
    with np.load(export, allow_pickle=False) as archive:
        assert set(archive.files) == feedback.NPZ_KEYS

    fresh = FeedbackStore.open(tmp_path / "fresh.sqlite")
    assert fresh.import_npz(export) == 4
    assert fresh.people() == store.people()
    for got, expected in zip(fresh.arrays(), store.arrays(), strict=True):
        np.testing.assert_array_equal(got, expected)
    for got, expected in zip(fresh.all(), store.all(), strict=True):
        assert (got.created, got.label, got.predicted, got.confidence, got.model_name) == (
            expected.created,
            expected.label,
            expected.predicted,
            expected.confidence,
            expected.model_name,
        )
        assert got.canvas_png == expected.canvas_png


V1_SCHEMA = """CREATE TABLE drawings (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL,
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    predicted INTEGER NOT NULL CHECK (predicted BETWEEN 0 AND 9),
    confidence REAL NOT NULL CHECK (confidence BETWEEN 0 AND 1), model_name TEXT NOT NULL,
    image BLOB NOT NULL CHECK (length(image) = 3136), canvas BLOB)"""


def test_a_schema_1_store_is_migrated_to_uint8_pixels_keeping_ids(tmp_path):
    """The previous version kept float32 pixels; opening its file converts them, once."""
    path = tmp_path / "old.sqlite"
    floats = [np.random.default_rng(i).random((28, 28), dtype=np.float32) for i in range(3)]
    with sqlite3.connect(path) as old:
        old.execute(V1_SCHEMA)
        old.execute("PRAGMA user_version = 1")
        for i, image in enumerate(floats):
            old.execute(
                "INSERT INTO drawings (created, label, predicted, confidence, model_name, image)"
                " VALUES (?, ?, 1, 0.5, 'old', ?)",
                (f"2026-11-0{i + 1}T10:00:00+00:00", i, image.astype("<f4").tobytes()),
            )
        old.execute("DELETE FROM drawings WHERE id = 3")  # the newest, deleted: 3 is never reused
    old.close()

    store = FeedbackStore.open(path)

    images, labels = store.arrays()
    assert images.dtype == np.uint8 and labels.tolist() == [1, 0]
    np.testing.assert_array_equal(images, np.rint(np.array(floats[1::-1]) * 255))
    assert [d.id for d in store.all()] == [2, 1]
    assert _add(store, 9) == 4
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == feedback.SCHEMA_VERSION
    FeedbackStore.open(path)  # opening again changes nothing
    assert store.count() == 3


def test_an_export_of_the_previous_format_imports_as_uint8(store, tmp_path):
    _add(store, 1, label=4)
    store.export_npz(tmp_path / "new.npz")
    with np.load(tmp_path / "new.npz", allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["format"] = np.array(1)
    arrays["images"] = arrays["images"] / np.float32(255)  # format 1: float32 in [0, 1]
    del arrays["people"]  # and nobody's name
    np.savez(tmp_path / "old.npz", **arrays)

    fresh = FeedbackStore.open(tmp_path / "fresh.sqlite")
    assert fresh.import_npz(tmp_path / "old.npz") == 1
    np.testing.assert_array_equal(fresh.arrays()[0], store.arrays()[0])


def test_each_person_has_their_own_drawings(store):
    ada = [store.add(_image(i), None, i, i, 0.9, "m", person="Ada") for i in range(3)]
    store.add(_image(9), None, 9, 4, 0.9, "m", person="  Bob   Smith ")  # spaces tidied
    _add(store, 5)  # nobody gave a name

    assert store.people() == {"Ada": 3, "Bob Smith": 1, feedback.EVERYONE: 1}
    assert store.count("Ada") == 3 and store.count() == 5
    assert [d.id for d in store.all("Ada")] == ada[::-1]
    images, labels = store.arrays(person="Ada")
    assert labels.tolist() == [2, 1, 0] and images.shape == (3, 28, 28)
    assert store.arrays(after_id=ada[0], person="Ada")[1].tolist() == [2, 1]
    assert store.all("Bob Smith")[0].person == "Bob Smith"
    before = store.version("Ada")

    assert store.forget("Ada") == 3
    assert store.people() == {"Bob Smith": 1, feedback.EVERYONE: 1}
    assert store.version("Ada") != before and store.count("Ada") == 0


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "must be some text"), ("   ", "must be some text"), (None, "must be some text"),
     ("x" * 41, "at most 40 printable characters"), ("tab\x07bell", "printable")],
)  # fmt: skip
def test_a_person_name_that_cannot_be_kept_is_refused(store, name, message):
    with pytest.raises(FeedbackError, match=message):
        store.add(_image(1), None, 1, 1, 0.5, "m", person=name)
    assert store.count() == 0


def test_a_schema_2_store_gains_people_and_keeps_its_drawings(tmp_path):
    path = tmp_path / "v2.sqlite"
    with sqlite3.connect(path) as old:
        old.execute(V1_SCHEMA.replace("3136", "784"))  # schema 2: uint8 pixels, no people
        old.execute("PRAGMA user_version = 2")
        old.execute(
            "INSERT INTO drawings (created, label, predicted, confidence, model_name, image) "
            "VALUES ('2026-11-30T10:00:00+00:00', 3, 3, 0.9, 'old', ?)",
            (_image(4).tobytes(),),
        )
    old.close()

    store = FeedbackStore.open(path)

    (drawing,) = store.all()
    assert drawing.person == feedback.EVERYONE and drawing.label == 3
    np.testing.assert_array_equal(drawing.image, _image(4))
    store.add(_image(5), None, 5, 5, 0.5, "new", person="Ada")
    assert store.people() == {"Ada": 1, feedback.EVERYONE: 1}


def test_an_empty_store_exports_and_imports(store, tmp_path):
    assert store.export_npz(tmp_path / "empty.npz") == 0
    assert store.import_npz(tmp_path / "empty.npz") == 0 and store.count() == 0


def test_names_the_file_it_cannot_export_to_or_import_from(store, tmp_path):
    missing = tmp_path / "no-such-folder" / "drawings.npz"
    with pytest.raises(FeedbackError, match=f"{missing} cannot be written"):
        store.export_npz(missing)
    with pytest.raises(FeedbackError, match=f"{missing} cannot be read"):
        store.import_npz(missing)


def _tamper_last_label(arrays):
    arrays["labels"][-1] = 12


def _tamper_last_canvas(arrays):
    arrays["canvas_png"][-1000] ^= 0xFF  # a flipped byte in the last drawing's PNG


def _tamper_offsets(arrays):
    arrays["canvas_offsets"][-1] += 1


def _tamper_time(arrays):
    arrays["created"] = np.array(["2026-01-01T10:00:00"] * len(arrays["labels"]))


def _tamper_shape(arrays):
    arrays["images"] = arrays["images"].reshape(-1, 784)


def _drop_key(arrays):
    del arrays["predicted"]


def _add_key(arrays):
    arrays["extra"] = np.zeros(3)


def _pickle_names(arrays):
    arrays["model_names"] = np.array(list(arrays["model_names"]), dtype=object)


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (_tamper_last_label, "drawing 1: the label must be a whole number from 0 to 9, not 12"),
        (_tamper_last_canvas, "drawing 1: a canvas is not a readable PNG"),
        (_tamper_offsets, "offsets must rise to the length of the canvas bytes"),
        (_tamper_time, "drawing 0: the time '2026-01-01T10:00:00' is not an ISO 8601 time with a"),
        (_tamper_shape, r"expected images \(n, 28, 28\)"),
        (_drop_key, r"missing keys \['predicted'\]"),
        (_add_key, r"unexpected keys \['extra'\]"),
        (_pickle_names, "cannot be read as an .npz drawings export"),
    ],
)
def test_a_bad_npz_adds_nothing(store, tmp_path, tamper, message):
    source = FeedbackStore.open(tmp_path / "source.sqlite")
    _add(source, 1, label=4)
    _add(source, 2, label=6)
    source.export_npz(tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz", allow_pickle=False) as archive:
        arrays = dict(archive)
    tamper(arrays)
    np.savez(tmp_path / "bad.npz", **arrays)
    _add(store, 3)

    with pytest.raises(FeedbackError, match=message) as error:
        store.import_npz(tmp_path / "bad.npz")
    assert str(tmp_path / "bad.npz") in str(error.value)
    assert store.count() == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"PK\x03\x04 truncated zip", "cannot be read"), (b"\x93NUMPY", "cannot be read")],
)
def test_refuses_files_that_are_not_npz_archives(store, tmp_path, content, message):
    path = tmp_path / "drawings.npz"
    path.write_bytes(content)
    with pytest.raises(FeedbackError, match=message):
        store.import_npz(path)


def test_refuses_a_npy_array(store, tmp_path):
    np.save(tmp_path / "images.npy", np.zeros((2, 28, 28)))
    with pytest.raises(FeedbackError, match=r"is a \.npy array, not an \.npz"):
        store.import_npz(tmp_path / "images.npy")


@pytest.mark.parametrize("new_file", range(8))  # the first opens of a new file race the most
def test_concurrent_writers_all_land(tmp_path, new_file):
    path = tmp_path / f"shared-{new_file}.sqlite"
    threads, adds = 10, 20
    failures = []

    def session(number: int) -> None:
        try:
            store = FeedbackStore.open(path)  # each opens it, as sessions and processes would
            for i in range(adds):
                store.add(_image(i), _canvas(i, (40, 40)), i % 10, number, 0.5, f"s{number}")
        except Exception as error:  # reported below: an exception in a thread is otherwise lost
            failures.append(error)

    workers = [threading.Thread(target=session, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert failures == []
    drawings = FeedbackStore.open(path).all()
    assert len(drawings) == threads * adds == len({d.id for d in drawings})
    per_session = {n: sum(d.model_name == f"s{n}" for d in drawings) for n in range(threads)}
    assert per_session == dict.fromkeys(range(threads), adds)


def test_evaluates_a_classifier_on_the_drawings(store, saved_small_model, small_mnist):
    _, saved = saved_small_model
    classifier = Classifier.load(saved.path)
    assert feedback.evaluate_feedback(classifier, store) is None  # nothing drawn yet

    x, y = small_mnist.test
    for image, label in zip(x[:40], y[:40], strict=True):
        store.add(image, None, label, 0, 0.1, saved.name)
    evaluation = feedback.evaluate_feedback(classifier, store)

    images, labels = store.arrays()
    read = classifier.probabilities(images / 255).argmax(axis=1)
    assert evaluation.count == 40
    assert evaluation.accuracy == pytest.approx((read == labels).mean())
    assert evaluation.confusion.sum() == 40
    for mistake in evaluation.mistakes:
        np.testing.assert_array_equal(mistake.image, x[:40][::-1][mistake.index])  # newest first
