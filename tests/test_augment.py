import dataclasses

import numpy as np
import pytest

from mnist_core.augment import (
    FOOTED_SHARE,
    NO_AUGMENTATION,
    Augmentation,
    AugmentationError,
    AugmentedBatches,
    add_styles,
    augment_batch,
)


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist.train[0][:500]


def _only(**changes) -> Augmentation:
    """One distortion alone: NO_AUGMENTATION with `changes`."""
    return dataclasses.replace(NO_AUGMENTATION, **changes)


def _centres_of_mass(images):
    ink = np.asarray(images, dtype=np.float64)
    mass = ink.sum(axis=(1, 2))
    index = np.arange(images.shape[1])
    return np.stack([ink.sum(axis=2) @ index / mass, ink.sum(axis=1) @ index / mass], axis=1)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_keeps_shape_and_type_and_pixels_in_range(digits, dtype):
    top = 255 if dtype == np.uint8 else 1
    images = (digits * (top / 255)).astype(dtype)

    augmented = augment_batch(images, np.random.default_rng(0))

    assert augmented.shape == images.shape and augmented.dtype == dtype
    assert augmented.min() >= 0 and augmented.max() <= top
    assert augmented.max() > 0.5 * top  # ink is still there


def test_same_seed_same_result_other_seed_other_result(digits):
    first = augment_batch(digits, np.random.default_rng(7))
    again = augment_batch(digits, np.random.default_rng(7))
    other = augment_batch(digits, np.random.default_rng(8))

    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert (first != digits).any(axis=(1, 2)).all()  # every image is distorted


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_no_augmentation_returns_the_input_unchanged(digits, dtype):
    images = digits.astype(dtype)

    np.testing.assert_array_equal(
        augment_batch(images, np.random.default_rng(0), NO_AUGMENTATION), images
    )


def test_the_digit_stays_mostly_inside_the_frame(digits):
    augmented = augment_batch(digits, np.random.default_rng(1)).astype(np.float64)

    outer_ring = np.ones((28, 28), dtype=bool)
    outer_ring[2:-2, 2:-2] = False
    share_on_ring = (augmented * outer_ring).sum(axis=(1, 2)) / augmented.sum(axis=(1, 2))
    assert share_on_ring.mean() < 0.03 and share_on_ring.max() < 0.25
    assert np.abs(_centres_of_mass(augmented) - 13.5).max() < 5


def test_a_shift_moves_the_digit_by_at_most_max_shift(digits):
    shifted = augment_batch(digits, np.random.default_rng(2), _only(max_shift=3))

    moved = _centres_of_mass(shifted) - _centres_of_mass(digits)
    assert np.abs(moved).max() <= 3.5  # pixels cut at the edge move the centre a little more
    assert np.abs(moved).max() > 2  # and the shifts do use the range


def test_thickening_adds_ink_and_thinning_removes_it(digits):
    rng = np.random.default_rng(3)
    mass = digits.sum(axis=(1, 2), dtype=np.int64)

    thicker = augment_batch(digits, rng, _only(thickness=(1, 1))).sum(axis=(1, 2), dtype=np.int64)
    thinner = augment_batch(digits, rng, _only(thickness=(-1, -1))).sum(axis=(1, 2), dtype=np.int64)

    assert (thicker > 1.3 * mass).all()
    assert (thinner < 0.8 * mass).all()


def test_a_fractional_thickness_lies_between_the_whole_ones(digits):
    def inked(amount):
        changed = augment_batch(digits, np.random.default_rng(0), _only(thickness=(amount,) * 2))
        return changed.sum(axis=(1, 2), dtype=np.int64)

    assert (inked(1) < inked(1.5)).all() and (inked(1.5) < inked(2)).all()


def test_scale_shrinks_or_grows_the_ink_about_the_centre():
    bar = np.zeros((1, 28, 28), dtype=np.float32)
    bar[0, 12:16, 4:24] = 1  # 20 px wide

    half = augment_batch(bar, np.random.default_rng(0), _only(scale=(0.5, 0.5)))

    columns = np.flatnonzero(half[0].max(axis=0) > 0.5)
    assert columns[0] == pytest.approx(9, abs=1) and columns[-1] == pytest.approx(18, abs=1)


