"""rules.serial_hits: a one-row "hot" group whose charge is not one level is a serial hit."""

import numpy as np
import pytest

from ccdnb.classes import CLUSTER, HOT_PIXEL
from ccdnb.normalize import ASINH_SOFTENING
from ccdnb.predict.rules.serial_hits import name_serial_hits, scatter_chance

SHAPE = (64, 128)


def network_units(z):
    return np.arcsinh(z / ASINH_SOFTENING).astype(np.float32)


def streaks(rng, *, level, hit_total, length=20):
    """Read-noise significance of a frame with a flat hot streak (row 10), the same streak
    over a glow slope (row 20), a serial hit of gamma-shared charge (row 40) and a
    vertical hot segment (column 100); the mask calls all of them hot."""
    z = rng.normal(0.0, 1.0, SHAPE)
    mask = np.zeros(SHAPE, np.uint8)
    z[10, 10:10 + length] += level
    z[20, 10:10 + length] += level + np.linspace(0.0, 30.0, length)
    share = rng.gamma(2.0, size=length)
    z[40, 10:10 + length] += hit_total * share / share.sum()
    z[30:50, 100] += level
    for row in (10, 20, 40):
        mask[row, 10:10 + length] = HOT_PIXEL
    mask[30:50, 100] = HOT_PIXEL
    return z, mask


@pytest.mark.parametrize("seed", range(5))
def test_a_scattered_one_row_group_is_a_cluster_and_defects_stay_hot(seed):
    rng = np.random.default_rng(seed)
    z, mask = streaks(rng, level=40.0, hit_total=1500.0)
    renamed = name_serial_hits(mask, network_units(z))
    assert np.all(mask[40, 10:30] == CLUSTER) and renamed == 20
    assert np.all(mask[10, 10:30] == HOT_PIXEL)   # one level
    assert np.all(mask[20, 10:30] == HOT_PIXEL)   # one level on a slope
    assert np.all(mask[30:50, 100] == HOT_PIXEL)  # not one row


@pytest.mark.parametrize("seed", range(5))
def test_in_electrons_a_poisson_defect_stays_hot_and_a_hit_does_not(seed):
    """On a skipper frame (0.15 e- noise) a hot streak's charge is Poisson: many read-noise
    sigma of scatter, but one level; a serial hit of 600 e- over 20 pixels is not."""
    rng = np.random.default_rng(seed)
    electrons = rng.poisson(0.5, SHAPE) + rng.normal(0.0, 0.15, SHAPE)
    mask = np.zeros(SHAPE, np.uint8)
    electrons[10, 10:40] += rng.poisson(25.0, 30)
    share = rng.gamma(2.0, size=20)
    electrons[40, 10:30] += rng.poisson(600.0 * share / share.sum())
    mask[10, 10:40] = mask[40, 10:30] = HOT_PIXEL
    z = electrons / 0.15
    name_serial_hits(mask, network_units(z), electrons.astype(np.float32), noise_e=0.15)
    assert np.all(mask[10, 10:40] == HOT_PIXEL)
    assert np.all(mask[40, 10:30] == CLUSTER)


@pytest.mark.parametrize("seed", range(5))
def test_a_level_with_a_few_foreign_pixels_stays_hot(seed):
    """The mask took a background neighbour into one streak, and a bright hit crosses
    another: each is still one level."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.0, SHAPE)
    mask = np.zeros(SHAPE, np.uint8)
    z[10, 11:40] += 1500.0 + rng.normal(0.0, 20.0, 29)   # the simulator's shot noise
    z[50, 10:40] += 1500.0 + rng.normal(0.0, 20.0, 30)
    z[50, 20:22] += 800.0
    mask[10, 10:40] = mask[50, 10:40] = HOT_PIXEL      # (10, 10) holds no charge
    assert name_serial_hits(mask, network_units(z)) == 0


def test_short_groups_and_faint_hits_are_left_to_the_network():
    rng = np.random.default_rng(3)
    z, mask = streaks(rng, level=40.0, hit_total=1500.0, length=3)
    before = mask.copy()
    assert name_serial_hits(mask, network_units(z)) == 0
    assert np.array_equal(mask, before)


def test_scatter_chance_is_uniform_for_one_level():
    """For a level with the noise it is said to have, the chance is uniform on [0, 1]:
    about 1 % of draws fall under 0.01."""
    rng = np.random.default_rng(0)
    four = lambda level: np.full_like(level, 4.0)  # noqa: E731
    chances = [scatter_chance(5.0 + rng.normal(0.0, 2.0, 15), four) for _ in range(2000)]
    assert 0.005 < np.mean(np.asarray(chances) < 0.01) < 0.02
