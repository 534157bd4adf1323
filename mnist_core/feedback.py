"""Drawings the user labelled ("Wrong? It was a _"), kept in a local SQLite database.

Each record holds the 28x28 image the model saw, the raw canvas (PNG, lossless), the label the
user gave, the model's answer, when it happened and whose drawing it is (a name the person
typed, or EVERYONE): each person's drawings are their own memory (`mnist_core.personal`).
The set is a second evaluation set ("your drawings"), material for fine-tuning, and moves
between machines as an `.npz` without pickles.

Every call opens its own short connection, so one store may be shared by all Streamlit
sessions and threads, and several processes may use the same file: SQLite's locks (in WAL
mode, readers never wait for the writer) keep them apart, and each write is one transaction.
Only numpy, Pillow and the standard library are imported: scoring imports scikit-learn late.
"""

from __future__ import annotations

import contextlib
import io
import math
import numbers
import os
import sqlite3
import sys
import time
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_core.evaluate import Evaluation, score_classifier
from mnist_core.files import chosen_path, write_atomically
from mnist_core.pixels import to_pixels

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "feedback.sqlite"
PATH_ENV_VAR = "MNIST_FEEDBACK_DB"
SCHEMA_VERSION = 3  # PRAGMA user_version: bump it, and add a step to _MIGRATIONS, to change tables
NPZ_FORMAT = 3  # 1: images as float32 in [0, 1]; 2: uint8, as at rest everywhere; 3: people
EVERYONE = "everyone"  # whose drawings they are when nobody gave a name
MAX_PERSON_NAME = 40
NPZ_KEYS = frozenset(
    {
        "format",
        "images",
        "labels",
        "predicted",
        "confidence",
        "model_names",
        "created",
        "canvas_png",  # every canvas's PNG bytes, one after another
        "canvas_offsets",  # (n + 1,): canvas i is canvas_png[offsets[i]:offsets[i + 1]]
        "people",  # whose drawing each is (from format 3)
    }
)
IMAGE_SHAPE = (28, 28)
MAX_CANVAS_SIDE = 280  # the app's canvas
CANVAS_CHANNELS = (1, 3, 4)  # grey, RGB, RGBA
MAX_MODEL_NAME = 200
BUSY_TIMEOUT_S = 30  # how long a call waits for another connection's write to finish

_SQLITE_HEADER = b"SQLite format 3\x00"
_IMAGE_BYTES = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
_V1_IMAGE_DTYPE = np.dtype("<f4")  # schema 1 kept float32 pixels in [0, 1]
_COLUMNS = "id, created, label, predicted, confidence, model_name, image, canvas, person"
_INSERT = (
    "INSERT INTO drawings (created, label, predicted, confidence, model_name, image, canvas, "
    "person) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_PERSON_COLUMN = (
    f"person TEXT NOT NULL DEFAULT '{EVERYONE}' "
    f"CHECK (length(person) BETWEEN 1 AND {MAX_PERSON_NAME})"
)
_NEWEST_FIRST = "ORDER BY created DESC, id DESC"
_CREATE_TABLE = (
    f"""CREATE TABLE drawings (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created TEXT NOT NULL,  -- UTC, ISO 8601
        label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
        predicted INTEGER NOT NULL CHECK (predicted BETWEEN 0 AND 9),
        confidence REAL NOT NULL CHECK (confidence BETWEEN 0 AND 1),
        model_name TEXT NOT NULL,
        image BLOB NOT NULL CHECK (length(image) = {_IMAGE_BYTES}),  -- 28x28 uint8 pixels
        canvas BLOB,  -- PNG, or NULL when there was no canvas
        {_PERSON_COLUMN}
    )""",
    "CREATE INDEX drawings_newest_first ON drawings (created DESC, id DESC)",
    "CREATE INDEX drawings_by_person ON drawings (person, id)",
)


class FeedbackError(ValueError):
    """A drawing, database or `.npz` file cannot be used as asked; the message says why."""


