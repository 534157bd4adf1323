import io
import itertools
import math
import re
import statistics
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from PIL import Image, ImageDraw

from mnist_core.preprocess import (
    FIT_SIZE,
    MAX_PIXELS,
    MNIST_STROKE_WIDTH,
    EmptyImageError,
    ImageError,
    crop_to_ink,
    even_stroke_width,
    load_image,
    stroke_width,
    to_grey_ink,
    to_mnist,
)
from mnist_core.strokes import render_strokes

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# Digits drawn as a user would on the 280x280 canvas, in canvas pixels.
ZERO = [[(140 + 55 * math.cos(t), 140 + 85 * math.sin(t)) for t in np.linspace(0, 2 * np.pi, 41)]]
DIGITS = {
    "zero": ZERO,
    "one": [[(140, 40), (140, 240)]],
    "two": [[(80, 90), (120, 55), (180, 65), (190, 110), (80, 225), (210, 225)]],
    "four": [[(170, 230), (170, 40), (70, 170), (210, 170)]],
    "seven": [[(70, 60), (210, 60), (120, 230)]],
}


def canvas_of(name: str) -> np.ndarray:
    return render_strokes(DIGITS[name])


def grey_of(name: str) -> np.ndarray:
    return canvas_of(name)[:, :, 0]


def top_heavy_t() -> np.ndarray:
    """A 'T' with a thick bar and a hairline stem: its centre of mass is too high to be moved
    to row 14 without pushing the bar out of the 28x28 field."""
    sheet = Image.new("L", (280, 280), 0)
    pen = ImageDraw.Draw(sheet)
    pen.rectangle((40, 30, 240, 70), fill=255)
    pen.line([(140, 50), (140, 240)], fill=255, width=3)
    return np.asarray(sheet)


def small_dark_on_light() -> np.ndarray:
    """A 36x24 scan-like grey image, dark ink on light paper, whose digit must be scaled up."""
    sheet = Image.new("L", (24, 36), 220)
    ImageDraw.Draw(sheet).line([(6, 9), (15, 9), (9, 22)], fill=30, width=2)
    return np.asarray(sheet)


def reference_to_mnist(image: np.ndarray) -> np.ndarray:
    """The MNIST recipe spelled out pixel by pixel, for an opaque uint8 grey or RGB(A) image."""
    height, width = image.shape[:2]

    # Grey level in [0, 1] of each pixel: RGB by its luma.
    grey = np.zeros((height, width))
    for y in range(height):
        for x in range(width):
            if image.ndim == 2:
                grey[y, x] = image[y, x] / 255
            else:
                red, green, blue = image[y, x, :3] / 255
                grey[y, x] = 0.299 * red + 0.587 * green + 0.114 * blue

    # The background is the median of the border; ink is the distance from it towards the ink.
    border = [
        grey[y, x]
        for y in range(height)
        for x in range(width)
        if y in (0, height - 1) or x in (0, width - 1)
    ]
    background = statistics.median(border)
    ink = np.zeros((height, width))
    for y in range(height):
        for x in range(width):
            distance = grey[y, x] - background if background <= 0.5 else background - grey[y, x]
            ink[y, x] = max(distance, 0)

    # Crop to the bounding box of the pixels that are at least 5% ink.
    inked = [(y, x) for y in range(height) for x in range(width) if ink[y, x] >= 0.05]
    top, bottom = min(y for y, _ in inked), max(y for y, _ in inked)
    left, right = min(x for _, x in inked), max(x for _, x in inked)
    crop = ink[top : bottom + 1, left : right + 1]

    # Fit into 20x20 keeping the aspect ratio: each output pixel is the average of the input
    # area it covers, partly covered input pixels counting by the covered fraction.
    crop_height, crop_width = crop.shape
    scale = 20 / max(crop_height, crop_width)
    small_height = max(1, round(crop_height * scale))
    small_width = max(1, round(crop_width * scale))
    step_y, step_x = crop_height / small_height, crop_width / small_width

    def overlap(start, end, other_start, other_end):
        return max(0.0, min(end, other_end) - max(start, other_start))

    small = np.zeros((small_height, small_width))
    for out_y in range(small_height):
        for out_x in range(small_width):
            total = 0.0
            for y in range(crop_height):
                weight_y = overlap(y, y + 1, out_y * step_y, (out_y + 1) * step_y)
                if weight_y == 0:
                    continue
                for x in range(crop_width):
                    weight_x = overlap(x, x + 1, out_x * step_x, (out_x + 1) * step_x)
                    total += weight_y * weight_x * crop[y, x]
            small[out_y, out_x] = total / (step_y * step_x)

    # Centre of mass, then a whole-pixel shift towards (14, 14) that keeps the digit inside.
    mass = row_moment = column_moment = 0.0
    for y in range(small_height):
        for x in range(small_width):
            mass += small[y, x]
            row_moment += y * small[y, x]
            column_moment += x * small[y, x]
    shift_y = min(max(round(14 - row_moment / mass), 0), 28 - small_height)
    shift_x = min(max(round(14 - column_moment / mass), 0), 28 - small_width)
    field = np.zeros((28, 28))
    for y in range(small_height):
        for x in range(small_width):
            field[y + shift_y, x + shift_x] = small[y, x]

    return field / field.max()


