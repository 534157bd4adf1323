"""The Draw page under AppTest: canvas settings, answer, hint, Clear, uploads, cached model,
one-click training, and labelling drawings: keep, gallery, delete, export and import.

AppTest cannot move a mouse, so `draw` hands the page what the canvas sends after a stroke (its
paths, as fabric.js writes them); the real browser tests draw."""

from __future__ import annotations

import base64
import gc
import io
import json
import shutil
import weakref

import numpy as np
import pytest
from PIL import Image

from app_pages.feedback_ui import GALLERY, export_bytes, import_bytes
from app_pages.training_job import job_runner
from mnist_core.answer import PREVIEW_SCALE
from mnist_core.classify import Classifier
from mnist_core.config import TrainConfig
from mnist_core.feedback import FeedbackError, FeedbackStore
from mnist_core.finetune import FINE_TUNE_EPOCHS, MIN_DRAWINGS
from mnist_core.pixels import to_pixels
from mnist_core.record import FineTuned
from mnist_core.store import list_models
from mnist_core.strokes import PEN_WIDTHS, canvas_drawing, redraw, strokes_to_mnist
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


@pytest.fixture(autouse=True)
def feedback_db(tmp_path, monkeypatch):
    """Where this test's labelled drawings go ($MNIST_FEEDBACK_DB); not created up front."""
    path = tmp_path / "feedback.sqlite"
    monkeypatch.setenv("MNIST_FEEDBACK_DB", str(path))
    return path


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def draw(app, strokes) -> None:
    """Give the page the canvas state the browser sends after `strokes` (then rerun): the
    pencil's paths as fabric.js objects."""
    app.session_state["canvas"] = {"drawing": {"raw": canvas_drawing(strokes), "data": None}}
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
    assert settings["returnImageData"] is False  # the page reads the strokes, not a PNG

    assert (app.slider(key="pen_width").min, app.slider(key="pen_width").max) == PEN_WIDTHS
    app.slider(key="pen_width").set_value(23).run()
    assert canvas_settings(app)["strokeWidth"] == 23


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
    (preview,) = app.image[0].proto.imgs
    assert preview.caption == "What the model sees (28x28)"
    # Inside the page's message, so the server stores no file and the browser fetches none.
    header, _, data = preview.url.partition(",")
    assert header == "data:image/png;base64"
    seen = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))))
    assert seen.shape == (28 * PREVIEW_SCALE, 28 * PREVIEW_SCALE) and seen.max() == 255
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

    uploader = next(u for u in app.file_uploader if u.label.startswith("PNG or JPEG"))
    uploader.set_value(
        [
            ("digit.png", png(255 - x_test[0]), "image/png"),  # dark ink on light paper
            ("notes.png", b"shopping list: eggs", "image/png"),
            ("blank.png", png(np.full((40, 40), 255, np.uint8)), "image/png"),
        ]
    ).run()

    assert not app.exception
    (answer,) = [metric for metric in app.metric if metric.label == "Read as"]
    assert answer.value == str(y_test[0])
    assert any(text.value == "**digit\\.png**" for text in app.markdown)  # the whole name
    assert "notes.png" in app.error[0].value and "not an image" in app.error[0].value
    assert "blank.png" in app.warning[0].value
    assert predictions(app) == []  # the canvas is still blank


