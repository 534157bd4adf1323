"""One training run of the original script and one of ours, measured the same way.

Both fit on the first 50,000 training images, validate on the last 10,000 and are scored on the
10,000 test images; both start from the same seed. Each returns plain numbers for a worker to
print: wall seconds of scaling + fitting (what `TrainResult.fit_seconds` times), CPU seconds
of building + fitting (all threads: less sensitive to other work on a shared machine), and the
last validation and the test accuracy.
"""

from __future__ import annotations

import time

from harness.workers import cpu_seconds

VALIDATION_SIZE = 10_000


def original_script(seed: int) -> dict:
    """The original script: a plain `keras.Sequential` and `model.fit` with Keras' defaults."""
    import keras

    from mnist_core.data import prepare_mnist

    mnist = prepare_mnist()
    (x_train, y_train), (x_test, y_test) = mnist.train, mnist.test
    cut = len(x_train) - VALIDATION_SIZE
    keras.utils.set_random_seed(seed)

    cpu_started = cpu_seconds()
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    started = time.perf_counter()
    history = model.fit(
        x_train[:cut] / 255,
        y_train[:cut],
        epochs=10,
        batch_size=32,
        validation_data=(x_train[cut:] / 255, y_train[cut:]),
        verbose=0,
    )
    fit_seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_started
    _, test_accuracy = model.evaluate(x_test / 255, y_test, verbose=0)
    return _run(fit_seconds, cpu, history.history["val_accuracy"][-1], test_accuracy)


def ours(config) -> dict:
    """`mnist_core.train.train(config)`, scored by `mnist_core.evaluate.evaluate`."""
    from mnist_core.data import prepare_mnist
    from mnist_core.evaluate import evaluate
    from mnist_core.train import train

    mnist = prepare_mnist()
    cpu_started = cpu_seconds()
    result = train(config, (mnist.train, mnist.test))
    cpu = cpu_seconds() - cpu_started
    evaluation = evaluate(result.model, *mnist.test)
    val_accuracy = result.history.get("val_accuracy", [float("nan")])[-1]
    return _run(result.fit_seconds, cpu, val_accuracy, evaluation.accuracy)


def _run(fit_seconds, cpu, val_accuracy, test_accuracy) -> dict:
    return {
        "fit_seconds": float(fit_seconds),
        "cpu_seconds": float(cpu),
        "val_accuracy": float(val_accuracy),
        "test_accuracy": float(test_accuracy),
    }
