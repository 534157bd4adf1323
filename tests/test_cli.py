"""The CLI run as users run it: a real subprocess on a small slice of real MNIST."""

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from mnist_core.drawn import save_drawn_set
from mnist_core.feedback import FeedbackStore
from mnist_core.store import list_models
from scripts.drawn_synthesis import build_drawn_set


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "mnist_core", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def trained(small_npz, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli-models") / "cli.h5"
    process = run_cli(
        "train",
        "--epochs",
        2,
        "--validation-size",
        500,
        "--data",
        small_npz,
        "--out",
        out,
        "--json",
    )
    assert process.returncode == 0, process.stderr
    return out, process


def test_train_prints_progress_and_ends_with_json(trained):
    out, process = trained
    result = json.loads(process.stdout.strip().splitlines()[-1])
    assert result["model_path"] == str(out) and out.is_file()
    assert result["test_accuracy"] > 0.8 and result["test_loss"] > 0
    assert result["epochs_run"] == 2 and result["fit_seconds"] > 0
    assert "epoch 2/2" in process.stderr and "val_accuracy" in process.stderr
    assert "Traceback" not in process.stderr


def test_evaluate_reports_and_writes_charts(trained, small_npz, tmp_path):
    out, _ = trained
    env = {**os.environ, "MNIST_DRAWN_SET": str(tmp_path / "none.npz")}
    process = run_cli("evaluate", out, "--data", small_npz, "--charts", tmp_path, "--json", env=env)
    assert process.returncode == 0, process.stderr
    result = json.loads(process.stdout.strip().splitlines()[-1])
    assert result["test_accuracy"] == pytest.approx(
        json.loads(out.with_suffix(".json").read_text())["evaluation"]["accuracy"]
    )
    assert set(result["per_class"]) == {str(d) for d in range(10)}
    assert "precision" in process.stdout
    assert "no drawn-digit score" in process.stderr and "drawn_digits_accuracy" not in result
    for chart in ("confusion_matrix.png", "mistakes.png", "learning_curves.png"):
        assert Image.open(tmp_path / chart).size[0] > 300


def test_evaluate_scores_drawn_digits_and_your_drawings(trained, small_npz, small_mnist, tmp_path):
    out, _ = trained
    drawn_path = save_drawn_set(
        build_drawn_set(seed=1, per_digit=2, mnist_test=small_mnist.test, fonts=()),
        tmp_path / "drawn.npz",
    )
    store = FeedbackStore.open(tmp_path / "feedback.sqlite")
    x_test, y_test = small_mnist.test
    for i in range(3):
        store.add(x_test[i], None, int(y_test[i]), int(y_test[i]), 0.9, "cli")
    wrong = (int(y_test[3]) + 1) % 10
    store.add(x_test[3], None, wrong, wrong, 0.9, "cli", person="Ada")  # labelled wrong
    env = {
        **os.environ,
        "MNIST_DRAWN_SET": str(drawn_path),
        "MNIST_FEEDBACK_DB": str(store.path),
    }
    process = run_cli("evaluate", out, "--data", small_npz, "--charts", tmp_path, "--json", env=env)
    assert process.returncode == 0, process.stderr
    result = json.loads(process.stdout.strip().splitlines()[-1])
    assert 0 <= result["drawn_digits_accuracy"] <= 1
    assert result["your_drawings_accuracy"] == 0.75  # three clean MNIST digits, one mislabelled
    assert result["people_accuracy"] == {"Ada": 0.0, "everyone": 1.0}
    assert "drawn_digits: accuracy" in process.stdout and "(20 images)" in process.stdout
    assert "your drawings (Ada): accuracy 0.0000 (1 images)" in process.stdout


def test_finetune_needs_drawings_then_saves_a_tuned_copy(trained, small_npz, small_mnist, tmp_path):
    out, _ = trained
    env = {**os.environ, "MNIST_FEEDBACK_DB": str(tmp_path / "feedback.sqlite")}
    zero = run_cli("finetune", out, "--epochs", 0, env=env)  # not taken as "the default"
    assert zero.returncode == 2 and "epochs must be between 1 and 200" in zero.stderr
    refused = run_cli("finetune", out, "--data", small_npz, env=env)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "needs at least 10 labelled drawings; there are 0" in refused.stderr

    store = FeedbackStore.open(tmp_path / "feedback.sqlite")
    x_test, y_test = small_mnist.test
    for i in range(12):
        store.add(x_test[i], None, int(y_test[i]), int(y_test[i]), 0.9, "cli")
    process = run_cli("finetune", out, "--epochs", 1, "--data", small_npz, "--json", env=env)

    assert process.returncode == 0, process.stderr
    result = json.loads(process.stdout.strip().splitlines()[-1])
    tuned = out.with_name("cli-tuned.h5")
    assert result["model_path"] == str(tuned) and result["drawings"] == 12
    assert "MNIST test accuracy" in process.stdout and "epoch 1/1" in process.stderr
    assert [m.name for m in list_models(out.parent)] == ["cli-tuned", "cli"]


def test_predict_reads_digit_images(trained, small_mnist, tmp_path):
    out, _ = trained
    x_test, y_test = small_mnist.test
    files = []
    for i in range(5):
        files.append(tmp_path / f"digit{i}.png")
        Image.fromarray(255 - x_test[i]).save(files[-1])  # dark on light, like a scan
    process = run_cli("predict", out, *files, "--json")
    assert process.returncode == 0, process.stderr
    predictions = json.loads(process.stdout.strip().splitlines()[-1])["predictions"]
    assert [p["digit"] for p in predictions] == y_test[:5].tolist()


def test_saves_into_the_models_folder_by_default(small_npz, tmp_path):
    env = {**os.environ, "MNIST_MODELS_DIR": str(tmp_path)}
    process = run_cli(
        "train", "--epochs", 1, "--validation-size", 500, "--data", small_npz, env=env
    )
    assert process.returncode == 0, process.stderr
    (saved,) = list_models(tmp_path)
    assert saved.name.startswith("mlp-") and saved.record.epochs_run == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--epochs", "0"], "epochs must be between 1 and 200"),
        (["train", "--dropout", "2"], "dropout must be between"),
        (["train", "--data", "/nonexistent/mnist.npz"], "/nonexistent/mnist.npz does not exist"),
        (["train", "--out", "model.keras"], "--out must name a .h5 file"),
        (["train", "--out", "models/my model.h5"], "'my model' is not a valid model name"),
        (["finetune", "no-such-model"], "no saved model named 'no-such-model'"),
        (["evaluate", "/nonexistent.h5"], "no model file at /nonexistent.h5"),
        (["evaluate", "no-such-model"], "no saved model named 'no-such-model'"),
    ],
)
def test_errors_are_one_clear_line(args, message):
    process = run_cli(*args)
    assert process.returncode == 2
    assert "Traceback" not in process.stderr
    assert message in process.stderr.strip().splitlines()[-1]


