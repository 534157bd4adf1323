"""The drawing canvas with nothing over the drawing area.

streamlit-drawable-canvas shows a toolbar over the top right of the canvas (undo, redo, erase
all, an edit mode that drags whole strokes away, a button that sends the drawing), which takes
the presses that start strokes there. The component has no option to hide it, and its styles
live in a shadow root that the page's CSS cannot reach, so `drawing_canvas` registers the
component again under its own name with the same JavaScript and its stylesheet plus one rule
that hides the toolbar. The Draw page offers Clear itself, in words, above the canvas.
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st
import streamlit_drawable_canvas
from streamlit.components.v2.get_bidi_component_manager import get_bidi_component_manager
from streamlit_drawable_canvas import st_canvas

from mnist_core.strokes import CANVAS_SIZE, Point, canvas_strokes

_COMPONENT = "streamlit-drawable-canvas.streamlit_drawable_canvas"
_BUILD = Path(streamlit_drawable_canvas.__file__).parent / "frontend" / "build"
_STYLESHEET = "\n".join(
    [
        *(path.read_text() for path in _BUILD.glob("index-*.css")),
        ".dc-toolbar{display:none !important}\n",
    ]
)
_REGISTRY_LOGGER = "streamlit.components.v2.component_registry"
BLANK_CANVAS_HINT = (
    "Draw a digit in the black square, large and centred: the model's answer appears here."
)
_CLEARS = "canvas_clears"  # how many times Clear was pressed: part of the canvas's initial drawing
_JUST_CLEARED = "canvas_just_cleared"


def drawing_canvas(pen_width: int, key: str) -> list[list[Point]]:
    """A CANVAS_SIZE black square drawn on in white, without the toolbar; the drawing's
    strokes (`strokes.canvas_strokes`), none before the first stroke or since `clear_canvas`.

    The canvas sends its strokes, not a picture: the browser neither encodes nor sends a PNG
    per stroke, and the pen a person picks does not reach the model."""
    _hide_the_toolbar()
    drawing = st_canvas(
        stroke_width=pen_width,
        stroke_color="#FFFFFF",
        background_color="#000000",
        height=CANVAS_SIZE,
        width=CANVAS_SIZE,
        drawing_mode="freedraw",
        # A new initial drawing after each Clear: the canvas reloads it, blank.
        initial_drawing={"objects": [], "clears": st.session_state.get(_CLEARS, 0)},
        key=key,
    ).json_data
    # Until the canvas has reloaded, it still reports the strokes it showed before Clear.
    if st.session_state.pop(_JUST_CLEARED, False):
        return []
    return canvas_strokes(drawing)


def clear_canvas() -> None:
    """A Clear button's `on_click`: the canvas reloads blank, and reads as blank meanwhile."""
    st.session_state[_CLEARS] = st.session_state.get(_CLEARS, 0) + 1
    st.session_state[_JUST_CLEARED] = True


def _hide_the_toolbar() -> None:
    """Replace the package's definition of the component, once per Streamlit runtime."""
    manager = get_bidi_component_manager()
    definition = manager.get(_COMPONENT)
    if definition is not None and definition.css_content == _STYLESHEET:
        return
    registry_logger = logging.getLogger(_REGISTRY_LOGGER)
    level = registry_logger.level
    registry_logger.setLevel(logging.ERROR)  # the "overwriting a definition" warning: meant here
    try:
        st.components.v2.component(
            _COMPONENT,
            js="index-*.js",
            css=_STYLESHEET,
            html='<div class="canvas-root"></div>',
            isolate_styles=True,
        )
    finally:
        registry_logger.setLevel(level)