@dataclass(frozen=True, eq=False)
class Drawing:
    """One labelled drawing. eq=False: it holds an array, so instances compare by identity."""

    id: int
    created: str  # UTC, ISO 8601
    label: int  # what the user says it is
    predicted: int  # what the model said
    confidence: float  # the model's probability for `predicted`
    model_name: str
    image: np.ndarray  # (28, 28) uint8: what the model saw
    canvas_png: bytes | None  # the raw canvas, decoded on demand by `canvas`
    person: str  # whose drawing it is

    @property
    def correct(self) -> bool:
        return self.predicted == self.label

    @property
    def canvas(self) -> np.ndarray | None:
        """The raw canvas as drawn: (h, w) or (h, w, 3 | 4) uint8, or None if there was none."""
        return None if self.canvas_png is None else _decode_png(self.canvas_png)


# The files this process has checked and brought up to date, as they were then: a page opens
# the store several times a run, and preparing takes SQLite's write lock each time. The key
# holds the file's inode change time, which no copy can preserve, so a file replaced since (even
# under a reused inode number) is checked again; so is ours after each write, at little cost.
_PREPARED: set[tuple[int, int, int]] = set()


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino, stat.st_ctime_ns


def feedback_path(path: str | os.PathLike | None = None) -> Path:
    """The database file: the argument, else $MNIST_FEEDBACK_DB, else data/feedback.sqlite."""
    return chosen_path(path, PATH_ENV_VAR, DEFAULT_PATH)


