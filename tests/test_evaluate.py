import numpy as np
import pytest

from mnist_core.evaluate import KEPT_MISTAKES, Evaluation, evaluate, score


def test_scores_a_known_prediction():
    y = np.array([0, 1, 2, 2])
    x = np.arange(4 * 784, dtype=np.uint8).reshape(4, 28, 28)
    probabilities = np.full((4, 10), 0.01, dtype=np.float32)
    probabilities[[0, 1, 2, 3], [0, 1, 2, 1]] = 0.91  # the last one is wrong: 2 read as 1
    result = score(probabilities, x, y)

    assert result.accuracy == 0.75 and result.count == 4
    assert result.loss == pytest.approx(-(3 * np.log(0.91) + np.log(0.01)) / 4, rel=1e-5)
    assert result.confusion[2, 1] == 1 and result.confusion.trace() == 3
    assert result.report["2"] == {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2}
    assert result.report["1"]["precision"] == 0.5
    (mistake,) = result.mistakes
    assert (mistake.index, mistake.label, mistake.predicted) == (3, 2, 1)
    assert mistake.confidence == pytest.approx(0.91)
    np.testing.assert_array_equal(mistake.image, x[3])
    np.testing.assert_allclose(result.per_class_accuracy[:3], [1, 1, 0.5])


def test_matches_keras_and_round_trips(saved_small_model, small_mnist):
    result, _ = saved_small_model
    x, y = small_mnist.test
    evaluation = evaluate(result.model, x, y)
    keras_loss, keras_accuracy = result.model.evaluate(x / 255.0, y, verbose=0)
    assert evaluation.accuracy == pytest.approx(keras_accuracy, abs=1e-6)
    assert evaluation.loss == pytest.approx(keras_loss, rel=1e-4)
    assert evaluation.confusion.sum() == len(y)
    assert len(evaluation.mistakes) == min(KEPT_MISTAKES, round((1 - evaluation.accuracy) * len(y)))
    confidences = [m.confidence for m in evaluation.mistakes]
    assert confidences == sorted(confidences, reverse=True)

    again = Evaluation.from_dict(evaluation.to_dict())
    np.testing.assert_array_equal(again.confusion, evaluation.confusion)
    np.testing.assert_array_equal(again.mistakes[0].image, evaluation.mistakes[0].image)
    assert again.report == evaluation.report and again.loss == evaluation.loss
