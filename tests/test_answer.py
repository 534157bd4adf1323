import numpy as np
import pytest

from mnist_core.answer import read_digit, read_drawing, verdict
from mnist_core.classify import Classifier
from mnist_core.preprocess import EmptyImageError, ImageError
from mnist_core.strokes import render_strokes, strokes_to_mnist


def one_hot_ish(**probabilities: float) -> np.ndarray:
    """Ten probabilities with the given ones set (keys d0..d9) and the rest sharing what's left."""
    values = np.zeros(10)
    for key, value in probabilities.items():
        values[int(key[1:])] = value
    rest = [d for d in range(10) if f"d{d}" not in probabilities]
    values[rest] = (1 - values.sum()) / len(rest)
    return values


def test_a_clear_winner_is_stated_plainly():
    answer = verdict(one_hot_ish(d7=0.93, d1=0.05))

    assert (answer.digit, answer.runner_up) == (7, 1)
    assert answer.probability == pytest.approx(0.93)
    assert answer.is_sure
    assert str(answer) == "7"


@pytest.mark.parametrize(
    "probabilities",
    [
        one_hot_ish(d4=0.45, d9=0.40),  # top below 0.6
        one_hot_ish(d4=0.62, d9=0.36),  # top above 0.6 but the runner-up is close
    ],
)
def test_a_hesitant_model_says_so(probabilities):
    answer = verdict(probabilities)

    assert not answer.is_sure
    assert str(answer) == "not sure: 4 or 9"


def test_a_tie_goes_to_the_smaller_digit():
    answer = verdict(np.full(10, 0.1))

    assert (answer.digit, answer.runner_up) == (0, 1)


@pytest.mark.parametrize("bad", [np.ones(9) / 9, np.full(10, np.nan), np.ones((2, 10))])
def test_refuses_anything_but_ten_finite_probabilities(bad):
    with pytest.raises(ValueError, match="10 finite probabilities"):
        verdict(bad)


@pytest.fixture(scope="module")
def classifier(saved_small_model):
    result, _ = saved_small_model
    return Classifier.from_model(result.model)


def test_a_drawn_one_reads_as_one(classifier):
    canvas = render_strokes([[(140, 40), (138, 240)]])

    answer = read_digit(canvas, classifier)

    assert answer.image.shape == (28, 28)
    assert answer.probabilities.shape == (10,)
    assert answer.probabilities.sum() == pytest.approx(1, abs=1e-5)
    assert answer.verdict.digit == 1


def test_the_preview_shows_the_models_pixels_enlarged_and_sharp(classifier):
    answer = read_digit(render_strokes([[(140, 40), (138, 240)]]), classifier)

    preview = answer.preview(scale=5)

    assert preview.shape == (140, 140) and preview.dtype == np.uint8
    np.testing.assert_array_equal(preview[::5, ::5], np.round(answer.image * 255))
    np.testing.assert_array_equal(preview[2::5, 4::5], preview[::5, ::5])  # whole-pixel blocks


def test_a_drawings_strokes_are_read_as_the_draw_page_reads_them(classifier):
    strokes = [[(140, 40), (138, 240)]]

    answer = read_drawing(strokes, classifier)

    np.testing.assert_array_equal(answer.image, strokes_to_mnist(strokes))
    np.testing.assert_array_equal(answer.probabilities, classifier.probabilities(answer.image))
    assert answer.verdict.digit == 1


def test_a_blank_canvas_has_no_answer(classifier):
    with pytest.raises(EmptyImageError):
        read_digit(render_strokes([]), classifier)
    for nothing in ([], [[]]):
        with pytest.raises(EmptyImageError):
            read_drawing(nothing, classifier)


def test_a_non_image_is_refused_with_a_message(classifier):
    with pytest.raises(ImageError, match="image"):
        read_digit(np.array(["not", "pixels"]), classifier)


def test_a_digit_is_said_with_its_article():
    from mnist_core.answer import a_digit

    assert [a_digit(d) for d in (0, 1, 7, 8, 9)] == ["a 0", "a 1", "a 7", "an 8", "a 9"]
