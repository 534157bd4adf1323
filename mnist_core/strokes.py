"""Draw pen strokes the way the Streamlit canvas shows them: white, round-capped, anti-aliased
lines on an opaque black sheet. Tests and benchmarks use it to make canvas images without a browser.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

CANVAS_SIZE = 280
STROKE_WIDTH = 18
PEN_WIDTHS = (8, 24)
"""The thinnest and thickest pen the Draw page offers, in canvas pixels: thicker, and the loops of
a small digit close up (no preprocessing can open them again)."""
_SUPERSAMPLING = 4  # draw this many times larger, then average down: anti-aliased edges

Point = tuple[float, float]


def render_strokes(
    strokes: Sequence[Sequence[Point]], size: int = CANVAS_SIZE, width: float = STROKE_WIDTH
) -> np.ndarray:
    """The canvas image, uint8 RGBA of shape (size, size, 4), alpha 255 everywhere.

    Each stroke is a polyline of (x, y) points in canvas pixels, origin at the top left; a stroke
    of one point is a dot. Points may lie outside the canvas: what falls outside is cut off.
    """
    if size < 1 or not width > 0:
        raise ValueError(f"size must be at least 1 and width positive, not {size} and {width}")
    sheet = Image.new("L", (size * _SUPERSAMPLING, size * _SUPERSAMPLING), 0)
    pen = ImageDraw.Draw(sheet)
    radius = width * _SUPERSAMPLING / 2
    for stroke in strokes:
        points = [(x * _SUPERSAMPLING, y * _SUPERSAMPLING) for x, y in stroke]
        if len(points) > 1:
            pen.line(points, fill=255, width=round(2 * radius), joint="curve")
        for x, y in points[:1] + points[-1:]:  # round caps
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    grey = np.asarray(sheet.reduce(_SUPERSAMPLING))
    return np.dstack([grey, grey, grey, np.full_like(grey, 255)])
