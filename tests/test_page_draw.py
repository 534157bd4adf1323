"""The Draw page under AppTest: canvas settings, answer, hint, Clear, uploads, cached model,
one-click training.

AppTest cannot move a mouse, so `draw` hands the page what the canvas sends after a stroke
(its drawing as a PNG data URL), made by `render_strokes`; the real browser tests draw."""

from __future__ import annotations

import base64
import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from app_pages.training_ui import job_runner
from mnist_core.classify import Classifier
from mnist_core.config import TrainConfig
from mnist_core.store import list_models
from mnist_core.strokes import render_strokes
from tests.app_support import open_page, train_tiny

DRAW = "app_pages/draw.py"
VERTICAL_LINE = [[(140, 40), (138, 240)]]  # a "1"


@pytest.fixture(scope="module")
def trained_model(mnist, tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained")
    train_tiny(mnist, folder, "tiny")
    return folder


@pytest.fixture
def with_model(trained_model, models_dir):
    shutil.copytree(trained_model, models_dir)
    return models_dir


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def draw(app, strokes) -> None:
    """Give the page the canvas state the browser sends after `strokes` (then rerun)."""
    url = "data:image/png;base64," + base64.b64encode(png(render_strokes(strokes))).decode()
    app.session_state["canvas"] = {"drawing": {"raw": {"objects": []}, "data": url}}
    app.run()


def canvas_settings(app) -> dict:
    """What the page asked the canvas component for."""
    (canvas,) = app.get("bidi_component")
    return json.loads(canvas.proto.json)


def predictions(app):
    return [metric for metric in app.metric if metric.label == "Prediction"]


def shows_hint(app) -> bool:
    return any(info.value.startswith("Draw a digit") for info in app.info)


def test_the_canvas_is_a_black_280px_square_with_a_white_pen(with_model):
    app = open_page(DRAW)

    settings = canvas_settings(app)
    assert (settings["canvasWidth"], settings["canvasHeight"]) == (280, 280)
    assert settings["backgroundColor"] == "#000000"
    assert settings["strokeColor"] == "#FFFFFF"
    assert settings["strokeWidth"] == 18
    assert settings["drawingMode"] == "freedraw"
    assert settings["returnImageData"] is True

    app.slider(key="pen_width").set_value(25).run()
    assert canvas_settings(app)["strokeWidth"] == 25


def test_a_blank_canvas_shows_the_hint_and_no_prediction(with_model):
    app = open_page(DRAW)

    assert not app.exception
    assert shows_hint(app)
    assert predictions(app) == []


def test_a_drawn_one_is_answered_with_its_image_and_probabilities(with_model):
    app = open_page(DRAW)

    draw(app, VERTICAL_LINE)

    assert not app.exception
    (prediction,) = predictions(app)
    assert prediction.value == "1"
    assert prediction.delta.endswith("% probability")
    assert app.image[0].proto.imgs[0].caption == "What the model sees (28x28)"
    assert app.get("vega_lite_chart")  # the ten probabilities
    assert not shows_hint(app)


def test_clear_empties_the_canvas_and_brings_back_the_hint(with_model):
    app = open_page(DRAW)
    draw(app, VERTICAL_LINE)
    before = canvas_settings(app)["initialDrawing"]

    next(button for button in app.button if button.label == "Clear").click().run()

    # A new initial drawing makes the canvas reload it, empty; until it has, the strokes it
    # last sent must not be answered.
    assert canvas_settings(app)["initialDrawing"] != before
    assert canvas_settings(app)["initialDrawing"]["objects"] == []
    assert shows_hint(app) and predictions(app) == []
    draw(app, [])  # what the reloaded canvas sends
    assert shows_hint(app) and predictions(app) == []


def test_uploads_go_through_the_same_pipeline_and_bad_files_are_named(with_model, mnist):
    x_test, y_test = mnist.test
    app = open_page(DRAW)

    app.file_uploader[0].set_value(
        [
            ("digit.png", png(255 - x_test[0]), "image/png"),  # dark ink on light paper
            ("notes.png", b"shopping list: eggs", "image/png"),
            ("blank.png", png(np.full((40, 40), 255, np.uint8)), "image/png"),
        ]
    ).run()

    assert not app.exception
    (answer,) = [metric for metric in app.metric if metric.label == "digit.png"]
    assert answer.value == str(y_test[0])
    assert "notes.png" in app.error[0].value and "not an image" in app.error[0].value
    assert "blank.png" in app.warning[0].value
    assert predictions(app) == []  # the canvas is still blank


def test_a_bad_model_file_gets_a_clear_message(with_model):
    (with_model / "tiny.h5").write_bytes(b"not a model")

    app = open_page(DRAW)

    assert not app.exception
    assert "tiny" in app.error[0].value and "cannot be used" in app.error[0].value


def test_the_model_is_read_once_not_on_every_rerun(with_model, monkeypatch):
    reads = []
    real_load = Classifier.load.__func__

    def counting_load(cls, path):
        reads.append(path)
        return real_load(cls, path)

    monkeypatch.setattr(Classifier, "load", classmethod(counting_load))
    app = open_page(DRAW)
    draw(app, VERTICAL_LINE)
    app.slider(key="pen_width").set_value(24).run()
    assert len(reads) == 1

    model_file = with_model / "tiny.h5"
    model_file.write_bytes(model_file.read_bytes())  # saved again: a new version
    app.run()
    assert len(reads) == 2


def test_without_a_model_one_click_trains_the_reference_model(models_dir, monkeypatch, mnist):
    (x_train, y_train), (x_test, y_test) = mnist.train, mnist.test
    small = models_dir.parent / "small.npz"
    # The reference settings validate on 10,000 images: keep 200 more to train on.
    np.savez(
        small,
        x_train=x_train[:10_200],
        y_train=y_train[:10_200],
        x_test=x_test[:200],
        y_test=y_test[:200],
    )
    monkeypatch.setenv("MNIST_DATA", str(small))
    app = open_page(DRAW)
    assert predictions(app) == [] and not app.file_uploader

    next(b for b in app.button if b.label == "Train the reference model").click().run()

    job = job_runner().current()
    assert job.config == TrainConfig()
    assert job.wait(timeout=300)
    assert not app.exception
    assert app.title[0].value == "Train"  # the page that shows the job's progress
    assert [saved.name for saved in list_models()] == [job.snapshot().saved.name]
