"""The app's first page comes up without TensorFlow: only a page that needs a model loads it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import CANVAS_TOOLBAR, go_to, main, screenshot

pytestmark = pytest.mark.e2e


def test_first_page_is_shown_before_tensorflow_is_loaded(startup):
    assert not startup.tensorflow_loaded


def test_the_app_opens_on_what_a_newcomer_can_do_at_once(app_page):
    """Drawing, with a word on what the app is; the Train page's button in view on a laptop."""
    page = app_page
    expect(main(page).get_by_role("heading", name="Draw a digit")).to_be_visible()
    expect(main(page).get_by_text("reads what you draw")).to_be_visible()
    page.wait_for_selector(CANVAS_TOOLBAR, state="attached")  # the canvas is drawn
    screenshot(page, "first-page")

    go_to(page, "Train")
    expect(main(page).get_by_role("button", name="Train", exact=True)).to_be_in_viewport()
