"""The architectures we train: the reference MLP, the Keras "simple MNIST convnet", and that
convnet with a dense hidden layer before its output (the `best` preset's)."""

from __future__ import annotations

import keras

from mnist_core.config import TrainConfig

INPUT_SHAPE = (28, 28)
NUM_CLASSES = 10


def build_model(
    config: TrainConfig | None = None,
    *,
    steps_per_execution: int = 1,
    jit_compile: bool | str = "auto",
) -> keras.Model:
    """Return the compiled model `config` describes (the reference MLP for the defaults).

    `steps_per_execution` runs several batches per call into TensorFlow and `jit_compile`
    fuses each step with XLA ("auto": Keras decides, which means off on a CPU). They change
    speed and how often callbacks fire, never the model or the maths.
    """
    config = config or TrainConfig()
    builders = {"mlp": _mlp_layers, "cnn": _cnn_layers, "cnn-dense": _cnn_dense_layers}
    inputs = keras.Input(INPUT_SHAPE, name="image")
    outputs = inputs
    for layer in builders[config.architecture](config):
        outputs = layer(outputs)
    model = keras.Model(inputs, outputs, name=config.architecture)
    compile_model(model, config, steps_per_execution=steps_per_execution, jit_compile=jit_compile)
    return model


def compile_model(
    model: keras.Model,
    config: TrainConfig,
    *,
    steps_per_execution: int = 1,
    jit_compile: bool | str = "auto",
) -> keras.Model:
    """Compile `model` as every model here is trained: Adam at `config.learning_rate`, sparse
    categorical cross-entropy, accuracy. A loaded model is compiled afresh to train it on."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
    )
    return model


def _mlp_layers(config: TrainConfig) -> list[keras.layers.Layer]:
    """Flatten -> Dense relu -> Dropout -> Dense relu -> Dropout -> Dense softmax."""
    return [
        keras.layers.Flatten(),
        keras.layers.Dense(config.hidden_units, activation="relu"),
        keras.layers.Dropout(config.dropout),
        keras.layers.Dense(config.hidden_units, activation="relu"),
        keras.layers.Dropout(config.dropout),
        keras.layers.Dense(NUM_CLASSES, activation="softmax"),
    ]


def _cnn_layers(config: TrainConfig) -> list[keras.layers.Layer]:
    """keras-io's mnist_convnet, layer for layer (its own 0.5 dropout)."""
    return [
        *_convolutions(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(NUM_CLASSES, activation="softmax"),
    ]


def _cnn_dense_layers(config: TrainConfig) -> list[keras.layers.Layer]:
    """The convnet's features -> Dense relu -> Dropout -> Dense softmax.

    keras-io's convnet reads its 1,600 features with one linear layer; trained on augmented
    digits it underfits and flips between 7 and flagged 1 from epoch to epoch. A hidden layer
    gives it room (bench/results/drawn_validation.md).
    """
    return [
        *_convolutions(),
        keras.layers.Dense(config.hidden_units, activation="relu"),
        keras.layers.Dropout(config.dropout),
        keras.layers.Dense(NUM_CLASSES, activation="softmax"),
    ]


def _convolutions() -> list[keras.layers.Layer]:
    """keras-io's mnist_convnet's feature extractor: two 3x3 convolutions, each max-pooled,
    flattened to 1,600 features."""
    return [
        keras.layers.Reshape((*INPUT_SHAPE, 1)),
        keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Flatten(),
    ]
