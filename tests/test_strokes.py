import itertools

import numpy as np
import pytest
from scipy import ndimage

from mnist_core.preprocess import CENTRE, FIT_SIZE, EmptyImageError, to_mnist
from mnist_core.strokes import (
    CANVAS_SIZE,
    DIGIT_PEN,
    REDRAWN_SIDE,
    canvas_drawing,
    canvas_strokes,
    redraw,
    render_strokes,
    strokes_to_mnist,
)


def test_canvas_is_opaque_black_rgba_with_white_grey_ink():
    canvas = render_strokes([[(40, 140), (240, 140)]])

    assert canvas.shape == (280, 280, 4)
    assert canvas.dtype == np.uint8
    assert (canvas[:, :, 3] == 255).all()
    assert (canvas[:, :, 0] == canvas[:, :, 1]).all() and (canvas[:, :, 0] == canvas[:, :, 2]).all()
    assert canvas[0, 0, 0] == 0 and canvas[140, 140, 0] == 255


def test_line_is_as_thick_as_the_pen_and_anti_aliased():
    grey = render_strokes([[(40, 140), (240, 140)]], width=18)[:, :, 0]
    column = grey[:, 140] / 255

    assert column.sum() == pytest.approx(18, abs=0.5)  # ink mass across the line = its width
    assert ((column > 0) & (column < 1)).any()  # grey edge pixels, not a hard threshold


def test_round_caps_extend_the_line_by_half_the_width():
    grey = render_strokes([[(100, 140), (180, 140)]], width=20)[:, :, 0]
    inked_columns = np.flatnonzero(grey[140] > 127)

    assert inked_columns[0] == pytest.approx(90, abs=1)
    assert inked_columns[-1] == pytest.approx(190, abs=1)


def test_a_single_point_is_a_round_dot_of_the_pen_width():
    grey = render_strokes([[(140, 140)]], width=18)[:, :, 0] / 255

    assert grey.sum() == pytest.approx(np.pi * 9**2, rel=0.05)
    assert grey[140, 131:149].min() > 0.5 and grey[131:149, 140].min() > 0.5


def test_no_strokes_or_empty_strokes_leave_the_canvas_black():
    for strokes in ([], [[]]):
        assert not render_strokes(strokes)[:, :, :3].any()


def test_points_outside_the_canvas_are_cut_off():
    grey = render_strokes([[(-50, 10), (330, 10)]], size=100)[:, :, 0]

    assert grey.shape == (100, 100)
    assert (grey[10] == 255).all()


@pytest.mark.parametrize(("size", "width"), [(0, 18), (280, 0), (280, float("nan"))])
def test_refuses_a_canvas_without_pixels_or_a_pen_without_width(size, width):
    with pytest.raises(ValueError, match="size must be at least 1 and width positive"):
        render_strokes([[(1, 1)]], size=size, width=width)


def test_the_pencils_paths_are_read_as_polylines_through_the_middle_of_each_curve():
    drawing = {  # as the canvas sends it: fabric.js objects, the pencil's smoothed paths
        "version": "7.4.0",
        "objects": [
            {"type": "Path", "path": [["M", 10, 20], ["Q", 30, 20, 40, 60], ["L", 50, 70]]},
            {"type": "Rect", "left": 5, "top": 5},  # not the pen's
            {"type": "Path", "path": [["M", 1, 2], ["Q", "bad"], ["L", 3.5, 4], ["L", "nan", 0]]},
        ],
    }

    assert canvas_strokes(drawing) == [
        [(10, 20), ((10 + 2 * 30 + 40) / 4, (20 + 2 * 20 + 60) / 4), (40, 60), (50, 70)],
        [(1, 2), (3.5, 4)],
    ]
    assert canvas_strokes(None) == canvas_strokes({"objects": [], "clears": 3}) == []
    assert canvas_strokes(canvas_drawing([[(1, 2), (3, 4)], [(5, 6)]])) == [
        [(1, 2), (3, 4)],
        [(5, 6)],
    ]


def nine(centre=(140.0, 100.0), size=1.0):
    """A 9: a round loop and a stem down from its right side, `size` times 60 px tall."""
    (x, y), r = centre, 14 * size
    loop = [(x + r * np.cos(t), y + r * np.sin(t)) for t in np.linspace(0, 2 * np.pi, 40)]
    return [loop, [(x + r, y), (x + r + 6 * size, y + 46 * size)]]


def holes(grey: np.ndarray) -> int:
    """How many regions of background the ink encloses."""
    background, count = ndimage.label(grey < 128)
    touching_the_edge = set(
        np.unique(np.r_[background[[0, -1]].ravel(), background[:, [0, -1]].ravel()])
    )
    return count - len(touching_the_edge - {0})


