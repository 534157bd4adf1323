"""A confusion matrix you can click: each cell shows its test digits, the ones the model was
surest of first, with the ink that made it answer so; per-digit accuracy bars beside it.

The digits are read again here by the NumPy classifier (once per model file, cached), so
every cell, the right answers on the diagonal too, can show what it holds.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from app_pages.active_model import cached_classifier, file_version
from app_pages.figures import show_figure
from mnist_core import plots
from mnist_core.data import prepare_mnist
from mnist_core.evaluate import probabilities_of
from mnist_core.explain import evidence
from mnist_core.pixels import to_unit
from mnist_core.store import ModelFileError, SavedModel

CELL_DIGITS = 12  # shown for a clicked cell
_SELECTION = "cell"


def confusion_ui(saved: SavedModel, key: str) -> None:
    """The clickable heatmap of `saved`'s test digits, the bars, and the clicked cell."""
    try:
        version = file_version(saved)
        images, labels, answers, confidence = _test_answers(str(saved.path), version)
    except ModelFileError as error:
        st.warning(f"The model file cannot be read ({error}), so its cells cannot be opened.")
        show_figure(
            ("confusion", saved.name, saved.record.created),
            lambda: plots.confusion_heatmap(saved.record.evaluation.confusion),
        )
        return
    network = cached_classifier(str(saved.path), version)
    _clickable_matrix(network, images, labels, answers, confidence, key, "test digits")


def drawings_confusion_ui(saved: SavedModel, images: np.ndarray, labels: np.ndarray, key: str):
    """The same for a person's labelled drawings (uint8 (n, 28, 28), their true digits)."""
    network = cached_classifier(str(saved.path), file_version(saved))
    probabilities = probabilities_of(network, images)
    answers = probabilities.argmax(axis=1)
    confidence = probabilities[np.arange(len(answers)), answers]
    _clickable_matrix(network, images, labels, answers, confidence, key, "drawings")


def _clickable_matrix(network, images, labels, answers, confidence, key: str, what: str):
    confusion = np.zeros((10, 10), np.int64)
    np.add.at(confusion, (labels, answers), 1)
    heatmap, bars = st.columns([3, 2])
    with heatmap:
        event = st.altair_chart(
            _heatmap(confusion), on_select="rerun", selection_mode=_SELECTION, key=key
        )
    with bars:
        st.vega_lite_chart(_accuracy_bars(confusion), width="stretch")
        st.caption(
            "Rows are the true digits, columns the model's answers; the colour is the share "
            f"of the true digit, so rare mistakes stay visible. Click a cell to see its {what}."
        )
    cell = _clicked(event)
    if cell is None:
        return
    actual, predicted = cell
    chosen = np.flatnonzero((labels == actual) & (answers == predicted))
    chosen = chosen[np.argsort(-confidence[chosen])][:CELL_DIGITS]
    verdict = "read right" if actual == predicted else f"read as {predicted}"
    st.markdown(f"**True {actual}, {verdict}: {confusion[actual, predicted]:,} {what}**")
    if not len(chosen):
        return
    shown = to_unit(images[chosen])
    pictures = [
        plots.evidence_picture(image, evidence(network, image, predicted), scale=3)
        for image in shown
    ]
    st.image(pictures, caption=[f"{confidence[i]:.0%} sure" for i in chosen], output_format="PNG")
    st.caption(f"Surest first; red ink made the model more sure of {predicted}, blue less.")


def epoch_by_epoch_ui(saved: SavedModel, key: str) -> None:
    """The test set's confusion matrix after each epoch, picked with a slider: how it learnt."""
    confusions = saved.record.epoch_confusions
    if len(confusions) < 2:
        return
    st.markdown("**How it learnt: the confusion matrix after each epoch**")
    epoch = st.slider("After epoch", 1, len(confusions), len(confusions), key=key)
    confusion = confusions[epoch - 1]
    right = confusion.diagonal().sum() / max(confusion.sum(), 1)
    st.altair_chart(_heatmap(confusion, selectable=False), key=f"{key}_chart")
    st.caption(f"After epoch {epoch}: {right:.2%} of the test digits read right.")


def _heatmap(confusion: np.ndarray, selectable: bool = True) -> alt.Chart:
    totals = confusion.sum(axis=1, keepdims=True)
    share = confusion / np.maximum(totals, 1)
    cells = pd.DataFrame(
        [
            {
                "actual": actual,
                "predicted": predicted,
                "count": int(confusion[actual, predicted]),
                "share": float(share[actual, predicted]),
            }
            for actual in range(10)
            for predicted in range(10)
        ]
    )
    base = alt.Chart(cells).encode(
        x=alt.X("predicted:O", title="The model's answer", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("actual:O", title="True digit"),
    )
    squares = base.mark_rect(stroke="white").encode(
        color=alt.Color(
            "share:Q", scale=alt.Scale(type="sqrt", scheme="blues", domain=[0, 1]), legend=None
        ),
        tooltip=["actual", "predicted", "count", alt.Tooltip("share:Q", format=".1%")],
    )
    if selectable:
        pick = alt.selection_point(name=_SELECTION, fields=["actual", "predicted"], toggle=False)
        squares = squares.encode(
            opacity=alt.condition(pick, alt.value(1), alt.value(0.55))
        ).add_params(pick)
    counts = base.mark_text(fontSize=10).encode(
        text="count:Q",
        color=alt.condition("datum.share > 0.5", alt.value("white"), alt.value("black")),
    )
    return (squares + counts).properties(height=340)


def _accuracy_bars(confusion: np.ndarray) -> dict:
    accuracy = confusion.diagonal() / np.maximum(confusion.sum(axis=1), 1)
    values = [{"digit": str(d), "accuracy": float(a)} for d, a in enumerate(accuracy)]
    return {
        "data": {"values": values},
        "mark": {"type": "bar", "tooltip": True},
        "height": 300,
        "title": "Accuracy per digit",
        "encoding": {
            "y": {"field": "digit", "type": "ordinal", "title": None},
            "x": {
                "field": "accuracy",
                "type": "quantitative",
                "scale": {"domain": [0, 1]},
                "axis": {"format": "%"},
                "title": None,
            },
        },
    }


def _clicked(event) -> tuple[int, int] | None:
    points = (event.selection or {}).get(_SELECTION) if event is not None else None
    if not points:
        return None
    return int(points[0]["actual"]), int(points[0]["predicted"])


@st.cache_resource(max_entries=8, show_spinner="Reading the 10,000 test digits again…")
def _test_answers(model_path: str, version: int):
    """(uint8 images, labels, answers, the answers' probabilities) for the test set: uint8 at
    rest, a quarter of the memory of floats."""
    images, labels = prepare_mnist().test
    network = cached_classifier(model_path, version)
    probabilities = probabilities_of(network, images)
    answers = probabilities.argmax(axis=1)
    return images, labels, answers, probabilities[np.arange(len(answers)), answers]