@dataclass(frozen=True)
class FeedbackStore:
    """The labelled drawings in one SQLite file. Get one with `FeedbackStore.open(path)`."""

    path: Path

    @classmethod
    def open(cls, path: str | os.PathLike | None = None) -> FeedbackStore:
        """The store at `feedback_path(path)`, created if new, refused if it is not ours."""
        store = cls(feedback_path(path))
        if store.path.exists() and not store.path.is_file():
            raise FeedbackError(f"{store.path} is not a file, so it cannot hold drawings")
        try:
            store.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise FeedbackError(f"{store.path} cannot be opened: {error.strerror}") from None
        if _identity(store.path) not in _PREPARED:
            store._prepare()
            _PREPARED.add(_identity(store.path))
        return store

    def add(
        self,
        image28: np.ndarray,
        canvas: np.ndarray | None,
        label: int,
        predicted: int,
        confidence: float,
        model_name: str,
        person: str = EVERYONE,
    ) -> int:
        """Keep `person`'s labelled drawing; return its id. `canvas` is None when there was
        none (an upload)."""
        row = (
            datetime.now(UTC).isoformat(timespec="seconds"),
            _check_digit(label, "label"),
            _check_digit(predicted, "predicted digit"),
            _check_confidence(confidence),
            _check_model_name(model_name),
            _image_bytes(_check_image(image28)),
            None if canvas is None else _encode_png(_check_canvas(canvas)),
            check_person(person),
        )
        with self._writing() as connection:
            return int(connection.execute(_INSERT, row).lastrowid)

    def count(self, person: str | None = None) -> int:
        """How many drawings there are: everyone's, or `person`'s."""
        where, values = _whose(person)
        with self._connection() as connection:
            return connection.execute(f"SELECT count(*) FROM drawings {where}", values).fetchone()[
                0
            ]

    def all(self, person: str | None = None) -> list[Drawing]:
        """Every drawing (or every one of `person`'s), newest first."""
        where, values = _whose(person)
        with self._connection() as connection:
            query = f"SELECT {_COLUMNS} FROM drawings {where} {_NEWEST_FIRST}"
            return [_drawing(row) for row in connection.execute(query, values)]

    def people(self) -> dict[str, int]:
        """Each person who has labelled drawings -> how many, by name."""
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT person, count(*) FROM drawings GROUP BY person ORDER BY person"
            )
            return dict(rows.fetchall())

    def version(self, person: str | None = None) -> tuple[int, int]:
        """(count, newest id) of everyone's or `person`'s drawings: it changes whenever one is
        added or deleted, so a memory built from them knows when to be built again."""
        where, values = _whose(person)
        with self._connection() as connection:
            query = f"SELECT count(*), coalesce(max(id), 0) FROM drawings {where}"
            return tuple(connection.execute(query, values).fetchone())

    def last_id(self) -> int:
        """The id of the newest drawing, 0 when there is none: ids only grow."""
        with self._connection() as connection:
            return connection.execute("SELECT coalesce(max(id), 0) FROM drawings").fetchone()[0]

    def arrays(
        self, after_id: int = 0, up_to_id: int | None = None, person: str | None = None
    ) -> tuple[np.ndarray, ...]:
        """(images (n, 28, 28) uint8, labels (n,) uint8), newest first, of the drawings with
        `after_id` < id <= `up_to_id` (all of them by default), everyone's or `person`'s."""
        up_to_id = sys.maxsize if up_to_id is None else up_to_id
        where, values = _whose(person, "AND")
        with self._connection() as connection:
            query = (
                f"SELECT image, label FROM drawings WHERE id > ? AND id <= ? {where} "
                f"{_NEWEST_FIRST}"
            )
            rows = connection.execute(query, (int(after_id), int(up_to_id), *values)).fetchall()
        images = _images([image for image, _ in rows])
        return images, np.array([label for _, label in rows], dtype=np.uint8)

    def delete(self, drawing_id: int) -> bool:
        """Forget a drawing; False if there was none with that id (say, another session's)."""
        with self._writing() as connection:
            cursor = connection.execute("DELETE FROM drawings WHERE id = ?", (int(drawing_id),))
            return cursor.rowcount > 0

    def forget(self, person: str) -> int:
        """Delete every drawing of `person` (their whole memory); return how many."""
        with self._writing() as connection:
            cursor = connection.execute(
                "DELETE FROM drawings WHERE person = ?", (check_person(person),)
            )
            return cursor.rowcount

    def export_npz(self, path: str | os.PathLike) -> int:
        """Write every drawing to a compressed `.npz` (see `NPZ_KEYS`); return how many.

        Oldest first, so an import numbers them in the same order; written to a temporary
        name and renamed, so a reader never finds half a file.
        """
        drawings = self.all()[::-1]
        canvases = [d.canvas_png or b"" for d in drawings]  # b"": no canvas
        arrays = {
            "format": np.array(NPZ_FORMAT),
            "images": np.array([d.image for d in drawings], np.uint8).reshape(-1, *IMAGE_SHAPE),
            "labels": np.array([d.label for d in drawings], dtype=np.uint8),
            "predicted": np.array([d.predicted for d in drawings], dtype=np.uint8),
            "confidence": np.array([d.confidence for d in drawings], dtype=np.float64),
            "model_names": np.array([d.model_name for d in drawings], dtype=str),
            "created": np.array([d.created for d in drawings], dtype=str),
            "canvas_png": np.frombuffer(b"".join(canvases), dtype=np.uint8),
            "canvas_offsets": np.cumsum([0, *map(len, canvases)], dtype=np.int64),
            "people": np.array([d.person for d in drawings], dtype=str),
        }

        def write(temp: Path) -> None:
            with temp.open("wb") as file:
                np.savez_compressed(file, **arrays)

        try:
            write_atomically(path, write)
        except OSError as error:
            raise FeedbackError(f"{path} cannot be written: {error.strerror}") from None
        return len(drawings)

    def import_npz(self, path: str | os.PathLike) -> int:
        """Add every drawing of an `.npz` written by `export_npz`; return how many.

        The whole file is checked before anything is written, and written in one transaction:
        a bad file adds nothing. Drawings get new ids; their times and answers are kept.
        """
        rows = _read_npz(Path(path))
        with self._writing() as connection:
            connection.executemany(_INSERT, rows)
        return len(rows)

    def _prepare(self) -> None:
        """Create the tables in a new file, bring an older one up to date (in one transaction,
        so an interrupted migration changes nothing); refuse a database made by something
        else."""
        with self._connection() as connection:
            _use_wal(connection)
            connection.execute("BEGIN IMMEDIATE")  # two processes creating it: one waits
            try:
                version = connection.execute("PRAGMA user_version").fetchone()[0]
                tables = connection.execute(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                ).fetchone()[0]
                if version == SCHEMA_VERSION:
                    return
                if version == 0 and tables == 0:
                    _create_tables(connection)
                elif version in _MIGRATIONS:
                    _MIGRATIONS[version](connection)
                else:
                    raise FeedbackError(
                        f"{self.path} is a SQLite database but not one of this app's drawings "
                        f"(schema version {version}, this version reads {SCHEMA_VERSION})"
                    )
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                connection.commit()
            finally:
                if connection.in_transaction:
                    connection.rollback()

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A fresh autocommit connection; SQLite's errors become a FeedbackError naming the file.

        Only SQLite opens the file while it may be in use: closing any other descriptor of it
        would drop every lock this process's connections hold on it (POSIX locks belong to the
        process), and another server process could then checkpoint and delete the write-ahead
        log under them, corrupting the file.
        """
        try:
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as error:
            raise FeedbackError(f"{self.path} cannot be opened: {error}") from None
        try:
            # In WAL mode this still survives a crash of the app; a power cut may lose the
            # last few drawings but never corrupts the file. It saves a disk flush per write.
            connection.execute("PRAGMA synchronous = NORMAL")
            yield connection
        except sqlite3.DatabaseError as error:
            if error.sqlite_errorcode == sqlite3.SQLITE_NOTADB and not self._has_sqlite_header():
                raise FeedbackError(
                    f"{self.path} is not a SQLite database: move it away or name another file "
                    f"with ${PATH_ENV_VAR}"
                ) from None
            raise FeedbackError(f"{self.path} cannot be used as a drawing store: {error}") from None
        finally:
            connection.close()

    def _has_sqlite_header(self) -> bool:
        """Whether the file starts as SQLite's do; read only once SQLite has refused it, when
        no connection of ours can be holding a lock on it."""
        try:
            with self.path.open("rb") as file:
                return file.read(len(_SQLITE_HEADER)) == _SQLITE_HEADER
        except OSError:
            return True  # say what SQLite said

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One transaction, committed if the block finishes and rolled back if it raises."""
        with self._connection() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.rollback()
                raise
            connection.commit()