def test_rotation_turns_a_bar_within_max_rotation():
    bars = np.zeros((200, 28, 28), dtype=np.float32)
    bars[:, 13:15, 4:24] = 1

    turned = augment_batch(bars, np.random.default_rng(4), _only(max_rotation=30))

    angles = np.degrees([_orientation(image) for image in turned])
    assert np.abs(angles).max() <= 31
    assert np.abs(angles).max() > 20 and (angles > 0).any() and (angles < 0).any()


def _orientation(image):
    """Angle of the ink's main axis to the horizontal, from its second moments."""
    rows, columns = np.nonzero(image > 0.05)
    weights = image[rows, columns]
    rows = rows - np.average(rows, weights=weights)
    columns = columns - np.average(columns, weights=weights)
    cov = np.cov(np.stack([columns, -rows]), aweights=weights)
    return 0.5 * np.arctan2(2 * cov[0, 1], cov[0, 0] - cov[1, 1])


def test_elastic_distortion_bends_strokes_in_place(digits):
    wobbled = augment_batch(digits, np.random.default_rng(5), _only(elastic_alpha=20))

    assert (wobbled != digits).mean(axis=(1, 2)).min() > 0.02
    mass_ratio = wobbled.sum(axis=(1, 2), dtype=np.int64) / digits.sum(axis=(1, 2), dtype=np.int64)
    assert 0.9 < mass_ratio.mean() < 1.1  # squeezed here, stretched there: no ink made or lost
    assert np.abs(_centres_of_mass(wobbled) - _centres_of_mass(digits)).max() < 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_shift": -1}, "max_shift must be zero or positive"),
        ({"max_rotation": float("nan")}, "max_rotation must be zero or positive"),
        ({"scale": (1.2, 0.8)}, r"scale must be a \(low, high\) range"),
        ({"scale": (0, 1)}, "scale must be positive"),
        ({"elastic_sigma": 0}, "elastic_sigma must be positive"),
        ({"style_share": 1.5}, r"style_share must be in \[0, 1\]"),
    ],
)
def test_refuses_impossible_settings(changes, message):
    with pytest.raises(AugmentationError, match=message):
        Augmentation(**changes)


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (np.zeros((28, 28)), r"expected a batch of images \(n, height, width\)"),
        (np.zeros((2, 0, 28)), r"expected a batch of images \(n, height, width\)"),
        (np.full((2, 28, 28), "a"), "expected images of numbers"),
    ],
)
def test_refuses_what_is_not_a_batch_of_images(images, message):
    with pytest.raises(AugmentationError, match=message):
        augment_batch(images, np.random.default_rng(0))


def test_styles_flag_ones_and_cross_sevens_and_touch_nothing_else(mnist):
    x, y = mnist.train[0][:2000].astype(np.float32), mnist.train[1][:2000]
    styled = add_styles(x, y, np.random.default_rng(3), share=1.0)

    added = styled - x
    assert (added >= 0).all() and styled.max() <= 255  # ink is only added
    changed = (added > 0).any(axis=(1, 2))
    assert not changed[~np.isin(y, (1, 7))].any()
    assert changed[np.isin(y, (1, 7))].mean() > 0.95
    np.testing.assert_array_equal(styled, add_styles(x, y, np.random.default_rng(3), 1.0))
    np.testing.assert_array_equal(add_styles(x, y, np.random.default_rng(3), 0.0), x)

    for label in (1, 7):
        index = np.flatnonzero((y == label) & (added > 127).any(axis=(1, 2)))
        ink_rows = [np.flatnonzero(x[i].max(axis=1) > 127) for i in index]
        new = [np.argwhere(added[i] > 127) for i in index]
        top = np.array([rows[0] for rows in ink_rows])
        middle = np.array([(rows[0] + rows[-1]) / 2 for rows in ink_rows])
        new_rows = np.array([points[:, 0].mean() for points in new])
        spread = np.array([np.ptp(points[:, 1]) - np.ptp(points[:, 0]) for points in new])
        if label == 1:  # a flag: hangs from the top of the stroke, leftwards; some on a foot
            new_top = np.array([points[:, 0].min() for points in new])
            assert np.median(np.abs(new_top - top)) <= 1
            reach = [  # how far left of the stem's top the added ink's upper half goes
                np.flatnonzero(x[i][rows[0]] > 127).mean() - points[points[:, 0] <= half, 1].min()
                for i, rows, points, half in zip(index, ink_rows, new, middle, strict=True)
                if (points[:, 0] <= half).any()
            ]
            assert len(reach) > 0.9 * len(index) and np.median(reach) > 2
            bottom = [rows[-1] for rows in ink_rows]
            feet = [
                np.ptp(points[points[:, 0] >= low - 1, 1]) >= 4
                if (points[:, 0] >= low - 1).any()
                else False
                for points, low in zip(new, bottom, strict=True)
            ]
            assert abs(np.mean(feet) - FOOTED_SHARE) < 0.1
        else:  # a crossbar: across the middle, wider than tall
            assert np.median(np.abs(new_rows - middle)) < 2 and np.median(spread) > 2


