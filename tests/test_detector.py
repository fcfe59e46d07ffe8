"""Detector changes: pedestal, gain, inversion, extra noise, and notebook 03's variants."""

import numpy as np
import pytest

from ccdnb.detector import (
    add_read_noise,
    detector_variants,
    invert_about_pedestal,
    normalisation_differences,
    scale_gain,
    shift_pedestal,
)

PEDESTAL, NOISE = 1200.0, 5.0


def scene(seed=0, shape=(96, 96)):
    rng = np.random.default_rng(seed)
    image = PEDESTAL + NOISE * rng.standard_normal(shape)
    image[40:43, 50:53] += 60.0 * NOISE
    return image.astype(np.float32)


def test_changes_act_about_the_given_pedestal():
    image = scene()
    assert np.array_equal(shift_pedestal(image, 10.0), image + 10.0)
    assert np.allclose(scale_gain(image, 2.0, PEDESTAL), PEDESTAL + 2.0 * (image - PEDESTAL))
    assert np.array_equal(scale_gain(image, 3.0, 0.0), 3.0 * image)
    assert np.allclose(invert_about_pedestal(image, PEDESTAL), 2 * PEDESTAL - image)


def test_changes_estimate_each_row_pedestal_when_none_is_given():
    image = scene(1)
    inverted = invert_about_pedestal(image)
    assert inverted.dtype == np.float32
    assert abs(np.median(inverted) - PEDESTAL) < 0.2 * NOISE
    assert inverted[41, 51] < PEDESTAL - 40 * NOISE          # the signal became negative
    gained = scale_gain(image, 4.0)
    assert np.std(gained[:30]) == pytest.approx(4 * NOISE, rel=0.1)


def test_extra_read_noise_is_seeded_and_keeps_the_float_type():
    image = scene(2)
    a = add_read_noise(image, 2 * NOISE, np.random.default_rng(3))
    b = add_read_noise(image, 2 * NOISE, np.random.default_rng(3))
    assert a.dtype == np.float32 and np.array_equal(a, b)
    assert np.std(a[:30] - image[:30]) == pytest.approx(2 * NOISE, rel=0.1)


def test_detector_variants_normalise_to_the_same_input():
    variants = detector_variants(scene(4), settings=[(20000.0, 40.0), (-300.0, 0.05)],
                                 drift_sigma=30.0)
    assert len(variants) == 4 and variants[0][0].startswith("as simulated")
    assert all(image.dtype == np.float32 and image.shape == (96, 96) for _, image in variants)
    assert np.median(variants[1][1]) == pytest.approx(20000.0, abs=40 * NOISE)
    rows = normalisation_differences(variants)
    assert [row["title"] for row in rows] == [t.replace("\n", " ") for t, _ in variants[1:]]
    assert all(row["mean"] < 0.05 for row in rows)
    assert len(detector_variants(scene(4), settings=(), drift_sigma=0)) == 1
