"""The Train page run by Streamlit's AppTest: the form, a running job's progress, the results.

Jobs train for real on the 3,000/1,000-image slice of MNIST (`$MNIST_DATA`), so each takes
seconds. The job runner is a server-wide cached resource: every test starts with a new one and
leaves no job running behind it.
"""

import pytest
from streamlit.testing.v1 import AppTest

from app_pages.training_job import job_runner
from mnist_core.config import BOUNDS, PRESETS, TrainConfig
from mnist_core.jobs import JobSpec
from mnist_core.model import build_model
from mnist_core.store import list_models, save_model
from tests.app_support import open_page

from .conftest import make_record
from .test_jobs import JOB_TIMEOUT_S

PAGE = "app_pages/train.py"
LONG_RUN = TrainConfig(epochs=50, validation_size=500)  # still running when the test looks


@pytest.fixture(autouse=True)
def no_job_left_running():
    """Each test has jobs of its own (a jobs folder of its own); none may outlive it."""
    yield
    job = job_runner().current()
    if job is not None:
        job.stop()
        assert job.wait(JOB_TIMEOUT_S), f"{job} did not stop"


@pytest.fixture
def small_data(small_npz, monkeypatch):
    monkeypatch.setenv("MNIST_DATA", str(small_npz))


def _page() -> AppTest:
    """A new session on the Train page, in the app with its navigation and sidebar."""
    page = open_page(PAGE)
    assert not page.exception, page.exception
    return page


def _settings(page: AppTest) -> dict:
    values = {n.key.removeprefix("train_"): n.value for n in page.number_input}
    return {
        "architecture": page.selectbox(key="train_architecture").value,
        "augment": page.checkbox(key="train_augment").value,
        **values,
    }


def _train(page: AppTest, **settings) -> AppTest:
    for name, value in settings.items():
        page.number_input(key=f"train_{name}").set_value(value)
    next(b for b in page.button if b.label == "Train").click()
    page.run()
    assert not page.exception, page.exception
    return page


def _after_job(page: AppTest) -> AppTest:
    """The page once the job has ended, as the progress fragment's last poll shows it."""
    assert job_runner().current().wait(JOB_TIMEOUT_S)
    page.run()
    assert not page.exception, page.exception
    return page


def _metrics(page: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in page.main.metric}


def test_shows_the_reference_settings_and_what_to_do_without_saved_models(models_dir):
    page = _page()
    assert [title.value for title in page.title] == ["Train"]
    assert _settings(page) == TrainConfig().to_dict()
    assert "No model has been trained yet" in page.main.info[0].value
    train = next(b for b in page.button if b.label == "Train")
    assert not train.disabled


def test_renders_with_saved_models(saved_small_model, monkeypatch):
    _, saved = saved_small_model
    monkeypatch.setenv("MNIST_MODELS_DIR", str(saved.path.parent))
    page = _page()
    assert not page.main.info and "press **Train**" in page.main.markdown[0].value


def test_a_setting_out_of_its_bounds_is_refused_with_a_word_saying_which(models_dir):
    page = _page()
    for field in page.number_input:
        low, high = BOUNDS[field.key.removeprefix("train_")]
        shown = f"{low:,} to {high:,}" if isinstance(low, int) else f"{low:g} to {high:g}"
        assert field.help.endswith(f"From {shown}.")  # the bounds are said before Train
    page = _train(page, epochs=BOUNDS["epochs"][1] + 1)

    assert page.error[0].value == (
        "Cannot train with these settings: epochs must be between 1 and 200, not 201."
    )
    assert job_runner().current() is None


def test_the_best_preset_fills_the_form_with_its_settings(models_dir):
    page = _page()
    page.radio(key="train_preset").set_value("best").run()
    assert _settings(page) == PRESETS["best"].to_dict()
    assert any("model that reads drawings best" in c.value for c in page.caption)
    page.radio(key="train_preset").set_value("reference").run()
    assert _settings(page) == TrainConfig().to_dict()
    assert any("fills in the reference model" in c.value for c in page.caption)


def test_a_preset_says_how_long_it_trains_here_once_a_model_was_trained_like_it(models_dir):
    save_model(build_model(TrainConfig()), make_record(fit_seconds=30, epochs_run=2), "mlp-before")
    page = _page()
    assert any(
        "This preset trains in about 2 min 30 s here, at the pace of **mlp-before** (15 s an "
        "epoch)." in caption.value
        for caption in page.caption
    )
    page.radio(key="train_preset").set_value("best").run()
    assert not any("trains in about" in caption.value for caption in page.caption)