def test_uploads_are_labelled_like_drawings_each_with_its_own_buttons(with_model, mnist):
    x_test, y_test = mnist.test
    app = open_page(DRAW, person="Ada")
    uploader = next(u for u in app.file_uploader if u.label.startswith("PNG or JPEG"))
    long_name = "a-very-long-photo-name-from-a-phone-20261201-101500-0001.png"
    uploader.set_value(
        [(long_name, png(x_test[0]), "image/png"), ("two.png", png(x_test[1]), "image/png")]
    ).run()
    assert not app.exception
    assert len([b for b in app.button if b.label.startswith("Right!")]) == 2

    wrong = (int(y_test[1]) + 1) % 10
    slot_key = next(p.key for p in app.pills if p.key.startswith("feedback_label_upload_"))
    app.pills(key=slot_key).set_value(wrong).run()
    save_key = slot_key.replace("feedback_label_", "feedback_save_")
    app.button(key=save_key).click().run()

    assert not app.exception
    (kept,) = FeedbackStore.open().all("Ada")
    assert kept.label == wrong and kept.canvas_png is None
    assert len([b for b in app.button if b.label.startswith("Right!")]) == 1  # one left to label
    assert any("Kept as" in message.value for message in app.success)


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
    assert job.spec.config == TrainConfig()
    assert job.wait(timeout=300)
    assert not app.exception
    assert app.title[0].value == "Train"  # the page that shows the job's progress
    assert [saved.name for saved in list_models()] == [job.snapshot().saved.name]


def button(app, label):
    return next(b for b in app.button if b.label == label)


def gallery(app):
    (expander,) = [e for e in app.expander if e.label.startswith("Your labelled drawings")]
    return expander


def open_gallery(app, is_open: bool = True):
    """Open (or close) the labelled drawings' expander, as a click on it does, and run. AppTest
    sends no expander's state, so the next run closes it again (and opening it twice in a row
    leaves it closed)."""
    app.session_state[GALLERY] = is_open
    return app.run()


def add_drawings(store: FeedbackStore, labels: list[int]) -> list[int]:
    """Keep a canvas drawing for each label, as the page would (the model said 1 each time)."""
    canvas = redraw(VERTICAL_LINE)
    image = to_pixels(strokes_to_mnist(VERTICAL_LINE))
    return [store.add(image, canvas, label, 1, 0.9, "tiny") for label in labels]


def test_a_misread_drawing_is_kept_with_the_digit_the_user_gives(with_model, feedback_db):
    app = open_page(DRAW)
    draw(app, VERTICAL_LINE)
    (prediction,) = predictions(app)
    assert gallery(app).label == "Your labelled drawings (0)"
    assert not feedback_db.exists()  # looking does not create the store
    (digits,) = app.pills
    assert digits.label == "Wrong? It was a"
    assert button(app, "Save").disabled  # until a digit is picked

    digits.set_value(7).run()
    button(app, "Save").click().run()

    assert not app.exception
    (drawing,) = FeedbackStore.open().all()
    canvas = redraw(VERTICAL_LINE)
    assert (drawing.label, drawing.predicted, drawing.model_name) == (7, 1, "tiny")
    assert f"{drawing.confidence:.0%} probability" == prediction.delta
    # The drawing as the page read it: what the model saw, and the strokes redrawn with one pen.
    np.testing.assert_array_equal(drawing.image, to_pixels(strokes_to_mnist(VERTICAL_LINE)))
    np.testing.assert_array_equal(drawing.canvas, canvas)
    assert app.toast[0].value.startswith("Kept as a 7")
    assert "Kept as **a 7**" in app.success[0].value  # instead of the control: kept once
    assert not app.pills
    assert gallery(app).label == "Your labelled drawings (1)"
    assert gallery(open_gallery(app)).image[0].proto.imgs[0].caption == "7 · said 1 ✗"


def test_right_keeps_the_drawing_with_the_models_answer(with_model):
    app = open_page(DRAW)
    draw(app, VERTICAL_LINE)

    button(app, "Right! A 1").click().run()

    (drawing,) = FeedbackStore.open().all()
    assert drawing.label == drawing.predicted == 1
    assert gallery(open_gallery(app)).image[0].proto.imgs[0].caption == "1 · said 1 ✓"


def test_a_damaged_store_is_said_plainly_the_model_still_reads_and_nothing_is_written(
    with_model, feedback_db
):
    damaged = b"SQLite format 3\x00" + bytes(range(256)) * 20
    feedback_db.write_bytes(damaged)
    app = open_page(DRAW)
    draw(app, VERTICAL_LINE)

    assert not app.exception
    assert "labelled drawings cannot be read, so the model reads alone" in app.warning[0].value
    assert predictions(app)[0].value == "1"
    button(app, "Right! A 1").click().run()
    assert not app.exception
    assert any(e.value.startswith("The drawing could not be kept") for e in app.error)
    assert feedback_db.read_bytes() == damaged


