import numpy as np
import pytest

from mnist_core.classify import Classifier
from mnist_core.drawn import DrawnSet, DrawnSetError, evaluate_drawn, load_drawn_set, save_drawn_set
from mnist_core.preprocess import to_mnist
from mnist_core.store import load_model
from scripts import drawn_synthesis
from scripts.drawn_synthesis import build_drawn_set, skeleton_segments, thin


@pytest.fixture(scope="module")
def fonts():
    """The handwriting fonts when installed (`make` installs them), else none: the re-drawn MNIST
    digits are tested either way."""
    try:
        return drawn_synthesis.installed_fonts()
    except DrawnSetError:
        return ()


@pytest.fixture(scope="module")
def small_set(mnist, fonts) -> DrawnSet:
    return build_drawn_set(seed=11, per_digit=12, mnist_test=mnist.test, fonts=fonts)


def test_thinning_leaves_a_one_pixel_centre_line():
    band = np.zeros((30, 60), dtype=bool)
    band[10:17, 5:55] = True  # 7 px thick

    line = thin(band)

    inner_columns = line[:, 12:48]
    assert (inner_columns.sum(axis=0) == 1).all()
    assert (np.flatnonzero(inner_columns.any(axis=1)) == 13).all()  # the middle row
    assert not (line & ~band).any()


def test_skeleton_follows_the_ink_of_an_mnist_digit(mnist):
    image = mnist.test[0][0]
    segments = skeleton_segments(image)
    points = segments.reshape(-1, 2) / 4  # back to 28x28 pixels, (x, y)

    columns, rows = np.rint(points).astype(int).clip(0, 27).T
    assert (image[rows, columns] > 0).mean() > 0.95  # on the strokes
    assert 30 < len(segments) < 400
    lengths = np.linalg.norm(segments[:, 1] - segments[:, 0], axis=1)
    assert lengths.max() <= np.sqrt(2) + 1e-9  # each joins neighbouring pixels


def test_set_has_per_digit_canvases_of_each_digit_like_the_canvas(small_set, fonts):
    assert len(small_set) == 120
    assert small_set.canvases.shape == (120, 280, 280) and small_set.canvases.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(small_set.labels), [12] * 10)
    assert (small_set.canvases.max(axis=(1, 2)) == 255).all()
    kinds = {source.split(":")[0] for source in small_set.sources}
    assert kinds >= {"mnist", "mnist+flag"} | ({"font"} if fonts else set())


def test_digits_come_at_many_sizes_and_places_never_cut_by_the_edge(small_set):
    canvases = small_set.canvases
    edges = np.concatenate(
        [canvases[:, 0], canvases[:, -1], canvases[:, :, 0], canvases[:, :, -1]], axis=1
    )
    assert not edges.any()

    heights, centres = [], []
    for canvas in canvases:
        rows = np.flatnonzero(canvas.max(axis=1) > 127)
        columns = np.flatnonzero(canvas.max(axis=0) > 127)
        heights.append(rows[-1] - rows[0])
        centres.append(((rows[0] + rows[-1]) / 2, (columns[0] + columns[-1]) / 2))
    assert min(heights) < 120 and max(heights) > 220
    centres = np.array(centres)
    assert centres.min() < 100 and centres.max() > 180


def test_same_seed_same_set_other_seed_other_set(mnist, fonts):
    def build(seed):
        return build_drawn_set(seed=seed, per_digit=4, mnist_test=mnist.test, fonts=fonts)

    first, again, other = build(5), build(5), build(6)

    np.testing.assert_array_equal(first.canvases, again.canvases)
    np.testing.assert_array_equal(first.sources, again.sources)
    assert not np.array_equal(first.canvases, other.canvases)


def test_digits_are_the_canvases_preprocessed_the_mnist_way(small_set):
    digits = small_set.digits

    assert digits.shape == (120, 28, 28) and digits.dtype == np.uint8
    expected = np.rint(to_mnist(small_set.canvases[7]) * 255)
    np.testing.assert_array_equal(digits[7], expected)


def test_a_trained_model_reads_most_drawn_digits(small_set, saved_small_model):
    classifier = Classifier.from_model(load_model(saved_small_model[1].path))

    evaluation = evaluate_drawn(classifier, small_set)

    assert evaluation.count == 120
    assert evaluation.accuracy > 0.6  # a 2-epoch MLP on 2,500 images; chance is 0.1
    assert evaluation.per_class_accuracy.shape == (10,)


def test_saves_and_loads_back_the_same_set(small_set, tmp_path):
    path = save_drawn_set(small_set, tmp_path / "sub" / "drawn.npz")

    loaded = load_drawn_set(path)

    np.testing.assert_array_equal(loaded.canvases, small_set.canvases)
    np.testing.assert_array_equal(loaded.digits, small_set.digits)
    np.testing.assert_array_equal(loaded.labels, small_set.labels)
    np.testing.assert_array_equal(loaded.sources, small_set.sources)
    digits_only = load_drawn_set(path, pictures=False)  # what scoring needs, without the canvases
    assert digits_only.canvases is None
    np.testing.assert_array_equal(digits_only.digits, small_set.digits)
    np.testing.assert_array_equal(digits_only.labels, small_set.labels)
    assert [p.name for p in path.parent.iterdir()] == ["drawn.npz"]  # no partial file left


def test_loading_a_missing_file_says_how_to_build_it(tmp_path):
    with pytest.raises(DrawnSetError, match=r"does not exist: build it with `make data`"):
        load_drawn_set(tmp_path / "nothing.npz")


def test_loading_something_else_is_refused(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("not a zip")
    mnist_like = tmp_path / "mnist.npz"
    np.savez(mnist_like, x_test=np.zeros((2, 28, 28), np.uint8))

    for path in (text, mnist_like):
        with pytest.raises(DrawnSetError, match="is not a drawn-digit set"):
            load_drawn_set(path)


def test_a_set_from_an_older_version_is_refused_with_how_to_rebuild_it(small_set, tmp_path):
    path = save_drawn_set(small_set, tmp_path / "drawn.npz")
    with np.load(path) as archive:
        arrays = dict(archive)
    del arrays["digits"]  # an older set: no digits as the app reads them
    np.savez(path, **{**arrays, "format": 1})

    with pytest.raises(DrawnSetError, match=r"format 1, this version reads 2: build it again"):
        load_drawn_set(path)


def test_missing_fonts_are_named_with_their_package(monkeypatch):
    monkeypatch.setitem(drawn_synthesis.HANDWRITING_FONTS, "fonts-nonesuch", ("/no/such/font.ttf",))

    with pytest.raises(DrawnSetError, match="apt-get install fonts-nonesuch"):
        drawn_synthesis.installed_fonts()


def test_refuses_sizes_it_cannot_build(mnist):
    with pytest.raises(DrawnSetError, match="per_digit must be at least 1"):
        build_drawn_set(per_digit=0, mnist_test=mnist.test, fonts=())
    few = (mnist.test[0][:50], mnist.test[1][:50])
    with pytest.raises(DrawnSetError, match=r"hold \d+ \ds, fewer than the 20 asked for"):
        build_drawn_set(per_digit=20, mnist_test=few, fonts=())


def test_the_environment_names_another_set(small_set, tmp_path, monkeypatch):
    path = save_drawn_set(small_set, tmp_path / "other.npz")
    monkeypatch.setenv("MNIST_DRAWN_SET", str(path))
    np.testing.assert_array_equal(load_drawn_set().labels, small_set.labels)