def test_a_drawing_is_the_same_digit_at_any_size_and_place():
    small, large = strokes_to_mnist(nine((60, 60), 0.5)), strokes_to_mnist(nine((150, 120), 2.5))

    assert small.shape == (28, 28) and small.dtype == np.float32
    assert small.min() >= 0 and small.max() == 1
    np.testing.assert_allclose(small, large, atol=1e-5)  # the same pixels, to float rounding


def test_a_digit_fills_the_20x20_box_keeping_its_aspect_and_is_placed_by_its_centre_of_mass():
    digit = strokes_to_mnist(nine())
    rows, columns = np.nonzero(digit >= 0.05)

    assert rows.max() - rows.min() + 1 == FIT_SIZE  # the 9 is taller than wide
    assert columns.max() - columns.min() + 1 < FIT_SIZE * 0.75
    mass = digit.sum()
    assert (digit.sum(axis=1) @ np.arange(28)) / mass == pytest.approx(CENTRE, abs=0.5)
    assert (digit.sum(axis=0) @ np.arange(28)) / mass == pytest.approx(CENTRE, abs=0.5)


def test_the_pen_is_a_fixed_share_of_the_box_whatever_pen_it_was_drawn_with():
    wide = strokes_to_mnist([[(20, 140), (260, 140)]])  # a long line: the 20 px box's width

    assert wide[:, 14].sum() == pytest.approx(DIGIT_PEN * FIT_SIZE, abs=0.1)
    assert strokes_to_mnist([[(20, 140), (260, 140)]], pen=2 * DIGIT_PEN)[:, 14].sum() == (
        pytest.approx(2 * DIGIT_PEN * FIT_SIZE, abs=0.1)
    )


def test_the_small_loop_a_thick_pen_closed_stays_open():
    strokes = nine()
    assert holes(render_strokes(strokes, width=30)[:, :, 0]) == 0  # as a thick pen shows it
    assert holes(strokes_to_mnist(strokes) * 255) == 1


def along(corners, points_per_side):
    """A polyline through `corners` with `points_per_side` points on each side, as a pointer
    sends them."""
    steps = np.linspace(0, 1, points_per_side, endpoint=False)[:, np.newaxis]
    sides = [a + (b - a) * steps for a, b in itertools.pairwise(np.array(corners, float))]
    return [*map(tuple, np.concatenate(sides)), corners[-1]]


def test_a_drawing_reads_the_same_however_often_the_pointer_reported_its_position():
    corners = [(40, 240), (130, 40), (250, 200)]  # a lopsided upside-down V
    finest = strokes_to_mnist([along(corners, 1000)])
    for points_per_side in (200, 50):
        other = strokes_to_mnist([along(corners, points_per_side)])
        assert np.abs(other - finest).mean() < 0.01


def test_a_sharp_turn_is_as_round_as_two_strokes_meeting_there():
    corners = [(40, 240), (130, 40), (250, 200)]
    np.testing.assert_array_equal(
        strokes_to_mnist([corners]), strokes_to_mnist([corners[:2], corners[1:]])
    )


def test_no_strokes_is_an_empty_canvas_and_a_dot_fills_the_box_as_a_round_dot():
    for nothing in ([], [[]]):
        with pytest.raises(EmptyImageError, match="empty"):
            strokes_to_mnist(nothing)
    dot = strokes_to_mnist([[(30, 250)]])
    assert dot.sum() == pytest.approx(np.pi * (FIT_SIZE / 2) ** 2, rel=0.05)
    rows, columns = np.nonzero(dot >= 0.5)
    assert rows.mean() == pytest.approx(CENTRE, abs=1) and columns.mean() == pytest.approx(
        CENTRE, abs=1
    )


def test_the_picture_a_label_keeps_is_the_digit_the_model_read():
    strokes = nine((80, 200), 1.5)
    picture = redraw(strokes)

    assert picture.shape == (CANVAS_SIZE, CANVAS_SIZE) and picture.dtype == np.uint8
    rows = np.nonzero(picture > 127)[0]
    assert rows.max() - rows.min() == pytest.approx(REDRAWN_SIDE / (1 - DIGIT_PEN), abs=3)
    assert (rows.min() + rows.max()) / 2 == pytest.approx(CANVAS_SIZE / 2, abs=2)  # centred
    # Read back as an upload is read, it is that digit (up to how its edges were averaged),
    # far closer to it than to another drawing's.
    read_back = to_mnist(picture, even_width=False)
    one = strokes_to_mnist([[(140, 40), (130, 240)]])
    distance = np.abs(read_back - strokes_to_mnist(strokes)).mean()
    assert distance < 0.5 * np.abs(read_back - one).mean()
    assert not redraw([]).any()
