"""Which saved model this session uses, its classifier (loaded once for all sessions), and the
sidebar that shows it and picks another.

The active model is the person's choice: its name lives in `st.session_state[ACTIVE_MODEL]`
and in the page's link (`?model=`), so a reload keeps it. When none was chosen, or the chosen
one no longer exists (another session may have deleted it), the newest saved model is active.
The app imports this at start, so it stays light: no Keras, no matplotlib.
"""

from __future__ import annotations

import streamlit as st

from mnist_core.classify import Classifier
from mnist_core.store import ModelFileError, SavedModel, list_models

ACTIVE_MODEL = "active_model"
LINK = "model"  # the query parameter that carries the active model
ARCHITECTURE_NAMES = {"mlp": "MLP", "cnn": "CNN", "cnn-dense": "CNN + dense layer"}
_PICKER = "model_picker"


def active_model(models: list[SavedModel]) -> SavedModel | None:
    """The model the user picked, else the newest of `models` (newest first), else None."""
    if ACTIVE_MODEL not in st.session_state and LINK in st.query_params:
        st.session_state[ACTIVE_MODEL] = st.query_params[LINK]  # a reload, or a shared link
    name = st.session_state.get(ACTIVE_MODEL)
    picked = next((saved for saved in models if saved.name == name), None)
    return picked or (models[0] if models else None)


def set_active_model(name: str | None) -> None:
    """Make `name` the active model (in the session and the link); None: the newest."""
    if name is None:
        st.session_state.pop(ACTIVE_MODEL, None)
        st.query_params.pop(LINK, None)
    else:
        st.session_state[ACTIVE_MODEL] = name
        st.query_params[LINK] = name


def architecture_name(architecture: str) -> str:
    """How a person calls an architecture: "MLP", "CNN + dense layer"."""
    return ARCHITECTURE_NAMES.get(architecture, architecture)


def describe(saved: SavedModel) -> str:
    """One line a person can pick a model by: "mlp-20261128-101500 · MLP · 97.9%"."""
    record = saved.record
    kind = architecture_name(record.config.architecture)
    return f"{saved.name} · {kind} · {record.evaluation.accuracy:.1%}"


def load_classifier(saved: SavedModel) -> Classifier:
    """The model's classifier, read from disk once per file version and shared by all sessions.

    Raises `store.ModelFileError` when the file is unsafe, broken or gone."""
    return cached_classifier(str(saved.path), file_version(saved))


def file_version(saved: SavedModel) -> int:
    """The `.h5` file's mtime: a model saved again under its name is read again."""
    try:
        return saved.path.stat().st_mtime_ns
    except OSError:
        raise ModelFileError(f"{saved.path} no longer exists") from None


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def cached_classifier(path: str, version: int) -> Classifier:
    """`version` (see `file_version`) is part of the cache key."""
    return Classifier.load(path)


def model_sidebar() -> None:
    """The active model and a picker for another one, or what to do when there is none."""
    models = list_models()
    saved = active_model(models)
    with st.sidebar:
        st.subheader("Active model")
        if saved is None:
            st.info("No saved model yet. Train one on the **Train** page; it becomes active here.")
            return
        if st.session_state.get(ACTIVE_MODEL) == saved.name:
            st.query_params[LINK] = saved.name  # kept in the link on every page
        st.session_state[_PICKER] = saved.name
        by_name = {m.name: m for m in models}
        st.selectbox(
            "Active model",
            list(by_name),
            format_func=lambda name: describe(by_name[name]),
            key=_PICKER,
            on_change=lambda: set_active_model(st.session_state[_PICKER]),
            label_visibility="collapsed",
            help="The model the Draw page uses: the newest one unless you pick another.",
        )
        record = saved.record
        st.metric("Test accuracy", f"{record.evaluation.accuracy:.2%}")
        # The architecture in words: as a metric, "CNN + dense layer" was cut to half a sidebar
        st.caption(
            f"{architecture_name(record.config.architecture)}, "
            f"trained on {record.created:%d %b %Y, %H:%M} UTC."
        )
