"""The app's first page comes up without TensorFlow: only a page that needs a model loads it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_first_page_is_shown_before_tensorflow_is_loaded(startup):
    assert not startup.tensorflow_loaded