def test_a_new_drawing_can_be_labelled_again(with_model):
    app = open_page(DRAW)
    draw(app, VERTICAL_LINE)
    button(app, "Right! A 1").click().run()

    draw(app, [[(150, 40), (146, 240)]])  # another 1

    assert app.pills[0].value is None
    button(app, "Right! A 1").click().run()
    assert FeedbackStore.open().count() == 2


def test_each_stroke_reuses_the_labelling_widgets_and_a_new_drawing_starts_unlabelled(
    with_model,
):
    """Streamlit keeps every widget id a session ever had: keys per drawing would pile up."""
    app = open_page(DRAW)
    draw(app, VERTICAL_LINE)
    keys = sorted(str(widget.key) for widget in [*app.pills, *app.button])
    app.pills(key="feedback_label_canvas").set_value(7).run()

    draw(app, [[(150, 40), (146, 240)]])  # another 1

    assert sorted(str(widget.key) for widget in [*app.pills, *app.button]) == keys
    assert app.pills(key="feedback_label_canvas").value is None


def test_delete_in_the_gallery_forgets_that_drawing(with_model):
    store = FeedbackStore.open()
    first, second = add_drawings(store, [4, 9])
    app = open_gallery(open_page(DRAW))
    assert gallery(app).label == "Your labelled drawings (2)"

    app.button(key=f"feedback_delete_{first}").click().run()

    assert not app.exception
    assert [drawing.id for drawing in store.all()] == [second]
    assert gallery(app).label == "Your labelled drawings (1)"
    assert app.toast[0].value == "Deleted the drawing."


def test_the_gallery_is_built_only_while_it_is_open(with_model):
    first, second = add_drawings(FeedbackStore.open(), [4, 9])
    app = open_page(DRAW)
    deletes = {f"feedback_delete_{first}", f"feedback_delete_{second}"}

    def shown() -> tuple[int, set[str]]:
        keys = {b.key for b in app.button} & deletes
        return len(gallery(app).image), keys

    assert gallery(app).label == "Your labelled drawings (2)"  # counted while closed
    assert shown() == (0, set())  # but not built: no picture, no Delete
    open_gallery(app)
    assert not app.exception
    assert shown() == (2, deletes)
    open_gallery(app, False)
    assert shown() == (0, set())


def test_fine_tuning_waits_for_enough_drawings_then_runs_as_the_job(
    with_model, small_npz, monkeypatch
):
    monkeypatch.setenv("MNIST_DATA", str(small_npz))
    store = FeedbackStore.open()
    add_drawings(store, [1] * (MIN_DRAWINGS - 1))
    app = open_gallery(open_page(DRAW))
    assert button(app, "Fine-tune tiny").disabled
    add_drawings(store, [1])

    app.run()  # the page as it is now, its gallery closed again (AppTest sends no expander state)
    open_gallery(app)
    button(app, "Fine-tune tiny").click().run()

    job = job_runner().current()
    assert job.spec.fine_tune == "tiny" and job.spec.config.epochs == FINE_TUNE_EPOCHS
    assert job.wait(timeout=300)
    assert not app.exception
    assert app.title[0].value == "Train"  # the page that shows the job's progress
    captions = [caption.value for caption in app.switch_page(DRAW).run().caption]
    assert any("Read by **tiny-tuned**" in caption for caption in captions)  # now active
    app.switch_page("app_pages/train.py").run()
    about = f"Fine-tuned from **tiny** on MNIST and {MIN_DRAWINGS} of your labelled drawings"
    assert any(about in caption.value for caption in app.caption)
    tuned = job.snapshot().saved
    assert tuned.name == "tiny-tuned"
    assert tuned.record.fine_tuned == FineTuned("tiny", MIN_DRAWINGS, store.last_id())
    assert sorted(saved.name for saved in list_models()) == ["tiny", "tiny-tuned"]


