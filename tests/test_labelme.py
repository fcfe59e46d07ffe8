"""labelme annotations to and from class masks."""

import json

import numpy as np
import pytest

from ccdnb.classes import BACKGROUND, CLUSTER, GLOWING, HOT_PIXEL
from ccdnb.errors import CcdnbInputError
from ccdnb.io.labelme import mask_from_labelme, mask_to_labelme
from ccdnb.simulation import simulate_image


def _labelme(shapes, height=8, width=10):
    return {"version": "5.4.1", "flags": {}, "imagePath": "x.fits", "imageData": None,
            "imageHeight": height, "imageWidth": width,
            "shapes": [{"label": label, "points": points, "shape_type": kind, "flags": {}}
                       for label, kind, points in shapes]}


def test_labelme_polygon_and_rectangle_give_the_right_mask(tmp_path):
    data = _labelme([
        ("Cluster", "polygon", [[0.5, 0.5], [3.5, 0.5], [3.5, 2.5], [0.5, 2.5]]),    # x 1-3, y 1-2
        ("hot_pixel", "rectangle", [[7, 6], [7, 0]]),                                # x 7, y 0-6
        ("GLOWING", "rectangle", [[8.0, 7.0], [9.0, 5.0]]),                          # x 8-9, y 5-7
        ("hot pixel", "polygon", [[2.5, 1.5], [2.5, 5.5], [3.5, 5.5], [3.5, 1.5]]),  # x 3, y 2-5
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
