"""UI helpers the pages share: which saved model is active, its cached classifier, the
sidebar picker, a saved model's test results drawn from its record, and its accuracy on drawn
digits (our set and the user's own) beside its MNIST score.

The active model's name lives in `st.session_state[ACTIVE_MODEL]`; when it is missing, or
names a model that no longer exists (another session may have deleted it), the newest saved
model is active.

The app imports this module at start, so it stays light: Keras is reached only by
`load_classifier` (to read a `.h5` file), and matplotlib and scikit-learn, which take
seconds to import, only by the functions that draw results.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from mnist_core.classify import Classifier
from mnist_core.store import ModelFileError, SavedModel, list_models

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from mnist_core.evaluate import Evaluation

ACTIVE_MODEL = "active_model"
TRAIN_PAGE = "app_pages/train.py"
MISTAKES_SHOWN = 30
FIGURE_DPI = 144  # sharp on high-density screens, still small PNGs
_PICKER = "model_picker"


def active_model(models: list[SavedModel]) -> SavedModel | None:
    """The model the user picked, else the newest of `models` (newest first), else None."""
    name = st.session_state.get(ACTIVE_MODEL)
    picked = next((saved for saved in models if saved.name == name), None)
    return picked or (models[0] if models else None)


def set_active_model(name: str | None) -> None:
    """Make `name` the active model; None falls back to the newest."""
    if name is None:
        st.session_state.pop(ACTIVE_MODEL, None)
    else:
        st.session_state[ACTIVE_MODEL] = name


def describe(saved: SavedModel) -> str:
    """One line a person can pick a model by: "mlp-20261128-101500 · MLP · 97.9%"."""
    accuracy = saved.test_accuracy
    shown = "no test score" if accuracy is None else f"{accuracy:.1%}"
    return f"{saved.name} · {saved.architecture.upper()} · {shown}"


def created_at(saved: SavedModel) -> datetime | None:
    """When the model was saved (UTC), or None if its record does not say."""
    try:
        return datetime.fromisoformat(saved.created)
    except ValueError:
        return None


def load_classifier(saved: SavedModel) -> Classifier:
    """The model's classifier, read from disk once per file version and shared by all sessions.

    Raises `store.ModelFileError` when the file is unsafe, broken or gone."""
    try:
        version = saved.path.stat().st_mtime_ns
    except OSError:
        raise ModelFileError(f"{saved.path} no longer exists") from None
    return _classifier(str(saved.path), version)


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def _classifier(path: str, version: int) -> Classifier:
    """`version` (the file's mtime) is part of the cache key: a model saved again is reloaded."""
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
        st.session_state[_PICKER] = saved.name
        st.selectbox(
            "Active model",
            [m.name for m in models],
            key=_PICKER,
            on_change=lambda: set_active_model(st.session_state[_PICKER]),
            label_visibility="collapsed",
            help="The model the Draw page uses: the newest one unless you pick another.",
        )
        accuracy = saved.test_accuracy
        left, right = st.columns(2)
        left.metric("Architecture", saved.architecture.upper())
        right.metric("Test accuracy", "n/a" if accuracy is None else f"{accuracy:.2%}")
        created = created_at(saved)
        when = "at an unknown time" if created is None else f"on {created:%d %b %Y, %H:%M} UTC"
        st.caption(f"Trained {when}.")


def no_model_yet(action: str) -> None:
    """Tell the user there is no saved model and how to get one; `action` is what they wanted."""
    st.info(f"There is no saved model yet to {action}. Train one first on the Train page.")
    st.page_link(TRAIN_PAGE, label="Go to the Train page", icon="⚙️")


def evaluation_of(saved: SavedModel) -> Evaluation | None:
    """The test results in the model's record, or None when the record holds none readable."""
    from mnist_core.evaluate import Evaluation

    try:
        return Evaluation.from_dict(saved.record["evaluation"])
    except (KeyError, TypeError, ValueError):
        return None


def model_summary(saved: SavedModel) -> None:
    """Test accuracy and loss, epochs run and training time, then the settings it was trained
    with and on what data."""
    record = saved.record
    test_accuracy, test_loss = saved.test_accuracy, record.get("evaluation", {}).get("loss")
    accuracy, loss, epochs, seconds = st.columns(4)
    accuracy.metric("Test accuracy", "n/a" if test_accuracy is None else f"{test_accuracy:.2%}")
    loss.metric("Test loss", "n/a" if test_loss is None else f"{test_loss:.4f}")
    epochs.metric(
        "Epochs",
        record.get("epochs_run", "n/a"),
        delta="stopped early" if record.get("stopped_early") else None,
        delta_color="orange",
        delta_arrow="off",
    )
    seconds.metric("Training time", f"{record.get('fit_seconds', 0):.0f} s")
    config = record.get("config", {})
    settings = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in config.items())
    st.caption(f"Settings: {settings}. Data: {record.get('data_source', 'unknown')}.")
    if tuned := record.get("fine_tuned"):
        st.caption(
            f"Fine-tuned from **{tuned['base_model']}** on MNIST and {tuned['drawings']} of "
            "your labelled drawings; the settings above are those of the fine-tuning."
        )


