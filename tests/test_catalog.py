"""The cluster catalog: 8-connected clusters, charge above the pedestal, centroids."""

import numpy as np
import pytest

from ccdnb.catalog import CATALOG_COLUMNS, build_catalog, cluster_pixels, measure_clusters
from ccdnb.classes import CLUSTER, HOT_PIXEL, label_groups
from ccdnb.fitsio import FitsImage


def _flat_image(shape=(60, 80), pedestal=500.0):
    rng = np.random.default_rng(0)
    return pedestal + rng.normal(0.0, 0.01, shape)


def test_clusters_are_8_connected_and_measured_above_the_pedestal():
    image, mask = _flat_image(), np.zeros((60, 80), np.uint8)
    # A diagonal two-pixel track: one cluster under 8-connectivity.
    for (row, col), charge in {(10, 10): 30.0, (11, 11): 10.0}.items():
        image[row, col] += charge
        mask[row, col] = CLUSTER
    image[40:43, 50] += 7.0  # a three-pixel vertical cluster
    mask[40:43, 50] = CLUSTER
    mask[5, 70] = HOT_PIXEL  # other classes are not clusters
    found = measure_clusters(image, mask)
    np.testing.assert_array_equal(found["npix"], [2, 3])
    np.testing.assert_allclose(found["charge_adu"], [40.0, 21.0], atol=0.1)
    np.testing.assert_allclose(found["peak_adu"], [30.0, 7.0], atol=0.1)
    np.testing.assert_allclose(found["x"], [10.25, 50.0], atol=0.01)
    np.testing.assert_allclose(found["y"], [10.25, 41.0], atol=0.01)


def test_clusters_touching_the_border_are_flagged_as_truncated():
    image, mask = _flat_image(), np.zeros((60, 80), np.uint8)
    for rows, cols in ((slice(0, 2), slice(30, 32)), (slice(20, 22), slice(78, 80)),
                       (slice(58, 60), slice(5, 7)), (slice(30, 32), slice(0, 1)),
                       (slice(30, 32), slice(40, 42))):
        image[rows, cols] += 10.0
        mask[rows, cols] = CLUSTER
    found = measure_clusters(image, mask)
    order = np.lexsort((np.round(found["x"]), np.round(found["y"])))  # by row, then column
    np.testing.assert_array_equal(found["edge"][order], [True, True, True, False, True])


def test_nan_pixels_count_no_charge_and_empty_masks_give_empty_catalogs():
    image, mask = _flat_image(), np.zeros((60, 80), np.uint8)
    image[20, 20:23] += [5.0, np.nan, 5.0]
    mask[20, 20:23] = CLUSTER
    found = measure_clusters(image, mask)
    np.testing.assert_allclose(found["charge_adu"], [10.0], atol=0.1)
    images = [FitsImage(1, "A", None, image.astype(np.float32), None, 1),
              FitsImage(2, "B", None, image.astype(np.float32), None, 1)]
    table = build_catalog(images, {1: mask, 2: np.zeros_like(mask)})
    assert table.colnames == list(CATALOG_COLUMNS) and len(table) == 1
    assert table["extname"][0] == "A" and table["hdu"][0] == 1
    assert len(build_catalog(images[1:], {2: np.zeros_like(mask)})) == 0


def test_shape_energy_and_kind_columns():
    image, mask = _flat_image((80, 120)), np.zeros((80, 120), np.uint8)
    image[30, 10:30] += 50.0  # charge along one row: a serial-register hit
    mask[30, 10:30] = CLUSTER
    for step in range(40):  # a straight diagonal muon 40 pixels long through 675 um of
        # silicon: minimum-ionising (1900 e- per column at gain 10, 80 e-/um over its
        # 950 um path), its charge diffused more the deeper it was freed (sigma 0.25 ->
        # 1.25 px from the front surface to the back)
        sigma, centre = 0.25 + step / 39, 40 + step // 2
        spread = np.exp(-0.5 * (np.arange(-3, 4) / sigma) ** 2)
        charge = 19000.0 * spread / spread.sum()
        image[centre - 3:centre + 4, 60 + step] += charge
        mask[centre - 3:centre + 4, 60 + step] = np.where(charge > 30.0, CLUSTER, 0)
    image[10, 100] += 20.0
    mask[10, 100] = CLUSTER
    images = [FitsImage(1, "A", None, image.astype(np.float32), None, 0)]
    table = build_catalog(images, {1: mask}, gain=10.0)
    dot, serial, track = table  # in raster order of their first pixel
    assert serial["kind"] == "serial-register" and serial["rows"] == 1
    np.testing.assert_allclose([serial["length"], serial["width"]], [20.0, 1.0], rtol=1e-3)
    assert track["kind"] == "muon" and track["elongation"] > 5
    assert abs(track["length"] - np.hypot(40, 20)) < 2.0
    np.testing.assert_allclose(dot["electrons"], 2.0, rtol=1e-3)
    np.testing.assert_allclose(dot["energy_kev"], 2.0 * 3.77e-3, rtol=1e-3)
    assert dot["kind"] == "low-energy" and (dot["x_peak"], dot["y_peak"]) == (100, 10)
    assert set(table["gain_method"]) == {"user"}
    # Without a gain the energies stay unknown and the catalog says so.
    table = build_catalog(images, {1: mask})
    assert np.isnan(table["energy_kev"]).all() and set(table["gain_method"]) == {"none"}


@pytest.mark.parametrize("seed", range(4))
def test_clusters_are_numbered_as_ndimage_numbers_them(seed):
    """Found among the cluster pixels alone, the groups keep scipy.ndimage.label's numbers
    (raster order of their first pixel), so catalogs keep their row order."""
    rng = np.random.default_rng(seed)
    mask = (rng.integers(0, 4, (70, 90)) * (rng.random((70, 90)) < 0.45)).astype(np.uint8)
    labels, n, (rows, cols) = cluster_pixels(mask)
    expected, m = label_groups(mask == CLUSTER)
    assert n == m > 10
    assert np.array_equal(labels, expected)
    assert all(np.array_equal(a, b) for a, b in zip((rows, cols), np.nonzero(expected)))
    empty = cluster_pixels(np.zeros((5, 5), np.uint8))
    assert empty[1] == 0 and not empty[0].any()
