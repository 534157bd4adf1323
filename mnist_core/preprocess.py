"""Turn a canvas drawing or an uploaded picture into a 28x28 digit the way MNIST's were made.

LeCun et al.: each digit was size-normalised to fit a 20x20 box keeping its aspect ratio, with
anti-aliasing (hence the grey levels), then placed in a 28x28 field with its centre of mass at the
centre. Measured on 50,000 MNIST training images: the centre of mass lies within 0.5 px of
(14, 14) in pixel-index coordinates, i.e. the digit was shifted by whole pixels towards (14, 14).

Only numpy and Pillow: no TensorFlow here, so the draw page and the CLI start fast.
"""

from __future__ import annotations

import io
import os
import struct
import sys
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 40_000_000
"""Largest image accepted, in pixels (width x height). Larger uploads are refused from their header,
before decoding, so a small file that claims a huge size (a decompression bomb) costs nothing."""

MAX_SIDE = 1120
"""Uploads are block-averaged down to at most this many pixels a side (4x the canvas) as they
are read: plenty for a digit, and it keeps a big photo from taking hundreds of MB to process."""

INK_LEVEL = 0.05
"""A pixel is ink when it differs from the background by at least this fraction of full range;
an image without such a pixel is empty."""

MNIST_SIZE = 28
FIT_SIZE = 20
CENTRE = 14  # pixel index of the centre of mass, on both axes

MNIST_STROKE_WIDTH = 0.08
"""The width strokes are evened to, as a fraction of the digit's longer side: near the median of
MNIST's training digits (as `stroke_width` measures them), chosen on validation writers by
bench/pen_width.py. A thin pen and a thick one then give the model the digit it learnt from."""

_WIDTH_SIZE = 80  # the least longer side at which stroke widths are measured and evened

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as Pillow's convert("L")
_GREY_COPIES, _OPAQUE = np.uint32(0x010101), np.uint32(0xFF000000)  # see _is_opaque_grey
_READABLE_MODES = {"1", "L", "LA", "RGB", "RGBA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, EOFError, ValueError, struct.error)


class ImageError(ValueError):
    """The input is not an image this module can read; the message says why."""


class EmptyImageError(ImageError):
    """The image holds no ink, so there is no digit to classify."""


def to_mnist(image: np.ndarray | Image.Image, even_width: bool = True) -> np.ndarray:
    """The 28x28 float32 digit in [0, 1] (max 1.0) that MNIST's preparation makes of `image`.

    `image` is a numpy array (H, W) or (H, W, C) with C = 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA, of
    bool, integer or float type, or a Pillow image; light ink on dark or dark ink on light. A
    single dot is a valid digit: like any other, it is scaled up to fill the 20x20 box.
    Strokes are evened to MNIST's width first (`even_stroke_width`) unless `even_width` is False.
    Raises EmptyImageError if there is no ink, ImageError if `image` is not an image.
    """
    digit = crop_to_ink(to_grey_ink(image))
    if even_width:
        digit = crop_to_ink(even_stroke_width(digit))
    digit = fit_20x20(digit)
    field = centre_by_mass(digit)
    return field / field.max()


def to_grey_ink(image: np.ndarray | Image.Image) -> np.ndarray:
    """Ink per pixel, float32 in [0, 1] with 0 for background, whatever the type and polarity.

    The background is the dominant (median) value of the border. With an alpha channel, a mostly
    transparent border means a drawing on a transparent sheet: then whatever is drawn is ink,
    whatever its colour. Otherwise transparent pixels are flattened onto the sheet's colour.
    """
    pixels = _pixels_of(image)
    if _is_opaque_grey(pixels):  # a drawing: light strokes on an opaque dark sheet
        grey, alpha = np.divide(pixels[:, :, 0], 255, dtype=np.float32), None
    else:
        grey, alpha = _grey_and_alpha(_unit_range(pixels))
    if alpha is not None:
        border_alpha = _border(alpha)
        if np.median(border_alpha) < 0.5:
            grey = alpha
        else:
            sheet = np.median(_border(grey)[border_alpha >= 0.5])
            grey = grey * alpha + sheet * (1 - alpha)
    background = np.median(_border(grey))
    if background == 0:  # a black sheet, as every drawing has: the grey is the ink
        return grey
    ink = grey - background if background <= 0.5 else background - grey
    return np.maximum(ink, 0, out=ink)


def crop_to_ink(ink: np.ndarray) -> np.ndarray:
    """The bounding box of the ink pixels (>= INK_LEVEL), grey levels kept.

    Raises EmptyImageError when there is no ink pixel."""
    is_ink = ink >= INK_LEVEL
    rows = np.flatnonzero(is_ink.any(axis=1))
    if rows.size == 0:
        raise EmptyImageError("The canvas is empty: draw a digit")
    columns = np.flatnonzero(is_ink.any(axis=0))
    return ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]


