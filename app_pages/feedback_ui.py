"""The Draw page's "Wrong? It was a _": the user labels a drawing, and sees, deletes, exports
and imports the drawings labelled so far, and fine-tunes the model on them.

The drawings live in `mnist_core.feedback`'s SQLite store (data/feedback.sqlite, or the file
$MNIST_FEEDBACK_DB names), opened afresh by every call: it is cheap, and every session sees the
others' drawings. Only keeping a drawing or importing creates the file; looking never does.
"""

from __future__ import annotations

import functools
import hashlib
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import streamlit as st

from app_pages.access import is_locked, locked_help, unlock_ui
from app_pages.training_job import TRAIN_PAGE, start_fine_tuning
from mnist_core.answer import Answer, a_digit
from mnist_core.feedback import Drawing, FeedbackError, FeedbackStore, feedback_path
from mnist_core.finetune import FINE_TUNE_EPOCHS, MIN_DRAWINGS
from mnist_core.pixels import to_pixels
from mnist_core.store import SavedModel
from mnist_core.strokes import Stroke, redraw

GALLERY_SHOWN = 48  # the newest drawings shown; all of them are scored and exported
EXPORT_NAME = "my_drawings.npz"
GALLERY = "feedback_gallery"  # the gallery expander's key: True in session state while open
_GALLERY_COLUMNS = 8
_THUMBNAIL_SCALE = 3  # a 28x28 drawing is shown at 84 px, in whole screen pixels: no blur
_KEPT = "feedback_kept"  # fingerprint -> (label, id) of each picture kept this session
_SHOWN = "feedback_shown"  # slot -> fingerprint of the picture it shows
_NOTICE = "feedback_notice"  # what the last action did, said once on the next run
_IMPORT_ERROR = "feedback_import_error"
_UPLOADS = "feedback_uploads"  # bumped after each import: a fresh, empty uploader


def show_notice() -> None:
    """Say what the last action (keep, delete, import) did, once; call it at the page's top."""
    if notice := st.session_state.pop(_NOTICE, None):
        st.toast(notice)  # no icon: emoji need a font that a plain Linux desktop lacks


def label_ui(
    answer: Answer,
    model_name: str,
    person: str,
    slot: str,
    strokes: Sequence[Stroke] | None = None,
) -> None:
    """ "Right!" or "Wrong? It was a _": keep `person`'s drawing with its true digit, once.

    `strokes` are the drawing's, kept as a picture redrawn with one pen (`strokes.redraw`, made
    only when it is kept); None for an upload, which is kept as its 28x28 alone.
    `slot` names where the picture is shown (the canvas, or one upload): the widgets' keys name
    the slot, not the picture, because Streamlit keeps every widget id a session has ever
    had, and a key per picture would add three with every stroke. When the slot shows a new
    picture (a new stroke changes the 28x28 the model saw), its digit choice starts empty."""
    fingerprint = hashlib.blake2b(answer.image.tobytes(), digest_size=16).hexdigest()
    shown = st.session_state.setdefault(_SHOWN, {})
    if shown.get(slot) != fingerprint:
        shown[slot] = fingerprint
        st.session_state.pop(f"feedback_label_{slot}", None)
    kept = st.session_state.get(_KEPT, {})
    if fingerprint in kept:
        label, _drawing_id = kept[fingerprint]
        after = "" if strokes is None else " Clear the canvas and draw another."
        st.success(
            f"Kept as **{a_digit(label)}**: the next drawing like it is read that way, and the "
            f"Models page scores models on your drawings.{after}"
        )
        return
    predicted = answer.verdict.digit
    # One row, wrapping where it is narrow: every element here is redrawn by every stroke.
    row = st.container(horizontal=True, vertical_alignment="bottom")
    right = row.button(
        f"Right! {a_digit(predicted).capitalize()}",
        key=f"feedback_right_{slot}",
        help="Keep it as read: a labelled drawing teaches the app your handwriting at once.",
    )
    label = row.pills("Wrong? It was a", range(10), key=f"feedback_label_{slot}")
    save = row.button("Save", type="primary", disabled=label is None, key=f"feedback_save_{slot}")
    if right or save:
        canvas = None if strokes is None else redraw(strokes)
        _keep(answer, canvas, predicted if right else label, model_name, fingerprint, person)


def _keep(
    answer: Answer,
    canvas: np.ndarray | None,
    label: int,
    model_name: str,
    fingerprint: str,
    person: str,
) -> None:
    verdict = answer.verdict
    image = to_pixels(answer.image)
    try:
        store = FeedbackStore.open()
        drawing_id = store.add(
            image, canvas, label, verdict.digit, verdict.probability, model_name, person
        )
        kept = store.count(person)
    except FeedbackError as error:
        st.error(f"The drawing could not be kept: {error}.")
        return
    st.session_state[_KEPT] = {**st.session_state.get(_KEPT, {}), fingerprint: (label, drawing_id)}
    st.session_state[_NOTICE] = f"Kept as {a_digit(label)}. Drawings: {kept}."
    st.rerun()  # the whole page, not just the canvas' fragment: the gallery counts it


