"""The classical baseline on constructed images, and the invariance test."""

import numpy as np
from scenes import NOISE, gaussian_blob, noise_image

from ccdnb.classes import CLUSTER, GLOWING, HOT_PIXEL
from ccdnb.evaluation.baseline import classify_baseline


def test_pure_noise_gives_background():
    mask = classify_baseline(noise_image(seed=1))
    counts = np.bincount(mask.ravel(), minlength=4)
    assert counts[GLOWING] == 0 and counts[HOT_PIXEL] == 0
    # 4-sigma seeds in white noise: about 3e-5 of the pixels, a handful at most
    assert counts[CLUSTER] <= 5


def test_bright_isolated_cluster_is_found():
    image = noise_image(seed=2) + gaussian_blob((128, 128), 60, 70, 40.0, 1.5)
    mask = classify_baseline(image)
    assert mask[60, 70] == CLUSTER
    assert np.all(mask[58:63, 68:73] == CLUSTER)
    assert np.count_nonzero(mask[:, :50] == CLUSTER) <= 2


def test_hot_column_is_flagged_and_not_called_a_cluster():
    image = noise_image(seed=3)
    image[:, 40] += 3.0 * NOISE
    mask = classify_baseline(image)
    assert np.mean(mask[:, 40] == HOT_PIXEL) > 0.9
    assert np.count_nonzero(mask[:, 38:43] == CLUSTER) <= 2
    assert np.count_nonzero(mask == HOT_PIXEL) < 1.2 * 128


def test_short_one_pixel_segment_is_hot_and_edge_glow_is_glowing():
    shape = (128, 128)
    image = noise_image(shape, seed=4)
    image[20:32, 90] += 30.0 * NOISE                              # vertical segment
    cols = np.arange(shape[1])
    image += (4.0 * NOISE * np.exp(-cols / 12.0))[None, :]        # glow from the left edge
    mask = classify_baseline(image)
    assert np.all(mask[20:32, 90] == HOT_PIXEL)
    assert np.mean(mask[:, :8] == GLOWING) > 0.9
    assert np.mean(mask[:, 64:] == GLOWING) == 0.0


def test_segment_touched_by_a_cluster_stays_a_hot_pixel():
    shape = (128, 128)
    image = noise_image(shape, seed=8)
    image[30:60, 50] += 30.0 * NOISE
    image += gaussian_blob(shape, 45, 53, 40.0, 1.5)          # a cluster against the segment
    mask = classify_baseline(image)
    # beside the cluster a few segment pixels may go to the cluster; most stay hot
    assert np.mean(mask[30:60, 50] == HOT_PIXEL) > 0.75
    assert np.all(mask[30:38, 50] == HOT_PIXEL) and np.all(mask[52:60, 50] == HOT_PIXEL)
    assert mask[45, 53] == CLUSTER
