"""Models page: every saved model, its test results read from its record, its accuracy on drawn
digits beside its MNIST score, download, delete and a side-by-side comparison of two models.
Nothing is retrained or loaded into Keras: the drawn digits are read by the NumPy classifier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.access import is_locked, locked_help, unlock_ui
from app_pages.active_model import (
    ACTIVE_MODEL,
    active_model,
    architecture_name,
    cached_classifier,
    describe,
    file_version,
    load_classifier,
    set_active_model,
)
from app_pages.confusion_ui import drawings_confusion_ui
from app_pages.export_ui import export_ui
from app_pages.figures import show_figure
from app_pages.person import current_person
from app_pages.results import model_results, model_summary
from app_pages.training_job import TRAIN_PAGE
from mnist_core import plots
from mnist_core.evaluate import Evaluation
from mnist_core.feedback import EVERYONE
from mnist_core.store import ModelFileError, SavedModel, delete_model, scan_models

_SELECTED = "models_selected"
_CONFIRMING = "models_confirm_delete"  # the name of the model whose deletion awaits a yes
_DELETED = "models_deleted"  # the name of the model just deleted, to say so once
_COMPARED = ("models_compare_first", "models_compare_second")


def models_page() -> None:
    st.title("Saved models")
    if deleted := st.session_state.pop(_DELETED, None):
        st.success(f"Deleted **{deleted}**.")
    models, unreadable = scan_models()
    for name, why in unreadable.items():
        st.warning(f"**{name}** is not shown: {why}.")
    if not models:
        st.info("There is no saved model yet to show. Train one first on the Train page.")
        st.page_link(TRAIN_PAGE, label="Go to the Train page", icon="⚙️")
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
    export_ui(saved)
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
                "Trained": saved.record.created,
                "Architecture": architecture_name(saved.record.config.architecture),
                "Epochs": saved.record.epochs_run,
                "Test accuracy": saved.record.evaluation.accuracy,
                "Stopped early": saved.record.stopped_early,
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
    picker, use, download, delete = st.columns([4, 1.2, 1, 1], vertical_alignment="bottom")
    name = picker.selectbox("Model", list(by_name), key=_SELECTED, format_func=_describer(by_name))
    saved = by_name[name]
    is_active = active_model(models).name == name
    use.button(
        "The active model" if is_active else "Use this model",
        on_click=set_active_model,
        args=(name,),
        disabled=is_active,
        width="stretch",
        help="The Draw page reads with the active model; the choice is kept in the link.",
    )
    download.download_button(
        "Download .h5",
        data=saved.path.read_bytes,  # read only when clicked
        file_name=saved.path.name,
        mime="application/x-hdf5",
        on_click="rerun",  # if another session deleted it, the rerun says so
        width="stretch",
    )
    locked = is_locked()
    delete.button(
        "Delete…",
        on_click=st.session_state.__setitem__,
        args=(_CONFIRMING, name),
        width="stretch",
        disabled=locked,
        help=locked_help() if locked else None,
    )
    unlock_ui("models")
    if st.session_state.get(_CONFIRMING) == name:
        with st.container(border=True):
            st.warning(f"Delete **{name}**? Its .h5 file and its record are removed for good.")
            yes, no, _ = st.columns([1, 1, 4])
            yes.button(
                "Yes, delete", type="primary", on_click=_delete, args=(name,), disabled=locked
            )
            no.button("Cancel", on_click=st.session_state.pop, args=(_CONFIRMING, None))
    return saved


def _delete(name: str) -> None:
    if is_locked():  # a disabled button can still be sent
        return
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
    for key in _COMPARED:  # a pick not made yet, or of a model deleted since: another model
        if key not in st.session_state:
            taken = {st.session_state.get(other) for other in _COMPARED}
            st.session_state[key] = next(name for name in by_name if name not in taken)
    columns = st.columns(2)
    first, second = (
        by_name[column.selectbox(label, list(by_name), key=key, format_func=_describer(by_name))]
        for column, label, key in zip(
            columns, ("First model", "Second model"), _COMPARED, strict=True
        )
    )
    if first.name == second.name:
        st.info("Pick two different models.")
        return
    pair = (first, second)
    versions = tuple(part for saved in pair for part in (saved.name, saved.record.created))
    histories = {saved.name: saved.record.history for saved in pair}
    st.markdown("**Learning curves**")
    show_figure(("compare curves", *versions), lambda: plots.learning_curves(histories))
    accuracies = {saved.name: saved.record.evaluation.per_class_accuracy for saved in pair}
    st.markdown("**Accuracy on each digit** (test set)")
    show_figure(("compare digits", *versions), lambda: plots.per_class_bars(accuracies))


def _describer(by_name: dict[str, SavedModel]):
    return lambda name: describe(by_name[name])


def accuracy_side_by_side(saved: SavedModel) -> None:
    """MNIST test accuracy beside accuracy on drawn digits (our set) and on the user's own
    drawings, then per-digit bars: MNIST's score overstates how well mouse drawings are read."""
    evaluation = saved.record.evaluation
    st.markdown("**MNIST test digits vs drawn digits**")
    mnist_column, drawn_column, own_column = st.columns(3)
    mnist_column.metric(
        "MNIST test digits",
        f"{evaluation.accuracy:.2%}",
        help="The 10,000 MNIST test digits: scanned pen on paper, centred the MNIST way.",
    )
    with drawn_column:
        drawn = _drawn_evaluation_ui(saved)
    with own_column:
        _own_drawings_ui(saved)
    if drawn is None:
        return
    accuracies = {
        "MNIST test digits": evaluation.per_class_accuracy,
        "Drawn digits": drawn.per_class_accuracy,
    }
    version = (saved.name, saved.record.created, *_drawn_set_version())
    show_figure(("drawn digits", *version), lambda: plots.per_class_bars(accuracies))
    st.caption(
        f"Drawn digits: {drawn.count:,} digits drawn on a canvas like the Draw page's by "
        "simulated writers, each tracing a handwriting font in a hand of their own (slant, "
        "size, pen width). No model here ever trained on these fonts, so these are shapes it "
        "has never seen; but they are imitations, not people: your drawings are the real test."
    )


