"""The class conventions other parts rely on (DESIGN.md)."""

import numpy as np
import pytest

from ccdnb import classes
from ccdnb.classes import (
    BACKGROUND,
    CLUSTER,
    GLOWING,
    HOT_PIXEL,
    class_counts,
    class_id,
    class_percentages,
    class_weights,
    confusion_counts,
    from_one_hot,
    label_to_rgb,
    one_hot,
)
from ccdnb.errors import CcdnbInputError
from ccdnb.objects.groups import class_groups, count_neighbours, label_groups
from ccdnb.plots import class_cmap, class_norm


def test_ids_names_and_priority():
    assert classes.CLASS_IDS == (0, 1, 2, 3)
    assert classes.CLASS_NAMES == ("background", "glowing", "hot pixel", "cluster")
    assert classes.PRIORITY[0] == classes.HOT_PIXEL
    assert classes.PRIORITY.index(classes.CLUSTER) < classes.PRIORITY.index(classes.GLOWING)


def test_colour_map_gives_each_class_its_thesis_colour():
    rgba = class_cmap()(class_norm()(np.arange(4)))
    np.testing.assert_allclose(rgba[:, :3], np.asarray(classes.CLASS_COLOURS))


def test_one_hot_round_trip():
    labels = np.random.default_rng(0).integers(0, 4, (3, 5, 6)).astype(np.uint8)
    encoded = one_hot(labels)
    assert encoded.shape == (3, 5, 6, 4) and encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded.sum(axis=-1), 1.0)
    np.testing.assert_array_equal(encoded[0, 0, 0], np.eye(4)[labels[0, 0, 0]])
    np.testing.assert_array_equal(from_one_hot(encoded), labels)
    with pytest.raises(ValueError):
        one_hot(np.array([0, 4]))


def test_label_to_rgb_uses_the_thesis_colours():
    rgb = label_to_rgb(np.array([[0, 1], [2, 3]]))
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.float32
    np.testing.assert_allclose(rgb[0, 0], (0, 0, 0))
    np.testing.assert_allclose(rgb[0, 1], (0.35, 1, 0.25))
    np.testing.assert_allclose(rgb[1, 0], (0, 0.5, 1))
    np.testing.assert_allclose(rgb[1, 1], (1, 0.2, 0.2))


def test_class_percentages_and_weights_match_a_hand_computation():
    labels = np.array([[0, 0, 0, 0, 0], [0, 1, 1, 1, 3]])  # counts 6, 3, 0, 1 of 10
    np.testing.assert_allclose(class_percentages(labels), [60.0, 30.0, 0.0, 10.0])
    # w ~ 1/freq: 1/6, 1/3, (absent: 0), 1/1; sum 3/2; scaled to sum 4
    np.testing.assert_allclose(class_weights(labels), [4 / 9, 8 / 9, 0.0, 8 / 3])
    np.testing.assert_allclose(class_weights(np.arange(4).repeat(5)), [1.0, 1.0, 1.0, 1.0])


@pytest.mark.parametrize("name, expected", [("cluster", CLUSTER), ("Hot pixel", HOT_PIXEL),
                                            ("hot_pixel", HOT_PIXEL), ("HOTPIXEL", HOT_PIXEL),
                                            (1, GLOWING), (np.uint8(0), BACKGROUND)])
def test_classes_are_named_or_numbered(name, expected):
    assert class_id(name) == expected


@pytest.mark.parametrize("bad", ["muon", 4, -1, True])
def test_unknown_classes_are_refused(bad):
    with pytest.raises(CcdnbInputError, match="unknown class"):
        class_id(bad)


def test_label_groups_is_eight_connected():
    mask = np.zeros((5, 5), dtype=bool)
    mask[0, 0] = mask[1, 1] = mask[4, 4] = True
    labels, n = label_groups(mask)
    assert n == 2 and labels[0, 0] == labels[1, 1] != labels[4, 4]


@pytest.mark.parametrize("seed", range(5))
def test_class_groups_are_the_labelled_groups_of_one_class(seed):
    rng = np.random.default_rng(seed)
    mask = (rng.integers(0, 4, (40, 61)) * (rng.random((40, 61)) < 0.5)).astype(np.uint8)
    mask[:, 0] = mask[:, -1] = CLUSTER  # groups touching both ends of the rows stay apart
    for cls in (GLOWING, HOT_PIXEL, CLUSTER):
        rows, cols, group, n = class_groups(mask, cls)
        labels, expected = label_groups(mask == cls)
        assert n == expected
        assert np.array_equal(np.sort(np.ravel_multi_index((rows, cols), mask.shape)),
                              np.flatnonzero(mask == cls))
        # one group for each label, and one label for each group
        assert len(set(zip(group.tolist(), labels[rows, cols].tolist()))) == n
    assert class_groups(np.zeros((3, 3), np.uint8), CLUSTER)[3] == 0


def test_counts_and_confusion_by_class():
    label = np.array([[0, 0, 3], [2, 3, 3]])
    assert class_counts(label).tolist() == [2, 0, 1, 3]
    assert class_counts(np.zeros((0,), np.uint8)).tolist() == [0, 0, 0, 0]
    confusion = confusion_counts(label, np.zeros_like(label))
    assert confusion[:, 0].tolist() == [2, 0, 1, 3] and confusion[:, 1:].sum() == 0
    with pytest.raises(CcdnbInputError):
        confusion_counts(label, label[:1])


def test_neighbours_are_counted_by_eight_connectivity():
    mask = np.zeros((4, 4), bool)
    mask[1, 1] = mask[2, 2] = True
    counts = count_neighbours(mask)
    assert counts[1, 1] == 1 and counts[2, 2] == 1 and counts[1, 2] == 2 and counts[3, 3] == 1
    assert counts[0, 3] == 0
