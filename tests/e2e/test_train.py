"""The Train page in a real browser: a small run shows its progress, curves and test scores and
saves the model the form described; Stop ends a long run early and keeps what it learned."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from mnist_core.store import list_models
from tests.e2e.browser import go_to, main, metric, open_tab, screenshot

pytestmark = pytest.mark.e2e

# The training process imports TensorFlow before its first batch, and an epoch takes seconds
# when the machine is busy: wait for training milestones generously.
RUN_TIMEOUT_MS = 120_000
OUTCOME = re.compile(r"saved as|stopped at epoch|training failed", re.IGNORECASE)


def start_training(page: Page, settings: dict[str, int]) -> None:
    """Type `settings` (field label -> value) into the Train page's form and press Train."""
    for label, value in settings.items():
        field = page.get_by_role("spinbutton", name=label, exact=True)
        field.fill(str(value))
        field.press("Tab")  # number inputs commit their value when they lose focus
    main(page).get_by_role("button", name="Train", exact=True).click()


def outcome(page: Page) -> str:
    """The sentence saying how the run ended, once it has; a failed run fails the test."""
    sentence = main(page).get_by_text(OUTCOME).first
    expect(sentence).to_be_visible(timeout=RUN_TIMEOUT_MS)
    text = sentence.inner_text()
    assert "training failed" not in text.lower(), main(page).inner_text()
    return text


def progress_bar(page: Page) -> Locator:
    return main(page).get_by_test_id("stProgress")


def test_small_run_shows_progress_curves_and_test_results(app_page, models_folder):
    page = app_page
    go_to(page, "Train")
    screenshot(page, "train-idle")

    start_training(page, {"Epochs": 2, "Validation images": 500})
    expect(progress_bar(page)).to_be_visible()
    ended = outcome(page)

    expect(metric(page, "Test accuracy")).to_be_visible()
    expect(open_tab(page, "Learning curves").get_by_test_id("stImage")).to_be_visible()
    expect(
        open_tab(page, "Confusion matrix").get_by_test_id("stVegaLiteChart").first
    ).to_be_visible()
    expect(progress_bar(page)).to_have_count(0)
    screenshot(page, "train-done")

    newest = list_models(models_folder)[0]
    assert newest.name in ended
    assert newest.record.config.epochs == 2
    assert newest.record.config.validation_size == 500
    assert not newest.record.stopped_early


def test_stop_ends_a_long_run_and_keeps_what_it_learned(app_page, models_folder):
    page = app_page
    go_to(page, "Train")
    start_training(page, {"Epochs": 50, "Validation images": 500})
    # From the second epoch on, the curves of the first are drawn and grow with each epoch.
    second_epoch = re.compile(r"Epoch ([2-9]|\d\d) of 50")
    expect(progress_bar(page)).to_contain_text(second_epoch, timeout=RUN_TIMEOUT_MS)
    weights = main(page).get_by_test_id("stImage").filter(has_text="Layer 1's weights after epoch")
    expect(weights).to_be_visible()  # redrawn after every epoch
    expect(main(page).get_by_test_id("stVegaLiteChart")).to_be_visible()  # the loss, by batch
    curves = (
        main(page).get_by_test_id("stImage").filter(has_not_text="Layer 1's weights").locator("img")
    )
    expect(curves).to_be_visible()
    drawn_so_far = curves.get_attribute("src")
    expect(curves).not_to_have_attribute("src", drawn_so_far, timeout=RUN_TIMEOUT_MS)
    screenshot(page, "train-running", settled=False)

    main(page).get_by_role("button", name="Stop", exact=True).click()
    ended = outcome(page)
    stopped = re.search(r"stopped at epoch (\d+)", ended, re.IGNORECASE)
    assert stopped, ended
    screenshot(page, "train-stopped")

    newest = list_models(models_folder)[0]
    assert newest.name in ended
    assert newest.record.stopped_early
    assert newest.record.epochs_run == int(stopped[1]) < 50


def test_a_setting_out_of_range_is_refused_with_a_word_next_to_the_button(app_page):
    page = app_page
    go_to(page, "Train")

    start_training(page, {"Epochs": 999})

    refusal = main(page).get_by_test_id("stAlertContentError")
    expect(refusal).to_have_text(
        "Cannot train with these settings: epochs must be between 1 and 200, not 999."
    )
    expect(progress_bar(page)).to_have_count(0)  # nothing started


def test_a_preset_fills_in_the_form_and_the_server_logs_nothing(app_page):
    # The app_page fixture fails the test if the server logs anything: a widget given a
    # default and a Session State value logged a warning with a stack here.
    page = app_page
    go_to(page, "Train")
    epochs = page.get_by_role("spinbutton", name="Epochs", exact=True)
    expect(epochs).to_have_value("10")

    main(page).get_by_text("Best for drawing", exact=True).click()
    expect(epochs).to_have_value("25")
    expect(page.get_by_role("spinbutton", name="Batch size", exact=True)).to_have_value("128")

    main(page).get_by_text("Reference MLP", exact=True).click()
    expect(epochs).to_have_value("10")