def _drawn_evaluation_ui(saved: SavedModel) -> Evaluation | None:
    """The "Drawn digits" metric; the evaluation, or None when the set or model is unusable."""
    from mnist_core.drawn import DrawnSetError, drawn_set_path

    try:
        path, version = _drawn_set_version()
        with st.spinner("Reading the drawn digits…"):
            drawn = _drawn_evaluation(str(saved.path), file_version(saved), path, version)
    except FileNotFoundError:
        st.metric("Drawn digits", "n/a")
        st.caption(
            f"The drawn-digit set {drawn_set_path().name} is not built yet: `make data` builds it."
        )
        return None
    except (DrawnSetError, ModelFileError) as error:
        st.metric("Drawn digits", "n/a")
        st.caption(f"Cannot score the drawn digits: {error}.")
        return None
    delta = f"{100 * (drawn.accuracy - saved.record.evaluation.accuracy):+.1f} points vs MNIST"
    st.metric(
        "Drawn digits",
        f"{drawn.accuracy:.2%}",
        delta=delta,
        delta_arrow="off",
        help="Our drawn-digit test set, prepared as the Draw page prepares a drawing.",
    )
    return drawn


def _own_drawings_ui(saved: SavedModel) -> None:
    """The "Your drawings" metric (the session's person's, or everyone's without a name), and
    the score on each person's drawings when several people labelled some."""
    from mnist_core.feedback import (
        FeedbackError,
        FeedbackStore,
        evaluate_by_person,
        evaluate_feedback,
        feedback_path,
    )

    person = current_person()
    whose = None if person == EVERYONE else person
    learnt_up_to = saved.record.drawings_learnt_up_to
    people = {}
    if not feedback_path().exists():  # looking never creates the store
        evaluation = None
    else:
        try:
            classifier, store = load_classifier(saved), FeedbackStore.open()
            people = evaluate_by_person(classifier, store, learnt_up_to)
            # a person's score is in `people` already; without a name, everyone's drawings
            evaluation = (
                evaluate_feedback(classifier, store, learnt_up_to)
                if whose is None
                else people.get(whose)
            )
        except (FeedbackError, ModelFileError) as error:
            st.metric("Your drawings", "n/a")
            st.caption(f"Cannot score your drawings: {error}.")
            return
    tuned = saved.record.fine_tuned
    if evaluation is None:
        st.metric("Your drawings", "none yet")
        if tuned:
            st.caption(
                f"It was fine-tuned on your {tuned.drawings} drawings, so it is scored only "
                "on drawings you label after that."
            )
        else:
            st.caption("Label drawings on the Draw page (“Wrong? It was a…”) to score models.")
        return
    st.metric(
        "Your drawings",
        f"{evaluation.accuracy:.2%}",
        delta=f"of {evaluation.count} drawings",
        delta_color="off",
        delta_arrow="off",
        help=("Everyone's drawings labelled" if whose is None else f"{person}'s drawings")
        + " on the Draw page"
        + (", since this model was fine-tuned on the ones before." if tuned else "."),
    )
    _drawings_matrix(saved, whose, learnt_up_to)
    if len(people) > 1:
        st.dataframe(
            [
                {"Person": name, "Drawings": e.count, "Accuracy": 100 * e.accuracy}
                for name, e in people.items()
            ],
            hide_index=True,
            column_config={"Accuracy": st.column_config.NumberColumn(format="%.1f%%")},
        )


def _drawings_matrix(saved: SavedModel, person: str | None, learnt_up_to: int) -> None:
    """The person's (or everyone's) labelled drawings in a confusion matrix you can click."""
    from mnist_core.feedback import FeedbackStore

    images, labels = FeedbackStore.open().arrays(after_id=learnt_up_to, person=person)
    with st.popover("Your drawings, cell by cell"):
        drawings_confusion_ui(saved, images, labels.astype(np.int64), key="confusion_drawings")


def _drawn_set_version() -> tuple[str, int]:
    """(path, mtime) of the drawn set: a rebuilt set is scored again. FileNotFoundError if none."""
    from mnist_core.drawn import drawn_set_path

    path = drawn_set_path()
    return str(path), path.stat().st_mtime_ns


@st.cache_data(max_entries=32, show_spinner=False)
def _drawn_evaluation(
    model_path: str, model_version: int, set_path: str, set_version: int
) -> Evaluation:
    """A model's evaluation on the drawn set, once per version of each (slow for a CNN)."""
    from mnist_core.evaluate import score_classifier

    digits, labels = _drawn_digits(set_path, set_version)
    return score_classifier(cached_classifier(model_path, model_version), digits, labels)


@st.cache_resource(max_entries=1, show_spinner=False)
def _drawn_digits(path: str, version: int) -> tuple[np.ndarray, np.ndarray]:
    """The drawn set's digits as the Draw page reads a drawing, and their labels, shared by all
    sessions; the set's canvases (a few hundred MB) are never read."""
    from mnist_core.drawn import load_drawn_set

    drawn = load_drawn_set(path, pictures=False)
    digits, labels = drawn.digits, drawn.labels
    digits.flags.writeable = labels.flags.writeable = False  # shared: nobody may change them
    return digits, labels


models_page()
