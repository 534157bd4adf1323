"""Training runs end to end: fine-tuning a saved model on the user's labelled drawings, and
each run's TensorBoard logs."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mnist_core.classify import Classifier
from mnist_core.evaluate import score_classifier
from mnist_core.feedback import FeedbackError, FeedbackStore, evaluate_feedback
from mnist_core.finetune import MIN_DRAWINGS, mix_in
from mnist_core.record import FineTuned
from mnist_core.store import find_model, list_models
from mnist_core.workflow import fine_tune_evaluate_save
from scripts.drawn_synthesis import build_drawn_set
from tests.conftest import SMALL_CONFIG


def test_mix_in_repeats_drawings_to_their_share_and_keeps_mnist_last():
    drawn = (np.full((10, 28, 28), 7, np.uint8), np.arange(10, dtype=np.uint8))
    mnist = (np.zeros((900, 28, 28), np.uint8), np.full(900, 3, np.uint8))
    x, y = mix_in(drawn, mnist, share=0.1)
    assert x.shape == (1000, 28, 28) and y.dtype == np.uint8
    assert (x[:100] == 7).all() and np.bincount(y[:100]).tolist() == [10] * 10
    np.testing.assert_array_equal(x[100:], mnist[0])  # the held-out tail is MNIST's
    assert len(mix_in(drawn, mnist, share=0.001)[0]) == 910  # every drawing at least once


@pytest.fixture
def users_drawings(small_mnist, tmp_path):
    """A user's labelled drawings: 60 canvases of MNIST training digits re-drawn as strokes
    (some with flags and crossbars), through the app's preprocessing, kept in a store."""
    drawn = build_drawn_set(seed=5, per_digit=6, mnist_test=small_mnist.train, fonts=())
    store = FeedbackStore.open(tmp_path / "feedback.sqlite")
    for image, label in zip(drawn.digits, drawn.labels, strict=True):
        store.add(image, None, int(label), 0, 0.5, "small")
    return store, drawn


def test_fine_tuning_learns_the_users_drawings_and_keeps_the_base(
    saved_small_model, users_drawings, small_mnist, tmp_path
):
    _, base = saved_small_model
    base_bytes = base.path.read_bytes()
    store, drawn = users_drawings
    before = score_classifier(Classifier.load(base.path), drawn.digits, drawn.labels).accuracy

    # 3,000 MNIST images, not 60,000: a larger share gives the drawings the same weight
    result, tuned = fine_tune_evaluate_save(
        base, store, small_mnist, drawing_share=0.1, models_dir=tmp_path
    )

    assert tuned.name == "small-tuned" and [m.name for m in list_models(tmp_path)] == [tuned.name]
    assert tuned.record.fine_tuned == FineTuned("small", 60, store.last_id())
    assert tuned.record.config.learning_rate == 1e-4 and result.epochs_run == 3
    assert base.path.read_bytes() == base_bytes  # the base model is left as it was
    classifier = Classifier.load(tuned.path)
    after = score_classifier(classifier, drawn.digits, drawn.labels).accuracy
    assert after >= before + 0.1, (before, after)  # 0.75 -> 0.9 measured
    # it still reads MNIST about as well as before
    assert tuned.record.evaluation.accuracy >= base.record.evaluation.accuracy - 0.03
    # "your drawings" then scores it only on drawings made after it was tuned
    assert evaluate_feedback(classifier, store, after_id=store.last_id()) is None
    store.add(drawn.digits[0], None, int(drawn.labels[0]), 0, 0.5, "small-tuned")
    newer = evaluate_feedback(classifier, store, tuned.record.drawings_learnt_up_to)
    assert newer.count == 1


def test_fine_tuning_refuses_too_few_drawings_before_training(
    saved_small_model, small_mnist, tmp_path
):
    _, base = saved_small_model
    store = FeedbackStore.open(tmp_path / "feedback.sqlite")
    image = small_mnist.test[0][0]
    for _ in range(MIN_DRAWINGS - 1):
        store.add(image, None, 7, 7, 0.9, "small")
    with pytest.raises(FeedbackError, match=f"at least {MIN_DRAWINGS} labelled drawings"):
        fine_tune_evaluate_save(base, store, small_mnist, models_dir=tmp_path / "models")
    assert not (tmp_path / "models").exists()


def test_a_run_writes_tensorboard_logs_named_after_its_model(small_mnist, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from mnist_core.workflow import train_evaluate_save

    runs = tmp_path / "runs"
    train_evaluate_save(
        SMALL_CONFIG, small_mnist, name="logged", models_dir=tmp_path / "models", runs_dir=runs
    )

    assert [entry.name for entry in runs.iterdir()] == ["logged"]  # no temporary left
    curves = {}
    for part in ("train", "validation"):
        events = EventAccumulator(str(runs / "logged" / part))
        events.Reload()
        curves[part] = [event.step for event in events.Tensors("epoch_loss")]
    assert curves == {"train": [0, 1], "validation": [0, 1]}  # SMALL_CONFIG's two epochs


def test_a_run_keeps_each_epochs_confusion_matrix_and_shows_its_first_layer(small_mnist, tmp_path):
    from mnist_core.workflow import train_evaluate_save

    weights = []

    def slow_watcher(epoch, kernel):
        weights.append((epoch, kernel.shape))
        time.sleep(0.5)  # someone waits for it, though fitting does not

    _result, saved = train_evaluate_save(
        SMALL_CONFIG, small_mnist, name="watched", models_dir=tmp_path, on_weights=slow_watcher
    )

    confusions = saved.record.epoch_confusions
    assert len(confusions) == SMALL_CONFIG.epochs
    assert all(matrix.sum() == len(small_mnist.test[1]) for matrix in confusions)
    final = saved.record.evaluation.confusion
    assert abs(int(confusions[-1].trace()) - int(np.trace(final))) <= 2  # NumPy vs Keras maths
    assert weights == [(1, (784, 128)), (2, (784, 128))]
    reloaded = find_model("watched", tmp_path).record
    assert [m.tolist() for m in reloaded.epoch_confusions] == [m.tolist() for m in confusions]
    # the wait a person sees: fitting, and each epoch's scoring and watching on top
    assert reloaded.run_seconds >= reloaded.fit_seconds + 2 * 0.5
