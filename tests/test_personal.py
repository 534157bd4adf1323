"""The personal memory: a person's corrected drawings read right at once, nobody else's
answers changed, checked against a plain loop-by-loop version of the same rule."""

import numpy as np
import pytest

from mnist_core import personal
from mnist_core.classify import Classifier
from mnist_core.config import TrainConfig
from mnist_core.feedback import FeedbackStore
from mnist_core.model import build_model
from mnist_core.personal import PersonalClassifier
from mnist_core.pixels import to_unit


@pytest.fixture(scope="module")
def base(saved_small_model) -> Classifier:
    return Classifier.load(saved_small_model[1].path)


@pytest.fixture(scope="module")
def test_digits(small_mnist):
    images, labels = small_mnist.test
    return to_unit(images), labels.astype(np.int64)


def misread(base, images, labels):
    """The indices of the test digits `base` reads wrong."""
    return np.flatnonzero(base.probabilities(images).argmax(axis=1) != labels)


def reference_probabilities(base, memory_images, memory_labels, image):
    """The memory's rule written out plainly, one remembered copy at a time."""
    answer = base.probabilities(image)
    if not len(memory_labels):
        return answer

    def unit(vector):
        return vector.ravel() / max(np.linalg.norm(vector), 1e-12)

    def ramp(value, start, full):
        return min(max((value - start) / (full - start), 0), 1)

    features, pixels = unit(base.features(image[np.newaxis])), unit(image - image.mean())
    best = {}
    for remembered, label in zip(memory_images, memory_labels, strict=True):
        for rows, columns in personal.SHIFTS:
            moved = np.roll(remembered, (rows, columns), axis=(0, 1))
            if rows:  # what rolled round the edge is blank instead
                moved[0 if rows > 0 else -1, :] = 0
            if columns:
                moved[:, 0 if columns > 0 else -1] = 0
            alike = ramp(
                float(features @ unit(base.features(moved[np.newaxis]))),
                personal.MATCH_FROM,
                personal.MATCH_FULL,
            ) * ramp(
                float(pixels @ unit(moved - moved.mean())),
                personal.PIXELS_FROM,
                personal.PIXELS_FULL,
            )
            best[int(label)] = max(best.get(int(label), 0.0), alike)
    weight = max(best.values())
    votes = np.zeros(10)
    for digit, alike in best.items():
        votes[digit] = np.exp((alike - weight) / personal.TEMPERATURE)
    votes /= votes.sum()
    return (1 - weight) * answer + weight * votes


def test_an_empty_memory_answers_exactly_as_the_model(base, test_digits):
    images, _ = test_digits
    memory = PersonalClassifier(base, np.zeros((0, 28, 28), np.float32), np.zeros(0, int))

    np.testing.assert_array_equal(
        memory.probabilities(images[:50]), base.probabilities(images[:50])
    )
    np.testing.assert_array_equal(memory.probabilities(images[0]), base.probabilities(images[0]))
    assert memory.size == 0 and "drawings=0" in repr(memory)


def test_one_correction_is_read_right_at_once_even_moved_a_pixel(base, test_digits):
    images, labels = test_digits
    wrong = misread(base, images, labels)[0]
    memory = PersonalClassifier(base, images[wrong : wrong + 1], labels[wrong : wrong + 1])

    for moved in (images[wrong], np.roll(images[wrong], 1, axis=1)):
        probabilities = memory.probabilities(moved)
        assert probabilities.shape == (10,) and probabilities.sum() == pytest.approx(1, abs=1e-5)
        assert probabilities.argmax() == labels[wrong]


def test_many_corrections_fix_themselves_and_change_little_else(base, test_digits):
    images, labels = test_digits
    wrong = misread(base, images[:500], labels[:500])
    memory = PersonalClassifier(base, images[wrong], labels[wrong])

    assert (memory.probabilities(images[wrong]).argmax(axis=1) == labels[wrong]).all()
    others = np.arange(500, 1000)  # digits not in memory: the model's answers stand, or improve
    before = np.mean(base.probabilities(images[others]).argmax(axis=1) == labels[others])
    after = np.mean(memory.probabilities(images[others]).argmax(axis=1) == labels[others])
    assert after >= before - 0.005


def test_a_wrong_label_misleads_only_what_looks_like_it(base, test_digits):
    images, labels = test_digits
    right = np.flatnonzero(base.probabilities(images[:200]).argmax(axis=1) == labels[:200])
    mistaken = right[0]
    wrong_label = (labels[mistaken] + 1) % 10
    memory = PersonalClassifier(base, images[mistaken : mistaken + 1], np.array([wrong_label]))

    assert memory.probabilities(images[mistaken]).argmax() == wrong_label  # it believes them
    rest = right[1:]
    read = memory.probabilities(images[rest]).argmax(axis=1)
    assert np.mean(read == labels[rest]) >= 0.98  # the other digits are read as before
    without = PersonalClassifier(base, images[:0], labels[:0])  # the drawing deleted
    assert without.probabilities(images[mistaken]).argmax() == labels[mistaken]


