"""The Models page under AppTest: table, charts from the sidecar, accuracy on drawn digits
beside MNIST's, download, delete, compare."""

from __future__ import annotations

import io
import json
import shutil
import zipfile

import pytest

from mnist_core.classify import Classifier
from mnist_core.config import TrainConfig
from mnist_core.drawn import evaluate_drawn, load_drawn_set, save_drawn_set
from mnist_core.feedback import FeedbackStore, evaluate_feedback
from mnist_core.store import find_model
from scripts.drawn_synthesis import build_drawn_set
from tests.app_support import open_page

MODELS = "app_pages/models.py"


@pytest.fixture(scope="module")
def tiny_drawn_set(mnist, tmp_path_factory):
    """Three re-drawn MNIST test digits of each kind (no fonts): 30 canvases, in a second."""
    path = tmp_path_factory.mktemp("drawn") / "drawn_digits.npz"
    drawn = build_drawn_set(seed=1, per_digit=3, mnist_test=mnist.test, fonts=())
    return save_drawn_set(drawn, path)


@pytest.fixture(autouse=True)
def drawn_set(tmp_path, monkeypatch):
    """This test's drawn-digit set ($MNIST_DRAWN_SET) and labelled drawings
    ($MNIST_FEEDBACK_DB): neither exists unless the test makes it."""
    path = tmp_path / "drawn_digits.npz"
    monkeypatch.setenv("MNIST_DRAWN_SET", str(path))
    monkeypatch.setenv("MNIST_FEEDBACK_DB", str(tmp_path / "feedback.sqlite"))
    return path


def button(app, label):
    return next(b for b in app.button if b.label == label)


def labels(app, kind):
    return [element.label for element in app.get(kind)]


def metric(app, label):
    return next(m for m in app.metric if m.label == label)


def test_without_models_it_says_to_train_one(models_dir):
    app = open_page(MODELS)

    assert not app.exception
    assert "no saved model" in app.info[0].value
    assert not app.dataframe


def test_lists_every_model_with_what_tells_them_apart(with_models):
    app = open_page(MODELS)

    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["Name"]) == ["tiny-b", "tiny-a"]
    assert list(table.columns) == [
        "Name", "Trained", "Architecture", "Epochs", "Test accuracy", "Stopped early"
    ]  # fmt: skip
    saved = find_model("tiny-b")
    assert table["Test accuracy"][0] == pytest.approx(
        100 * saved.record.evaluation.accuracy
    )  # percent
    assert list(table["Epochs"]) == [1, 1]
    assert not table["Stopped early"].any()


def test_the_selected_model_shows_its_results_from_its_record(with_models):
    app = open_page(MODELS)

    app.selectbox(key="models_selected").select("tiny-a").run()

    assert not app.exception
    accuracy = next(m for m in app.metric if m.label == "Test accuracy" and m.key is None)
    assert accuracy.value == f"{find_model('tiny-a').record.evaluation.accuracy:.2%}"
    assert [tab.label for tab in app.tabs] == [
        "Learning curves", "Confusion matrix", "Per-class report", "Misclassified digits"
    ]  # fmt: skip
    report = app.dataframe[1].value
    assert list(report["Digit"]) == [str(d) for d in range(10)]
    assert len(app.image) >= 4  # curves, heatmap, gallery, comparison...
    (download,) = app.get("download_button")
    assert download.label == "Download .h5"


def test_delete_asks_first_and_cancel_keeps_the_model(with_models):
    app = open_page(MODELS)
    app.selectbox(key="models_selected").select("tiny-a").run()

    button(app, "Delete…").click().run()

    assert "Delete **tiny-a**?" in app.warning[0].value
    assert (with_models / "tiny-a.h5").exists()
    button(app, "Cancel").click().run()
    assert not app.warning
    assert (with_models / "tiny-a.h5").exists()


def test_confirmed_delete_removes_the_files_and_the_newest_becomes_active(with_models):
    app = open_page(MODELS)
    assert app.sidebar.selectbox[0].value == "tiny-b"  # the newest is active

    button(app, "Delete…").click().run()
    button(app, "Yes, delete").click().run()

    assert not app.exception
    assert not (with_models / "tiny-b.h5").exists()
    assert not (with_models / "tiny-b.json").exists()
    assert "Deleted **tiny-b**" in app.success[0].value
    assert list(app.dataframe[0].value["Name"]) == ["tiny-a"]
    assert app.sidebar.selectbox[0].value == "tiny-a"
    assert app.selectbox(key="models_selected").value == "tiny-a"
    assert "Train another model to compare" in app.info[0].value