def test_train_refuses_to_overwrite_a_saved_model_before_training(trained):
    out, _ = trained
    before = out.read_bytes(), out.with_suffix(".json").read_text()
    process = run_cli("train", "--out", out)
    assert process.returncode == 2 and "Traceback" not in process.stderr
    assert f"{out} exists already" in process.stderr
    assert "epoch" not in process.stderr  # refused before any training
    assert (out.read_bytes(), out.with_suffix(".json").read_text()) == before


def test_predict_reports_a_file_that_is_not_an_image(trained, tmp_path):
    out, _ = trained
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    process = run_cli("predict", out, text)
    assert process.returncode == 2 and "Traceback" not in process.stderr
    assert "notes.png" in process.stderr


def test_help_does_not_import_tensorflow():
    code = (
        "import sys, runpy\n"
        "sys.argv = ['mnist_core', '--help']\n"
        "try:\n"
        "    runpy.run_module('mnist_core', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
    )
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert process.returncode == 0, process.stderr


def test_preset_best_trains_the_augmented_cnn_dense_and_options_override_it(small_npz, tmp_path):
    out = tmp_path / "best.h5"
    process = run_cli(
        "train", "--preset", "best", "--epochs", 1, "--validation-size", 500,
        "--data", small_npz, "--out", out, "--json",
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    config = json.loads(out.with_suffix(".json").read_text())["config"]
    assert (config["architecture"], config["augment"], config["batch_size"]) == (
        "cnn-dense",
        True,
        128,
    )
    assert config["epochs"] == 1


def test_explain_writes_a_picture_per_image_and_names_one_it_cannot_read(
    trained, small_mnist, small_npz, tmp_path
):
    out, _ = trained
    x_test, y_test = small_mnist.test
    Image.fromarray(x_test[0]).save(tmp_path / "first.png")
    (tmp_path / "notes.png").write_bytes(b"shopping: milk")
    pictures = tmp_path / "why"
    env = {**os.environ, "MNIST_DATA": str(small_npz)}

    process = run_cli(
        "explain", out, tmp_path / "first.png", tmp_path / "notes.png", "--out", pictures, env=env
    )

    assert process.returncode == 2  # one image could not be read
    assert "notes.png: error: notes.png is not an image file" in process.stderr
    assert f"first.png: {y_test[0]} (" in process.stdout and ", not " in process.stdout
    (written,) = pictures.iterdir()
    with Image.open(written) as picture:
        assert written.name == "first.png" and picture.width > 600
