"""Threshold labelling, encodings, class statistics and labelme import/export."""

import json

import numpy as np
import pytest

from ccdnb.classes import (BACKGROUND, CLUSTER, GLOWING, HOT_PIXEL, class_percentages, class_weights,
                           from_one_hot, label_to_rgb, one_hot)
from ccdnb.errors import CcdnbInputError
from ccdnb.label import agreement_table, format_confusion, threshold_labels, write_label_stats
from ccdnb.labelme import mask_from_labelme, mask_to_labelme
from ccdnb.simulation import simulate_dataset, simulate_image

# --------------------------------------------------------------------------- thresholds


@pytest.mark.parametrize("seed, shape", [(0, (256, 256)), (7, (64, 64)), (11, (96, 200))])
def test_threshold_labels_equal_truth_on_noiseless_thesis_images(seed, shape):
    sim = simulate_image(preset="thesis", shape=shape, seed=seed, noiseless=True)
    assert {GLOWING, HOT_PIXEL, CLUSTER} <= set(np.unique(sim.label)) or sim.meta["glow"] is None
    np.testing.assert_array_equal(threshold_labels(sim.image, sim.meta), sim.label)


def test_threshold_labels_equal_truth_on_a_noiseless_stack():
    data = simulate_dataset("thesis", 8, 64, seed=4, noiseless=True)
    np.testing.assert_array_equal(threshold_labels(data.images, data.meta), data.labels)


def _meta(**kw):
    meta = dict(pedestal_adu=1000.0, read_noise_adu=10.0, gain_adu_per_e=10.0, dark_current_e=0.0,
                glow_level_adu=500.0, hot_level_adu=2000.0, noiseless=True)
    meta.update(kw)
    return meta


def test_noiseless_windows_are_exact():
    values = np.array([[1000.0, 1009.9, 1010.0, 1499.0, 1500.0, 1501.0, 2999.0, 3000.0, 3500.0]],
                      np.float32)
    expected = [[BACKGROUND, BACKGROUND, CLUSTER, CLUSTER, GLOWING, CLUSTER, CLUSTER, HOT_PIXEL,
                 HOT_PIXEL]]
    np.testing.assert_array_equal(threshold_labels(values, _meta()), expected)


def test_windows_widen_with_read_noise():
    values = np.array([[1025.0, 1031.0, 1469.0, 1471.0, 1529.0, 1531.0, 2969.0, 2971.0]],
                      np.float32)
    expected = [[BACKGROUND, CLUSTER, CLUSTER, GLOWING, GLOWING, CLUSTER, CLUSTER, HOT_PIXEL]]
    np.testing.assert_array_equal(threshold_labels(values, _meta(noiseless=False)), expected)
    wider = threshold_labels(values, _meta(noiseless=False), n_sigma=5.0)
    assert wider[0, 1] == BACKGROUND and wider[0, 2] == GLOWING and wider[0, 6] == HOT_PIXEL


def test_each_image_of_a_stack_uses_its_own_meta_and_missing_levels_label_nothing():
    image = np.array([[1000.0, 1500.0, 3000.0]], np.float32)
    stack = np.stack([image, image + 5000.0, image])
    metas = [_meta(), _meta(pedestal_adu=6000.0),
             _meta(glow_level_adu=None, hot_level_adu=None)]
    labels = threshold_labels(stack, metas)
    np.testing.assert_array_equal(labels[0], [[BACKGROUND, GLOWING, HOT_PIXEL]])
    np.testing.assert_array_equal(labels[1], labels[0])
    np.testing.assert_array_equal(labels[2], [[BACKGROUND, CLUSTER, CLUSTER]])


def test_dark_current_raises_the_base():
    image = np.array([[1050.0, 1059.0, 1060.0]], np.float32)
    labels = threshold_labels(image, _meta(dark_current_e=5.0))  # base 1000 + 5 e * 10 ADU/e
    np.testing.assert_array_equal(labels, [[BACKGROUND, BACKGROUND, CLUSTER]])


def test_threshold_labels_reject_mismatched_meta():
    with pytest.raises(CcdnbInputError):
        threshold_labels(np.zeros((2, 4, 4), np.float32), [_meta()])
    with pytest.raises(CcdnbInputError, match="read_noise_adu"):
        threshold_labels(np.zeros((4, 4), np.float32), {"pedestal_adu": 0.0, "gain_adu_per_e": 1.0})


# --------------------------------------------------------------------------- encodings

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


# --------------------------------------------------------------------------- statistics

def test_class_percentages_and_weights_match_a_hand_computation():
    labels = np.array([[0, 0, 0, 0, 0], [0, 1, 1, 1, 3]])  # counts 6, 3, 0, 1 of 10
    np.testing.assert_allclose(class_percentages(labels), [60.0, 30.0, 0.0, 10.0])
    # w ~ 1/freq: 1/6, 1/3, (absent: 0), 1/1; sum 3/2; scaled to sum 4
    np.testing.assert_allclose(class_weights(labels), [4 / 9, 8 / 9, 0.0, 8 / 3])
    np.testing.assert_allclose(class_weights(np.arange(4).repeat(5)), [1.0, 1.0, 1.0, 1.0])


