"""The invariance test: transforms of the detector settings and their merged table."""

import numpy as np
import pytest
from scenes import NOISE, PEDESTAL, gaussian_blob, noise_image

from ccdnb.classes import CLUSTER
from ccdnb.evaluation.baseline import classify_baseline
from ccdnb.evaluation.invariance import invariance_table, invariance_test, transform_image
from ccdnb.normalize import normalize_image


def test_baseline_is_invariant_to_pedestal_and_gain_not_to_inversion():
    image = noise_image(seed=5) + gaussian_blob((128, 128), 64, 64, 60.0, 2.0)
    labels = np.zeros(image.shape, np.uint8)
    labels[gaussian_blob((128, 128), 64, 64, 60.0, 2.0) >= NOISE] = CLUSTER
    rows = invariance_test(classify_baseline, image[None], labels[None], seed=7)
    by_name = {row["transform"]: row for row in rows}
    assert by_name["none"]["cluster_f1"] > 0.8
    assert by_name["pedestal"]["changed_fraction"] < 1e-3
    assert by_name["gain"]["changed_fraction"] < 1e-3
    assert by_name["inverted"]["cluster_f1"] < 0.1      # negative signal is no cluster
    assert 0.0 < by_name["noise"]["changed_fraction"] < 0.05


def test_transforms_change_what_they_say():
    image = noise_image(seed=6)
    assert np.allclose(transform_image(image, "pedestal", pedestal_shift_adu=-2000.0),
                       image - 2000.0, atol=1e-2)
    inverted = transform_image(image, "inverted")
    # mirrored about the estimated row pedestal, which is good to a fraction of the
    # noise: each row's level comes from its own zero-charge peak (about 1.2 sigma /
    # sqrt(row length) of scatter), and the sum holds twice that scatter
    assert np.allclose(inverted + image, 2 * PEDESTAL, atol=0.75 * NOISE)
    assert abs(np.mean(inverted + image) - 2 * PEDESTAL) < 0.05 * NOISE
    noisier = transform_image(image, "noise", seed=1, noise_factor=3.0)
    assert np.std(noisier) == pytest.approx(3 * NOISE, rel=0.05)
    assert np.array_equal(noisier, transform_image(image, "noise", seed=1, noise_factor=3.0))
    gained = transform_image(image, "gain", gain_factor=4.0)
    assert np.allclose(normalize_image(gained), normalize_image(image), atol=1e-3)
    with pytest.raises(ValueError, match="unknown transform"):
        transform_image(image, "rotate")


def test_invariance_table_merges_predictors_row_by_row():
    a = [{"transform": "none", "changed_fraction": 0.0, "cluster_f1": 0.9},
         {"transform": "gain", "changed_fraction": 0.01, "cluster_f1": 0.8}]
    b = [{"transform": "none", "changed_fraction": 0.0, "cluster_f1": 0.7},
         {"transform": "gain", "changed_fraction": 0.02, "cluster_f1": 0.6}]
    table = invariance_table({"U-Net": a, "baseline": b})
    assert table[1] == {"transform": "gain", "U-Net changed": 0.01, "U-Net cluster F1": 0.8,
                        "baseline changed": 0.02, "baseline cluster F1": 0.6}
    assert invariance_table({}) == []
    with pytest.raises(ValueError, match="other transforms"):
        invariance_table({"U-Net": a, "baseline": b[:1]})
