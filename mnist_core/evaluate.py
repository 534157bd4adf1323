"""Score a model on labelled digits: loss, accuracy, confusion, per-class report, mistakes."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass

import numpy as np

from mnist_core.pixels import to_unit

NUM_CLASSES = 10
KEPT_MISTAKES = 100  # enough for a gallery; keeps the sidecar small
# Images per `probabilities` call, which bounds memory. Larger chunks measured slower for a
# convnet, likely because its patches for a few images fit the CPU's caches.
_CHUNK = 32
_EPSILON = 1e-7  # Keras' clip for the cross-entropy


@dataclass(frozen=True, eq=False)
class Mistake:
    """A misclassified image: where it is in the set, what it is, what the model said.
    eq=False, as for every record holding an array: compare their `to_dict()`."""

    index: int
    label: int
    predicted: int
    confidence: float
    image: np.ndarray  # (28, 28) uint8

    def to_dict(self) -> dict:
        raw = np.ascontiguousarray(self.image, dtype=np.uint8).tobytes()
        return {**asdict(self), "image": base64.b64encode(raw).decode("ascii")}

    @classmethod
    def from_dict(cls, values: dict) -> Mistake:
        pixels = np.frombuffer(base64.b64decode(values["image"]), dtype=np.uint8)
        return cls(**{**values, "image": pixels.reshape(28, 28)})


@dataclass(frozen=True, eq=False)
class Evaluation:
    loss: float
    accuracy: float
    confusion: np.ndarray  # (10, 10) counts, rows = true label, columns = predicted
    report: dict[str, dict[str, float]]  # "0".."9" -> precision, recall, f1, support
    mistakes: tuple[Mistake, ...]  # the most confident mistakes first
    count: int

    @property
    def per_class_accuracy(self) -> np.ndarray:
        """Recall of each digit: the share of its images read correctly."""
        totals = self.confusion.sum(axis=1)
        return np.divide(
            np.diag(self.confusion), totals, out=np.zeros(NUM_CLASSES), where=totals > 0
        )

    def to_dict(self) -> dict:
        return {
            "loss": self.loss,
            "accuracy": self.accuracy,
            "count": self.count,
            "confusion": self.confusion.tolist(),
            "report": self.report,
            "mistakes": [m.to_dict() for m in self.mistakes],
        }

    @classmethod
    def from_dict(cls, values: dict) -> Evaluation:
        return cls(
            loss=float(values["loss"]),
            accuracy=float(values["accuracy"]),
            confusion=np.array(values["confusion"], dtype=np.int64),
            report=values["report"],
            mistakes=tuple(Mistake.from_dict(m) for m in values["mistakes"]),
            count=int(values["count"]),
        )


def evaluate(model, x: np.ndarray, y: np.ndarray, *, batch_size: int = 1024) -> Evaluation:
    """Score a Keras `model` on uint8 images `x` with labels `y` in one prediction pass."""
    probabilities = model.predict(to_unit(x), batch_size=batch_size, verbose=0)
    return score(probabilities, x, y)


def score_classifier(classifier, x: np.ndarray, y: np.ndarray) -> Evaluation:
    """Score anything with `probabilities` (a `classify.Classifier`) on uint8 images `x`."""
    return score(probabilities_of(classifier, x), x, y)


def probabilities_of(classifier, x: np.ndarray) -> np.ndarray:
    """(n, 10) probabilities of uint8 images `x`, scaled a chunk at a time (no float copy of
    the whole set)."""
    return np.concatenate(
        [classifier.probabilities(to_unit(x[i : i + _CHUNK])) for i in range(0, len(x), _CHUNK)]
    )


def score(probabilities: np.ndarray, x: np.ndarray, y: np.ndarray) -> Evaluation:
    """The evaluation of predicted `probabilities` (n, 10) for images `x` with labels `y`."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support  # slow import

    y = np.asarray(y, dtype=np.int64)
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    true_probability = np.clip(probabilities[np.arange(len(y)), y], _EPSILON, 1 - _EPSILON)
    labels = list(range(NUM_CLASSES))
    precision, recall, f1, support = precision_recall_fscore_support(
        y, predicted, labels=labels, zero_division=0
    )
    report = {
        str(digit): {
            "precision": float(precision[digit]),
            "recall": float(recall[digit]),
            "f1": float(f1[digit]),
            "support": int(support[digit]),
        }
        for digit in labels
    }
    wrong = np.flatnonzero(predicted != y)
    wrong = wrong[np.argsort(-confidence[wrong], kind="stable")][:KEPT_MISTAKES]
    mistakes = tuple(
        Mistake(
            int(i), int(y[i]), int(predicted[i]), float(confidence[i]), np.asarray(x[i], np.uint8)
        )
        for i in wrong
    )
    return Evaluation(
        loss=float(-np.log(true_probability).mean()),
        accuracy=float((predicted == y).mean()),
        confusion=confusion_matrix(y, predicted, labels=labels),
        report=report,
        mistakes=mistakes,
        count=len(y),
    )
