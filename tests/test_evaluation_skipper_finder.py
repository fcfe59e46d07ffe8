"""ccdnb.evaluation.skipper_finder: the skipper experiments' cluster finder, in electrons."""

import numpy as np
import pytest

from ccdnb.classes import BACKGROUND, CLUSTER
from ccdnb.evaluation.skipper_finder import (
    calibrate_electrons,
    classify_skipper,
    field_level,
    footprint_chance,
)
from ccdnb.objects.groups import label_groups

SHAPE = (256, 256)


def skipper_image(rate, *, noise_e=0.2, gain=2.0, pedestal=500.0, seed=0, extra=None):
    """A skipper image in ADU: a Poisson single-electron field plus ``extra`` electrons."""
    rng = np.random.default_rng(seed)
    electrons = rng.poisson(rate, SHAPE).astype(np.float64)
    if extra is not None:
        electrons += extra
    return pedestal + gain * (electrons + noise_e * rng.standard_normal(SHAPE))


def deposits():
    """A 2-electron pair (one electron in each of two neighbours), a 10-electron two-pixel
    deposit and a 30-electron blob."""
    extra = np.zeros(SHAPE)
    extra[100, 100] = extra[100, 101] = 1
    extra[30, 30], extra[30, 31] = 6, 4
    rows, cols = np.mgrid[:SHAPE[0], :SHAPE[1]]
    blob = np.exp(-((rows - 200) ** 2 + (cols - 180) ** 2) / (2 * 0.8 ** 2))
    extra += np.round(30 * blob / blob.sum())
    return extra


def test_field_level_is_the_poisson_chance_level():
    # P(N >= 1) = 1e-4 below 1e-3; at 0.5 e-/pixel P(N >= 5) = 1.7e-4 < 1e-3 < P(N >= 4)
    assert field_level(np.array([1e-4, 0.5]), 1e-3).tolist() == [1, 5]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_finds_a_two_electron_pair_and_a_blob_on_a_sparse_field(seed):
    image = skipper_image(1e-4, noise_e=0.12, seed=seed, extra=deposits())
    mask = classify_skipper(image, gain=2.0)
    assert mask[100, 100] == CLUSTER and mask[100, 101] == CLUSTER
    assert mask[30, 30] == CLUSTER and mask[200, 180] == CLUSTER
    assert label_groups(mask == CLUSTER)[1] == 3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_finds_a_ten_electron_pair_and_a_blob_on_a_half_electron_field(seed):
    # The gain comes from the single-electron peaks of the field itself.
    image = skipper_image(0.5, seed=seed, extra=deposits())
    mask = classify_skipper(image)
    assert mask[30, 30] == CLUSTER and mask[200, 180] == CLUSTER
    # At 0.5 e-/pixel one electron in each of two neighbours is what the field
    # makes everywhere: the finder does not claim it.
    assert mask[100, 100] == BACKGROUND


@pytest.mark.parametrize("rate", [0.5, 1.7])
def test_a_pure_field_makes_few_false_clusters(rate):
    found = [label_groups(classify_skipper(skipper_image(rate, seed=seed)) == CLUSTER)[1]
             for seed in range(3)]
    # 0.2 Mpix; a one-electron neighbour threshold would join the field into one group
    assert sum(found) <= 4


def test_invariant_to_pedestal_and_gain():
    image = skipper_image(0.5, seed=3, extra=deposits())
    reference = classify_skipper(image)
    assert np.count_nonzero(reference == CLUSTER) > 0
    for scale, pedestal in ((0.35, -300.0), (2.25, 19000.0)):
        scaled = scale * image + pedestal
        assert np.array_equal(classify_skipper(scaled), reference)
        assert calibrate_electrons(scaled).gain_adu == pytest.approx(2.0 * scale, rel=0.02)


def test_calibration_counts_electrons_with_a_given_gain():
    extra = np.zeros(SHAPE)
    extra[10, 10] = 7
    calibrated = calibrate_electrons(skipper_image(0.01, noise_e=0.1, extra=extra), gain=2.0)
    assert calibrated.electrons[10, 10] == 7
    assert calibrated.gain_source == "given"
    assert calibrated.field_rate.mean() == pytest.approx(0.01, abs=0.005)


def test_no_comb_and_no_gain_is_an_error_and_options_are_checked():
    noise_only = np.random.default_rng(0).normal(100.0, 3.0, SHAPE)
    with pytest.raises(ValueError, match="give its gain"):
        classify_skipper(noise_only)
    with pytest.raises(TypeError, match="seed_sigma"):
        classify_skipper(noise_only, gain=1.0, seed_sigma=3.0)


def test_a_lone_pixel_is_kept_only_above_the_fields_chance_level():
    extra = np.zeros(SHAPE)
    extra[60, 60], extra[160, 160] = 6, 12  # at 0.5 e-/pixel, 6 is 1 pixel in 7,000
    mask = classify_skipper(skipper_image(0.5, seed=4, extra=extra))
    assert mask[160, 160] == CLUSTER
    assert mask[60, 60] == BACKGROUND


@pytest.mark.parametrize("seed", range(6))
def test_footprint_chance_tells_what_stands_out_of_the_field(seed):
    """At 5 sigma over a 1 e-/pixel field: ten electrons spread one per pixel over 10 of a
    footprint's 40 pixels are what the field makes by itself; 80 spread over the 40, and
    12 in one pixel, stand out; a footprint with no pixel is never seen."""
    from scipy.special import ndtr

    rng = np.random.default_rng(seed)
    extra = np.zeros(SHAPE)
    instances = np.zeros(SHAPE, np.int32)
    instances[50:55, 50:58] = 1                       # 40 pixels
    spread = np.zeros(40)
    spread[rng.choice(40, 10, replace=False)] = 1
    extra[50:55, 50:58] = spread.reshape(5, 8)
    instances[150:155, 50:58] = 2
    extra[150:155, 50:58] = 2                         # 80 electrons over 40 pixels
    instances[100, 100] = 3
    extra[100, 100] = 12
    image = skipper_image(1.0, seed=seed, extra=extra)
    chance = footprint_chance(calibrate_electrons(image, gain=2.0), instances, [1, 2, 3, 4])
    five_sigma = ndtr(-5.0)
    assert chance[0] > five_sigma
    assert chance[1] < five_sigma and chance[2] < five_sigma
    assert chance[3] == 1.0
