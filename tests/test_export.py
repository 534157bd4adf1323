"""Exports, each loaded back in its own runtime: .keras in Keras, the SavedModel in TensorFlow,
LiteRT in ai_edge_litert, ONNX in onnxruntime, each agreeing with the .h5 on real test digits;
and bad requests refused in one line, with nothing written."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mnist_core.config import TrainConfig
from mnist_core.export import (
    FORMATS,
    SUFFIXES,
    ExportError,
    export_model,
    read_card,
    snippet,
)
from mnist_core.pixels import to_unit
from mnist_core.store import load_model
from tests.conftest import SMALL_CONFIG

# `best`'s architecture at test size: the convolutions and the dense layer, in seconds.
SMALL_CNN_DENSE = TrainConfig(
    architecture="cnn-dense", epochs=1, batch_size=128, dropout=0.5, validation_size=500
)
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def models(small_mnist, tmp_path_factory):
    """The reference MLP and the `best` architecture, small, trained and saved for real."""
    from mnist_core.workflow import train_evaluate_save

    folder = tmp_path_factory.mktemp("export-models")
    return {
        name: train_evaluate_save(config, small_mnist, name=name, models_dir=folder)[1]
        for name, config in (("mlp", SMALL_CONFIG), ("cnn-dense", SMALL_CNN_DENSE))
    }


@pytest.fixture(scope="module")
def digits(mnist):
    return to_unit(mnist.test[0][:100])


def run_in_runtime(fmt: str, path, images: np.ndarray) -> np.ndarray:
    """Probabilities from the export at `path`, read by its own runtime, batch and all."""
    if fmt == "keras":
        import keras

        return keras.models.load_model(path).predict(images, verbose=0)
    if fmt == "savedmodel":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))  # kept: its variables die with it
        return loaded.serve(images).numpy()
    if fmt == "tflite":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path))
        (given,) = interpreter.get_input_details()
        interpreter.resize_tensor_input(given["index"], list(images.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(given["index"], images)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: images})[0]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("model_name", ["mlp", "cnn-dense"])
def test_every_format_agrees_with_the_h5_in_its_own_runtime(
    models, digits, fmt, model_name, tmp_path
):
    saved = models[model_name]
    written = export_model(saved, fmt, tmp_path / f"digits{SUFFIXES[fmt]}")

    expected = load_model(saved.path).predict(digits, verbose=0)
    np.testing.assert_allclose(run_in_runtime(fmt, written, digits), expected, atol=TOLERANCE)
    one = run_in_runtime(fmt, written, digits[:1])  # any batch size
    np.testing.assert_allclose(one, expected[:1], atol=TOLERANCE)
    card = read_card(written)
    assert card.startswith(f"# {saved.name}: a handwritten-digit classifier")
    assert f"accuracy {saved.record.evaluation.accuracy:.2%}" in card
    assert "(n, 28, 28) float32 in [0, 1]" in card
    assert re.search(
        r"^- Drawn digits: (accuracy [\d.]+% on [\d,]+ digits|not measured)", card, re.M
    )
    assert [entry.name for entry in tmp_path.iterdir()] == [written.relative_to(tmp_path).parts[0]]


def test_a_savedmodel_goes_into_tf_servings_numbered_versions(models, tmp_path):
    folder = tmp_path / "serving" / "digits"
    first = export_model(models["mlp"], "savedmodel", folder)
    second = export_model(models["mlp"], "savedmodel", folder)

    assert (first, second) == (folder / "1", folder / "2")
    assert (second / "saved_model.pb").is_file()
    (folder / "notes.txt").write_text("not a version")
    with pytest.raises(ExportError, match=r"'notes\.txt', which is not a version"):
        export_model(models["mlp"], "savedmodel", folder)
    assert sorted(entry.name for entry in folder.iterdir()) == ["1", "2", "notes.txt"]


def cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mnist_core", "export", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def error_lines(completed: subprocess.CompletedProcess) -> list[str]:
    """What the CLI said on stderr, without TensorFlow's own start-up lines."""
    return [line for line in completed.stderr.splitlines() if line.startswith("error:")]


def test_the_cli_exports_and_says_where_in_json(models, tmp_path):
    out = tmp_path / "digits.onnx"
    completed = cli(str(models["mlp"].path), "--format", "onnx", "--out", str(out), "--json")

    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.splitlines()[-1])
    assert result == {"format": "onnx", "path": str(out), "bytes": out.stat().st_size}


def test_bad_requests_get_one_line_exit_2_and_nothing_written(models, tmp_path):
    saved = models["mlp"]
    taken = tmp_path / "taken.keras"
    taken.write_bytes(b"someone's file")
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"not a model")
    corrupt.with_suffix(".json").write_text(saved.path.with_suffix(".json").read_text())
    cases = {
        "unknown format": ([str(saved.path), "--format", "pdf"], "unknown format 'pdf'"),
        "taken output": ([str(saved.path), "--format", "keras", "--out", str(taken)], "exists"),
        "wrong suffix": (
            [str(saved.path), "--format", "tflite", "--out", str(tmp_path / "x.onnx")],
            "is a .tflite file",
        ),
        "a model that cannot be exported": (
            [str(corrupt), "--format", "onnx", "--out", str(tmp_path / "c.onnx")],
            "corrupt.h5",
        ),
    }
    before = sorted(tmp_path.iterdir())
    for case, (args, words) in cases.items():
        completed = cli(*args)
        assert completed.returncode == 2, (case, completed.stderr)
        (line,) = error_lines(completed)
        assert words in line, (case, line)
    assert sorted(tmp_path.iterdir()) == before  # no partial export, no temporary left
    assert taken.read_bytes() == b"someone's file"


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_formats_snippet_loads_its_export_and_reads_a_digit(models, mnist, fmt, tmp_path):
    saved = models["mlp"]
    written = export_model(saved, fmt, tmp_path / f"digits{SUFFIXES[fmt]}")
    image, label = mnist.test[0][0], mnist.test[1][0]
    Image.fromarray(image).save(tmp_path / "digit.png")
    code = snippet(fmt, written.relative_to(tmp_path).as_posix())

    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )

    assert completed.returncode == 0, completed.stderr[-2000:]
    expected = load_model(saved.path).predict(to_unit(image)[None], verbose=0).argmax()
    assert completed.stdout.split()[-1] == str(expected) == str(label)