def difference_up_to_a_pixel(field: np.ndarray, other: np.ndarray) -> float:
    """Mean absolute difference, at the best of the nine shifts by at most one pixel: centring by
    whole pixels may round a centre of mass near x.5 either way."""
    return min(
        np.abs(np.roll(field, (down, right), axis=(0, 1)) - other).mean()
        for down in (-1, 0, 1)
        for right in (-1, 0, 1)
    )


def centre_of_mass(field: np.ndarray) -> tuple[float, float]:
    rows, columns = np.indices(field.shape)
    return (rows * field).sum() / field.sum(), (columns * field).sum() / field.sum()


def ink_extent(field: np.ndarray) -> tuple[int, int]:
    """Height and width of the box around the nonzero pixels."""
    rows, columns = np.flatnonzero(field.any(axis=1)), np.flatnonzero(field.any(axis=0))
    return rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1


@pytest.mark.parametrize(
    "image",
    [canvas_of("seven"), canvas_of("zero"), grey_of("one"), top_heavy_t(), small_dark_on_light()],
    ids=["seven", "zero", "thin one", "clipped shift", "scaled up, dark on light"],
)
def test_matches_the_step_by_step_reference(image):
    np.testing.assert_allclose(
        to_mnist(image, even_width=False), reference_to_mnist(image), rtol=0, atol=1e-6
    )


def test_one_coloured_pixel_on_a_canvas_is_read_by_its_luma():
    canvas = canvas_of("seven")
    row, column = np.argwhere(canvas[:, :, 0] == 255)[0]
    canvas[row, column, 1:3] = 0  # pure red: luma 0.299, where its red channel says 1

    np.testing.assert_allclose(
        to_mnist(canvas, even_width=False), reference_to_mnist(canvas), rtol=0, atol=1e-6
    )


def test_one_transparent_pixel_on_a_canvas_shows_the_sheet():
    canvas = canvas_of("seven")
    row, column = np.argwhere(canvas[:, :, 0] == 255)[0]
    canvas[row, column, 3] = 0

    ink = to_grey_ink(canvas)

    assert ink[row, column] == 0  # flattened onto the black sheet
    assert ink[canvas[:, :, 3] == 255].max() == 1


@pytest.mark.parametrize("name", DIGITS)
def test_output_is_an_mnist_like_digit(name):
    digit = to_mnist(canvas_of(name))

    assert digit.shape == (28, 28)
    assert digit.dtype == np.float32
    assert digit.min() >= 0 and digit.max() == 1
    assert max(ink_extent(digit)) == 20
    row, column = centre_of_mass(digit)
    assert abs(row - 14) <= 0.5 and abs(column - 14) <= 0.5


