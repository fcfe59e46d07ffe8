"""Threshold labelling, its agreement with the truth, and the label statistics file."""

import json

import numpy as np
import pytest

from ccdnb.classes import BACKGROUND, CLUSTER, GLOWING, HOT_PIXEL
from ccdnb.errors import CcdnbInputError
from ccdnb.label import agreement_table, format_confusion, threshold_labels, write_label_stats
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


# --------------------------------------------------------------------------- statistics


# --------------------------------------------------------------------------- labelme


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
    assert rows["hot pixel"]["precision"] == pytest.approx(0.5)
    assert rows["hot pixel"]["recall"] == 1.0
    assert np.isnan(rows["glowing"]["recall"])


def test_format_confusion_prints_rows_in_percent_of_the_true_class():
    truth = np.array([[BACKGROUND, BACKGROUND, BACKGROUND, CLUSTER]])
    other = np.array([[BACKGROUND, BACKGROUND, CLUSTER, CLUSTER]])
    lines = format_confusion(truth, other, title="true / other").splitlines()
    assert len(lines) == 5 and lines[0].strip().startswith("true / other")
    assert lines[1].split() == ["background", "66.67%", "0.00%", "0.00%", "33.33%"]
    assert lines[2].split()[-4:] == ["0.00%"] * 4          # no true glowing pixel
    assert lines[4].split() == ["cluster", "0.00%", "0.00%", "0.00%", "100.00%"]
