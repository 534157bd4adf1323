import numpy as np
import pytest

from mnist_core.classify import Classifier
from mnist_core.config import TrainConfig
from mnist_core.model import build_model


@pytest.mark.parametrize("architecture", ["mlp", "cnn"])
def test_agrees_with_model_predict(architecture):
    model = build_model(TrainConfig(architecture=architecture, seed=1))
    images = np.random.default_rng(0).random((16, 28, 28), dtype=np.float32)
    classifier = Classifier.from_model(model)
    np.testing.assert_allclose(
        classifier.probabilities(images), model.predict(images, verbose=0), atol=1e-5
    )
    np.testing.assert_allclose(
        classifier.probabilities(images[3]), model.predict(images[3:4], verbose=0)[0], atol=1e-5
    )


def test_loads_a_saved_model_and_reads_test_digits(saved_small_model, small_mnist):
    result, saved = saved_small_model
    classifier = Classifier.load(saved.path)
    x, y = small_mnist.test
    probabilities = classifier.probabilities(x / 255.0)
    assert probabilities.shape == (len(x), 10)
    np.testing.assert_allclose(probabilities, result.model.predict(x / 255.0, verbose=0), atol=1e-5)
    assert (probabilities.argmax(1) == y).mean() == pytest.approx(
        saved.record["evaluation"]["accuracy"]
    )


@pytest.mark.parametrize("shape", [(28,), (27, 28), (2, 3, 28, 28), (1, 28, 29)])
def test_refuses_wrong_shapes(shape):
    classifier = Classifier.from_model(build_model(TrainConfig()))
    with pytest.raises(ValueError, match="expected"):
        classifier.probabilities(np.zeros(shape))
