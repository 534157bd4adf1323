"""Pictures on a page. Matplotlib figures are drawn once: a model's charts never change, so
every rerun after the first shows the cached PNG. A small picture that changes with every
stroke is sent inside the page's own message (`inline_png`)."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st
from PIL import Image

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


def inline_png(pixels: np.ndarray) -> str:
    """uint8 pixels as a PNG `data:` URL, which `st.image` passes on as it is: unlike pixels or
    bytes, it is neither stored on the server nor fetched from it by the browser."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)  # fast: it is small
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