def test_agrees_with_the_rule_written_out_plainly(base, test_digits):
    images, labels = test_digits
    wrong = misread(base, images, labels)[:4]
    remembered = np.concatenate([wrong, [0, 1, 2]])
    memory = PersonalClassifier(base, images[remembered], labels[remembered])

    for index in [*wrong, 3, 4, 5]:
        expected = reference_probabilities(
            base, images[remembered], labels[remembered], images[index]
        )
        np.testing.assert_allclose(memory.probabilities(images[index]), expected, atol=1e-5)


def test_a_memory_grown_drawing_by_drawing_answers_as_one_built_at_once(base, test_digits):
    images, labels = test_digits
    wrong = misread(base, images, labels)[:3]
    remembered = np.concatenate([wrong, [0, 1, 2]])  # newest first, as the store lists them
    grown = PersonalClassifier(base, images[:0], labels[:0])
    for index in reversed(remembered):
        grown = grown.adding(images[[index]], labels[[index]])
    whole = PersonalClassifier(base, images[remembered], labels[remembered])

    assert grown.size == whole.size == 6
    np.testing.assert_array_equal(grown.labels, whole.labels)
    probe = images[np.concatenate([remembered, np.arange(3, 40)])]
    np.testing.assert_allclose(grown.probabilities(probe), whole.probabilities(probe), atol=1e-6)
    assert grown.adding(images[:0], labels[:0]).size == 6
    with pytest.raises(ValueError, match="digits 0 to 9"):
        grown.adding(images[:1], np.array([12]))


def test_a_memory_follows_the_model_it_was_made_with(base, test_digits):
    """The same drawings remembered by another model are placed in that model's own features."""
    images, labels = test_digits
    cnn = Classifier.from_model(build_model(TrainConfig(architecture="cnn", seed=3)))
    for model in (base, cnn):
        memory = PersonalClassifier(model, images[:5], labels[:5])
        assert memory._memory.shape[1] == model.features(images[:1]).reshape(1, -1).shape[1]
        assert (memory.probabilities(images[:5]).argmax(axis=1) == labels[:5]).all()
    assert base.features(images[:1]).size != cnn.features(images[:1]).size


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        (np.zeros((2, 28, 27)), [1, 2], r"expected \(n, 28, 28\) images"),
        (np.zeros((2, 28, 28)), [1], "one label per image"),
        (np.zeros((1, 28, 28)), [10], "digits 0 to 9"),
        (np.zeros((1, 28, 28)), [1.5], "digits 0 to 9"),
        (np.full((1, 28, 28), np.nan), [1], r"finite pixels in \[0, 1\]"),
        (np.full((1, 28, 28), 255.0), [1], r"finite pixels in \[0, 1\]"),
    ],
)
def test_refuses_bad_memories_clearly(base, images, labels, message):
    with pytest.raises(ValueError, match=message):
        PersonalClassifier(base, images, np.array(labels))


REMEMBER_AFTER_A_RESTART = """
import sys
from mnist_core.classify import Classifier
from mnist_core.feedback import FeedbackStore
from mnist_core.personal import PersonalClassifier
from mnist_core.pixels import to_unit
store = FeedbackStore.open(sys.argv[2])
images, labels = store.arrays(person="Ada")
memory = PersonalClassifier(Classifier.load(sys.argv[1]), to_unit(images), labels)
print(memory.size, int(memory.probabilities(to_unit(images[0])).argmax()))
"""


def test_a_memory_comes_back_after_a_restart(saved_small_model, small_mnist, tmp_path):
    """Kept in SQLite, a person's memory is there for the next server, as it was."""
    import subprocess
    import sys

    images, labels = small_mnist.test
    store = FeedbackStore.open(tmp_path / "feedback.sqlite")
    wrong = (int(labels[0]) + 1) % 10  # a label the model would never give: only memory can
    store.add(images[0], None, wrong, int(labels[0]), 0.9, "small", person="Ada")
    store.add(images[1], None, int(labels[1]), int(labels[1]), 0.9, "small", person="Bob")

    run = subprocess.run(
        [sys.executable, "-c", REMEMBER_AFTER_A_RESTART, str(saved_small_model[1].path),
         str(store.path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert run.stdout.split() == ["1", str(wrong)]