def test_a_top_heavy_digit_is_moved_down_only_until_it_touches_the_bottom_edge():
    digit = to_mnist(top_heavy_t(), even_width=False)  # as MNIST's steps alone place it

    assert digit[27].any() and ink_extent(digit)[0] == 20
    assert centre_of_mass(digit)[0] < 13.5


def test_a_tall_thin_one_keeps_its_aspect_ratio():
    height, width = ink_extent(to_mnist(canvas_of("one")))

    assert height == 20
    assert width <= 3  # 18 px wide, 218 px tall on the canvas: 1.7 px at 20 px tall


def test_a_single_dot_is_a_valid_digit_scaled_up_like_any_other():
    digit = to_mnist(render_strokes([[(200, 50)]]))

    assert ink_extent(digit) == (20, 20)
    np.testing.assert_allclose(digit, digit.T, atol=0.02)  # still round


def canvas_variants(grey: np.ndarray) -> dict[str, object]:
    """The same white-on-black drawing in every form to_mnist accepts."""
    opaque = np.full_like(grey, 255)
    white = np.full_like(grey, 255)
    black = np.zeros_like(grey)
    return {
        "RGBA canvas": np.dstack([grey, grey, grey, opaque]),
        "RGB": np.dstack([grey, grey, grey]),
        "grey": grey,
        "grey, one channel": grey[:, :, np.newaxis],
        "grey + opaque alpha": np.dstack([grey, opaque]),
        "transparent canvas, white ink": np.dstack([white, white, white, grey]),
        "transparent canvas, black ink": np.dstack([black, black, black, grey]),
        "transparent grey, white ink": np.dstack([white, grey]),
        "dark on light grey": 255 - grey,
        "dark on light RGB": np.dstack([255 - grey] * 3),
        "uint16": grey.astype(np.uint16) * 257,
        "float32 in [0, 1]": (grey / 255).astype(np.float32),
        "float64 in 0..255": grey.astype(np.float64),
        "int32 in 0..65535": grey.astype(np.int32) * 257,
        "Pillow RGBA": Image.fromarray(np.dstack([grey, grey, grey, opaque])),
        "Pillow L": Image.fromarray(grey),
        "Pillow I": Image.fromarray(grey.astype(np.int32)),
        "Pillow CMYK": Image.fromarray(grey).convert("CMYK"),
    }


@pytest.mark.parametrize("variant", list(canvas_variants(grey_of("two"))))
def test_every_form_of_the_same_drawing_gives_the_same_digit(variant):
    grey = grey_of("two")
    expected = to_mnist(grey)

    np.testing.assert_allclose(to_mnist(canvas_variants(grey)[variant]), expected, atol=1e-6)


def test_transparent_edges_are_flattened_onto_an_opaque_sheet():
    paper = 255 - grey_of("four")  # black digit on white paper
    rounded = np.dstack([paper, paper, paper, np.full_like(paper, 255)])
    for corner in (np.s_[:12, :12], np.s_[:12, -12:], np.s_[-12:, :12], np.s_[-12:, -12:]):
        rounded[corner] = 0  # transparent black corners, as a rounded screenshot has

    np.testing.assert_allclose(to_mnist(rounded), to_mnist(paper), atol=1e-6)


def test_a_black_and_white_mask_reads_like_its_uint8_image():
    mask = grey_of("seven") > 127

    np.testing.assert_array_equal(to_mnist(mask), to_mnist(mask.astype(np.uint8) * 255))


def test_nan_and_infinities_count_as_background_or_full_ink():
    grey = grey_of("seven") / 255
    damaged = grey.copy()
    damaged[:5, :5] = np.nan
    damaged[5:10, :5] = -np.inf
    damaged[grey == 1] = np.inf

    np.testing.assert_array_equal(to_mnist(damaged), to_mnist(grey))


