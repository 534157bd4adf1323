"""Why a model answers what it does: evidence that is faithful, neighbours, the inside."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mnist_core import plots
from mnist_core.classify import Classifier
from mnist_core.config import TrainConfig
from mnist_core.explain import Neighbours, blank_top, evidence, runner_up
from mnist_core.model import build_model
from mnist_core.pixels import to_unit

BLANKED = 20  # pixels taken away to test the evidence's ranking


@pytest.fixture(scope="module")
def reader(saved_small_model):
    return Classifier.load(saved_small_model[1].path)


@pytest.fixture(scope="module")
def digits(mnist):
    return to_unit(mnist.test[0][:50]), mnist.test[1][:50]


def test_blanking_the_ink_the_evidence_ranks_highest_hurts_far_more_than_the_brightest(
    reader, digits
):
    images, _labels = digits
    lost = {"evidence": [], "brightest": []}
    for image in images:
        probabilities = reader.probabilities(image)
        digit = int(probabilities.argmax())
        for name, ranking in (("evidence", evidence(reader, image, digit)), ("brightest", image)):
            left = reader.probabilities(blank_top(image, ranking, BLANKED))[digit]
            lost[name].append(probabilities[digit] - left)
    assert np.mean(lost["evidence"]) > 3 * np.mean(lost["brightest"])


def test_evidence_is_zero_off_the_ink_and_says_which_ink_speaks_for_and_against(reader, digits):
    image = digits[0][0]
    probabilities = reader.probabilities(image)
    answer, second = int(probabilities.argmax()), runner_up(probabilities)
    for_answer, for_second = evidence(reader, image, answer), evidence(reader, image, second)

    assert for_answer.shape == (28, 28) and for_answer.dtype == np.float32
    assert not for_answer[image < 0.05].any()
    assert for_answer.sum() > 0  # the ink, all in all, says what the model answered
    assert second != answer and (for_answer != for_second).any()
    assert not evidence(reader, np.zeros((28, 28)), 3).any()  # no ink, no evidence
    with pytest.raises(ValueError, match="0-9"):
        evidence(reader, image, 10)
    with pytest.raises(ValueError, match=r"\(28, 28\)"):
        evidence(reader, image[:20], 1)


def test_the_nearest_training_digits_are_the_drawing_itself_then_its_kind(reader, mnist):
    images, labels = mnist.train[0][:2000], mnist.train[1][:2000]
    neighbours = Neighbours.of(reader, images, labels)

    nearest = neighbours.nearest(reader, to_unit(images[7]), count=8)
    assert nearest[0] == 7 and len(nearest) == 8
    assert np.mean(labels[nearest[1:]] == labels[7]) >= 0.7
    empty = Neighbours.of(reader, images[:0], labels[:0])
    assert empty.nearest(reader, to_unit(images[7])) == []


@pytest.mark.parametrize("architecture", ["mlp", "cnn-dense"])
def test_every_learnt_layer_responds_and_the_first_layers_weights_are_pictures(architecture):
    classifier = Classifier.from_model(build_model(TrainConfig(architecture=architecture)))
    responses = classifier.responses(np.zeros((28, 28), np.float32))

    shapes = [values.shape for _, values in responses]
    if architecture == "mlp":
        assert shapes == [(128,), (128,), (10,)] and classifier.first_kernel.shape == (784, 128)
    else:
        assert shapes == [(26, 26, 32), (11, 11, 64), (128,), (10,)]
        assert classifier.first_kernel.shape == (3, 3, 1, 32)
    for _, values in responses:
        assert plots.response_picture(values).dtype == np.uint8
    assert plots.kernel_picture(classifier.first_kernel).ndim == 3


def test_log_odds_agree_with_the_probabilities_where_they_have_not_rounded(reader, digits):
    images = digits[0][:10]
    probabilities = reader.probabilities(images)[:, 3].astype(np.float64)
    expected = np.log(probabilities / (1 - probabilities))
    np.testing.assert_allclose(reader.log_odds(images, 3), expected, rtol=1e-3, atol=1e-3)


def slow_evidence(classifier, image, digit):
    """Evidence pixel by pixel, as its definition reads: for each inked pixel, blank it and its
    four neighbours, and see how much the digit's log odds fall (probabilities in float64)."""

    def log_odds(picture):
        p = float(classifier.probabilities(picture)[digit])
        return math.log(p) - math.log(1 - p)

    result = np.zeros((28, 28))
    for row in range(28):
        for column in range(28):
            if image[row, column] < 0.05:
                continue
            occluded = image.copy()
            for down, right in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)):
                if 0 <= row + down < 28 and 0 <= column + right < 28:
                    occluded[row + down, column + right] = 0
            result[row, column] = log_odds(image) - log_odds(occluded)
    return result


def test_evidence_matches_a_slow_pixel_by_pixel_reference(reader, digits):
    image = digits[0][3]
    probabilities = reader.probabilities(image)
    digit = runner_up(probabilities)  # not saturated: the reference's float64 log odds hold
    np.testing.assert_allclose(
        evidence(reader, image, digit), slow_evidence(reader, image, digit), atol=2e-3
    )


def test_the_nearest_match_a_brute_force_search(reader, mnist):
    images, labels = mnist.train[0][:500], mnist.train[1][:500]
    neighbours = Neighbours.of(reader, images, labels)
    query = to_unit(mnist.test[0][0])

    features = reader.features(to_unit(images)).astype(np.float64)
    mine = reader.features(query[np.newaxis])[0].astype(np.float64)
    cosine = features @ mine / (np.linalg.norm(features, axis=1) * np.linalg.norm(mine))
    assert neighbours.nearest(reader, query, 8) == list(np.argsort(-cosine, kind="stable")[:8])


@pytest.mark.parametrize("architecture", ["mlp", "cnn-dense"])
def test_each_layers_response_matches_keras_own_layer_outputs(architecture, digits):
    import keras

    model = build_model(TrainConfig(architecture=architecture))
    classifier = Classifier.from_model(model)
    image = digits[0][0]
    learnt = [layer for layer in model.layers if layer.get_weights()]
    probe = keras.Model(model.inputs, [layer.output for layer in learnt])
    expected = [output[0] for output in probe.predict(image[np.newaxis], verbose=0)]

    responses = classifier.responses(image)
    assert [kind for kind, _ in responses] == [type(layer).__name__ for layer in learnt]
    for (_, values), reference in zip(responses, expected, strict=True):
        np.testing.assert_allclose(values, reference, rtol=1e-4, atol=1e-5)
