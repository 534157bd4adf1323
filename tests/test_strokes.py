import numpy as np
import pytest

from mnist_core.strokes import render_strokes


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
