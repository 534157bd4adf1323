"""Who is drawing, and what the app remembers of their handwriting.

A person types their name once on the Draw page; it is kept for the session and in the page's
link (`?person=`), so a reload keeps it. Without a name, drawings are everyone's. Each person's
labelled drawings are their memory: the Draw page reads with `mnist_core.personal`, built from
that person's drawings for the active model, so one person's corrections never change
another's answers.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages.active_model import cached_classifier, file_version
from mnist_core.feedback import EVERYONE, FeedbackError, FeedbackStore, check_person, feedback_path
from mnist_core.personal import PersonalClassifier
from mnist_core.pixels import to_unit
from mnist_core.store import SavedModel

_PERSON = "person"  # the session's person, and the link's query parameter
_FIELD = "person_field"
_NAME_ERROR = "person_name_error"
_CONFIRM_FORGET = "person_confirm_forget"
_READER = "person_reader"  # (what it was made from, the reader) of the session's person
_NO_DRAWINGS = (np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8))


def current_person() -> str:
    """The session's person: the name typed, else the one in the link, else EVERYONE."""
    if _PERSON not in st.session_state:
        try:
            st.session_state[_PERSON] = check_person(st.query_params.get(_PERSON, EVERYONE))
        except FeedbackError:
            st.session_state[_PERSON] = EVERYONE  # a link with a name we cannot keep
    return st.session_state[_PERSON]


def keep_person_in_link() -> None:
    """Put the session's person in the page's link (every page: a reload keeps the name)."""
    person = current_person()
    if person == EVERYONE:
        st.query_params.pop(_PERSON, None)
    else:
        st.query_params[_PERSON] = person


def person_ui() -> str:
    """The name field; returns the person whose drawings and memory the page uses."""
    person = current_person()
    if _FIELD not in st.session_state:
        st.session_state[_FIELD] = "" if person == EVERYONE else person
    st.text_input(
        "Your name",
        key=_FIELD,
        on_change=_rename,
        placeholder=EVERYONE,
        max_chars=40,
        help="The digits you label are kept under this name, and the app learns your "
        "handwriting from them. Without a name they are everyone's.",
    )
    if error := st.session_state.pop(_NAME_ERROR, None):
        st.error(error)
    return person


def _rename() -> None:
    typed = st.session_state[_FIELD]
    try:
        st.session_state[_PERSON] = check_person(typed) if typed.strip() else EVERYONE
    except FeedbackError as error:
        st.session_state[_NAME_ERROR] = f"That name cannot be kept: {error}."
    st.session_state.pop(_CONFIRM_FORGET, None)


def personal_reader(saved: SavedModel, person: str) -> PersonalClassifier:
    """`saved`'s classifier with `person`'s memory: built again when the model or their
    drawings change. Raises `store.ModelFileError` when the model file is unsafe, broken or
    gone, and `FeedbackError` when the drawings cannot be read (`memoryless_reader` still
    reads)."""
    path = feedback_path()
    if not path.exists():  # looking never creates the store
        return memoryless_reader(saved)
    version = FeedbackStore.open(path).version(person)
    return _reader(str(saved.path), file_version(saved), str(path), person, version)


def memoryless_reader(saved: SavedModel) -> PersonalClassifier:
    """`saved`'s classifier with an empty memory."""
    return _reader(str(saved.path), file_version(saved), None, EVERYONE, (0, 0))


def _reader(
    model_path: str,
    model_version: int,
    store_path: str | None,
    person: str,
    drawings_version: tuple[int, int],
) -> PersonalClassifier:
    """The session's reader, built anew when any of what it is made from changes (the versions
    say when a drawing or the model did). Kept in the session rather than in a cache shared by
    the process, so that its memory goes with the session: a shared cache kept the readers of
    a class long after it left."""
    made_from = (model_path, model_version, store_path, person, drawings_version)
    kept = st.session_state.get(_READER)
    if kept is not None and kept[0] == made_from:
        return kept[1]
    reader = _grown(kept, made_from)
    if reader is None:
        base = cached_classifier(model_path, model_version)
        if store_path is None:
            images, labels = _NO_DRAWINGS
        else:
            images, labels = FeedbackStore.open(store_path).arrays(person=person)
        reader = PersonalClassifier(base, to_unit(images), labels)
    st.session_state[_READER] = (made_from, reader)
    return reader


def _grown(kept: tuple | None, made_from: tuple) -> PersonalClassifier | None:
    """The kept reader with the person's newer drawings added, when drawings were only added
    since it was made (the usual step: one more kept); None when it must be built anew."""
    if kept is None:
        return None
    (*source_before, (count_before, newest_before)), reader = kept
    *source, (count_now, _newest) = made_from  # (model path, its version, store, person)
    store_path, person = source[2], source[3]
    if source != source_before or store_path is None:
        return None
    images, labels = FeedbackStore.open(store_path).arrays(after_id=newest_before, person=person)
    if count_before + len(labels) != count_now:  # some were deleted too
        return None
    return reader.adding(to_unit(images), labels)


def memory_ui(reader: PersonalClassifier, person: str) -> None:
    """What the memory holds, said plainly, and a way to clear it."""
    whose = "everyone's" if person == EVERYONE else "your"
    if reader.size == 0:
        st.caption(
            f"No memory of {whose} handwriting yet: correct a misread digit below and the "
            "next one like it is read right."
        )
        return
    line, clear = st.columns([4, 1], vertical_alignment="center")
    line.caption(
        f"Knows **{reader.size}** of {whose} drawings: ones that look like them are read "
        "the way they were labelled."
    )
    if person == EVERYONE:
        return  # a drawing without a name may be anyone's: only its owner may forget a memory
    if clear.button("Forget them…", key="person_forget", type="tertiary"):
        st.session_state[_CONFIRM_FORGET] = person
    if st.session_state.get(_CONFIRM_FORGET) == person:
        with st.container(border=True):
            st.warning(
                f"Forget {whose} {reader.size} labelled drawings? They are deleted for good, "
                "and no longer score models."
            )
            yes, no, _ = st.columns([1, 1, 3])
            yes.button("Yes, forget", type="primary", on_click=_forget, args=(person,))
            no.button("Cancel", on_click=st.session_state.pop, args=(_CONFIRM_FORGET, None))


def _forget(person: str) -> None:
    st.session_state.pop(_CONFIRM_FORGET, None)
    try:
        forgotten = FeedbackStore.open().forget(person)
    except FeedbackError as error:
        st.session_state[_NAME_ERROR] = f"Nothing was forgotten: {error}."
        return
    st.toast(f"Forgot {forgotten} drawings.")
