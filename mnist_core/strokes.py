"""Pen strokes drawn the way the Streamlit canvas shows them (white, round-capped, anti-aliased
lines on an opaque black sheet), for tests and benchmarks to make canvas images without a
browser; read from the canvas's drawing; drawn straight into MNIST's 28x28 the way the Draw page
reads them, at one size with one pen; and drawn again on the canvas with that pen, as a label
keeps the drawing.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from mnist_core.preprocess import FIT_SIZE, EmptyImageError, centre_by_mass

CANVAS_SIZE = 280
STROKE_WIDTH = 18
PEN_WIDTHS = (8, 24)
"""The thinnest and thickest pen the Draw page offers, in canvas pixels."""
DIGIT_PEN = 0.12
"""The pen a drawing is read with, as a fraction of the 20x20 box MNIST fits a digit into:
chosen on the validation writers (`bench/pen_width.py --writers validation --pen` measures
one)."""
DIGIT_SUPERSAMPLING = 5
"""How many times finer than the 28x28 a drawing is drawn, then averaged down: 5 makes the pen
a whole number of pixels. Each of the model's pixels averages many of these, so finer edges buy
nothing measurable and cost the server on every stroke (`bench/redraw_resolution.py`)."""
REDRAWN_SIDE = 200
"""The longer side of a redrawn drawing's strokes (their centre lines), in canvas pixels."""
_SUPERSAMPLING = 4  # the canvas' own anti-aliased edges, for pictures as the browser shows them
_MIN_STEP = 1.0  # sheet pixels along a stroke between the points drawn: closer ones add nothing

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
    points, first = _points_of(strokes)
    grey = _supersampled(points, first, width, size)
    return np.dstack([grey, grey, grey, np.full_like(grey, 255)])


def strokes_to_mnist(
    strokes: Sequence[Stroke], pen: float = DIGIT_PEN, supersampling: int = DIGIT_SUPERSAMPLING
) -> np.ndarray:
    """The 28x28 float32 digit in [0, 1] (max 1.0) the model reads of a drawing: its strokes
    fitted to MNIST's 20x20 box keeping their aspect ratio, drawn there with a pen `pen` of the
    box wide, anti-aliased, and placed by their centre of mass as `preprocess.to_mnist` places
    a picture. A single dot fills the box. Raises EmptyImageError when there are no strokes.

    Drawn at the model's size, the digit is the same whatever pen, size and place it was drawn
    with, and no pixel is made only to be averaged away: this runs on every stroke. A thick
    pen closes the small loops of an 8 or a 9, which no filter on the pixels can open again;
    the strokes still hold them."""
    points, first = _points_of(strokes)
    if not len(points):
        raise EmptyImageError("The canvas is empty: draw a digit")
    low, high = points.min(axis=0), points.max(axis=0)
    box = FIT_SIZE * supersampling
    span = (high - low).max()
    width = pen * box if span > 0 else box
    scale = (box - width) / span if span > 0 else 0.0
    # Whole 28x28 pixels around the ink (a hair less, so that float noise adds no pixel).
    columns, rows = np.maximum(np.ceil(((high - low) * scale + width) / supersampling - 1e-6), 1)
    shift = np.array([columns, rows]) * supersampling / 2 - (low + high) / 2 * scale
    size = (int(columns) * supersampling, int(rows) * supersampling)
    sheet = _draw(points * scale + shift, first, size, width, "F")
    field = centre_by_mass(np.asarray(sheet.reduce(supersampling)))
    return field / field.max()


def redraw(strokes: Sequence[Stroke]) -> np.ndarray:
    """The drawing as a label keeps it, seen as the model reads it: its strokes scaled to
    REDRAWN_SIDE, centred on a CANVAS_SIZE sheet and drawn again with the pen of
    `strokes_to_mnist`, as uint8 grey (size, size). All black when there are no strokes."""
    points, first = _points_of(strokes)
    if not len(points):
        return np.zeros((CANVAS_SIZE, CANVAS_SIZE), np.uint8)
    low, high = points.min(axis=0), points.max(axis=0)
    span = (high - low).max()
    scale = REDRAWN_SIDE / span if span > 0 else 1.0  # a dot stays a dot
    shift = CANVAS_SIZE / 2 - (low + high) / 2 * scale
    width = DIGIT_PEN * REDRAWN_SIDE / (1 - DIGIT_PEN)  # width = pen * (side + width)
    return _supersampled(points * scale + shift, first, width)


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


def _points_of(strokes: Sequence[Stroke]) -> tuple[np.ndarray, np.ndarray]:
    """Every point of every stroke, (n, 2), and which of them begin a stroke, (n,) bool."""
    points = np.array([point for stroke in strokes for point in stroke], np.float64)
    first = np.zeros(len(points), bool)
    first[np.cumsum([0, *(len(stroke) for stroke in strokes if len(stroke))])[:-1]] = True
    return points.reshape(-1, 2), first


def _supersampled(
    points: np.ndarray, first: np.ndarray, width: float, size: int = CANVAS_SIZE
) -> np.ndarray:
    """White strokes of `width` on a black (size, size) uint8 sheet, with edges anti-aliased as
    the canvas draws them: drawn _SUPERSAMPLING times larger and averaged down."""
    larger = (size * _SUPERSAMPLING,) * 2
    sheet = _draw(points * _SUPERSAMPLING, first, larger, width * _SUPERSAMPLING, "L")
    return np.asarray(sheet.reduce(_SUPERSAMPLING))


def _draw(
    points: np.ndarray, first: np.ndarray, size: tuple[int, int], width: float, mode: str
) -> Image.Image:
    """White (255) strokes `width` wide on a black Pillow sheet of `mode` ("L" or "F") and
    `size` (columns, rows); `points` (n, 2) in pixels, `first` marking where each stroke
    begins. Pillow's wide lines leave a notch wherever they turn, so a disc goes on every
    point (round caps and joints, cheaper than Pillow's curved joints)."""
    sheet = Image.new(mode, size, 0)
    pen = ImageDraw.Draw(sheet)
    points, first = _spaced(points, first)
    listed = points.tolist()
    bounds = [*np.flatnonzero(first).tolist(), len(listed)]
    for start, end in itertools.pairwise(bounds):
        if end - start > 1:
            pen.line(listed[start:end], fill=255, width=round(width))
    radius = (round(width) - 1) / 2  # Pillow's box includes its last pixels: as wide as a line
    for x, y in listed:
        pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return sheet


def _spaced(points: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points (and their `first` marks) without those less than _MIN_STEP along their
    stroke from the last one kept: they add nothing. Each stroke's ends are kept."""
    if not len(points):
        return points, first
    last = np.append(first[1:], True)
    steps = np.abs(np.diff(points, axis=0)).sum(axis=1)
    steps[first[1:]] = 0  # from one stroke's end to the next's start is no way along either
    along = np.floor(np.concatenate([[0], np.cumsum(steps)]) / _MIN_STEP)
    kept = first | last
    kept[1:] |= along[1:] > along[:-1]
    return points[kept], first[kept]
