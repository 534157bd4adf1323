"""Answer digit probabilities fast: a saved model's layers re-run in NumPy.

`model.predict` spends tens of milliseconds per call on TensorFlow's overhead; one image
through these few layers in NumPy takes far less (bench/classify_latency.py). The maths is the
same (tests compare the two). Loading reads the `.h5` with h5py, so a process that only
classifies never imports TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Step = Callable[[np.ndarray], np.ndarray]


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def _softmax(x: np.ndarray) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


_ACTIVATIONS = {"relu": _relu, "softmax": _softmax, "linear": lambda x: x}


@dataclass(frozen=True)
class Classifier:
    """A loaded model as a list of NumPy steps; call `probabilities` with 28x28 images.

    `kinds` names each step's layer (Dense, Conv2D, ...), `first_kernel` is the first learnt
    layer's weights and `output_weights` the output layer's (kernel, bias): what
    `mnist_core.explain` shows of the network's inside and measures its evidence with."""

    steps: tuple[Step, ...]
    name: str = ""
    kinds: tuple[str, ...] = ()
    first_kernel: np.ndarray | None = None
    output_weights: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def load(cls, path: str | os.PathLike) -> Classifier:
        """Load a saved `.h5` model once, checked as `store.read_layers` checks it."""
        from mnist_core.store import ModelFileError, read_layers

        name = os.path.basename(os.fspath(path))
        specs = read_layers(path)
        try:
            steps = tuple(_step(s.kind, s.config, s.weights) for s in specs)
            layers = [(s.kind, s.weights) for s in specs]
            classifier = cls(steps, name, *_described(layers))
            answer = classifier.probabilities(np.zeros((28, 28), np.float32))
        except (ValueError, KeyError, TypeError) as error:
            raise ModelFileError(f"{path} is not a 28x28 digit classifier: {error}") from None
        if answer.shape != (10,):
            raise ModelFileError(
                f"{path} gives {answer.shape} outputs; a digit classifier gives 10"
            )
        return classifier

    @classmethod
    def from_model(cls, model, name: str = "") -> Classifier:
        """Copy a Keras model's weights into NumPy steps, layer by layer."""
        steps = tuple(
            _step(type(layer).__name__, layer.get_config(), layer.get_weights())
            for layer in model.layers
        )
        layers = [(type(layer).__name__, layer.get_weights()) for layer in model.layers]
        return cls(steps, name or model.name, *_described(layers))

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """(28, 28) -> (10,), or (n, 28, 28) -> (n, 10); pixels in [0, 1] like `preprocess`."""
        images = np.asarray(images, dtype=np.float32)
        if images.ndim == 2:
            return self.probabilities(images[np.newaxis])[0]
        return self.output(self.features(images))

    def features(self, images: np.ndarray) -> np.ndarray:
        """What the output layer reads, (n, d) for (n, 28, 28) images in [0, 1]: drawings the
        model takes for the same digit lie close together here."""
        x = np.asarray(images, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"expected (28, 28) or (n, 28, 28) images, got {x.shape}")
        for step in self.steps[:-1]:
            x = step(x)
        return x

    def output(self, features: np.ndarray) -> np.ndarray:
        """The (n, 10) probabilities of `features` as `features` returns them."""
        return self.steps[-1](features)

    def log_odds(self, images: np.ndarray, digit: int) -> np.ndarray:
        """(n,) log(p / (1 - p)) of `digit` for (n, 28, 28) images, from the output layer's
        scores: exact where the probability itself has rounded to 1."""
        kernel, bias = self.output_weights
        scores = self.features(images) @ kernel + bias
        others = np.delete(scores, digit, axis=1)
        top = others.max(axis=1, keepdims=True)
        rest = top[:, 0] + np.log(np.exp(others - top).sum(axis=1))
        return scores[:, digit] - rest

    def responses(self, image: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """Each learnt layer's output for one (28, 28) image, input to output: (kind, values)
        with values (units,) for a dense layer and (height, width, maps) for a convolution."""
        x = np.asarray(image, dtype=np.float32)[np.newaxis]
        shown = []
        for kind, step in zip(self.kinds, self.steps, strict=True):
            x = step(x)
            if kind in ("Dense", "Conv2D"):
                shown.append((kind, x[0]))
        return shown


def _described(layers: list[tuple[str, list]]) -> tuple:
    """(the layers' kinds, the first learnt layer's kernel, the last's (kernel, bias)) of
    (kind, weights) pairs."""
    learnt = [[np.asarray(w, np.float32) for w in weights] for _, weights in layers if weights]
    first, last = (learnt[0][0], tuple(learnt[-1])) if learnt else (None, None)
    return tuple(kind for kind, _ in layers), first, last


def _step(kind: str, config: dict, weights) -> Step:
    """The NumPy function computing one layer at inference time."""
    if kind == "InputLayer":
        shape = tuple(config["batch_shape"][1:])
        if shape != (28, 28):
            raise ValueError(f"it takes {shape} inputs, not (28, 28)")
        return lambda x: x
    if kind == "Dropout":
        return lambda x: x  # inactive at inference
    if kind == "Flatten":
        return lambda x: x.reshape(len(x), -1)
    if kind == "Reshape":
        shape = tuple(config["target_shape"])
        return lambda x: x.reshape(len(x), *shape)
    if kind == "Dense":
        kernel, bias = (np.asarray(w, np.float32) for w in weights)
        activate = _ACTIVATIONS[config["activation"]]
        return lambda x: activate(x @ kernel + bias)
    if kind == "Conv2D":
        return _conv2d(config, weights)
    if kind == "MaxPooling2D":
        return _max_pool(config)
    raise ValueError(f"layer {config.get('name')} ({kind}) is not supported")


def _conv2d(config: dict, weights) -> Step:
    """A 'valid', stride-1 convolution as one matrix product over image patches."""
    plain = {"padding": "valid", "strides": [1, 1], "dilation_rate": [1, 1], "groups": 1}
    if any(
        list(np.atleast_1d(config.get(k, v))) != list(np.atleast_1d(v)) for k, v in plain.items()
    ):
        raise ValueError(f"layer {config['name']}: only plain valid, stride-1 convolutions work")
    if config.get("data_format", "channels_last") != "channels_last":
        raise ValueError(f"layer {config['name']}: only channels_last convolutions work")
    kernel, bias = (np.asarray(w, np.float32) for w in weights)
    rows, cols, _, filters = kernel.shape
    matrix = kernel.reshape(-1, filters)  # rows, then columns, then channels: as the patches
    activate = _ACTIVATIONS[config["activation"]]

    def convolve(x: np.ndarray) -> np.ndarray:
        # Each patch's pixels side by side, one kernel offset after another: slices of whole
        # channel runs, many times faster to gather than a strided window view's copy.
        n, height, width, _ = x.shape
        height, width = height - rows + 1, width - cols + 1
        offsets = [x[:, r : r + height, c : c + width] for r in range(rows) for c in range(cols)]
        patches = np.concatenate(offsets, axis=-1).reshape(n * height * width, -1)
        return activate(patches @ matrix + bias).reshape(n, height, width, filters)

    return convolve


def _max_pool(config) -> Step:
    """Non-overlapping max pooling ('valid', stride = pool size)."""
    rows, cols = config["pool_size"]
    if tuple(config["strides"] or (rows, cols)) != (rows, cols) or config["padding"] != "valid":
        raise ValueError("only non-overlapping 'valid' max pooling is supported")

    def pool(x: np.ndarray) -> np.ndarray:
        height, width = x.shape[1] // rows * rows, x.shape[2] // cols * cols
        offsets = [x[:, r:height:rows, c:width:cols] for r in range(rows) for c in range(cols)]
        pooled = offsets[0].copy()
        for offset in offsets[1:]:
            np.maximum(pooled, offset, out=pooled)
        return pooled

    return pool
