"""Who may do what: with an admin key set, training, stopping, fine-tuning, deleting and
importing ask for it once per session; drawing, uploading, labelling and browsing do not."""

from __future__ import annotations

import shutil
import time

import pytest

from app_pages import access
from app_pages.feedback_ui import GALLERY
from mnist_core.store import list_models
from tests.app_support import open_page

KEY = "correct horse battery staple"
TRAIN, MODELS, DRAW = "app_pages/train.py", "app_pages/models.py", "app_pages/draw.py"


@pytest.fixture
def locked(monkeypatch):
    monkeypatch.setenv(access.ADMIN_KEY_ENV_VAR, KEY)
    monkeypatch.setattr(access, "FIRST_WAIT_S", 0.2)  # the slowing down, measured below


@pytest.fixture
def with_models(trained_models, models_dir):
    shutil.copytree(trained_models, models_dir, dirs_exist_ok=True)
    return models_dir


def train_button(app):
    return next(b for b in app.button if b.label == "Train")


def unlock(app, place, typed):
    app.text_input(key=f"unlock_key_{place}").input(typed)
    next(b for b in app.button if b.label == "Unlock").click()
    return app.run()


def typed_key_kept(app):
    """What the key field holds once a try has been answered."""
    key = "unlock_key_train"
    return app.session_state[key] if key in app.session_state else None  # noqa: SIM401


def test_without_a_key_nothing_asks_for_one(with_models):
    app = open_page(TRAIN)
    assert not train_button(app).disabled
    assert not [t for t in app.text_input if t.key and t.key.startswith("unlock_key")]


def test_training_waits_for_the_key_and_a_wrong_one_is_refused_slowly(locked, with_models):
    app = open_page(TRAIN)
    assert train_button(app).disabled
    assert any("need the admin key" in m.value for m in app.markdown)

    started = time.perf_counter()
    app = unlock(app, "train", "guess")
    first = time.perf_counter() - started
    started = time.perf_counter()
    app = unlock(app, "train", "another guess")
    second = time.perf_counter() - started

    assert any("not the admin key" in error.value for error in app.error)
    assert train_button(app).disabled
    assert first >= 0.2 and second >= 0.4  # each wrong try waits twice as long
    assert typed_key_kept(app) in ("", None) or (app.run() and typed_key_kept(app) == "")

    app = unlock(app, "train", KEY)
    assert not train_button(app).disabled
    assert not [t for t in app.text_input if t.key and t.key.startswith("unlock_key")]
    assert typed_key_kept(app) in ("", None)  # only "unlocked" is kept, never the key


def test_deleting_needs_the_key_but_browsing_does_not(locked, with_models):
    app = open_page(MODELS)
    assert not app.exception
    delete = next(b for b in app.button if b.label == "Delete…")
    assert delete.disabled  # the table, the charts and the downloads are all there
    assert app.dataframe and app.get("download_button")

    app = unlock(app, "models", KEY)
    next(b for b in app.button if b.label == "Delete…").click().run()
    next(b for b in app.button if b.label == "Yes, delete").click().run()
    assert len(list_models(with_models)) == 1


def test_drawing_and_labelling_stay_open_with_a_key(locked, with_models):
    app = open_page(DRAW)
    assert not app.exception
    assert app.get("bidi_component")  # the canvas
    assert any(u.label.startswith("PNG or JPEG") for u in app.file_uploader)
    app.session_state[GALLERY] = True  # the labelled drawings opened
    fine_tune = next(b for b in app.run().button if b.label.startswith("Fine-tune"))
    assert fine_tune.disabled


def test_a_secrets_file_that_cannot_be_read_locks_everything_and_says_why(
    with_models, tmp_path, monkeypatch
):
    broken = tmp_path / "secrets.toml"
    broken.write_text('admin_key = "unterminated\n')
    monkeypatch.chdir(tmp_path)  # Streamlit looks for .streamlit/secrets.toml here too
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(broken.read_text())

    app = open_page(TRAIN)

    assert not app.exception
    assert train_button(app).disabled
    assert any("secrets file cannot be read" in error.value for error in app.error)