def test_a_model_deleted_by_another_session_is_dropped_with_a_word(with_models):
    app = open_page(MODELS)
    app.selectbox(key="models_selected").select("tiny-a").run()
    button(app, "Delete…").click().run()

    find_model("tiny-a").path.unlink()  # another session deletes it meanwhile
    app.get("download_button")[0].click().run()  # a click on it reruns the page

    assert not app.exception
    assert "**tiny-a** is no longer saved" in app.info[0].value
    assert not app.warning  # its pending "Delete tiny-a?" is gone too
    assert list(app.dataframe[0].value["Name"]) == ["tiny-b"]
    assert app.selectbox(key="models_selected").value == "tiny-b"


def test_compares_two_models_and_refuses_a_model_against_itself(with_models):
    app = open_page(MODELS)
    first, second = (
        app.selectbox(key=key) for key in ("models_compare_first", "models_compare_second")
    )
    assert (first.value, second.value) == ("tiny-b", "tiny-a")
    charts_of_both = len(app.image)

    second.select("tiny-b").run()

    assert not app.exception
    assert "Pick two different models" in app.info[0].value
    assert len(app.image) == charts_of_both - 2  # no overlaid curves, no per-class bars


def test_deleting_a_compared_model_leaves_two_different_models_compared(with_models):
    for suffix in (".h5", ".json"):  # a third model: a copy of tiny-a
        shutil.copy(with_models / f"tiny-a{suffix}", with_models / f"tiny-c{suffix}")
    app = open_page(MODELS)
    first, second = ("models_compare_first", "models_compare_second")
    app.selectbox(key=first).select("tiny-a").run()
    app.selectbox(key=second).select("tiny-b").run()  # the newest: where a lost pick falls

    app.selectbox(key="models_selected").select("tiny-a").run()
    next(b for b in app.button if b.label == "Delete…").click().run()
    next(b for b in app.button if b.label == "Yes, delete").click().run()

    assert not app.exception
    picks = (app.selectbox(key=first).value, app.selectbox(key=second).value)
    assert picks == ("tiny-c", "tiny-b")
    assert "tiny-a" not in app.selectbox(key=first).options
    assert not any("Pick two different models" in info.value for info in app.info)


def test_shows_drawn_digit_accuracy_beside_mnist_accuracy(with_models, tiny_drawn_set, drawn_set):
    shutil.copy(tiny_drawn_set, drawn_set)
    app = open_page(MODELS)

    app.selectbox(key="models_selected").select("tiny-a").run()

    assert not app.exception
    saved = find_model("tiny-a")
    drawn = evaluate_drawn(Classifier.load(saved.path), load_drawn_set(drawn_set))
    assert metric(app, "MNIST test digits").value == f"{saved.record.evaluation.accuracy:.2%}"
    assert metric(app, "Drawn digits").value == f"{drawn.accuracy:.2%}"
    points = 100 * (drawn.accuracy - saved.record.evaluation.accuracy)
    assert metric(app, "Drawn digits").delta == f"{points:+.1f} points vs MNIST"
    assert metric(app, "Your drawings").value == "none yet"
    assert any("30 digits drawn" in caption.value for caption in app.caption)


def test_without_the_drawn_set_it_says_how_to_build_it(with_models):
    app = open_page(MODELS)

    assert not app.exception
    assert metric(app, "Drawn digits").value == "n/a"
    assert any("make data" in caption.value for caption in app.caption)
    assert metric(app, "MNIST test digits").value.endswith("%")


def test_scores_the_users_own_drawings_when_there_are_some(with_models, mnist):
    images, labels = mnist.test
    store = FeedbackStore.open()
    for image, label in zip(images[:12], labels[:12], strict=True):
        store.add(image, None, int(label), 0, 0.5, "tiny-b")
    app = open_page(MODELS)

    assert not app.exception
    expected = evaluate_feedback(Classifier.load(find_model("tiny-b").path), store)
    assert metric(app, "Your drawings").value == f"{expected.accuracy:.2%}"
    assert metric(app, "Your drawings").delta == "of 12 drawings"


def test_each_persons_drawings_are_scored_and_the_session_sees_its_own(with_models, mnist):
    images, labels = mnist.test
    store = FeedbackStore.open()
    for i, person in enumerate(["Ada"] * 5 + ["Bob"] * 3):
        store.add(images[i], None, int(labels[i]), 0, 0.5, "tiny-b", person=person)
    app = open_page(MODELS, person="Bob")

    assert not app.exception
    assert metric(app, "Your drawings").delta == "of 3 drawings"  # Bob's
    (table,) = [frame.value for frame in app.dataframe if "Person" in frame.value.columns]
    assert table["Person"].tolist() == ["Ada", "Bob"] and table["Drawings"].tolist() == [5, 3]