def _create_tables(connection: sqlite3.Connection) -> None:
    for statement in _CREATE_TABLE:
        connection.execute(statement)


def _from_schema_1(connection: sqlite3.Connection) -> None:
    """Schema 1 kept float32 images: they become uint8 pixels, everyone's drawings. The table
    is rebuilt (its CHECK changes), keeping every id and the id counter, so ids only grow."""
    old_columns = _COLUMNS.removesuffix(", person")
    rows = connection.execute(f"SELECT {old_columns} FROM drawings").fetchall()
    counter = connection.execute(
        "SELECT seq FROM sqlite_sequence WHERE name = 'drawings'"
    ).fetchone()
    connection.execute("DROP TABLE drawings")
    _create_tables(connection)
    converted = [(*row[:6], _image_bytes(_pixels_of_v1(_v1_image(row[6]))), row[7]) for row in rows]
    connection.executemany(
        f"INSERT INTO drawings ({old_columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", converted
    )
    if counter is not None:
        connection.execute("DELETE FROM sqlite_sequence WHERE name = 'drawings'")
        connection.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('drawings', ?)", counter
        )


def _v1_image(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=_V1_IMAGE_DTYPE).reshape(IMAGE_SHAPE)


def _from_schema_2(connection: sqlite3.Connection) -> None:
    """Schema 2 had no people: every drawing so far is everyone's."""
    connection.execute(f"ALTER TABLE drawings ADD COLUMN {_PERSON_COLUMN}")
    connection.execute(_CREATE_TABLE[-1])  # the index by person


# schema version -> the step that brings a database of that version up to date
_MIGRATIONS = {1: _from_schema_1, 2: _from_schema_2}