# --------------------------------------------------------------------------- labelme

def _labelme(shapes, height=8, width=10):
    return {"version": "5.4.1", "flags": {}, "imagePath": "x.fits", "imageData": None,
            "imageHeight": height, "imageWidth": width,
            "shapes": [{"label": label, "points": points, "shape_type": kind, "flags": {}}
                       for label, kind, points in shapes]}


def test_labelme_polygon_and_rectangle_give_the_right_mask(tmp_path):
    data = _labelme([
        ("Cluster", "polygon", [[0.5, 0.5], [3.5, 0.5], [3.5, 2.5], [0.5, 2.5]]),  # cols 1-3, rows 1-2
        ("hot_pixel", "rectangle", [[7, 6], [7, 0]]),                               # col 7, rows 0-6
        ("GLOWING", "rectangle", [[8.0, 7.0], [9.0, 5.0]]),                          # cols 8-9, rows 5-7
        ("hot pixel", "polygon", [[2.5, 1.5], [2.5, 5.5], [3.5, 5.5], [3.5, 1.5]]),  # col 3, rows 2-5
    ])
    expected = np.zeros((8, 10), np.uint8)
    expected[1:3, 1:4] = CLUSTER
    expected[0:7, 7] = HOT_PIXEL
    expected[5:8, 8:10] = GLOWING
    expected[2:6, 3] = HOT_PIXEL  # overlaps the cluster: hot pixel wins
    path = tmp_path / "a.json"
    path.write_text(json.dumps(data))
    np.testing.assert_array_equal(mask_from_labelme(path), expected)
    # the priority rule does not depend on the order of the shapes
    data["shapes"].reverse()
    np.testing.assert_array_equal(mask_from_labelme(data), expected)


def test_labelme_round_trip_of_a_simulated_mask_and_a_mask_with_a_hole():
    label = simulate_image("thesis", 128, seed=2).label
    data = json.loads(json.dumps(mask_to_labelme(label, image_path="sim.fits")))
    assert data["imagePath"] == "sim.fits" and data["imageHeight"] == 128
    assert {s["label"] for s in data["shapes"]} <= {"glowing", "hot pixel", "cluster"}
    np.testing.assert_array_equal(mask_from_labelme(data), label)
    ring = np.zeros((7, 7), np.uint8)
    ring[1:6, 1:6] = CLUSTER
    ring[3, 3] = BACKGROUND
    ring[2, 5] = HOT_PIXEL
    np.testing.assert_array_equal(mask_from_labelme(mask_to_labelme(ring)), ring)


def test_labelme_bad_input_is_one_clear_error(tmp_path):
    with pytest.raises(CcdnbInputError, match="is not a class"):
        mask_from_labelme(_labelme([("galaxy", "polygon", [[0, 0], [1, 0], [1, 1]])]))
    with pytest.raises(CcdnbInputError, match="not supported"):
        mask_from_labelme(_labelme([("cluster", "mask", [[0, 0], [1, 1]])]))
    with pytest.raises(CcdnbInputError, match="image size"):
        mask_from_labelme({"shapes": []})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CcdnbInputError, match="bad.json"):
        mask_from_labelme(bad)


def test_label_stats_file_holds_percentages_and_weights(tmp_path):
    labels = np.array([[0, 0, 0, 0, 0], [0, 1, 1, 1, 3]])
    written = write_label_stats(tmp_path / "data" / "label_stats.json", labels)
    on_disk = json.loads((tmp_path / "data" / "label_stats.json").read_text())
    assert on_disk == written and set(on_disk) == {"class_percent", "class_weights"}
    np.testing.assert_allclose(on_disk["class_weights"], [4 / 9, 8 / 9, 0.0, 8 / 3])
    assert list((tmp_path / "data").iterdir()) == [tmp_path / "data" / "label_stats.json"]


def test_agreement_table_counts_a_hand_made_case():
    truth = np.array([[0, 0, 0, 3, 3, 3, 3, 2]])
    other = np.array([[0, 0, 3, 3, 3, 0, 2, 2]])
    rows = {row["class"]: row for row in agreement_table(truth, other)}
    assert (rows["cluster"]["truth px"], rows["cluster"]["labelled px"]) == (4, 3)
    assert rows["cluster"]["precision"] == pytest.approx(2 / 3)
    assert rows["cluster"]["recall"] == pytest.approx(2 / 4)
    assert rows["cluster"]["f1"] == pytest.approx(2 * 2 / 7)
    assert rows["hot pixel"]["precision"] == pytest.approx(0.5) and rows["hot pixel"]["recall"] == 1.0
    assert np.isnan(rows["glowing"]["recall"])