def gallery_ui(model: SavedModel, person: str) -> None:
    """`person`'s labelled drawings, newest first, each with Delete; export and import (of
    everyone's) as `.npz`; fine-tuning `model` (the active one) on everyone's. Built only while
    its expander is open: every keep reruns the whole page, and most people never open it."""
    try:
        store = _existing_store()
        yours, everyone = (0, 0) if store is None else (store.count(person), store.count())
    except FeedbackError as error:
        _unreadable(error)
        return
    gallery = st.expander(f"Your labelled drawings ({yours})", key=GALLERY, on_change="rerun")
    if not gallery.open:
        return
    with gallery:
        unlock_ui("drawings")
        _export_import_ui(store, everyone)
        _fine_tune_ui(model, everyone)
        if not yours:
            st.caption(
                "None yet. After the model answers, say whether it was right: the drawing is "
                "kept here with its true digit."
            )
            return
        try:
            drawings = store.all(person)
        except FeedbackError as error:
            _unreadable(error)
            return
        wrong = sum(not drawing.correct for drawing in drawings)
        st.caption(
            f"The model misread {wrong} of {len(drawings)} at the time (their captions end "
            f"in ✗). Your digit · what the model said.{_shown_note(len(drawings))}"
        )
        shown = drawings[:GALLERY_SHOWN]
        for start in range(0, len(shown), _GALLERY_COLUMNS):
            row = shown[start : start + _GALLERY_COLUMNS]
            for drawing, column in zip(row, st.columns(_GALLERY_COLUMNS), strict=False):
                with column:
                    _thumbnail(drawing)


def _unreadable(error: FeedbackError) -> None:
    st.error(f"Your labelled drawings cannot be read: {error}.")


def _existing_store() -> FeedbackStore | None:
    """The store if its file exists: looking at the page must not create it."""
    return FeedbackStore.open() if feedback_path().exists() else None


def _shown_note(count: int) -> str:
    if count <= GALLERY_SHOWN:
        return ""
    return f" The newest {GALLERY_SHOWN} are shown; all {count} are scored and exported."


def _thumbnail(drawing: Drawing) -> None:
    pixels = drawing.image
    mark = "✓" if drawing.correct else "✗"
    st.image(
        pixels.repeat(_THUMBNAIL_SCALE, axis=0).repeat(_THUMBNAIL_SCALE, axis=1),
        caption=f"{drawing.label} · said {drawing.predicted} {mark}",
        width=28 * _THUMBNAIL_SCALE,
        output_format="PNG",
    )
    st.button(
        "Delete",
        key=f"feedback_delete_{drawing.id}",
        type="tertiary",
        on_click=_delete,
        args=(drawing.id,),
        help=f"Forget this {drawing.label}, drawn {drawing.created[:16].replace('T', ' ')} UTC",
    )


def _delete(drawing_id: int) -> None:
    try:
        FeedbackStore.open().delete(drawing_id)
    except FeedbackError as error:
        st.session_state[_NOTICE] = f"Not deleted: {error}."
        return
    kept = st.session_state.get(_KEPT, {})  # a deleted drawing may be kept again
    st.session_state[_KEPT] = {key: value for key, value in kept.items() if value[1] != drawing_id}
    st.session_state[_NOTICE] = "Deleted the drawing."


def _fine_tune_ui(model: SavedModel, count: int) -> None:
    button, about = st.columns([1, 3], vertical_alignment="center")
    locked = is_locked()
    pressed = button.button(
        f"Fine-tune {model.name}",
        disabled=count < MIN_DRAWINGS or locked,
        width="stretch",
        help=locked_help() if locked else f"Needs at least {MIN_DRAWINGS} drawings.",
    )
    about.caption(
        f"{count} of {MIN_DRAWINGS} drawings needed. "
        if count < MIN_DRAWINGS
        else ""
        f"Makes the memory permanent, for everyone: goes on training **{model.name}** for "
        f"{FINE_TUNE_EPOCHS} epochs on MNIST with everyone's {count} labelled drawings mixed "
        f"in, and saves the result as a new model (**{model.name}** stays as it is). Its "
        "score on your drawings then counts only the ones you add afterwards."
    )
    if pressed and not locked:  # a disabled button can still be sent
        _job, started = start_fine_tuning(model)
        if not started:
            st.toast("A training job is already running: showing its progress.")
        st.switch_page(TRAIN_PAGE)


def _export_import_ui(store: FeedbackStore | None, count: int) -> None:
    export, import_, _ = st.columns([1, 1, 3])
    export.download_button(
        "Export .npz",
        data=functools.partial(export_bytes, store) if store else b"",
        file_name=EXPORT_NAME,
        mime="application/octet-stream",
        on_click="ignore",
        disabled=count == 0,
        width="stretch",
        help="All your labelled drawings in one file, to keep or to import elsewhere.",
    )
    locked = is_locked()
    with import_.popover(
        "Import .npz", width="stretch", disabled=locked, help=locked_help() if locked else None
    ):
        key = f"feedback_import_{st.session_state.get(_UPLOADS, 0)}"
        st.file_uploader(
            "A file exported here (on any machine)",
            type=["npz"],
            key=key,
            on_change=_import,
            args=(key,),
        )
    if error := st.session_state.pop(_IMPORT_ERROR, None):
        st.error(error)


def _import(key: str) -> None:
    upload = st.session_state.get(key)
    if upload is None or is_locked():
        return
    try:
        added = import_bytes(FeedbackStore.open(), upload.name, upload.getvalue())
    except FeedbackError as error:
        st.session_state[_IMPORT_ERROR] = f"Nothing was imported: {error}."
    else:
        st.session_state[_NOTICE] = f"Imported {added} drawings from {upload.name}."
    st.session_state[_UPLOADS] = st.session_state.get(_UPLOADS, 0) + 1


def export_bytes(store: FeedbackStore) -> bytes:
    """Every drawing in `store`, as the bytes of an `export_npz` file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / EXPORT_NAME
        store.export_npz(path)
        return path.read_bytes()


def import_bytes(store: FeedbackStore, name: str, data: bytes) -> int:
    """Add the drawings of the `.npz` upload `name` to `store`; return how many.

    Raises FeedbackError, naming the upload rather than the temporary file it was read from."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.npz"
        path.write_bytes(data)
        try:
            return store.import_npz(path)
        except FeedbackError as error:
            raise FeedbackError(str(error).replace(str(path), name)) from None
