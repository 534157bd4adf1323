"""Models page: every saved model, its test results read from its record, its accuracy on drawn
digits beside its MNIST score, download, delete and a side-by-side comparison of two models.
Nothing is retrained or loaded into Keras: the drawn digits are read by the NumPy classifier."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.common import (
    ACTIVE_MODEL,
    accuracy_side_by_side,
    active_model,
    created_at,
    describe,
    evaluation_of,
    model_results,
    model_summary,
    no_model_yet,
    set_active_model,
    show_figure,
)
from mnist_core import plots
from mnist_core.store import SavedModel, delete_model, list_models

_SELECTED = "models_selected"
_CONFIRMING = "models_confirm_delete"  # the name of the model whose deletion awaits a yes
_DELETED = "models_deleted"  # the name of the model just deleted, to say so once
_COMPARED = ("models_compare_first", "models_compare_second")


def models_page() -> None:
    st.title("Saved models")
    if deleted := st.session_state.pop(_DELETED, None):
        st.success(f"Deleted **{deleted}**.")
    models = list_models()
    if not models:
        no_model_yet("show")
        return
    _forget_missing_choices([saved.name for saved in models])
    st.dataframe(
        _table(models),
        hide_index=True,
        column_config={
            "Trained": st.column_config.DatetimeColumn("Trained (UTC)", format="YYYY-MM-DD HH:mm"),
            "Test accuracy": st.column_config.NumberColumn(format="%.2f%%"),
        },
    )
    st.subheader("One model in detail")
    saved = _model_and_actions(models)
    model_summary(saved)
    accuracy_side_by_side(saved)
    model_results(saved)
    st.divider()
    _comparison(models)


def _table(models: list[SavedModel]) -> pd.DataFrame:
    """One row per model: what a person compares at a glance (accuracy in percent)."""
    table = pd.DataFrame(
        [
            {
                "Name": saved.name,
                "Trained": created_at(saved),
                "Architecture": saved.architecture.upper(),
                "Epochs": saved.record.get("epochs_run"),
                "Test accuracy": saved.test_accuracy,
                "Stopped early": bool(saved.record.get("stopped_early")),
            }
            for saved in models
        ]
    )
    table["Test accuracy"] *= 100
    return table


def _forget_missing_choices(names: list[str]) -> None:
    """Drop picks of models that are gone (deleted here or by another session), and say so
    when it was another session: the model this person was looking at has vanished."""
    if (selected := st.session_state.get(_SELECTED)) is not None and selected not in names:
        st.info(f"**{selected}** is no longer saved: it was deleted in another session.")
    for key in (_SELECTED, *_COMPARED, _CONFIRMING):
        if st.session_state.get(key) not in names:
            st.session_state.pop(key, None)


def _model_and_actions(models: list[SavedModel]) -> SavedModel:
    """The model picker (the active model first), Download and Delete; returns the pick."""
    if _SELECTED not in st.session_state:
        st.session_state[_SELECTED] = active_model(models).name
    by_name = {saved.name: saved for saved in models}
    picker, download, delete = st.columns([4, 1, 1], vertical_alignment="bottom")
    name = picker.selectbox("Model", list(by_name), key=_SELECTED, format_func=_describer(by_name))
    saved = by_name[name]
    download.download_button(
        "Download .h5",
        data=saved.path.read_bytes,  # read only when clicked
        file_name=saved.path.name,
        mime="application/x-hdf5",
        on_click="rerun",  # if another session deleted it, the rerun says so
        width="stretch",
    )
    delete.button(
        "Delete…", on_click=st.session_state.__setitem__, args=(_CONFIRMING, name), width="stretch"
    )
    if st.session_state.get(_CONFIRMING) == name:
        with st.container(border=True):
            st.warning(f"Delete **{name}**? Its .h5 file and its record are removed for good.")
            yes, no, _ = st.columns([1, 1, 4])
            yes.button("Yes, delete", type="primary", on_click=_delete, args=(name,))
            no.button("Cancel", on_click=st.session_state.pop, args=(_CONFIRMING, None))
    return saved


def _delete(name: str) -> None:
    delete_model(name)
    if st.session_state.get(ACTIVE_MODEL) == name:
        set_active_model(None)  # the newest becomes active
    st.session_state.pop(_CONFIRMING, None)
    st.session_state.pop(_SELECTED, None)
    st.session_state[_DELETED] = name


def _comparison(models: list[SavedModel]) -> None:
    st.subheader("Compare two models")
    if len(models) < 2:
        st.info("Train another model to compare it with this one.")
        return
    by_name = {saved.name: saved for saved in models}
    columns = st.columns(2)
    first, second = (
        by_name[
            column.selectbox(label, list(by_name), index, key=key, format_func=_describer(by_name))
        ]
        for column, label, index, key in zip(
            columns, ("First model", "Second model"), (0, 1), _COMPARED, strict=True
        )
    )
    if first.name == second.name:
        st.info("Pick two different models.")
        return
    pair = (first, second)
    versions = tuple(part for saved in pair for part in (saved.name, saved.created))
    histories = {saved.name: saved.record.get("history", {}) for saved in pair}
    st.markdown("**Learning curves**")
    show_figure(("compare curves", *versions), lambda: plots.learning_curves(histories))
    evaluations = {saved.name: evaluation_of(saved) for saved in pair}
    if None in evaluations.values():
        st.warning("One of these models has no readable test results to compare.")
        return
    accuracies = {name: e.per_class_accuracy for name, e in evaluations.items()}
    st.markdown("**Accuracy on each digit** (test set)")
    show_figure(("compare digits", *versions), lambda: plots.per_class_bars(accuracies))


def _describer(by_name: dict[str, SavedModel]):
    return lambda name: describe(by_name[name])


models_page()