def test_augmented_batches_style_their_own_labels(digits, mnist):
    labels = mnist.train[1][:500]
    batches = AugmentedBatches(digits, labels, 500, _only(style_share=1.0), seed=1)
    images, batch_labels = batches[0]
    order = batches._order  # which image each row is
    gained = (images * 255 - digits[order] > 1).any(axis=(1, 2))
    np.testing.assert_array_equal(gained, np.isin(batch_labels, (1, 7)))


def test_batches_pair_every_image_with_its_own_label_once_per_epoch(digits, mnist):
    labels = mnist.train[1][:500]
    batches = AugmentedBatches(digits, labels, 64, NO_AUGMENTATION, seed=1)

    def epoch():
        pairs = [batches[i] for i in range(len(batches))]
        return np.concatenate([x for x, _ in pairs]), np.concatenate([y for _, y in pairs])

    images, got_labels = epoch()
    assert len(batches) == 8 and images.dtype == np.float32 and images.max() == 1.0
    positions = [
        np.flatnonzero((digits == np.rint(image * 255)).all(axis=(1, 2))) for image in images
    ]
    order = np.array([found[0] for found in positions])
    assert sorted(order) == list(range(500))  # each image exactly once
    np.testing.assert_array_equal(got_labels, labels[order])  # labels travel with their images

    batches.on_epoch_end()
    next_images, _ = epoch()
    assert not np.array_equal(next_images, images)  # a new order every epoch


def test_batches_are_reproducible_from_the_seed_and_new_every_epoch(digits, mnist):
    labels = mnist.train[1][:500]

    def first_batch(seed, epochs_done=0):
        batches = AugmentedBatches(digits, labels, 32, seed=seed)
        for _ in range(epochs_done):
            batches.on_epoch_end()
        return batches[0][0]

    np.testing.assert_array_equal(first_batch(3), first_batch(3))
    assert not np.array_equal(first_batch(3), first_batch(4))
    assert not np.array_equal(first_batch(3), first_batch(3, epochs_done=1))


def test_model_fit_trains_on_augmented_batches(mnist):
    import keras

    from mnist_core.config import TrainConfig
    from mnist_core.model import build_model

    (x, y), (x_test, y_test) = mnist.train, mnist.test
    keras.utils.set_random_seed(0)
    model = build_model(TrainConfig())
    history = model.fit(AugmentedBatches(x[:3000], y[:3000], 32, seed=0), epochs=2, verbose=0)

    assert len(history.history["loss"]) == 2
    assert history.history["loss"][1] < history.history["loss"][0]
    predicted = model.predict(x_test[:1000] / 255.0, verbose=0).argmax(axis=1)
    assert (predicted == y_test[:1000]).mean() > 0.8


@pytest.mark.parametrize(
    ("x", "y", "batch_size", "message"),
    [
        (np.zeros((3, 28, 28), np.uint8), np.zeros(2), 1, "3 images but 2 labels"),
        (np.zeros((0, 28, 28), np.uint8), np.zeros(0), 1, "need images and a batch size"),
        (np.zeros((3, 28, 28), np.uint8), np.zeros(3), 0, "need images and a batch size"),
        (np.zeros((3, 28, 28)), np.zeros(3), 1, "expected uint8 pixels"),
    ],
)
def test_batches_refuse_mismatched_or_empty_data(x, y, batch_size, message):
    with pytest.raises(AugmentationError, match=message):
        AugmentedBatches(x, y, batch_size)