def fit_20x20(digit: np.ndarray) -> np.ndarray:
    """Resize so the longer side is 20 px, keeping the aspect ratio, by area averaging."""
    height, width = digit.shape
    scale = FIT_SIZE / max(height, width)
    new_height, new_width = max(1, round(height * scale)), max(1, round(width * scale))
    return _area_weights(height, new_height) @ digit @ _area_weights(width, new_width).T


def centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """Place `digit` in a 28x28 field, shifted by whole pixels to bring its centre of mass nearest
    to (14, 14) without cutting it."""
    height, width = digit.shape
    mass = digit.sum()
    centre_row = digit.sum(axis=1) @ np.arange(height) / mass
    centre_column = digit.sum(axis=0) @ np.arange(width) / mass
    top = min(max(round(CENTRE - centre_row), 0), MNIST_SIZE - height)
    left = min(max(round(CENTRE - centre_column), 0), MNIST_SIZE - width)
    field = np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float32)
    field[top : top + height, left : left + width] = digit
    return field


def cross_filter(pixels: np.ndarray, extreme: np.ufunc, square: bool = False) -> np.ndarray:
    """Grey dilation (np.maximum) or erosion (np.minimum) of an image, or a batch (n, h, w), of
    values >= 0 by a 3x3 cross (or, with `square`, the whole 3x3 square), with background (0)
    beyond the edges."""
    result = pixels.copy()
    extreme(result[..., 1:, :], pixels[..., :-1, :], out=result[..., 1:, :])
    extreme(result[..., :-1, :], pixels[..., 1:, :], out=result[..., :-1, :])
    source = result.copy() if square else pixels
    extreme(result[..., :, 1:], source[..., :, :-1], out=result[..., :, 1:])
    extreme(result[..., :, :-1], source[..., :, 1:], out=result[..., :, :-1])
    if extreme is np.minimum:  # the background beyond the edges erodes the outermost pixels
        result[..., [0, -1], :] = 0
        result[..., :, [0, -1]] = 0
    return result


def stroke_width(digit: np.ndarray) -> float:
    """The mean width of the strokes, in pixels: twice the ink's area over its outline's length
    (a stroke of length L and width w has area L*w and an outline of about 2L)."""
    ink = digit >= 0.5 * digit.max(initial=0)
    inner = np.count_nonzero(ink[1:] != ink[:-1]) + np.count_nonzero(ink[:, 1:] != ink[:, :-1])
    edges = sum(np.count_nonzero(side) for side in (ink[0], ink[-1], ink[:, 0], ink[:, -1]))
    return 2 * np.count_nonzero(ink) / max(inner + edges, 1)


