"""Gain from the image itself: skipper single-electron peaks."""

import numpy as np
import pytest

from ccdnb.calibration import fit_skipper_gain
from ccdnb.normalize import estimate_background
from ccdnb.simulation import simulate_image


def comb_image(gain, noise_e, rate, shape=(256, 256), pedestal=1000.0, seed=0):
    """Poisson electrons, Gaussian read noise: the plain skipper histogram."""
    rng = np.random.default_rng(seed)
    electrons = rng.poisson(rate, shape)
    return (pedestal + gain * electrons + rng.normal(0.0, noise_e * gain, shape)).astype(np.float32)


@pytest.mark.parametrize("gain, noise_e, rate", [
    (0.5, 0.15, 0.3),      # gain below one ADU
    (1.35, 0.2, 1.0),      # a DAMIC-M average image
    (30.0, 0.3, 0.1),      # noisy end of the range
    (200.0, 0.1, 0.05),    # high gain, few electrons
    (5.0, 0.2, 3.0),       # dense: the zero-electron peak holds 5 % of the pixels
])
def test_gain_of_a_plain_skipper_histogram(gain, noise_e, rate):
    image = comb_image(gain, noise_e, rate)
    fit = fit_skipper_gain(image)
    assert fit is not None
    assert fit.method == "skipper peaks"
    assert fit.gain == pytest.approx(gain, rel=0.01)
    assert abs(fit.gain - gain) < 5 * fit.gain_error + 1e-3 * gain
    assert fit.noise_e == pytest.approx(noise_e, rel=0.1)
    assert fit.electrons_per_pixel == pytest.approx(rate, rel=0.1)
    # The zero-electron peak, even where the pedestal estimate locked onto a higher one.
    pedestal = np.median(estimate_background(image).pedestal) + fit.pedestal_offset
    assert pedestal == pytest.approx(1000.0, abs=0.1 * gain)
    assert fit.n_peaks >= 2


@pytest.mark.parametrize("seed, gain, noise_e, dark", [
    (1, 1.35, 0.2, 0.5), (2, 40.0, 0.15, 0.2), (3, 8.0, 0.28, 1.0)])
def test_gain_of_simulated_skipper_frames(seed, gain, noise_e, dark):
    """Objects, glow, hot pixels, row drift and baseline steps do not pull the gain."""
    sim = simulate_image("skipper", (256, 256), seed, gain_adu_per_e=gain,
                         read_noise_adu=noise_e * gain, dark_current_e=dark,
                         row_drift=True, row_drift_adu=noise_e * gain,
                         baseline_step_probability=1.0)
    fit = fit_skipper_gain(sim.image)
    assert fit is not None
    assert fit.gain == pytest.approx(gain, rel=0.01)


def test_scale_of_the_adu_does_not_matter():
    image = comb_image(2.0, 0.2, 0.5, seed=4)
    one, other = fit_skipper_gain(image), fit_skipper_gain(7.0 * image - 300.0)
    assert other.gain == pytest.approx(7.0 * one.gain, rel=1e-3)
    assert other.noise_e == pytest.approx(one.noise_e, rel=1e-3)


def test_no_gain_without_separate_peaks():
    # a conventional CCD: 2 electrons of noise
    assert fit_skipper_gain(comb_image(10.0, 2.0, 0.5, seed=5)) is None
    # borderline: 0.45 electrons, the 1-electron peak is a shoulder
    assert fit_skipper_gain(comb_image(10.0, 0.45, 0.2, seed=6)) is None


def test_no_gain_without_charge():
    assert fit_skipper_gain(comb_image(10.0, 0.15, 0.0, seed=7)) is None
    # Clusters on a conventional frame are no comb either.
    sim = simulate_image("clusters-only", (256, 256), 8)
    assert fit_skipper_gain(sim.image) is None


def test_gain_from_the_fe55_lines():
    from ccdnb.calibration import fit_fe55_gain

    rng = np.random.default_rng(9)
    gain, kalpha = 7.3, 5900.0 / 3.77
    charges = np.concatenate([rng.normal(kalpha, 0.025 * kalpha, 250),
                              rng.normal(1.1 * kalpha, 0.025 * kalpha, 40),
                              np.exp(rng.uniform(np.log(50), np.log(5e4), 300))]) * gain
    fit = fit_fe55_gain(charges)
    assert fit is not None and fit.method == "Fe-55 lines"
    assert fit.gain == pytest.approx(gain, rel=0.01)
    # A smooth spectrum has no lines.
    assert fit_fe55_gain(np.exp(rng.uniform(np.log(50), np.log(5e4), 2000))) is None