def _use_wal(connection: sqlite3.Connection) -> None:
    """Put the file in WAL mode, once: it stays set in the file. The switch needs the file to
    itself, and while other connections open a new file SQLite answers "locked" at once
    instead of waiting, so it is retried until BUSY_TIMEOUT_S."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            connection.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def evaluate_feedback(
    classifier, store: FeedbackStore, after_id: int = 0, person: str | None = None
) -> Evaluation | None:
    """Score `classifier` (anything with `probabilities`, like `classify.Classifier`) on the
    drawings (everyone's, or `person`'s) newer than `after_id` (a model fine-tuned on the
    older ones would be scored on what it learnt from); None when there are none."""
    images, labels = store.arrays(after_id, person=person)
    if len(labels) == 0:
        return None
    return score_classifier(classifier, images, labels)


def evaluate_by_person(classifier, store: FeedbackStore, after_id: int = 0) -> dict:
    """Each person with drawings newer than `after_id` -> `evaluate_feedback` on theirs."""
    scores = {
        person: evaluate_feedback(classifier, store, after_id, person=person)
        for person in store.people()
    }
    return {person: score for person, score in scores.items() if score is not None}


def check_person(name) -> str:
    """A person's name as kept: trimmed, 1 to MAX_PERSON_NAME printable characters; else a
    FeedbackError saying what is wrong."""
    if not isinstance(name, str) or not name.strip():
        raise FeedbackError(f"a person's name must be some text, not {name!r:.60}")
    name = " ".join(name.split())
    if len(name) > MAX_PERSON_NAME or not name.isprintable():
        raise FeedbackError(
            f"a person's name is at most {MAX_PERSON_NAME} printable characters, not {name!r:.60}"
        )
    return name


def _whose(person: str | None, joined_by: str = "WHERE") -> tuple[str, tuple]:
    """The SQL condition and its values that pick `person`'s drawings (None: everyone's)."""
    return ("", ()) if person is None else (f"{joined_by} person = ?", (check_person(person),))


def _check_digit(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value <= 9:
        raise FeedbackError(f"the {what} must be a whole number from 0 to 9, not {value!r}")
    return int(value)


def _check_confidence(value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise FeedbackError(f"the confidence must be a number from 0 to 1, not {value!r}")
    if not (math.isfinite(value) and 0 <= value <= 1):
        raise FeedbackError(f"the confidence must be a probability from 0 to 1, not {value}")
    return float(value)


def _check_model_name(value) -> str:
    if not isinstance(value, str) or len(value) > MAX_MODEL_NAME:
        raise FeedbackError(
            f"the model name must be text of at most {MAX_MODEL_NAME} characters, not {value!r:.80}"
        )
    return value


def _check_image(image) -> np.ndarray:
    """The 28x28 uint8 image, or FeedbackError."""
    image = np.asarray(image)
    if image.shape != IMAGE_SHAPE or image.dtype != np.uint8:
        raise FeedbackError(
            f"the image must be 28x28 uint8 pixels, not {image.dtype} of shape {image.shape}"
        )
    return image


def _pixels_of_v1(image) -> np.ndarray:
    """A float image in [0, 1] (schema 1, `.npz` format 1) as uint8 pixels, or FeedbackError."""
    image = np.asarray(image)
    if image.shape != IMAGE_SHAPE or image.dtype.kind not in "uif":
        raise FeedbackError(
            f"the image must be 28x28 numbers in [0, 1], not {image.dtype} of shape {image.shape}"
        )
    if not np.isfinite(image).all() or image.min() < 0 or image.max() > 1:
        raise FeedbackError("the image's pixels must be finite numbers in [0, 1]")
    return to_pixels(image)


def _check_canvas(canvas) -> np.ndarray:
    canvas = np.asarray(canvas)
    channels = 1 if canvas.ndim == 2 else canvas.shape[-1] if canvas.ndim == 3 else 0
    if canvas.dtype != np.uint8 or channels not in CANVAS_CHANNELS:
        raise FeedbackError(
            "the canvas must be uint8 grey (h, w) or colour (h, w, 3 or 4), "
            f"not {canvas.dtype} of shape {canvas.shape}"
        )
    height, width = canvas.shape[:2]
    if not (0 < height <= MAX_CANVAS_SIDE and 0 < width <= MAX_CANVAS_SIDE):
        raise FeedbackError(
            f"the canvas is {width}x{height} pixels; at most "
            f"{MAX_CANVAS_SIDE}x{MAX_CANVAS_SIDE} (and not empty) is kept"
        )
    return canvas[:, :, 0] if channels == 1 and canvas.ndim == 3 else canvas


def _encode_png(canvas: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format="PNG")
    return buffer.getvalue()


def _decode_png(data: bytes) -> np.ndarray:
    """The canvas in a PNG, or FeedbackError. The size is checked before pixels are unpacked,
    and every chunk's checksum, so a damaged file is refused rather than read half right."""
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            width, height = image.size
            if width > MAX_CANVAS_SIDE or height > MAX_CANVAS_SIDE:
                raise FeedbackError(f"a canvas is {width}x{height} pixels, larger than allowed")
            if image.mode not in ("L", "RGB", "RGBA"):
                raise FeedbackError(f"a canvas has PNG mode {image.mode}, not L, RGB or RGBA")
            image.verify()  # leaves `image` unusable: the pixels are read from a fresh one
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            return np.asarray(image)
    except FeedbackError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise FeedbackError(f"a canvas is not a readable PNG image: {error}") from None


def _image_bytes(image: np.ndarray) -> bytes:
    return np.ascontiguousarray(image, dtype=np.uint8).tobytes()


