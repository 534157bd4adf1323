import json
import os
import subprocess
import sys
import threading

import keras
import numpy as np
import pytest

from mnist_core import store
from mnist_core.config import TrainConfig
from mnist_core.model import build_model
from mnist_core.store import ModelFileError

from .conftest import make_record


def _save(name, directory, accuracy=0.5):
    return store.save_model(build_model(TrainConfig()), make_record(accuracy), name, directory)


def test_saves_h5_and_sidecar_and_loads_back(models_dir):
    model = build_model(TrainConfig())
    saved = store.save_model(model, make_record(), "first")
    assert saved.path == models_dir / "first.h5" and saved.sidecar_path.is_file()
    record = json.loads(saved.sidecar_path.read_text())
    assert record["name"] == "first" and record["versions"]["keras"] == keras.__version__
    assert record["config"]["epochs"] == 10 and record["created"]
    assert store.find_model("first").record.to_dict() == saved.record.to_dict()

    loaded = store.load_model(saved.path)
    images = np.random.default_rng(0).random((3, 28, 28))
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0))
    assert sorted(os.listdir(models_dir)) == ["first.h5", "first.json"]


def test_lists_newest_first_and_finds_and_deletes(models_dir):
    _save("older", None)
    newer = _save("newer", None)
    record = json.loads(newer.sidecar_path.read_text())
    record["created"] = "2999-01-01T00:00:00+00:00"
    newer.sidecar_path.write_text(json.dumps(record))
    assert [m.name for m in store.list_models()] == ["newer", "older"]
    assert store.find_model("older").record.evaluation.accuracy == 0.5

    store.delete_model("newer")
    assert [m.name for m in store.list_models()] == ["older"]
    with pytest.raises(ModelFileError, match="no saved model named 'newer'"):
        store.find_model("newer")


def test_refuses_to_overwrite_and_bad_names(models_dir):
    _save("taken", None)
    with pytest.raises(ModelFileError, match="already exists"):
        _save("taken", None)
    for bad in ["../escape", "a/b", "", ".hidden", "x" * 65, "model.h5"]:
        with pytest.raises(ModelFileError, match="not a valid model name"):
            store.check_name(bad)
    assert store.default_name("mlp").startswith("mlp-2")


def test_a_taken_name_gets_a_suffix_when_asked(models_dir):
    _save("run", None)
    orphan = models_dir / "run-2.h5"  # a save under way: its record is not written yet
    orphan.write_bytes(b"claimed")
    model = build_model(TrainConfig())
    saved = store.save_model(model, make_record(), "run", None, rename_if_taken=True)
    assert saved.name == "run-3" and json.loads(saved.sidecar_path.read_text())["name"] == "run-3"
    assert orphan.read_bytes() == b"claimed"
    assert [m.name for m in store.list_models()] == ["run-3", "run"]


def test_a_taken_name_of_the_longest_length_is_shortened_to_fit_its_suffix(models_dir):
    longest = "m" * store.MAX_NAME_LENGTH
    _save(longest, None)
    model = build_model(TrainConfig())
    saved = store.save_model(model, make_record(), longest, None, rename_if_taken=True)
    assert saved.name == "m" * (store.MAX_NAME_LENGTH - 2) + "-2"
    assert sorted(m.name for m in store.list_models()) == [saved.name, longest]


