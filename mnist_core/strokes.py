"""Pen strokes drawn the way the Streamlit canvas shows them (white, round-capped, anti-aliased
lines on an opaque black sheet), for tests and benchmarks to make canvas images without a
browser; read from the canvas's drawing; and drawn again the way the Draw page reads them, at
one size with one pen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

CANVAS_SIZE = 280
STROKE_WIDTH = 18
PEN_WIDTHS = (8, 24)
"""The thinnest and thickest pen the Draw page offers, in canvas pixels."""
REDRAWN_SIDE = 200
"""The longer side of a redrawn drawing's strokes (their centre lines), in canvas pixels."""
REDRAWN_PEN = 0.1
"""The pen a drawing is redrawn with, as a fraction of the ink's longer side: chosen on the
validation writers (`bench/pen_width.py --writers validation --redrawn-pen` measures one)."""
REDRAWN_SUPERSAMPLING = 2
"""How many times larger a drawing is redrawn, then averaged down. Each pixel of the model's
28x28 already averages many of the sheet's, so finer edges buy nothing measurable and cost the
server on every stroke (`bench/redraw_resolution.py` measures both)."""
_SUPERSAMPLING = 4  # the canvas' own anti-aliased edges, for pictures as the browser shows them

Point = tuple[float, float]
Stroke = Sequence[Point]


def render_strokes(
    strokes: Sequence[Stroke], size: int = CANVAS_SIZE, width: float = STROKE_WIDTH
) -> np.ndarray:
    """The canvas image, uint8 RGBA of shape (size, size, 4), alpha 255 everywhere.

    Each stroke is a polyline of (x, y) points in canvas pixels, origin at the top left; a stroke
    of one point is a dot. Points may lie outside the canvas: what falls outside is cut off.
    """
    if size < 1 or not width > 0:
        raise ValueError(f"size must be at least 1 and width positive, not {size} and {width}")
    grey = _draw(strokes, size, width, _SUPERSAMPLING)
    return np.dstack([grey, grey, grey, np.full_like(grey, 255)])


def redraw(
    strokes: Sequence[Stroke],
    pen: float = REDRAWN_PEN,
    supersampling: int = REDRAWN_SUPERSAMPLING,
) -> np.ndarray:
    """The drawing as the Draw page reads it: its strokes scaled to REDRAWN_SIDE, centred on a
    CANVAS_SIZE sheet and drawn again with a pen `pen` of the ink's longer side wide, as uint8
    grey (size, size), drawn `supersampling` times larger and averaged down. All black when
    there are no strokes.

    A thick pen closes the small loops of an 8 or a 9, which no filter on the pixels can open
    again; the strokes still hold them. Redrawn, a digit gives the model the same picture
    whatever pen, size and place it was drawn with."""
    points = np.array([point for stroke in strokes for point in stroke], dtype=np.float64)
    if not len(points):
        return np.zeros((CANVAS_SIZE, CANVAS_SIZE), np.uint8)
    low, high = points.min(axis=0), points.max(axis=0)
    span = (high - low).max()
    scale = REDRAWN_SIDE / span if span > 0 else 1.0  # a dot stays a dot
    shift = CANVAS_SIZE / 2 - (low + high) / 2 * scale
    placed = [
        [(x * scale + shift[0], y * scale + shift[1]) for x, y in stroke] for stroke in strokes
    ]
    width = pen * REDRAWN_SIDE / (1 - pen)  # width = pen * (side + width)
    return _draw(placed, CANVAS_SIZE, width, supersampling)


def canvas_strokes(drawing: dict | None) -> list[list[Point]]:
    """The pen's paths in the canvas's drawing (fabric.js objects) as polylines.

    The pencil smooths a stroke into quadratic curves between the midpoints of the pointer's
    positions; each curve is followed through its middle. Anything else is left out."""
    strokes = []
    for shape in (drawing or {}).get("objects", []):
        if isinstance(shape, dict) and shape.get("type") == "Path":
            points = _path_points(shape.get("path"))
            if points:
                strokes.append(points)
    return strokes


def canvas_drawing(strokes: Sequence[Stroke]) -> dict:
    """The drawing the canvas sends for `strokes`, as `canvas_strokes` reads it: one fabric.js
    path each, straight between the points. Tests and benchmarks send it without a browser."""
    return {
        "objects": [
            {"type": "Path", "path": [["M", *stroke[0]], *(["L", *point] for point in stroke[1:])]}
            for stroke in strokes
            if len(stroke)
        ]
    }


def _path_points(path: object) -> list[Point]:
    """The points of an SVG path in absolute commands ("M", "Q", "L": what the pencil writes)."""
    points: list[Point] = []
    for command in path if isinstance(path, list) else []:
        try:
            letter, *numbers = command
            values = [float(number) for number in numbers]
            x, y = values[-2:]
        except (TypeError, ValueError):
            continue  # not a command the pencil writes
        if not all(map(math.isfinite, values)):
            continue
        if letter == "Q" and len(values) == 4 and points:  # a quadratic curve: its middle too
            (start_x, start_y), (control_x, control_y) = points[-1], values[:2]
            points.append(((start_x + 2 * control_x + x) / 4, (start_y + 2 * control_y + y) / 4))
        points.append((x, y))
    return points


def _draw(strokes: Sequence[Stroke], size: int, width: float, supersampling: int) -> np.ndarray:
    """White strokes on a black (size, size) uint8 sheet, drawn `supersampling` times larger
    and averaged down (anti-aliased edges); a disc on every point makes the caps and joints
    round (cheaper than Pillow's curved joints)."""
    sheet = Image.new("L", (size * supersampling, size * supersampling), 0)
    pen = ImageDraw.Draw(sheet)
    radius = width * supersampling / 2
    for stroke in strokes:
        points = [(x * supersampling, y * supersampling) for x, y in stroke]
        if len(points) > 1:
            pen.line(points, fill=255, width=round(2 * radius))
        for x, y in points:
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return np.asarray(sheet.reduce(supersampling))