def test_a_setting_the_data_cannot_meet_fails_with_a_clear_message(models_dir, small_data):
    page = _after_job(_train(_page(), epochs=1, validation_size=3000))
    assert [e.value for e in page.error] == [
        "Training failed: validation size 3000 must be at least 0 and below the 3000 "
        "training images, to leave some to train on"
    ]
    assert list_models() == []


def test_trains_a_tiny_model_and_shows_its_results(models_dir, small_data):
    page = _after_job(_train(_page(), epochs=1, validation_size=500, ones_bias=1.5))

    metrics = _metrics(page)
    assert set(metrics) == {"Test accuracy", "Test loss", "Epochs", "Training time"}
    assert float(metrics["Test accuracy"].rstrip("%")) > 50 and metrics["Epochs"] == "1"
    assert len(page.main.get("image")) == 2  # learning curves, mistakes
    assert page.main.get("vega_lite_chart")  # the clickable confusion matrix, the bars
    report = page.dataframe[0].value
    assert list(report["Digit"]) == [str(digit) for digit in range(10)]
    assert report["Test images"].sum() == 1000
    assert page.get("download_button")
    summary = next(c.value for c in page.caption if "of batch 32" in c.value)
    assert summary.startswith("MLP · 1 epoch of batch 32 · 128 hidden units, dropout 0.2")
    assert "plain training images" in summary and "Trained on the data in" in summary
    assert "leaning towards 1 (+1.5 log-odds)" in summary
    assert "augment False" not in summary and "architecture mlp" not in summary

    [saved] = list_models()
    assert saved.record.config.epochs == 1 and saved.record.config.ones_bias == 1.5
    waited = next(metric for metric in page.main.metric if metric.label == "Training time")
    assert waited.value == f"{saved.record.run_seconds:.0f} s"  # what the person waited
    assert waited.help.startswith(f"Fitting took {saved.record.fit_seconds:.0f} s; the rest")
    assert page.session_state["active_model"] == saved.name
    assert f"Saved as **{saved.name}**, now the active model." == page.success[0].value


def test_a_named_model_is_saved_under_its_name_and_the_one_before_is_a_click_away(
    with_models, small_data
):
    page = _page()
    page.sidebar.selectbox[0].select("tiny-a").run()  # the person's choice before training
    page.text_input(key="train_name").set_value("my-first")
    page = _after_job(_train(page, epochs=1, validation_size=500))

    assert page.success[0].value == "Saved as **my-first**, now the active model."
    (link,) = page.get("page_link")
    assert link.proto.label == "Now draw a digit" and link.proto.page_script_hash
    assert page.sidebar.selectbox[0].value == "my-first"
    next(b for b in page.button if b.label == "Go back to tiny-a").click().run()
    assert page.sidebar.selectbox[0].value == "tiny-a"
    assert "my-first" in {saved.name for saved in list_models()}


@pytest.mark.parametrize(
    ("name", "message"),
    [("tiny-a", "a model named 'tiny-a' exists already"), ("../up", "is not a valid model name")],
)
def test_a_name_that_cannot_be_used_is_refused_before_training(with_models, name, message):
    page = _page()
    page.text_input(key="train_name").set_value(name)
    page = _train(page, epochs=1)

    assert message in page.error[0].value
    assert job_runner().current() is None


def test_another_session_sees_the_running_job_and_stops_it(models_dir, small_data):
    page = _page()  # an idle form, drawn before the other session starts its job
    job, _ = job_runner().start(JobSpec.of(LONG_RUN))
    page = _train(page, epochs=1)  # too late: the page shows the other job instead
    assert job_runner().current() is job
    _assert_shows_running_job(page)

    page = _page()  # a session opening the page mid-run
    _assert_shows_running_job(page)
    page.button(key="stop_training").click().run()

    page = _after_job(page)
    assert job.snapshot().stop_requested
    [saved] = list_models()
    assert saved.record.stopped_early and _metrics(page)["Epochs"] == "1"
    assert page.warning[0].value.startswith("Stopped at epoch 1 of 50")
    assert page.session_state["active_model"] == saved.name  # it watched the job end


def _assert_shows_running_job(page: AppTest) -> None:
    [train] = [button for button in page.button if button.key != "stop_training"]
    assert train.label == "A model is training…" and train.disabled
    assert page.get("progress") and page.button(key="stop_training")


def test_progress_survives_switching_pages(models_dir, small_data):
    page = _page()
    job, _ = job_runner().start(JobSpec.of(LONG_RUN))
    page.run()
    _assert_shows_running_job(page)
    page.switch_page("app_pages/draw.py").run()
    assert not page.get("progress")
    page.switch_page(PAGE).run()
    assert not page.exception
    _assert_shows_running_job(page)
    assert job_runner().current() is job and job.is_running
