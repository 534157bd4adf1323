import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

from mnist_core.config import TrainConfig
from mnist_core.pixels import to_unit
from mnist_core.train import STEPS_PER_EXECUTION, Progress, train

from .conftest import SMALL_CONFIG


def _weights(model):
    return [w.copy() for w in model.get_weights()]


def test_learns_and_records_every_epoch(small_mnist):
    events: list[Progress] = []
    result = train(SMALL_CONFIG, (small_mnist.train, small_mnist.test), on_progress=events.append)

    assert set(result.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == SMALL_CONFIG.epochs for values in result.history.values())
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert result.history["val_accuracy"][-1] > 0.8  # 2 epochs on 2,500 images
    assert result.epochs_run == 2 and not result.stopped_early
    assert result.fit_seconds > 0

    epochs = [e for e in events if e.kind == "epoch"]
    assert [e.epoch for e in epochs] == [1, 2]
    assert epochs[-1].metrics["val_accuracy"] == result.history["val_accuracy"][-1]
    batches = [e for e in events if e.kind == "batch"]
    per_epoch = -(-2500 // SMALL_CONFIG.batch_size)  # 3000 - 500 held out
    assert batches[-1].batches == per_epoch and batches[-1].batch == per_epoch
    assert len(batches) == 2 * -(-per_epoch // STEPS_PER_EXECUTION)
    assert epochs[-1].fraction == 1.0 and epochs[-1].seconds_left == 0.0


def test_same_seed_same_weights_other_seed_other_weights(small_mnist):
    data = (small_mnist.train, small_mnist.test)
    config = TrainConfig(epochs=1, validation_size=500, seed=3)
    first, second = train(config, data), train(config, data)
    other = train(TrainConfig(epochs=1, validation_size=500, seed=4), data)
    for a, b in zip(_weights(first.model), _weights(second.model), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(_weights(first.model)[0], _weights(other.model)[0])


def test_leaning_towards_1_raises_only_its_log_odds_and_only_once(small_mnist):
    """The bias is added to a new model after training and not again to one trained on."""
    data = (small_mnist.train, small_mnist.test)
    config = TrainConfig(epochs=1, validation_size=500, seed=3)
    plain = train(config, data).model
    leaning = train(dataclasses.replace(config, ones_bias=2.0), data).model
    *same, bias = _weights(leaning)
    *plain_same, plain_bias = _weights(plain)
    for a, b in zip(same, plain_same, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(bias - plain_bias, [0, 2] + [0] * 8, atol=1e-6)
    x = to_unit(small_mnist.test[0][:500])
    ones = [(model.predict(x, verbose=0).argmax(1) == 1).sum() for model in (plain, leaning)]
    assert ones[1] > ones[0]

    trained_on = train(dataclasses.replace(config, ones_bias=2.0), data, start_from=leaning)
    gained = _weights(trained_on.model)[-1] - bias
    assert abs(gained[1] - gained[0]) < 0.5  # what training moves, not another 2


def test_stops_cleanly_when_asked(small_mnist):
    calls = []

    def stop_at_third_report():
        calls.append(1)
        return len(calls) >= 3

    events: list[Progress] = []
    config = TrainConfig(epochs=5, batch_size=8, validation_size=500)
    result = train(
        config, (small_mnist.train, small_mnist.test), events.append, stop_at_third_report
    )
    assert result.stopped_early
    assert result.epochs_run == 1  # stopped inside the first epoch, which is recorded
    # what was learned is kept: the model still answers sensibly
    x_val = small_mnist.train[0][-500:] / 255.0
    accuracy = result.model.predict(x_val, verbose=0).argmax(1) == small_mnist.train[1][-500:]
    assert accuracy.mean() > 0.5
    last = events[-1]
    assert last.kind == "epoch" and last.batch == 3 * STEPS_PER_EXECUTION


def test_without_validation(small_mnist):
    config = TrainConfig(epochs=1, validation_size=0)
    result = train(config, (small_mnist.train, small_mnist.test))
    assert set(result.history) == {"loss", "accuracy"}


def test_no_progress_bar_text(small_mnist, capfd):
    train(TrainConfig(epochs=1, validation_size=500), (small_mnist.train, small_mnist.test))
    out, err = capfd.readouterr()
    assert "━" not in out + err and "step" not in out


def test_augmented_training_learns_and_is_seeded(small_mnist):
    data = (small_mnist.train, small_mnist.test)
    config = TrainConfig(epochs=1, validation_size=500, seed=5, augment=True)
    events: list[Progress] = []
    first, second = train(config, data, on_progress=events.append), train(config, data)
    plain = train(TrainConfig(epochs=1, validation_size=500, seed=5), data)
    assert first.history["val_accuracy"][0] > 0.6
    assert events[-1].kind == "epoch" and events[-1].batch == events[-1].batches == 79
    np.testing.assert_array_equal(first.model.get_weights()[0], second.model.get_weights()[0])
    assert not np.array_equal(first.model.get_weights()[0], plain.model.get_weights()[0])


@pytest.mark.parametrize(("setting", "expected"), [(None, "True"), ("0", "False")])
def test_tensorflow_runs_its_onednn_kernels_unless_the_user_turns_them_off(setting, expected):
    """TensorFlow turns them on by itself only on CPUs with AVX-512's neural-network
    instructions; elsewhere mnist_core does, since the CNNs train far slower without them."""
    env = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    if setting is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = setting
    code = (
        "import mnist_core.train\n"
        "from tensorflow.python.util import _pywrap_util_port as port\n"
        "print(port.IsMklEnabled())\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert process.stdout.split()[-1] == expected
