"""The monitor's second pass measures only what settling changes: the same row as measuring
the settled mask whole (``ccdnb.monitoring.frame.settled_statistics``)."""

import math

import numpy as np
import pytest
from astropy.io import fits

from ccdnb.classes import CLUSTER, GLOWING, HOT_PIXEL
from ccdnb.defects import settle_with_defects
from ccdnb.monitoring.frame import amplifier_statistics, settled_statistics
from ccdnb.normalize import Background


def _same(a, b) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float)
                      and math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("seed", range(8))
def test_settled_rows_equal_rows_measured_whole(seed):
    rng = np.random.default_rng(seed)
    height, width = rng.integers(20, 120, size=2)
    pedestal = rng.normal(1000, 5, height)
    image = (pedestal[:, None] + rng.normal(0, 3, (height, width))).astype(np.float32)
    classes = np.zeros((height, width), np.uint8)
    classes[rng.random((height, width)) < 0.03] = HOT_PIXEL
    classes[rng.random((height, width)) < 0.05] = CLUSTER
    classes[:, :rng.integers(0, 8)] = GLOWING
    if seed % 2:
        classes[:, int(rng.integers(0, width))] = HOT_PIXEL  # a hot column
        image[rng.random((height, width)) < 0.01] = np.nan
    image[classes == CLUSTER] += rng.uniform(10, 500, (classes == CLUSTER).sum())
    header = fits.Header({"GAIN": 7.5, "EXPTIME": 600.0} if seed % 3 else {})
    background = Background(pedestal, 3.0)
    first = amplifier_statistics(image, classes, background, header=header)
    settled = settle_with_defects(classes, rng.random((height, width)) < 0.02)
    assert (settled != classes).any()
    how = "settled by the run's defect map (5 frames)"
    fast = settled_statistics(first, image, settled, pedestal, how)
    whole = amplifier_statistics(image, settled, background, header=header, masks_method=how)
    whole["clusters_single_frame"] = first["clusters"]
    assert fast.keys() == whole.keys()
    assert all(_same(fast[k], whole[k]) for k in whole), \
        {k: (fast[k], whole[k]) for k in whole if not _same(fast[k], whole[k])}