def test_a_fine_tuned_model_is_scored_only_on_drawings_it_did_not_learn_from(with_models, mnist):
    images, labels = mnist.test
    store = FeedbackStore.open()
    ids = [
        store.add(image, None, int(label), 0, 0.5, "tiny-a")
        for image, label in zip(images[:12], labels[:12], strict=True)
    ]
    sidecar = find_model("tiny-b").sidecar_path
    record = json.loads(sidecar.read_text())
    record["fine_tuned"] = {"base_model": "tiny-a", "drawings": 9, "last_drawing_id": ids[8]}
    sidecar.write_text(json.dumps(record))  # as if tuned on the first nine

    app = open_page(MODELS)

    assert not app.exception
    assert metric(app, "Your drawings").delta == "of 3 drawings"
    assert any(
        "Fine-tuned from **tiny-a** on MNIST and 9 of your labelled drawings" in caption.value
        for caption in app.caption
    )
    store.add(images[20], None, int(labels[20]), 0, 0.5, "tiny-b")
    assert metric(app.run(), "Your drawings").delta == "of 4 drawings"


def test_a_model_whose_record_cannot_be_read_is_named_with_the_reason(with_models):
    (with_models / "tiny-a.json").write_text('{"config": {"architecture": "mlp"}}')

    app = open_page(MODELS)

    assert not app.exception
    assert "**tiny-a** is not shown" in app.warning[0].value
    assert "has no 'history'" in app.warning[0].value
    assert list(app.dataframe[0].value["Name"]) == ["tiny-b"]


def test_export_prepares_each_format_with_a_snippet_and_zips_the_savedmodel(with_models):
    app = open_page(MODELS)
    app.selectbox(key="models_selected").select("tiny-a").run()

    app.segmented_control(key="export_format").set_value("savedmodel").run()
    app.button(key="export_prepare").click().run()

    assert not app.exception and not app.error
    download = next(d for d in app.get("download_button") if d.key == "export_download")
    assert download.label == "Download tiny-a-savedmodel.zip"
    _wanted, _file_name, data = app.session_state["export_prepared"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
    assert "tiny-a-savedmodel/1/saved_model.pb" in names
    assert "tiny-a-savedmodel/1/assets.extra/model_card.md" in names
    (code,) = app.code
    assert 'tf.saved_model.load("tiny-a-savedmodel/1")' in code.value

    app.segmented_control(key="export_format").set_value("tflite").run()
    assert not [d for d in app.get("download_button") if d.key == "export_download"]  # anew


def test_an_export_that_fails_says_why(with_models):
    (with_models / "tiny-a.h5").write_bytes(b"not a model any more")
    app = open_page(MODELS)
    app.selectbox(key="models_selected").select("tiny-a").run()

    app.button(key="export_prepare").click().run()  # ONNX, the default

    assert not app.exception
    assert any(
        "The export failed" in error.value and "tiny-a.h5" in error.value for error in app.error
    )


def test_the_confusion_matrix_after_each_epoch_is_picked_with_a_slider(with_models, mnist):
    from mnist_core.data import slice_mnist
    from mnist_core.workflow import train_evaluate_save

    config = TrainConfig(epochs=3, validation_size=500)
    train_evaluate_save(config, slice_mnist(mnist, 2000, 500), name="three", models_dir=with_models)
    app = open_page(MODELS)
    app.selectbox(key="models_selected").select("three").run()
    confusions = find_model("three").record.epoch_confusions
    slider = app.slider(key="confusion_epoch_three")
    assert (slider.min, slider.max, slider.value) == (1, len(confusions), len(confusions))

    slider.set_value(1).run()

    right = confusions[0].trace() / confusions[0].sum()
    assert any(f"After epoch 1: {right:.2%} of the test digits" in c.value for c in app.caption)


def test_your_drawings_open_in_a_confusion_matrix_of_their_own(with_models, mnist):
    store = FeedbackStore.open()
    x_test, y_test = mnist.test
    for i in range(12):
        store.add(x_test[i], None, int(y_test[i]), int(y_test[i]), 0.9, "tiny-a", "Ada")

    app = open_page(MODELS, person="Ada")
    app.selectbox(key="models_selected").select("tiny-a").run()

    assert not app.exception
    (panel,) = [
        block for block in app.get("popover") if "cell by cell" in block.proto.popover.label
    ]
    assert panel.get("vega_lite_chart")  # the matrix and its bars
    assert any("see its drawings" in caption.value for caption in panel.get("caption"))
