"""The charts say what they show without exaggerating it: axes from zero, whole epochs, legends
clear of the data."""

import numpy as np
import pytest

from mnist_core import plots


@pytest.mark.parametrize("epochs", [1, 2, 7, 30])
def test_learning_curves_mark_whole_epochs_only(epochs):
    history = {"loss": list(np.linspace(1, 0.1, epochs)), "val_loss": [0.5] * epochs}
    figure = plots.learning_curves(history)
    figure.canvas.draw()

    for axes in figure.axes:
        low, high = axes.get_xlim()
        ticks = [t for t in axes.get_xticks() if low <= t <= high]
        assert ticks and all(float(t).is_integer() and 1 <= t <= epochs for t in ticks)
        if epochs <= 10:
            assert ticks == list(range(1, epochs + 1))  # every epoch, the first one included


def test_per_digit_bars_start_at_zero_with_the_legend_below_them():
    accuracies = {"MNIST": np.full(10, 0.99), "Drawn": np.linspace(0.93, 1.0, 10)}
    figure = plots.per_class_bars(accuracies)
    figure.canvas.draw()
    (axes,) = figure.axes

    assert axes.get_ylim() == (0.0, 1.0)
    legend = axes.get_legend().get_window_extent()
    assert legend.y1 <= axes.get_window_extent().y0  # under the axes, over no bar
    assert [label.get_text() for label in axes.get_yticklabels()][-1] == "100%"