def test_an_exported_file_imports_into_another_store(tmp_path):
    source = FeedbackStore.open(tmp_path / "here.sqlite")
    add_drawings(source, [3, 5, 8])
    target = FeedbackStore.open(tmp_path / "there.sqlite")

    assert import_bytes(target, "mine.npz", export_bytes(source)) == 3

    imported, original = target.all(), source.all()
    assert [d.label for d in imported] == [d.label for d in original]
    for copy, drawing in zip(imported, original, strict=True):
        np.testing.assert_array_equal(copy.image, drawing.image)
        np.testing.assert_array_equal(copy.canvas, drawing.canvas)


def test_a_bad_import_names_the_upload_and_adds_nothing(tmp_path):
    store = FeedbackStore.open(tmp_path / "feedback.sqlite")

    with pytest.raises(FeedbackError, match=r"^notes\.npz cannot be read"):
        import_bytes(store, "notes.npz", b"shopping list: eggs")
    assert store.count() == 0


def test_the_page_imports_an_export_and_refuses_a_bad_file(with_model, tmp_path):
    elsewhere = FeedbackStore.open(tmp_path / "elsewhere.sqlite")
    add_drawings(elsewhere, [2, 6])
    app = open_gallery(open_page(DRAW))

    app.file_uploader(key="feedback_import_0").set_value(
        ("notes.npz", b"shopping list: eggs", "application/octet-stream")
    ).run()

    assert not app.exception
    assert "Nothing was imported" in app.error[0].value and "notes.npz" in app.error[0].value
    assert gallery(app).label == "Your labelled drawings (0)"

    exported = export_bytes(elsewhere)
    open_gallery(app).file_uploader(key="feedback_import_1").set_value(
        ("theirs.npz", exported, "application/octet-stream")
    ).run()

    assert app.toast[0].value == "Imported 2 drawings from theirs.npz."
    assert gallery(app).label == "Your labelled drawings (2)"
    assert sorted(d.label for d in FeedbackStore.open().all()) == [2, 6]


SHIFTED_LINE = [[(170, 30), (168, 230)]]  # the same "1" elsewhere: the same 28x28 once centred


def test_a_correction_teaches_that_person_at_once_and_nobody_else(with_model, feedback_db):
    app = open_page(DRAW)
    app.text_input(key="person_field").set_value("Ada").run()
    assert app.query_params["person"] == "Ada"  # kept in the link: a reload keeps it
    assert any("No memory of your handwriting" in c.value for c in app.caption)
    draw(app, VERTICAL_LINE)
    (prediction,) = predictions(app)
    wrong = 7 if prediction.value != "7" else 4
    app.pills[0].set_value(wrong).run()
    button(app, "Save").click().run()

    assert not app.exception
    assert any("Knows **1** of your drawings" in c.value for c in app.caption)
    draw(app, SHIFTED_LINE)  # drawn again, elsewhere on the canvas
    assert predictions(app)[0].value == str(wrong)  # read as Ada said, at once
    (drawing,) = FeedbackStore.open().all()
    assert drawing.person == "Ada" and drawing.label == wrong

    stranger = open_page(DRAW)  # another session, no name: everyone's memory is empty
    draw(stranger, SHIFTED_LINE)
    assert predictions(stranger)[0].value == prediction.value
    bob = open_page(DRAW)
    bob.text_input(key="person_field").set_value("Bob").run()
    draw(bob, SHIFTED_LINE)
    assert predictions(bob)[0].value == prediction.value


def test_a_persons_reader_goes_with_their_session(with_model, feedback_db):
    add_drawings(FeedbackStore.open(), [3, 3])
    app = open_page(DRAW)
    _made_from, reader = app.session_state["person_reader"]
    assert reader.size == 2
    kept = weakref.ref(reader)
    del app, reader
    gc.collect()
    assert kept() is None  # no cache of the process keeps it once the session is gone