def even_stroke_width(digit: np.ndarray) -> np.ndarray:
    """`digit` (cropped to its ink) with its strokes dilated or eroded to `MNIST_STROKE_WIDTH`:
    MNIST's writers used one kind of pen, people use any.

    The work is done with the longer side block-averaged down to between `_WIDTH_SIZE` and twice
    that. Each pass moves both edges of a stroke by about a pixel: passes alternate between a 3x3
    cross and a 3x3 square, which together grow slanted strokes as much as upright ones, and the
    last, fractional pass is blended in.
    """
    factor = max(1, max(digit.shape) // _WIDTH_SIZE)
    if factor > 1:  # padded with background to whole blocks: no ink is dropped
        whole_blocks = _zero_padded(digit, 0, [-side % factor for side in digit.shape])
        digit = _block_mean(whole_blocks, factor)
    # The box grows with the strokes: w + 2p = MNIST_STROKE_WIDTH * (side + 2p), solved for p.
    target = MNIST_STROKE_WIDTH * max(digit.shape)
    passes = (target - stroke_width(digit)) / (2 * (1 - MNIST_STROKE_WIDTH))
    whole, fraction = int(abs(passes)), abs(passes) % 1
    extreme = np.maximum if passes > 0 else np.minimum
    if passes > 0:  # room to grow
        digit = _zero_padded(digit, whole + 1, [whole + 1] * 2)
    for step in range(whole):
        digit = cross_filter(digit, extreme, square=step % 2 == 1)
    if fraction:
        grown = cross_filter(digit, extreme, square=whole % 2 == 1)
        digit = (1 - fraction) * digit + fraction * grown
    return digit


def load_image(file_or_bytes: bytes | str | os.PathLike | io.IOBase) -> np.ndarray:
    """Decode an uploaded file (bytes, a path or a binary file object) into an array for to_mnist.

    Reads what Pillow reads (PNG, JPEG, GIF, BMP, TIFF, WebP...), including palette, 16-bit and
    transparent images; for animations, the first frame.
    """
    name = _name_of(file_or_bytes)
    if isinstance(file_or_bytes, (bytes, bytearray, memoryview)):
        file_or_bytes = io.BytesIO(file_or_bytes)
    try:
        with Image.open(file_or_bytes) as image:
            _refuse_oversized(image.width, image.height, name)
            image.load()
            return _shrink(_pixels_of(image))
    except ImageError:
        raise
    except FileNotFoundError as error:
        raise ImageError(f"{name} does not exist") from error
    except Image.DecompressionBombError as error:  # Pillow's own limit, above ours
        raise ImageError(f"{name} is too large: at most {MAX_PIXELS:,} pixels") from error
    except _DECODE_ERRORS as error:
        raise ImageError(f"{name} is not an image file we can read (try PNG or JPEG)") from error


def _pixels_of(image: np.ndarray | Image.Image) -> np.ndarray:
    """Validated pixels (H, W, C), C in 1..4, from an array or a Pillow image (exotic modes
    such as palette or CMYK become RGB, or RGBA where they have transparency)."""
    if isinstance(image, Image.Image):
        if image.mode not in _READABLE_MODES:
            image = image.convert("RGBA" if image.has_transparency_data else "RGB")
        pixels = np.asarray(image)
    else:
        try:
            pixels = np.asarray(image)
        except (ValueError, TypeError) as error:
            raise ImageError(f"Expected an image, got {type(image).__name__}: {error}") from error
    if pixels.dtype.kind not in "biuf":
        raise ImageError(f"Expected an image of numbers, got values of type {pixels.dtype}")
    shape = pixels.shape
    if pixels.ndim == 2:
        pixels = pixels[:, :, np.newaxis]
    if pixels.ndim != 3 or pixels.shape[2] > 4:
        raise ImageError(
            "Expected an image of shape (height, width) or (height, width, channels) with 1 to 4 "
            f"channels (grey, grey+alpha, RGB, RGBA), got shape {shape}"
        )
    if pixels.size == 0:
        raise ImageError(f"The image has no pixels (shape {shape})")
    _refuse_oversized(pixels.shape[1], pixels.shape[0], "The image")
    return pixels


def _is_opaque_grey(pixels: np.ndarray) -> bool:
    """Whether uint8 pixels are one grey channel (as `strokes.redraw` makes), or RGB(A) that is
    grey (R = G = B) and opaque, as canvas pictures are: then one channel is the luma, and the
    others need not be converted."""
    if pixels.dtype != np.uint8 or pixels.shape[2] not in (1, 3, 4):
        return False
    if pixels.shape[2] == 1:
        return True
    if pixels.shape[2] == 4 and pixels.flags.c_contiguous and sys.byteorder == "little":
        # One pass over whole pixels, not three over strided channels: a pixel read as a
        # 32-bit word is R + 256 G + 65536 B + 2**24 A, so grey and opaque means R * 0x010101
        # plus 0xFF000000.
        words = pixels.view(np.uint32)[:, :, 0]
        expected = words & 0xFF
        expected *= _GREY_COPIES
        expected |= _OPAQUE
        return np.array_equal(words, expected)
    red = pixels[:, :, 0]
    opaque = pixels.shape[2] == 3 or bool((pixels[:, :, 3] == 255).all())
    return opaque and np.array_equal(red, pixels[:, :, 1]) and np.array_equal(red, pixels[:, :, 2])


def _unit_range(pixels: np.ndarray) -> np.ndarray:
    """Pixel values as float32 in [0, 1]. bool, uint8 and uint16 by their type's range; other
    numbers by their largest finite value: up to 1 means [0, 1], up to 255 means 0..255, else
    0..65535. Out-of-range values are clipped, +inf counts as full and NaN as 0."""
    if pixels.dtype == np.bool_:
        return pixels.astype(np.float32)
    if np.issubdtype(pixels.dtype, np.uint8):
        return np.divide(pixels, 255, dtype=np.float32)  # one allocation
    if np.issubdtype(pixels.dtype, np.uint16):
        return np.divide(pixels, 65535, dtype=np.float32)
    values = pixels.astype(np.float64)  # float32 would overflow on large float64 or int64 values
    largest = np.max(values, where=np.isfinite(values), initial=0)
    full_scale = 1 if largest <= 1 else 255 if largest <= 255 else 65535
    return np.nan_to_num(np.clip(values / full_scale, 0, 1), nan=0).astype(np.float32)


def _grey_and_alpha(channels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Split (H, W, C) into grey (the luma of RGB, as Pillow computes it) and alpha; alpha is None
    when nothing is transparent."""
    colour_channels = 3 if channels.shape[2] >= 3 else 1
    grey = channels[:, :, :3] @ _LUMA if colour_channels == 3 else channels[:, :, 0]
    alpha = channels[:, :, colour_channels] if channels.shape[2] in (2, 4) else None
    if alpha is not None and alpha.min() == 1:
        alpha = None
    return grey, alpha


def _border(values: np.ndarray) -> np.ndarray:
    """The outermost pixels of a 2-D array, as one flat array."""
    return np.concatenate([values[0], values[-1], values[1:-1, 0], values[1:-1, -1]])


def _area_weights(size: int, new_size: int) -> np.ndarray:
    """(new_size, size) matrix: how much of output pixel j's footprint input pixel i covers.

    Output pixel j spans [j, j + 1) * size / new_size in input coordinates; each row sums to 1.
    """
    edges = np.arange(new_size + 1) * (size / new_size)
    pixel_starts = np.arange(size)
    overlap_start = np.maximum(edges[:-1, np.newaxis], pixel_starts)
    overlap_end = np.minimum(edges[1:, np.newaxis], pixel_starts + 1)
    weights = np.maximum(overlap_end - overlap_start, 0) * (new_size / size)
    return weights.astype(np.float32)  # float64 would make the whole resize float64


def _shrink(pixels: np.ndarray) -> np.ndarray:
    """`pixels` block-averaged by a whole factor so no side exceeds MAX_SIDE, type kept."""
    factor = -(-max(pixels.shape[:2]) // MAX_SIDE)
    if factor == 1:
        return pixels
    means = _block_mean(pixels, factor)
    return (means > 0.5) if pixels.dtype == np.bool_ else np.rint(means).astype(pixels.dtype)


def _block_mean(pixels: np.ndarray, factor: int) -> np.ndarray:
    """float32 means of `factor` x `factor` blocks of (H, W, ...) pixels; a partial block at
    the bottom or right is dropped. (Summing strided views is many times faster than numpy's
    mean over the axes of a reshaped array.)"""
    if factor == 1:
        return pixels
    height, width = (side // factor * factor for side in pixels.shape[:2])
    total = np.zeros((height // factor, width // factor, *pixels.shape[2:]), dtype=np.float32)
    for row in range(factor):
        for column in range(factor):
            total += pixels[row:height:factor, column:width:factor]
    return np.divide(total, factor * factor, out=total)


def _zero_padded(values: np.ndarray, before: int, after: list[int]) -> np.ndarray:
    """2-D `values` with `before` rows and columns of zeros above and to the left, and `after`
    (rows, columns) below and to the right (np.pad does the same many times slower)."""
    height, width = values.shape
    padded = np.zeros((before + height + after[0], before + width + after[1]), np.float32)
    padded[before : before + height, before : before + width] = values
    return padded


def _refuse_oversized(width: int, height: int, name: str) -> None:
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{name} is too large: {width} x {height} pixels, at most {MAX_PIXELS:,} are accepted"
        )


def _name_of(source: object) -> str:
    """How to call an upload in a message: its file name if it has one."""
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name
    name = getattr(source, "name", None)
    return Path(name).name if isinstance(name, str) else "The uploaded file"
