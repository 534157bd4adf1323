import subprocess
import sys

import keras
import numpy as np
import pytest

from mnist_core.classify import Classifier
from mnist_core.config import ARCHITECTURES, TrainConfig
from mnist_core.model import build_model
from mnist_core.store import ModelFileError


@pytest.mark.parametrize("architecture", ARCHITECTURES)
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
    assert (probabilities.argmax(1) == y).mean() == pytest.approx(saved.record.evaluation.accuracy)


@pytest.mark.parametrize("shape", [(28,), (27, 28), (2, 3, 28, 28), (1, 28, 29)])
def test_refuses_wrong_shapes(shape):
    classifier = Classifier.from_model(build_model(TrainConfig()))
    with pytest.raises(ValueError, match="expected"):
        classifier.probabilities(np.zeros(shape))


def test_loading_and_classifying_never_imports_tensorflow(saved_small_model):
    _, saved = saved_small_model
    code = (
        "import sys, numpy as np\n"
        "from mnist_core.classify import Classifier\n"
        f"classifier = Classifier.load({str(saved.path)!r})\n"
        "assert classifier.probabilities(np.zeros((28, 28))).shape == (10,)\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
    )
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert process.returncode == 0, process.stderr


def test_refuses_models_that_are_not_digit_classifiers(tmp_path):
    inputs = keras.Input((28, 28))
    three = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    three.save(tmp_path / "three.h5")
    with pytest.raises(ModelFileError, match="gives \\(3,\\) outputs"):
        Classifier.load(tmp_path / "three.h5")

    wide = keras.Input((32, 32))
    keras.Model(wide, keras.layers.Dense(10)(keras.layers.Flatten()(wide))).save(tmp_path / "w.h5")
    with pytest.raises(ModelFileError, match="takes \\(32, 32\\) inputs"):
        Classifier.load(tmp_path / "w.h5")

    strided = keras.Sequential(
        [keras.Input((28, 28)), keras.layers.Reshape((28, 28, 1)),
         keras.layers.Conv2D(4, 3, strides=2), keras.layers.Flatten(), keras.layers.Dense(10)]
    )  # fmt: skip
    strided.save(tmp_path / "strided.h5")
    with pytest.raises(ModelFileError, match="stride-1"):
        Classifier.load(tmp_path / "strided.h5")


def test_refuses_branching_graphs(tmp_path):
    inputs = keras.Input((28, 28))
    flat = keras.layers.Flatten()(inputs)
    outputs = [keras.layers.Dense(10)(flat), keras.layers.Dense(10)(flat)]  # two heads
    keras.Model(inputs, outputs).save(tmp_path / "branch.h5")
    with pytest.raises(ModelFileError, match="plain stack"):
        Classifier.load(tmp_path / "branch.h5")