@pytest.mark.parametrize("name", DIGITS)
def test_the_same_digit_anywhere_on_the_canvas_gives_the_same_result(name):
    strokes = DIGITS[name]
    moved = [[(x - 55, y + 20) for x, y in stroke] for stroke in strokes]
    nudged = [[(x + 3.75, y - 1.5) for x, y in stroke] for stroke in strokes]
    expected = to_mnist(render_strokes(strokes))

    np.testing.assert_array_equal(to_mnist(render_strokes(moved)), expected)
    assert difference_up_to_a_pixel(to_mnist(render_strokes(nudged)), expected) < 0.015


@pytest.mark.parametrize("name", DIGITS)
def test_a_smaller_drawing_of_the_same_digit_gives_nearly_the_same_result(name):
    half = [[(70 + x / 2, 70 + y / 2) for x, y in stroke] for stroke in DIGITS[name]]
    full_size = to_mnist(canvas_of(name))

    assert difference_up_to_a_pixel(to_mnist(render_strokes(half, width=9)), full_size) < 0.015


def test_different_digits_differ_by_far_more_than_that():
    digits = [to_mnist(canvas_of(name)) for name in DIGITS]
    for first, second in itertools.combinations(digits, 2):
        assert difference_up_to_a_pixel(first, second) > 0.05


@pytest.mark.parametrize(
    "blank",
    [
        np.zeros((280, 280, 4), np.uint8),
        np.full((280, 280), 255, np.uint8),
        np.full((20, 30), np.nan),
        np.full((28, 28), 0.4, np.float32),
        np.dstack([grey_of("seven") // 26] * 3),  # ink at 9/255: under 5% of the range
        np.zeros((280, 280, 4), np.uint8) + np.array([255, 255, 255, 0], np.uint8),
        np.ones((1, 1), bool),
    ],
    ids=["black canvas", "white", "NaN", "uniform grey", "faint ink", "transparent", "one pixel"],
)
def test_an_image_without_ink_is_empty(blank):
    with pytest.raises(EmptyImageError, match="The canvas is empty: draw a digit"):
        to_mnist(blank)


def test_faint_ink_above_five_percent_is_still_a_digit():
    faint = (grey_of("seven") // 17).astype(np.uint8)  # ink at 15/255

    assert to_mnist(faint).max() == 1


def test_errors_are_value_errors_with_an_empty_image_a_kind_of_image_error():
    assert issubclass(EmptyImageError, ImageError)
    assert issubclass(ImageError, ValueError)


@pytest.mark.parametrize(
    ("not_an_image", "message"),
    [
        (np.zeros(10), "got shape (10,)"),
        (np.zeros((2, 3, 4, 1)), "got shape (2, 3, 4, 1)"),
        (np.zeros((5, 5, 5)), "1 to 4 channels"),
        (np.zeros((0, 28)), "no pixels"),
        (np.zeros((28, 28, 0)), "no pixels"),
        (np.array([["a", "b"]]), "image of numbers"),
        (np.zeros((3, 3), complex), "image of numbers"),
        (None, "image of numbers"),
        ("digit.png", "image of numbers"),
        ([[1, 2], [3]], "Expected an image, got list"),
        (np.broadcast_to(np.uint8(0), (8000, 5001)), "too large: 5001 x 8000 pixels"),
    ],
)
def test_what_is_not_an_image_is_refused_with_a_reason(not_an_image, message):
    with pytest.raises(ImageError, match=re.escape(message)):
        to_mnist(not_an_image)


IMAGE_SHAPES = st.one_of(
    st.tuples(st.integers(0, 6), st.integers(0, 6)),
    st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 5)),
    array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6),
)


