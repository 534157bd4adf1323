"""The drawn-digit benches' interval: it resamples fonts, not drawings, because a font's writers
all shape a digit the same way."""

import numpy as np

from bench.harness.scoring import font_interval
from mnist_core.drawn import DrawnSet

FONTS = [f"Font{n}-Regular" for n in range(10)]  # stems with a dash, as real ones have


def writers_set() -> DrawnSet:
    """Two writers per font, each drawing five 8s and five 3s."""
    sources, labels = [], []
    for font in FONTS:
        for writer in (1, 2):
            for label in (8, 3):
                sources += [f"writer:{font}-{writer}"] * 5
                labels += [label] * 5
    n = len(labels)
    return DrawnSet(None, np.zeros((n, 28, 28), np.uint8), np.array(labels), np.array(sources))


def test_the_same_errors_in_one_font_are_less_certain_than_spread_over_all():
    drawn = writers_set()
    eights = np.flatnonzero(drawn.labels == 8)  # 10 per font, 100 in all
    in_one_font = np.ones(len(drawn), bool)
    in_one_font[eights[:10]] = False  # every 8 of the first font misread
    spread = np.ones(len(drawn), bool)
    spread[eights[::10]] = False  # one 8 of each font misread

    low, high = font_interval(in_one_font, drawn, digit=8)
    assert low < 0.8 < 0.9 < high <= 1.0  # one font more or less moves it by ten points
    assert font_interval(spread, drawn, digit=8) == (0.9, 0.9)  # every font reads 90%


def test_an_interval_covers_only_its_digit_and_contains_the_figure():
    drawn = writers_set()
    correct = np.ones(len(drawn), bool)
    correct[np.flatnonzero(drawn.labels == 8)[:10]] = False

    assert font_interval(correct, drawn, digit=3) == (1.0, 1.0)
    low, high = font_interval(correct, drawn)
    assert low < correct.mean() < high
