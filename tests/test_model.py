import keras
import numpy as np

from mnist_core.config import TrainConfig
from mnist_core.model import build_model

# The reference model's layers, as the project defines it: 118,282 parameters in all.
REFERENCE = [
    ("Flatten", None, None),
    ("Dense", 128, "relu"),
    ("Dropout", 0.2, None),
    ("Dense", 128, "relu"),
    ("Dropout", 0.2, None),
    ("Dense", 10, "softmax"),
]


def _describe(layer):
    config = layer.get_config()
    size = config.get("units", config.get("rate"))
    return type(layer).__name__, size, config.get("activation")


def test_reference_mlp_matches_the_specification():
    model = build_model(TrainConfig())
    assert [_describe(layer) for layer in model.layers[1:]] == REFERENCE
    assert model.count_params() == 118_282
    assert model.input_shape == (None, 28, 28)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.loss == "sparse_categorical_crossentropy"


def test_no_input_shape_warning(recwarn):
    build_model(TrainConfig())
    assert not [w for w in recwarn if "input_shape" in str(w.message)]


def test_cnn_is_the_keras_simple_convnet():
    model = build_model(TrainConfig(architecture="cnn"))
    kinds = [type(layer).__name__ for layer in model.layers[1:]]
    assert kinds == [
        "Reshape", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dropout", "Dense"
    ]  # fmt: skip
    assert model.count_params() == 34_826  # as printed in keras-io's mnist_convnet
    assert model.output_shape == (None, 10)


def test_cnn_dense_reads_the_convnet_features_with_a_hidden_layer():
    model = build_model(TrainConfig(architecture="cnn-dense", hidden_units=64, dropout=0.4))
    convnet = build_model(TrainConfig(architecture="cnn"))
    assert [type(layer).__name__ for layer in model.layers[1:7]] == [
        type(layer).__name__ for layer in convnet.layers[1:7]
    ]  # the same convolutions, up to Flatten
    assert [_describe(layer) for layer in model.layers[7:]] == [
        ("Dense", 64, "relu"),
        ("Dropout", 0.4, None),
        ("Dense", 10, "softmax"),
    ]
    assert model.count_params() == 18_816 + (1600 * 64 + 64) + (64 * 10 + 10)


def test_hyperparameters_reach_the_layers():
    model = build_model(TrainConfig(hidden_units=64, dropout=0.5, learning_rate=0.01))
    assert model.layers[2].units == 64
    assert model.layers[3].rate == 0.5
    assert np.isclose(float(model.optimizer.learning_rate), 0.01)


def test_outputs_are_probabilities():
    model = build_model(TrainConfig())
    probabilities = model.predict(np.random.default_rng(0).random((4, 28, 28)), verbose=0)
    assert probabilities.shape == (4, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