def _images(blobs: Sequence[bytes]) -> np.ndarray:
    """(n, 28, 28) uint8 from stored image bytes (a copy: writable)."""
    return np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(-1, *IMAGE_SHAPE).copy()


def _drawing(row: tuple) -> Drawing:
    drawing_id, created, label, predicted, confidence, model_name, image, canvas, person = row
    return Drawing(
        drawing_id,
        created,
        label,
        predicted,
        confidence,
        model_name,
        _images([image])[0],
        canvas,
        person,
    )


def _read_npz(path: Path) -> list[tuple]:
    """The rows to insert for every drawing in an `export_npz` file, all checked."""
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise FeedbackError(f"{path} is a .npy array, not an .npz drawings export")
        with archive:
            keys = set(archive.files)
            expected = NPZ_KEYS if "people" in keys else NPZ_KEYS - {"people"}  # formats 1, 2
            if keys != expected:
                raise FeedbackError(
                    f"{path} is not a drawings export: missing keys {sorted(expected - keys)}, "
                    f"unexpected keys {sorted(keys - expected)}"
                )
            arrays = {key: archive[key] for key in expected}
    except FeedbackError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise FeedbackError(f"{path} cannot be read as an .npz drawings export: {error}") from None
    try:
        return _rows_from_arrays(arrays)
    except FeedbackError as error:
        raise FeedbackError(f"{path}: {error}") from None


def _rows_from_arrays(arrays: dict[str, np.ndarray]) -> list[tuple]:
    version = arrays["format"]
    if version.shape != () or version not in range(1, NPZ_FORMAT + 1):
        raise FeedbackError(f"format {version!r}, this version reads 1 to {NPZ_FORMAT}")
    if (version == NPZ_FORMAT) != ("people" in arrays):
        raise FeedbackError(
            f"format {version} {'lacks' if version == NPZ_FORMAT else 'has'} people"
        )
    check_image = _pixels_of_v1 if version == 1 else _check_image
    images, offsets, png = arrays["images"], arrays["canvas_offsets"], arrays["canvas_png"]
    count = len(images) if images.ndim == 3 else -1
    people = arrays.get("people", np.full(max(count, 0), EVERYONE))
    per_drawing = ("labels", "predicted", "confidence", "model_names", "created")
    if (
        images.shape[1:] != IMAGE_SHAPE
        or any(arrays[key].shape != (count,) for key in per_drawing)
        or people.shape != (count,)
        or offsets.shape != (count + 1,)
        or png.ndim != 1
        or png.dtype != np.uint8
    ):
        shapes = ", ".join(f"{key} {arrays[key].shape}" for key in sorted(NPZ_KEYS))
        raise FeedbackError(
            "expected images (n, 28, 28), one label, predicted digit, confidence, model name "
            f"and time per image, n + 1 canvas offsets and uint8 canvas bytes; found {shapes}"
        )
    if offsets.dtype.kind not in "iu" or offsets[0] != 0:
        raise FeedbackError("the canvas offsets must be whole numbers starting at 0")
    if (np.diff(offsets) < 0).any() or offsets[-1] != len(png):
        raise FeedbackError("the canvas offsets must rise to the length of the canvas bytes")
    for key, values in (("model_names", arrays["model_names"]), ("created", arrays["created"]),
                        ("people", people)):  # fmt: skip
        if values.dtype.kind != "U":
            raise FeedbackError(f"{key} must be text, not {values.dtype}")
    rows = []
    for i in range(count):
        try:
            canvas = bytes(png[offsets[i] : offsets[i + 1]])
            if canvas:
                _check_canvas(_decode_png(canvas))
            rows.append(
                (
                    _check_time(str(arrays["created"][i])),
                    _check_digit(arrays["labels"][i].item(), "label"),
                    _check_digit(arrays["predicted"][i].item(), "predicted digit"),
                    _check_confidence(arrays["confidence"][i].item()),
                    _check_model_name(str(arrays["model_names"][i])),
                    _image_bytes(check_image(images[i])),
                    canvas or None,
                    check_person(str(people[i])),
                )
            )
        except FeedbackError as error:
            raise FeedbackError(f"drawing {i}: {error}") from None
    return rows


def _check_time(text: str) -> str:
    """An ISO 8601 time with its zone, as UTC to the second."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise FeedbackError(f"the time {text!r} is not an ISO 8601 time with a zone")
    return moment.astimezone(UTC).isoformat(timespec="seconds")
