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


# Pictures made in NumPy, not matplotlib: the Draw page makes them for every drawing, fast.

_EVIDENCE_FOR, _EVIDENCE_AGAINST = np.array([255, 60, 60]), np.array([60, 120, 255])
_MAP_SIDE = 44  # pixels a side each feature map is enlarged to, about


def evidence_picture(image: np.ndarray, evidence: np.ndarray, scale: int = 6) -> np.ndarray:
    """(28 * scale, 28 * scale, 3) uint8: the digit in dim grey, its ink red where it supports
    the digit and blue where it speaks against it, the brighter the stronger."""
    strong = np.abs(evidence[evidence != 0])
    limit = max(float(np.percentile(strong, 95)) if strong.size else 0.0, 1e-6)  # not one pixel
    strength = np.clip(evidence / limit, -1, 1)[..., np.newaxis]
    grey = 0.35 * np.clip(image, 0, 1)[..., np.newaxis] * 255
    colour = np.where(strength > 0, _EVIDENCE_FOR, _EVIDENCE_AGAINST) * np.abs(strength)
    picture = np.clip(np.maximum(grey, colour), 0, 255).astype(np.uint8)
    return enlarged(picture, scale)


def response_picture(values: np.ndarray, cell: int = 6, columns: int = 16) -> np.ndarray:
    """A layer's response as one grey picture: a dense layer's units as a grid of squares, a
    convolution's maps side by side; white is the layer's strongest response."""
    values = np.asarray(values, np.float32)
    top = max(float(values.max()), 1e-6)
    levels = np.clip(values / top, 0, 1)
    if levels.ndim == 1:  # units
        return enlarged(_tiled(levels[:, np.newaxis, np.newaxis], columns), cell)
    maps = np.moveaxis(levels, -1, 0)  # (maps, height, width)
    return enlarged(_tiled(maps, columns), max(1, round(_MAP_SIDE / maps.shape[1])))


def kernel_picture(kernel: np.ndarray, columns: int = 16) -> np.ndarray:
    """The first layer's weights as pictures, red for positive and blue for negative: a dense
    layer's 28x28 templates (one per unit), or a convolution's filters."""
    kernel = np.asarray(kernel, np.float32)
    if kernel.ndim == 2:  # (784, units)
        templates = kernel.T.reshape(-1, 28, 28)
        scale = 2
    else:  # (rows, cols, 1, filters)
        templates = np.moveaxis(kernel[:, :, 0, :], -1, 0)
        scale = 10
    limit = np.abs(templates).max(axis=(1, 2), keepdims=True) + 1e-6
    signed = (templates / limit)[..., np.newaxis]
    coloured = np.where(signed > 0, _EVIDENCE_FOR, _EVIDENCE_AGAINST) * np.abs(signed)
    return enlarged(_tiled(coloured.astype(np.uint8), columns), scale)


def _tiled(pictures: np.ndarray, columns: int, gap: int = 1) -> np.ndarray:
    """(n, h, w[, 3]) pictures in a grid `columns` wide, a gap between them; as the input's
    type, levels kept (the caller scales)."""
    count, height, width = pictures.shape[:3]
    columns = min(columns, count)
    rows = -(-count // columns)
    extra = pictures.shape[3:]
    grid = np.zeros(
        (rows * (height + gap) - gap, columns * (width + gap) - gap, *extra), pictures.dtype
    )
    for index, picture in enumerate(pictures):
        top, left = (index // columns) * (height + gap), (index % columns) * (width + gap)
        grid[top : top + height, left : left + width] = picture
    return grid


def enlarged(picture: np.ndarray, scale: int) -> np.ndarray:
    """`picture` enlarged by whole pixels (uint8; grey levels in [0, 1] become 0-255)."""
    if picture.dtype != np.uint8:
        picture = np.clip(picture * 255, 0, 255).astype(np.uint8)
    return picture.repeat(scale, axis=0).repeat(scale, axis=1)


def explanation(
    image: np.ndarray,
    probabilities: np.ndarray,
    evidence_maps: dict[int, np.ndarray],
    look_alikes: Sequence[np.ndarray],
    look_alike_labels: Sequence[int],
) -> Figure:
    """One drawing explained: what the model saw, the evidence for each digit in
    `evidence_maps` (the answer, then the runner-up), and the nearest training digits."""
    figure = Figure(figsize=(9, 4.2), layout="constrained")
    top, bottom = figure.subfigures(2, 1, height_ratios=[2.2, 1])
    panels = top.subplots(1, 1 + len(evidence_maps))
    panels[0].imshow(image, cmap="gray", vmin=0, vmax=1)
    answer = int(np.argmax(probabilities))
    panels[0].set_title(f"Read as {answer} ({probabilities[answer]:.0%})")
    for axes, (digit, evidence) in zip(panels[1:], evidence_maps.items(), strict=True):
        axes.imshow(evidence_picture(image, evidence, scale=1))
        axes.set_title(f"Evidence for {digit} ({probabilities[digit]:.0%})")
    for axes in panels:
        axes.set_axis_off()
    top.suptitle("Red ink makes the model more sure of the digit, blue less", fontsize=9)
    neighbours = bottom.subplots(1, max(len(look_alikes), 1))
    for axes, picture, label in zip(
        np.atleast_1d(neighbours), look_alikes, look_alike_labels, strict=False
    ):
        axes.imshow(picture, cmap="gray")
        axes.set_title(f"a {label}", fontsize=8)
    for axes in np.atleast_1d(neighbours):
        axes.set_axis_off()
    bottom.suptitle("The nearest MNIST training digits, as the model sees them", fontsize=9)
    return figure
