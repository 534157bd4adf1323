"""The Models page in a real browser: a saved model's scores and charts, read from its record."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import go_to, main, metric, open_tab, pick_model, screenshot

pytestmark = pytest.mark.e2e


def test_shows_a_saved_models_scores_and_charts(app_page, reference_model):
    page = app_page
    go_to(page, "Models")
    expect(main(page).get_by_test_id("stDataFrame").first).to_be_visible()  # the models table
    pick_model(
        page, reference_model.name, main(page).get_by_role("combobox", name="Model", exact=True)
    )

    accuracy = metric(page, "Test accuracy").get_by_test_id("stMetricValue")
    expect(accuracy).to_have_text(f"{reference_model.record.evaluation.accuracy:.2%}")
    expect(open_tab(page, "Learning curves").get_by_test_id("stImage")).to_be_visible()
    expect(open_tab(page, "Confusion matrix").get_by_test_id("stImage")).to_be_visible()
    screenshot(page, "models")