def model_results(saved: SavedModel) -> None:
    """A saved model's results in tabs: learning curves, confusion matrix, per-class report
    and the misclassified test digits it was surest about. Read from its record: no Keras."""
    from mnist_core import plots

    evaluation = evaluation_of(saved)
    if evaluation is None:
        st.warning(f"The record of **{saved.name}** holds no readable test results.")
        return
    version = (saved.name, saved.created)
    curves, confusion, report, mistakes = st.tabs(
        ["Learning curves", "Confusion matrix", "Per-class report", "Misclassified digits"]
    )
    with curves:
        history = saved.record.get("history", {})
        show_figure(("curves", *version), lambda: plots.learning_curves(history))
    with confusion:
        heatmap, explanation = st.columns([3, 2])
        with heatmap:
            show_figure(
                ("confusion", *version), lambda: plots.confusion_heatmap(evaluation.confusion)
            )
        explanation.markdown(
            "Rows are the true digits, columns the model's answers: the diagonal counts the "
            "right answers, every other cell a kind of mistake. The colour is the share of "
            "the true digit, so rare mistakes stay visible."
        )
    with report:
        _per_class_report(evaluation)
    with mistakes:
        _mistakes_gallery(evaluation, version)


def _per_class_report(evaluation: Evaluation) -> None:
    """Precision, recall, F1 and number of test images of each digit, as a table."""
    percent = st.column_config.NumberColumn(format="%.1f%%")
    st.dataframe(
        [
            {
                "Digit": digit,
                "Precision": 100 * scores["precision"],
                "Recall": 100 * scores["recall"],
                "F1": scores["f1"],
                "Test images": scores["support"],
            }
            for digit, scores in evaluation.report.items()
        ],
        hide_index=True,
        column_config={
            "Precision": percent,
            "Recall": percent,
            "F1": st.column_config.NumberColumn(format="%.3f"),
        },
    )


def _mistakes_gallery(evaluation: Evaluation, version: tuple) -> None:
    """The misclassified test digits the model was surest about, as the model saw them."""
    from mnist_core import plots

    mistakes = evaluation.mistakes[:MISTAKES_SHOWN]
    if not mistakes:
        st.success("No test digit was misclassified.")
        return
    st.caption(
        f"The {len(mistakes)} misclassified test digits the model was surest about: "
        "true digit → the model's answer, and its confidence."
    )
    show_figure(
        ("mistakes", *version),
        lambda: plots.digit_gallery(
            [m.image for m in mistakes],
            [f"{m.label} → {m.predicted}\n{m.confidence:.0%}" for m in mistakes],
        ),
    )


def show_figure(key: tuple, make_figure: Callable[[], Figure]) -> None:
    """Show a matplotlib figure, drawn once per `key` (a gallery takes a second or two to
    draw; a model's charts never change, so every rerun after the first is instant)."""
    st.image(_figure_png(key, make_figure))


@st.cache_data(max_entries=200, show_spinner=False)
def _figure_png(key: tuple, _make_figure: Callable[[], Figure]) -> bytes:
    """`key` names the figure; `_make_figure` (not hashed, by its leading underscore) draws it."""
    buffer = io.BytesIO()
    _make_figure().savefig(buffer, format="png", dpi=FIGURE_DPI)
    return buffer.getvalue()


def accuracy_side_by_side(saved: SavedModel) -> None:
    """MNIST test accuracy beside accuracy on drawn digits (our set) and on the user's own
    drawings, then per-digit bars: MNIST's score overstates how well mouse drawings are read."""
    mnist_accuracy = saved.test_accuracy
    st.markdown("**MNIST test digits vs drawn digits**")
    mnist_column, drawn_column, own_column = st.columns(3)
    mnist_column.metric(
        "MNIST test digits",
        "n/a" if mnist_accuracy is None else f"{mnist_accuracy:.2%}",
        help="The 10,000 MNIST test digits: scanned pen on paper, centred the MNIST way.",
    )
    with drawn_column:
        drawn = _drawn_evaluation_ui(saved)
    with own_column:
        _own_drawings_ui(saved)
    evaluation = evaluation_of(saved)
    if drawn is None or evaluation is None:
        return
    from mnist_core import plots

    accuracies = {
        "MNIST test digits": evaluation.per_class_accuracy,
        "Drawn digits": drawn.per_class_accuracy,
    }
    version = (saved.name, saved.created, *_drawn_set_version())
    show_figure(("drawn digits", *version), lambda: plots.per_class_bars(accuracies))
    st.caption(
        f"Drawn digits: {drawn.count:,} digits drawn on a 280x280 canvas like the Draw page's, "
        "at random size, place, pen width and slant: MNIST test digits re-drawn along their "
        "centre lines, and digits typed in handwriting fonts (scripts/build_drawn_set.py). "
        "They are imitations, not people drawing with a mouse: your drawings are the real test."
    )


