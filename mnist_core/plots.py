"""Figures people would rather look at than read: curves, a heatmap, digit galleries.

Figures are built with matplotlib's object API (no pyplot state), so they are safe to make
from Streamlit's threads.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

TRAIN_COLOUR, VALIDATION_COLOUR = "#1f77b4", "#ff7f0e"


def learning_curves(
    histories: dict[str, dict[str, list[float]]] | dict[str, list[float]],
) -> Figure:
    """Loss and accuracy per epoch, train (solid) vs validation (dashed).

    Pass one history, or {label: history} to overlay several models in one chart.
    """
    if "loss" in histories:
        histories = {"": histories}
    figure = Figure(figsize=(9, 3.4), layout="constrained")
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    colours = [f"C{i}" for i in range(10)]
    for (label, history), colour in zip(histories.items(), colours, strict=False):
        prefix = f"{label} " if label else ""
        for axes, metric in ((loss_axes, "loss"), (accuracy_axes, "accuracy")):
            for key, style, part in ((metric, "-", "train"), (f"val_{metric}", "--", "validation")):
                values = history.get(key) or []
                if values:
                    epochs = np.arange(1, len(values) + 1)
                    axes.plot(
                        epochs,
                        values,
                        style,
                        marker="o",
                        markersize=3,
                        color=colour,
                        label=f"{prefix}{part}",
                    )
    epochs = max((len(v) for h in histories.values() for v in h.values() if v), default=1)
    for axes, title in ((loss_axes, "Loss"), (accuracy_axes, "Accuracy")):
        axes.set_title(title)
        axes.set_xlabel("epoch")
        axes.grid(alpha=0.3)
        axes.xaxis.set_major_locator(
            MaxNLocator(nbins=min(epochs, 10), integer=True, min_n_ticks=1)
        )
        axes.set_xlim(0.5, epochs + 0.5)  # whole epochs only, the first one included
        if axes.lines:
            axes.legend(fontsize="small")
    return figure


def confusion_heatmap(confusion: np.ndarray) -> Figure:
    """The 10x10 confusion matrix, counts written in each cell; the diagonal is right."""
    confusion = np.asarray(confusion)
    figure = Figure(figsize=(5.2, 4.6), layout="constrained")
    axes = figure.subplots()
    # colour by share of the true class so rare errors stay visible next to the big diagonal
    totals = confusion.sum(axis=1, keepdims=True)
    shares = np.divide(confusion, totals, out=np.zeros(confusion.shape), where=totals > 0)
    image = axes.imshow(np.sqrt(shares), cmap="Blues", vmin=0, vmax=1)
    for (row, column), count in np.ndenumerate(confusion):
        if count:
            axes.text(
                column,
                row,
                str(count),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if shares[row, column] > 0.5 else "black",
            )
    axes.set_xticks(range(10))
    axes.set_yticks(range(10))
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title("Confusion matrix")
    colourbar = figure.colorbar(image, ax=axes, shrink=0.8)
    colourbar.set_ticks(np.sqrt([0, 0.01, 0.1, 0.5, 1]), labels=["0", "1%", "10%", "50%", "100%"])
    colourbar.set_label("share of the true digit")
    return figure


def digit_gallery(
    images: Sequence[np.ndarray], captions: Sequence[str], columns: int = 10
) -> Figure:
    """Digits in a grid, white on black as the model sees them, each with a caption."""
    count = max(len(images), 1)
    rows = -(-count // columns)
    figure = Figure(figsize=(columns * 0.95, rows * 1.15), layout="constrained")
    for slot, axes in enumerate(np.atleast_1d(figure.subplots(rows, columns)).ravel()):
        axes.set_axis_off()
        if slot < len(images):
            axes.imshow(images[slot], cmap="gray", vmin=0, vmax=np.max(images[slot]) or 1)
            axes.set_title(captions[slot], fontsize=8)
    return figure


def per_class_bars(accuracies: dict[str, Sequence[float]]) -> Figure:
    """Per-digit accuracy of one or more models as grouped bars."""
    figure = Figure(figsize=(9, 3), layout="constrained")
    axes = figure.subplots()
    width = 0.8 / max(len(accuracies), 1)
    for i, (label, values) in enumerate(accuracies.items()):
        axes.bar(
            np.arange(10) + (i - (len(accuracies) - 1) / 2) * width, values, width, label=label
        )
    axes.set_ylim(0.0, 1.0)  # from zero: a cut axis makes small gaps look large
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_xticks(range(10))
    axes.set_xlabel("digit")
    axes.set_ylabel("accuracy")
    axes.grid(axis="y", alpha=0.3)
    # below the bars, never over them
    axes.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.22),
                ncol=max(len(accuracies), 1), frameon=False)  # fmt: skip
    return figure