@settings(max_examples=300, deadline=None)
@given(
    arrays(
        dtype=st.sampled_from([np.uint8, np.uint16, np.int32, np.float32, np.float64, np.bool_]),
        shape=IMAGE_SHAPES,
    )
)
@pytest.mark.filterwarnings("error")
def test_any_array_gives_a_valid_digit_or_an_image_error(pixels):
    try:
        digit = to_mnist(pixels)
    except ImageError:
        return
    assert digit.shape == (28, 28)
    assert digit.dtype == np.float32
    assert np.isfinite(digit).all()
    assert digit.min() >= 0 and digit.max() == 1


def test_importing_preprocess_does_not_import_tensorflow():
    code = "import mnist_core.preprocess, sys; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, check=True)


def encoded(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def uploads_of(grey: np.ndarray) -> dict[str, tuple[bytes, np.ndarray]]:
    """Files a user might upload, each with the array whose digit it must give."""
    mask = grey > 127
    two_colours = Image.fromarray(mask.astype(np.uint8), mode="L").convert("P")
    two_colours.putpalette([255, 255, 255, 0, 0, 0])  # index 0 white paper, 1 black ink
    luminance = Image.fromarray(grey)
    return {
        "PNG grey": (encoded(luminance, "PNG"), grey),
        "PNG RGBA": (encoded(Image.fromarray(canvas_variants(grey)["RGBA canvas"]), "PNG"), grey),
        "PNG grey + alpha": (
            encoded(Image.fromarray(canvas_variants(grey)["transparent grey, white ink"]), "PNG"),
            grey,
        ),
        "PNG 16-bit": (encoded(Image.fromarray(grey.astype(np.uint16) * 257), "PNG"), grey),
        "PNG 1-bit": (encoded(Image.fromarray(mask), "PNG"), mask),
        "PNG palette": (encoded(two_colours, "PNG"), mask),
        "GIF transparent paper": (encoded(two_colours, "GIF", transparency=0), mask),
        "BMP": (encoded(luminance.convert("RGB"), "BMP"), grey),
        "TIFF 16-bit": (encoded(Image.fromarray(grey.astype(np.uint16) * 257), "TIFF"), grey),
        "WebP lossless": (encoded(luminance, "WEBP", lossless=True), grey),
    }


@pytest.mark.parametrize("kind", list(uploads_of(grey_of("four"))))
def test_an_uploaded_file_gives_the_digit_of_its_pixels(kind):
    data, pixels = uploads_of(grey_of("four"))[kind]

    np.testing.assert_allclose(to_mnist(load_image(data)), to_mnist(pixels), atol=1e-6)


def test_a_jpeg_upload_gives_nearly_the_digit_of_its_pixels():
    grey = 255 - grey_of("four")
    data = encoded(Image.fromarray(grey), "JPEG", quality=90)

    assert difference_up_to_a_pixel(to_mnist(load_image(data)), to_mnist(grey)) < 0.03


def test_an_upload_can_be_bytes_a_file_object_or_a_path(tmp_path):
    data = encoded(Image.fromarray(grey_of("four")), "PNG")
    path = tmp_path / "four.png"
    path.write_bytes(data)
    expected = to_mnist(grey_of("four"))

    for upload in (data, bytearray(data), io.BytesIO(data), path, str(path)):
        np.testing.assert_array_equal(to_mnist(load_image(upload)), expected)


def named_file(data: bytes, name: str) -> io.BytesIO:
    """A file object with a name, like Streamlit's UploadedFile."""
    file = io.BytesIO(data)
    file.name = name
    return file


def png_claiming_size(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose header says width x height: a decompression bomb's shape."""
    png = bytearray(encoded(Image.new("L", (1, 1)), "PNG"))
    png[16:24] = struct.pack(">II", width, height)
    png[29:33] = struct.pack(">I", zlib.crc32(png[12:29]))
    return bytes(png)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (b"just some text", "The uploaded file is not an image file we can read (try PNG or JPEG)"),
        (
            named_file(b"%PDF-1.7 ...", "notes.pdf"),
            "notes.pdf is not an image file we can read (try PNG or JPEG)",
        ),
        (b"", "The uploaded file is not an image file we can read (try PNG or JPEG)"),
        (
            named_file(encoded(Image.fromarray(grey_of("four")), "PNG")[:400], "cut.png"),
            "cut.png is not an image file we can read (try PNG or JPEG)",
        ),
        (png_claiming_size(8000, 5001), "too large: 8000 x 5001 pixels"),
        (png_claiming_size(60_000, 60_000), f"too large: at most {MAX_PIXELS:,} pixels"),
    ],
    ids=["text", "named pdf", "empty", "truncated", "over the limit", "over Pillow's limit"],
)
def test_what_is_not_a_readable_image_is_refused_with_its_name(upload, message):
    with pytest.raises(ImageError, match=re.escape(message)):
        load_image(upload)