def _drawn_evaluation_ui(saved: SavedModel) -> Evaluation | None:
    """The "Drawn digits" metric; the evaluation, or None when the set or model is unusable."""
    from mnist_core.drawn import DrawnSetError, drawn_set_path

    try:
        path, version = _drawn_set_version()
        with st.spinner("Reading the drawn digits…"):
            drawn = _drawn_evaluation(str(saved.path), _model_version(saved), path, version)
    except FileNotFoundError:
        st.metric("Drawn digits", "n/a")
        st.caption(
            f"The drawn-digit set {drawn_set_path().name} is not built yet: run `make data` "
            "(or `python scripts/build_drawn_set.py`)."
        )
        return None
    except (DrawnSetError, ModelFileError) as error:
        st.metric("Drawn digits", "n/a")
        st.caption(f"Cannot score the drawn digits: {error}.")
        return None
    delta = None
    if saved.test_accuracy is not None:
        delta = f"{100 * (drawn.accuracy - saved.test_accuracy):+.1f} points vs MNIST"
    st.metric(
        "Drawn digits",
        f"{drawn.accuracy:.2%}",
        delta=delta,
        delta_arrow="off",
        help="Our drawn-digit test set, prepared as the Draw page prepares a drawing.",
    )
    return drawn


def _own_drawings_ui(saved: SavedModel) -> None:
    """The "Your drawings" metric: the drawings labelled on the Draw page, when there are any."""
    from mnist_core.feedback import FeedbackError, FeedbackStore, evaluate_feedback, feedback_path

    if not feedback_path().exists():  # looking never creates the store
        evaluation = None
    else:
        try:
            classifier, store = load_classifier(saved), FeedbackStore.open()
            evaluation = evaluate_feedback(classifier, store, saved.drawings_learnt_up_to)
        except (FeedbackError, ModelFileError) as error:
            st.metric("Your drawings", "n/a")
            st.caption(f"Cannot score your drawings: {error}.")
            return
    tuned = saved.record.get("fine_tuned")
    if evaluation is None:
        st.metric("Your drawings", "none yet")
        if tuned:
            st.caption(
                f"It was fine-tuned on your {tuned['drawings']} drawings, so it is scored only "
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
        help="The drawings you labelled on the Draw page"
        + (", since this model was fine-tuned on the ones before." if tuned else "."),
    )


def _model_version(saved: SavedModel) -> int:
    try:
        return saved.path.stat().st_mtime_ns
    except OSError:
        raise ModelFileError(f"{saved.path} no longer exists") from None


def _drawn_set_version() -> tuple[str, int]:
    """(path, mtime) of the drawn set: a rebuilt set is scored again. FileNotFoundError if none."""
    from mnist_core.drawn import drawn_set_path

    path = drawn_set_path()
    return str(path), path.stat().st_mtime_ns


@st.cache_data(max_entries=32, show_spinner=False)
def _drawn_evaluation(
    model_path: str, model_version: int, set_path: str, set_version: int
) -> Evaluation:
    """A model's evaluation on the drawn set, once per version of each (seconds for a CNN)."""
    from mnist_core.evaluate import score_classifier

    digits, labels = _drawn_digits(set_path, set_version)
    return score_classifier(_classifier(model_path, model_version), digits, labels)


@st.cache_resource(max_entries=1, show_spinner=False)
def _drawn_digits(path: str, version: int) -> tuple[np.ndarray, np.ndarray]:
    """The drawn set's canvases prepared as the Draw page prepares a drawing, and their labels,
    shared by all sessions. Preparing 3,000 canvases takes seconds; the canvases themselves
    (235 MB) are not kept."""
    from mnist_core.drawn import load_drawn_set

    drawn = load_drawn_set(path)
    digits, labels = drawn.digits, drawn.labels
    digits.flags.writeable = labels.flags.writeable = False  # shared: nobody may change them
    return digits, labels
