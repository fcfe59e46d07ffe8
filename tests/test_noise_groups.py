"""A predicted group holding no charge is background; a faint real one is kept."""

import numpy as np

from ccdnb.classes import BACKGROUND, CLUSTER, HOT_PIXEL
from ccdnb.normalize import network_input
from ccdnb.predict.rules.noise_groups import release_noise_groups


def noise(shape=(64, 64), seed=3):
    return np.random.default_rng(seed).normal(0.0, 1.0, shape)


def test_a_group_drawn_on_read_noise_is_released():
    z = noise()
    z[10:12, 10:12] = [[0.5, -0.3], [0.8, 0.1]]  # four pixels, no charge
    z[40, 40] = -1.0
    mask = np.zeros(z.shape, np.uint8)
    mask[10:12, 10:12] = CLUSTER
    mask[40, 40] = HOT_PIXEL
    released = release_noise_groups(mask, network_input(z))
    assert released == 5
    assert np.all(mask == BACKGROUND)


def test_faint_clusters_and_bright_pixels_are_kept():
    z = noise()
    # a faint cluster, 4 sigma at its peak with a 2-sigma and a 1-sigma neighbour
    z[20, 20:23] = [4.0, 2.0, 1.0]
    # a diffuse cluster of 25 pixels at 1 sigma each: 5 sigma in all
    z[40:45, 40:45] = 1.0
    z[5, 50] = 30.0  # a hot pixel
    mask = np.zeros(z.shape, np.uint8)
    mask[20, 20:23] = CLUSTER
    mask[40:45, 40:45] = CLUSTER
    mask[5, 50] = HOT_PIXEL
    before = mask.copy()
    assert release_noise_groups(mask, network_input(z)) == 0
    assert np.array_equal(mask, before)


def test_each_group_is_judged_alone():
    z = noise()
    z[30, 30:33] = [8.0, 3.0, 2.0]
    z[50, 10:12] = [0.2, -0.4]
    mask = np.zeros(z.shape, np.uint8)
    mask[30, 30:33] = CLUSTER
    mask[50, 10:12] = CLUSTER
    release_noise_groups(mask, network_input(z))
    assert np.all(mask[30, 30:33] == CLUSTER)
    assert np.all(mask[50, 10:12] == BACKGROUND)