def test_saves_at_once_under_one_name_never_overwrite(models_dir):
    """Threads saving different models as "shared" at the same moment: one wins, every other
    is refused, and the file on disk is the winner's, whole."""
    models = [build_model(TrainConfig(hidden_units=8 * (n + 1))) for n in range(4)]
    start = threading.Barrier(len(models))
    outcomes: dict[int, object] = {}

    def save(index: int) -> None:
        start.wait()
        try:
            record = make_record(data_source=f"thread {index}")
            outcomes[index] = store.save_model(models[index], record, "shared")
        except ModelFileError as error:
            outcomes[index] = error

    threads = [threading.Thread(target=save, args=(n,)) for n in range(len(models))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [n for n, outcome in outcomes.items() if isinstance(outcome, store.SavedModel)]
    assert len(winners) == 1, outcomes
    assert all("already exists" in str(outcomes[n]) for n in outcomes if n not in winners)
    (saved,) = store.list_models()
    assert saved.record.data_source == f"thread {winners[0]}"
    assert store.load_model(saved.path).count_params() == models[winners[0]].count_params()
    assert sorted(os.listdir(models_dir)) == ["shared.h5", "shared.json"]


def test_half_written_saves_are_not_listed_and_dead_ones_are_cleaned(models_dir):
    _save("good", None)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    dead_temp = models_dir / f".tmp-{int(dead.stdout)}-abc.h5"
    live_temp = models_dir / f".tmp-{os.getpid()}-def.h5"  # a save still running here
    for path in (dead_temp, live_temp, models_dir / ".tmp-garbage"):
        path.write_bytes(b"partial")
    (models_dir / "orphan.h5").write_bytes(b"h5 written, sidecar never")
    assert [m.name for m in store.list_models()] == ["good"]
    assert not dead_temp.exists() and not (models_dir / ".tmp-garbage").exists()
    assert live_temp.exists()


@pytest.mark.parametrize(
    "dies_at",
    [
        "os.link",  # the .h5 written under its temporary name, about to be moved in
        "os.replace",  # the .h5 in place, its record written but not yet moved in
    ],
)
def test_a_save_killed_midway_leaves_the_listing_intact(models_dir, dies_at):
    _save("kept", None)
    killer = (
        "import os, mnist_core.store as s\n"
        "from mnist_core.model import build_model\n"
        "from tests.conftest import make_record\n"
        f"{dies_at} = lambda *a: os._exit(9)\n"
        f"s.save_model(build_model(), make_record(), 'doomed', {str(models_dir)!r})\n"
    )
    process = subprocess.run([sys.executable, "-c", killer], capture_output=True)
    assert process.returncode == 9
    assert [m.name for m in store.list_models()] == ["kept"]
    assert not [name for name in os.listdir(models_dir) if name.startswith(".tmp-")]
    store.load_model(models_dir / "kept.h5")
    with pytest.raises(ModelFileError, match="already exists"):
        _save("kept", None)


# A sidecar exactly as the previous version of the app wrote it (its mistakes list cut short).
PREVIOUS_VERSION_SIDECAR = {
    "format": 1,
    "name": "old",
    "created": "2026-11-28T10:15:00+00:00",
    "versions": {"python": "3.11.9", "tensorflow": "2.21.0", "keras": "3.15.1"},
    "config": {
        "architecture": "mlp",
        "epochs": 2,
        "batch_size": 32,
        "hidden_units": 128,
        "dropout": 0.2,
        "learning_rate": 0.001,
        "validation_size": 10000,
        "seed": 42,
        "augment": False,
    },
    "history": {"loss": [0.5, 0.3], "accuracy": [0.9, 0.95]},
    "epochs_run": 2,
    "stopped_early": False,
    "fit_seconds": 12.5,
    "data_source": "cache data/mnist.npz",
    "evaluation": {
        "loss": 0.1,
        "accuracy": 0.97,
        "count": 10000,
        "confusion": [[1000 if r == c else 0 for c in range(10)] for r in range(10)],
        "report": {str(d): {"precision": 0.9, "recall": 0.9, "f1": 0.9, "support": 1000}
                   for d in range(10)},
        "mistakes": [],
    },
    "fine_tuned": {"base_model": "older", "drawings": 12, "last_drawing_id": 40},
}  # fmt: skip


def test_a_record_written_by_the_previous_version_loads(models_dir):
    _save("old", None)
    (models_dir / "old.json").write_text(json.dumps(PREVIOUS_VERSION_SIDECAR))

    record = store.find_model("old").record

    assert record.config == TrainConfig(epochs=2)
    assert record.history["accuracy"] == (0.9, 0.95) and record.epochs_run == 2
    assert record.evaluation.accuracy == 0.97 and record.evaluation.confusion[3, 3] == 1000
    assert record.created.isoformat() == "2026-11-28T10:15:00+00:00"
    assert record.fine_tuned.base_model == "older" and record.drawings_learnt_up_to == 40
    unchanged = {k: v for k, v in PREVIOUS_VERSION_SIDECAR.items() if k not in ("format", "name")}
    # a setting added since reads as its default: that version's models did not lean towards 1
    unchanged["config"] = {**unchanged["config"], "ones_bias": 0.0}
    assert record.to_dict() == unchanged


def test_a_record_is_read_once_per_version_of_its_file(models_dir):
    """Every page run lists the models: their records (with images) are parsed once."""
    _save("kept", None, accuracy=0.5)
    first = store.find_model("kept").record
    assert store.list_models()[0].record is first
    sidecar = json.loads((models_dir / "kept.json").read_text())
    sidecar["evaluation"]["accuracy"] = 0.75
    store._write_json_atomically(models_dir / "kept.json", sidecar)  # as a save writes it
    assert store.find_model("kept").record.evaluation.accuracy == 0.75


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"evaluation": None}, "has no 'evaluation'"),
        ({"history": [1, 2]}, "its 'history' cannot be read"),
        ({"created": "last tuesday"}, "its 'created' cannot be read"),
        ({"config": {**PREVIOUS_VERSION_SIDECAR["config"], "epochs": 0}}, "epochs must be"),
    ],
)
def test_a_record_that_cannot_be_read_is_refused_by_name_and_not_listed(
    models_dir, change, message
):
    _save("good", None)
    _save("broken", None)
    sidecar = {key: value for key, value in {**PREVIOUS_VERSION_SIDECAR, **change}.items()}
    (models_dir / "broken.json").write_text(json.dumps(sidecar))

    assert [m.name for m in store.list_models()] == ["good"]
    listed, unreadable = store.scan_models()
    assert [m.name for m in listed] == ["good"] and list(unreadable) == ["broken"]
    assert message.split("'")[0] in unreadable["broken"]  # why it is not listed
    with pytest.raises(ModelFileError, match=rf"broken\.json is not a model record .*{message}"):
        store.find_model("broken")
    (models_dir / "broken.json").write_text("{not json")
    with pytest.raises(ModelFileError, match=r"broken\.json cannot be read"):
        store.find_model("broken")


