"""Matplotlib figures on a page, drawn once: a model's charts never change, so every rerun
after the first shows the cached PNG."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

import streamlit as st

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FIGURE_DPI = 144  # sharp on high-density screens, still small PNGs


def show_figure(key: tuple, make_figure: Callable[[], Figure]) -> None:
    """Show the figure `make_figure` draws, drawn once per `key` (a gallery takes a second or
    two to draw)."""
    st.image(_figure_png(key, make_figure))


@st.cache_data(max_entries=200, show_spinner=False)
def _figure_png(key: tuple, _make_figure: Callable[[], Figure]) -> bytes:
    """`key` names the figure; `_make_figure` (not hashed, by its leading underscore) draws it."""
    buffer = io.BytesIO()
    _make_figure().savefig(buffer, format="png", dpi=FIGURE_DPI)
    return buffer.getvalue()
