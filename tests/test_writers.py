"""The simulated writers of the drawn-digit test set: held out whole, each in a hand of their
own, drawn the way the canvas draws."""

from pathlib import Path

import numpy as np
import pytest

from mnist_core.drawn import DrawnSetError, evaluate_drawn
from mnist_core.pixels import to_pixels
from mnist_core.strokes import strokes_to_mnist
from scripts import writers
from scripts.writers import build_writers_set, make_writers, writer_fonts


@pytest.fixture(scope="module")
def some_writers():
    return make_writers(writer_fonts(validation=False)[:3], seed=1)


def test_validation_and_test_writers_never_share_a_font():
    validation, test = writer_fonts(validation=True), writer_fonts(validation=False)
    assert not set(validation) & set(test)
    # Two in three of the shared fonts make test writers; the validation-only fonts none.
    shared = {font for fonts in writers.WRITER_FONTS.values() for font in fonts}
    assert set(test) == shared - writers.VALIDATION_FONTS and len(test) >= 2 * len(shared) / 3
    only = {font for fonts in writers.VALIDATION_ONLY_FONTS.values() for font in fonts}
    assert only <= set(validation) and not only & shared
    packages = {font.split("/")[-2] for font in test}
    assert len(packages) >= 10  # the test writers come from many font families


def test_each_writer_draws_every_digit_on_a_canvas_like_the_apps(some_writers):
    drawn = build_writers_set(some_writers, per_digit=2, seed=3)

    assert len(some_writers) == 3 * writers.WRITERS_PER_FONT and len(drawn) == 120
    assert drawn.canvases.shape == (120, 280, 280) and drawn.canvases.dtype == np.uint8
    for writer in some_writers:
        mine = drawn.sources == f"writer:{writer.name}"
        np.testing.assert_array_equal(np.bincount(drawn.labels[mine], minlength=10), [2] * 10)
    fonts = {Path(writer.font).stem for writer in some_writers}
    assert {writers.font_of(source) for source in drawn.sources} == fonts  # for the benches
    edges = np.concatenate([drawn.canvases[:, 0], drawn.canvases[:, -1]], axis=1)
    assert (drawn.canvases.max(axis=(1, 2)) == 255).all() and not edges.any()
    # The digits are what the Draw page reads of the same strokes.
    assert drawn.digits.shape == (120, 28, 28) and drawn.digits.dtype == np.uint8
    rng = np.random.default_rng(3)
    first = to_pixels(strokes_to_mnist(some_writers[0].strokes(0, rng)[0]))
    np.testing.assert_array_equal(drawn.digits[0], first)


def test_a_writer_keeps_their_hand_and_writers_differ(some_writers):
    """How far a 1's ink leans varies far less between one writer's drawings than between
    writers."""

    def lean(digit):  # columns moved per row along the stroke
        rows, columns = np.nonzero(digit > 0.5)
        return np.polyfit(rows, columns, 1)[0]

    rng = np.random.default_rng(0)
    leans = np.array([[lean(w.draw(1, rng)) for _ in range(6)] for w in some_writers])
    assert leans.mean(axis=1).std() > 2 * leans.std(axis=1).mean()


def test_same_seed_same_set_other_seed_other_set(some_writers):
    first = build_writers_set(some_writers[:1], per_digit=1, seed=5)
    again = build_writers_set(some_writers[:1], per_digit=1, seed=5)
    other = build_writers_set(some_writers[:1], per_digit=1, seed=6)
    np.testing.assert_array_equal(first.canvases, again.canvases)
    assert not np.array_equal(first.canvases, other.canvases)


def test_a_trained_model_reads_most_writers_digits(some_writers, saved_small_model):
    from mnist_core.classify import Classifier

    drawn = build_writers_set(some_writers, per_digit=3, seed=2)
    evaluation = evaluate_drawn(Classifier.load(saved_small_model[1].path), drawn)
    assert evaluation.count == 180 and evaluation.accuracy > 0.4  # a 2-epoch MLP, unseen fonts


def test_missing_fonts_name_the_packages_to_install(monkeypatch):
    monkeypatch.setitem(writers.WRITER_FONTS, "fonts-nonesuch", ("/no/such/font.ttf",))
    with pytest.raises(DrawnSetError, match="apt-get install fonts-nonesuch"):
        writer_fonts(validation=False)
