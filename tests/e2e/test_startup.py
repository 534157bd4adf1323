"""What a newcomer meets first: the first page, up without TensorFlow (only a page that needs a
model loads it), opening on what they can do, and help texts that fit a laptop's screen."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Locator, expect

from tests.e2e.browser import (
    CANVAS_TOOLBAR,
    VIEWPORT,
    go_to,
    main,
    screenshot,
    wait_until_idle,
)

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


def test_every_help_tooltip_stays_inside_a_laptop_screen(app_page):
    """Hovered one by one on each page, its panels open: every help text shows, whole, inside
    the window. (The buttons Streamlit puts over a table, chart or picture, Fullscreen and the
    like, name themselves and are left out.)"""
    page = app_page
    seen: dict[str, list[str]] = {}
    for title in ("Draw", "Train", "Models"):
        go_to(page, title)
        for panel in main(page).get_by_test_id("stExpander").all():
            panel.locator("summary").click()
            wait_until_idle(page)
        seen[title] = []
        for target in _all_settled(page.get_by_test_id("stTooltipHoverTarget")):
            on_a_toolbar = target.locator("xpath=ancestor::*[@data-testid='stElementToolbar']")
            if not target.is_visible() or on_a_toolbar.count():
                continue
            target.scroll_into_view_if_needed()
            target.hover(force=True)  # the page's header may lie over a target scrolled to
            tooltip = page.get_by_test_id("stTooltipContent").last
            expect(tooltip).to_be_visible()
            box, text = tooltip.bounding_box(), tooltip.inner_text()
            assert box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORT["width"], (
                f"{title}: {text[:60]!r} spans x {box['x']:.0f} to {box['x'] + box['width']:.0f}"
            )
            seen[title].append(text)
            page.mouse.move(VIEWPORT["width"] - 1, VIEWPORT["height"] - 1)
            expect(tooltip).to_be_hidden()
    for title, start in [
        ("Draw", "The digits you label are kept under this name"),
        ("Train", "Passes over the training images"),
        ("Models", "The 10,000 MNIST test digits"),
    ]:
        assert any(text.startswith(start) for text in seen[title]), (title, seen[title])


def _all_settled(targets: Locator, timeout_s: float = 10) -> list[Locator]:
    """`targets.all()` once their number has stayed the same for a second: a page's last
    elements may still be arriving after its run has finished."""
    count, deadline = -1, time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(1)
        if targets.count() == count:
            break
        count = targets.count()
    return targets.all()