def test_a_missing_file_is_refused_with_its_name(tmp_path):
    with pytest.raises(ImageError, match=r"seven\.png does not exist"):
        load_image(tmp_path / "seven.png")


def test_big_uploads_are_shrunk_as_they_are_read_and_still_read_the_same():
    from mnist_core.preprocess import MAX_SIDE

    digit = render_strokes([[(140, 60), (140, 220)], [(100, 80), (140, 60)]])
    big = np.array(Image.fromarray(digit[..., 0]).resize((2800, 2800), Image.Resampling.BILINEAR))
    buffer = io.BytesIO()
    Image.fromarray(big).save(buffer, format="PNG")
    pixels = load_image(buffer.getvalue())
    assert max(pixels.shape[:2]) <= MAX_SIDE and pixels.dtype == np.uint8
    for even_width in (False, True):
        shrunk, canvas = to_mnist(pixels, even_width), to_mnist(digit, even_width)
        difference = np.abs(shrunk - canvas)  # edges differ by the resampling
        assert difference.mean() < 0.01 and difference.max() < 0.25


def a_two(pen_width: float) -> np.ndarray:
    curve = [(95, 95), (120, 65), (165, 65), (185, 100), (170, 140), (95, 215), (190, 215)]
    return render_strokes([curve], width=pen_width)


def test_stroke_width_is_twice_the_area_over_the_outline():
    for width in (2, 5, 11):
        bar = np.zeros((60, 60), np.float32)
        bar[5:55, 20 : 20 + width] = 1
        assert stroke_width(bar) == pytest.approx(2 * 50 * width / (2 * 50 + 2 * width))


def test_strokes_are_evened_so_a_thin_and_a_thick_pen_give_the_same_digit():
    drawings = [crop_to_ink(to_grey_ink(a_two(width))) for width in (6, 18, 30)]
    as_drawn = [stroke_width(digit) / max(digit.shape) for digit in drawings]
    evened = [crop_to_ink(even_stroke_width(digit)) for digit in drawings]
    widths = [stroke_width(digit) / max(digit.shape) for digit in evened]

    assert as_drawn[2] > 4 * as_drawn[0]
    assert widths == pytest.approx([MNIST_STROKE_WIDTH] * 3, rel=0.25)
    assert max(widths) < 1.5 * min(widths)  # from over 4 times as drawn
    thin, thick = to_mnist(a_two(6)), to_mnist(a_two(30))
    unevened = to_mnist(a_two(6), even_width=False) - to_mnist(a_two(30), even_width=False)
    assert np.abs(thin - thick).mean() < 0.5 * np.abs(unevened).mean()


def test_evening_keeps_the_digit_where_it_was_and_reads_a_dot():
    digit = to_mnist(canvas_of("seven"))
    assert ink_extent(digit)[0] == FIT_SIZE  # still fitted to the 20x20 box
    assert max(abs(c - 14) for c in centre_of_mass(digit)) <= 0.5 + 1e-6
    dot = np.zeros((280, 280), np.uint8)
    dot[140, 140] = 255
    assert to_mnist(dot).max() == 1
