"""The app's shell: every page runs, and the sidebar shows and switches the active model."""

from __future__ import annotations

import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.store import delete_model, find_model
from tests.app_support import APP, open_page

PAGES = ["app_pages/train.py", "app_pages/draw.py", "app_pages/models.py"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_without_models_and_sidebar_says_what_to_do(page, models_dir):
    app = open_page(page)

    assert not app.exception
    assert "No saved model yet" in app.sidebar.info[0].value
    assert "Train" in app.sidebar.info[0].value


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_with_models(page, with_models):
    app = open_page(page)

    assert not app.exception


def test_the_newest_model_is_active_by_default(with_models):
    app = open_page("app_pages/models.py")

    picker = app.sidebar.selectbox[0]
    assert picker.value == "tiny-b"
    accuracies = [find_model(name).record.evaluation.accuracy for name in ("tiny-b", "tiny-a")]
    assert picker.options == [  # name, architecture and accuracy: what a person picks by
        f"tiny-b · MLP · {accuracies[0]:.1%}",
        f"tiny-a · MLP · {accuracies[1]:.1%}",
    ]
    (accuracy,) = app.sidebar.metric
    assert accuracy.label == "Test accuracy" and accuracy.value == f"{accuracies[0]:.2%}"
    assert app.sidebar.caption[0].value.startswith("MLP, trained on ")


def test_picking_another_model_makes_it_active(with_models):
    app = open_page("app_pages/models.py")

    app.sidebar.selectbox[0].select("tiny-a").run()

    assert not app.exception
    assert app.session_state["active_model"] == "tiny-a"
    assert app.sidebar.selectbox[0].value == "tiny-a"
    assert app.sidebar.metric[0].value == f"{find_model('tiny-a').record.evaluation.accuracy:.2%}"
    assert app.query_params["model"] == "tiny-a"  # in the link: a reload keeps it


def test_a_reload_keeps_the_model_picked_before(with_models):
    app = open_page("app_pages/draw.py", model="tiny-a")  # a link where tiny-a was picked

    assert not app.exception
    assert app.sidebar.selectbox[0].value == "tiny-a"
    assert any("Read by **tiny-a**" in caption.value for caption in app.caption)


def test_the_models_page_makes_the_model_shown_the_active_one(with_models):
    app = open_page("app_pages/models.py")
    app.selectbox(key="models_selected").select("tiny-a").run()
    next(b for b in app.button if b.label == "Use this model").click().run()

    assert not app.exception
    assert app.sidebar.selectbox[0].value == "tiny-a"
    assert next(b for b in app.button if b.label == "The active model").disabled


def test_a_model_deleted_elsewhere_hands_over_to_the_newest(with_models):
    app = open_page("app_pages/draw.py")
    app.sidebar.selectbox[0].select("tiny-a").run()

    delete_model("tiny-a")  # as another session would
    app.run()

    assert not app.exception
    assert app.sidebar.selectbox[0].value == "tiny-b"
    assert len(app.sidebar.selectbox[0].options) == 1


def test_tensorflow_waits_until_a_page_needs_it(with_models):
    """Starting the app and browsing saved models must not import TensorFlow (seconds)."""
    script = f"""
import sys
from streamlit.testing.v1 import AppTest
app = AppTest.from_file({str(APP)!r}, default_timeout=60).run()
app.switch_page("app_pages/models.py").run()
assert not app.exception, app.exception
print("tensorflow" in sys.modules, "keras" in sys.modules)
"""
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert completed.stdout.split() == ["False", "False"]


def test_the_app_opens_on_the_draw_page_saying_what_it_is(models_dir):
    app = AppTest.from_file(str(APP), default_timeout=60).run()

    assert not app.exception
    assert app.title[0].value == "Draw a digit"
    assert "reads what you draw" in app.caption[0].value
    assert any(b.label == "Train the reference model" for b in app.button)  # no model yet