def test_refuses_files_that_are_not_models(tmp_path):
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    with pytest.raises(ModelFileError, match="not an HDF5"):
        store.load_model(text)
    with pytest.raises(ModelFileError, match="cannot be read"):
        store.load_model(tmp_path / "missing.h5")

    import h5py

    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as file:
        file["x"] = np.zeros(3)
    with pytest.raises(ModelFileError, match="holds no Keras model"):
        store.load_model(empty)


def test_refuses_truncated_models(tmp_path):
    path = tmp_path / "whole.h5"
    build_model(TrainConfig()).save(path)
    cut = tmp_path / "cut.h5"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ModelFileError, match=r"cut\.h5"):
        store.load_model(cut)


def test_refuses_wrong_shapes(tmp_path):
    wrong = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(3)])
    wrong.save(tmp_path / "three.h5")
    with pytest.raises(ModelFileError, match="maps"):
        store.load_model(tmp_path / "three.h5")


def test_never_runs_code_from_a_model_file(tmp_path):
    inputs = keras.Input((28, 28))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    outputs = keras.layers.Dense(10)(keras.layers.Flatten()(outputs))
    keras.Model(inputs, outputs).save(tmp_path / "lambda.h5")
    with pytest.raises(ModelFileError, match="Lambda layer"):
        store.load_model(tmp_path / "lambda.h5")