def test_a_memory_grows_by_the_new_drawings_and_is_built_anew_after_a_deletion(
    with_model, feedback_db
):
    store = FeedbackStore.open()
    first = add_drawings(store, [3, 3])
    app = open_page(DRAW)
    _made_from, before = app.session_state["person_reader"]
    # Marked, so that rows computed again (a reader built anew) would differ from them.
    before._memory[:] = np.arange(before._memory.size).reshape(before._memory.shape)
    add_drawings(store, [4])  # kept in another tab
    app.run()

    _made_from, grown = app.session_state["person_reader"]
    assert grown.size == 3 and grown.labels.tolist() == [4, 3, 3]  # newest first, as stored
    assert grown.base is before.base
    kept = before._by_shift()  # reused, in order
    np.testing.assert_array_equal(grown._by_shift()[:, 1:], kept)
    store.delete(first[0])
    app.run()
    _made_from, rebuilt = app.session_state["person_reader"]
    assert rebuilt.labels.tolist() == [4, 3]
    assert any("Knows **2** of everyone's drawings" in c.value for c in app.caption)


def test_the_link_brings_back_the_name_and_its_memory_can_be_forgotten(with_model, feedback_db):
    store = FeedbackStore.open()
    add_drawings(store, [3, 3])
    image = to_pixels(strokes_to_mnist(VERTICAL_LINE))
    store.add(image, None, 5, 1, 0.9, "tiny", person="Ada")
    app = open_page(DRAW, person="Ada")

    assert app.text_input(key="person_field").value == "Ada"
    assert any("Knows **1** of your drawings" in c.value for c in app.caption)
    assert gallery(app).label == "Your labelled drawings (1)"  # Ada's, not everyone's 3
    button(app, "Forget them…").click().run()
    button(app, "Yes, forget").click().run()

    assert not app.exception
    assert store.people() == {"everyone": 2}
    assert any("No memory of your handwriting" in c.value for c in app.caption)


def test_a_name_that_cannot_be_kept_says_why_and_keeps_the_last_one(with_model):
    app = open_page(DRAW)
    app.text_input(key="person_field").set_value("Ada").run()
    app.text_input(key="person_field").set_value("bell\x07").run()

    assert not app.exception
    assert "That name cannot be kept" in app.error[0].value
    assert app.query_params["person"] == "Ada"


def test_why_this_answer_shows_evidence_look_alikes_and_the_inside_when_asked(with_model):
    app = open_page(DRAW)
    draw(app, VERTICAL_LINE)
    assert not [tab for tab in app.tabs if tab.label == "Evidence"]  # nothing until asked

    app.toggle(key="why_shown").set_value(True).run()

    assert not app.exception
    assert [tab.label for tab in app.tabs][:3] == ["Evidence", "Looks like", "Inside the network"]
    evidence, look_alikes, inside = app.tabs[:3]

    def captions(tab):
        return [[picture.caption for picture in image.proto.imgs] for image in tab.get("image")]

    answer = predictions(app)[0].value
    (first,), (second,) = captions(evidence)
    assert first.startswith(f"For {answer} (") and second.startswith("For ")
    assert second != first
    (nearest,) = captions(look_alikes)
    assert len(nearest) == 8 and nearest.count(f"a {answer}") >= 6
    inside_captions = [caption for (caption,) in captions(inside)]
    assert inside_captions[0] == "The input, 28x28"
    assert inside_captions[-2] == "Output: the 10 digits, 0 to 9 from left to right"
    assert inside_captions[-1].startswith("What layer 1 looks for")


def test_an_uploaded_picture_can_be_explained_too(with_model, mnist):
    app = open_page(DRAW)
    uploader = next(u for u in app.file_uploader if u.label.startswith("PNG or JPEG"))
    uploader.set_value([("seven.png", png(mnist.test[0][0]), "image/png")]).run()
    (why,) = [toggle for toggle in app.toggle if toggle.label == "Why?"]

    why.set_value(True).run()

    assert not app.exception
    assert [tab.label for tab in app.tabs][:3] == ["Evidence", "Looks like", "Inside the network"]
