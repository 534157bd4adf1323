import dataclasses

import pytest

from mnist_core.config import BOUNDS, ConfigError, TrainConfig


def test_defaults_are_the_reference_model():
    config = TrainConfig()
    assert (config.architecture, config.epochs, config.batch_size) == ("mlp", 10, 32)
    assert (config.hidden_units, config.dropout, config.validation_size) == (128, 0.2, 10_000)
    assert config.learning_rate == 0.001


def test_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().epochs = 3


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("epochs", 0, "epochs must be between 1 and 200"),
        ("epochs", 2.5, "whole number"),
        ("batch_size", -1, "batch_size must be between"),
        ("dropout", 0.95, "dropout must be between 0.0 and 0.9"),
        ("dropout", float("nan"), "dropout must be between"),
        ("learning_rate", 0.0, "learning_rate must be between"),
        ("epochs", "ten", "must be a number"),
        ("seed", True, "must be a number"),
        ("ones_bias", -1.0, "ones_bias must be between 0.0 and 5.0"),
        ("ones_bias", float("inf"), "ones_bias must be between"),
        ("architecture", "resnet", "architecture must be one of mlp, cnn, cnn-dense"),
    ],
)
def test_refuses_nonsense_with_a_clear_message(field, value, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**{field: value})


def test_bounds_are_inclusive_and_normalise_types():
    low = TrainConfig(**{name: low for name, (low, _) in BOUNDS.items()})
    high = TrainConfig(**{name: high for name, (_, high) in BOUNDS.items()})
    assert low.epochs == 1 and high.epochs == 200
    assert isinstance(TrainConfig(epochs=3.0).epochs, int)
    assert isinstance(TrainConfig(dropout=0).dropout, float)


def test_round_trips_through_a_dict_ignoring_unknown_keys():
    config = TrainConfig(architecture="cnn", epochs=3, seed=1, ones_bias=1.5)
    assert TrainConfig.from_dict({**config.to_dict(), "from_the_future": 1}) == config


def test_presets_are_valid_and_best_is_the_augmented_cnn_with_a_dense_layer():
    from mnist_core.config import PRESETS

    assert PRESETS["reference"] == TrainConfig()
    best = PRESETS["best"]
    assert (best.architecture, best.augment, best.epochs, best.batch_size, best.dropout) == (
        "cnn-dense",
        True,
        25,
        128,
        0.5,
    )
    with pytest.raises(ConfigError, match="augment must be true or false"):
        TrainConfig(augment="yes")
