"""Normalisation: independent of pedestal, gain and noise; keeps the classes' signals."""

import warnings

import numpy as np
import pytest

from ccdnb.normalize import estimate_background, normalize_image


def scene_electrons(shape=(96, 128), seed=0):
    """Noiseless signal (electrons) with a hot column, a hot streak, a glow band, a cluster."""
    signal = np.zeros(shape)
    signal[:, 40] = 5e4                           # saturated hot column
    signal[30, 10:] += 200.0                      # full-ish horizontal streak
    signal[:, :6] += np.linspace(20, 2, 6)        # glow band at the left edge
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    signal += 30 * np.exp(-((yy - 60) ** 2 + (xx - 90) ** 2) / 4.0)  # diffuse cluster
    noise = np.random.default_rng(seed).normal(size=shape)
    return signal, noise


def detector_image(signal, noise, *, pedestal, gain, read_noise_e=1.0, drift=None):
    """ADU as a detector writes them: pedestal (+ row drift) + gain * (signal + noise)."""
    image = pedestal + gain * (signal + read_noise_e * noise)
    if drift is not None:
        image = image + drift[:, None]
    return image.astype(np.float32)


def test_same_input_for_other_pedestal_gain_and_noise_scale():
    signal, noise = scene_electrons()
    reference = normalize_image(detector_image(signal, noise, pedestal=1000.0, gain=1.0))
    for pedestal, gain in [(15000.0, 180.0), (-300.0, 0.2), (42.0, 3.3)]:
        other = normalize_image(detector_image(signal, noise, pedestal=pedestal, gain=gain))
        np.testing.assert_allclose(other, reference, atol=2e-3)


def test_affine_invariance_in_float64():
    rng = np.random.default_rng(1)
    image = rng.normal(500.0, 7.0, (50, 70))
    image[10:14, 20:25] += 300.0
    reference = normalize_image(image)
    np.testing.assert_allclose(normalize_image(12.5 * image - 7e3), reference, atol=1e-6)


def test_row_drift_removed_but_hot_column_streak_and_glow_kept():
    signal, noise = scene_electrons(seed=2)
    drift = np.random.default_rng(3).normal(0.0, 2.0, signal.shape[0]).cumsum()
    z = normalize_image(detector_image(signal, noise, pedestal=800.0, gain=10.0, drift=drift))
    quiet = signal < 0.5
    rows = quiet.sum(axis=1) > 50                    # rows with enough empty pixels
    row_means = np.array([z[r][quiet[r]].mean() for r in np.flatnonzero(rows)])
    assert np.abs(row_means).max() < 0.2            # drift gone row by row
    assert z[:, 40].min() > 8.0                      # hot column not subtracted away
    assert z[30, 10:].min() > 4.0                    # streak row not taken for a pedestal
    assert z[:, 0].mean() > 2.0 and z[:, 0].mean() > z[:, 5].mean() > 0.3  # glow band kept
    assert z[60, 90] > 2.0                           # cluster centre


def test_strong_smooth_drift_is_removed_everywhere():
    rng = np.random.default_rng(9)
    rows = np.arange(96)
    drift = 60.0 * np.sin(rows * 4 * np.pi / rows.size)   # 60 sigma, two periods
    image = 500.0 + drift[:, None] + rng.normal(0.0, 1.0, (96, 128))
    z = normalize_image(image)
    assert np.abs(z.mean(axis=1)).max() < 0.15


def test_background_estimates_pedestal_per_row_and_noise():
    rng = np.random.default_rng(4)
    drift = np.linspace(0.0, 40.0, 200)
    image = 2000.0 + drift[:, None] + rng.normal(0.0, 3.7, (200, 300))
    bright = rng.random(image.shape) < 0.05
    image[bright] += rng.uniform(20.0, 5000.0, bright.sum())
    pedestal, noise = estimate_background(image)
    assert noise == pytest.approx(3.7, rel=0.08)
    np.testing.assert_allclose(pedestal, 2000.0 + drift, atol=1.5)


def test_nan_and_inf_pixels_are_ignored_and_come_out_as_zero():
    rng = np.random.default_rng(5)
    image = rng.normal(100.0, 2.0, (64, 80)).astype(np.float32)
    clean = normalize_image(image)
    bad = image.copy()
    bad[3, 4] = np.nan
    bad[10, :] = np.nan                              # a whole row missing
    bad[20, 7] = np.inf
    bad[21, 8] = -np.inf
    out = normalize_image(bad)
    assert np.isfinite(out).all()
    assert out[3, 4] == out[20, 7] == out[21, 8] == 0.0 and not out[10].any()
    good = np.isfinite(bad)
    np.testing.assert_allclose(out[good], clean[good], atol=0.05)


def test_degenerate_images_give_finite_output_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not normalize_image(np.full((32, 32), 1234.0)).any()
        assert not normalize_image(np.full((8, 8), np.nan)).any()
        assert normalize_image(np.zeros((0, 5))).shape == (0, 5)
        spike = np.full((16, 16), 7, dtype=np.int16)
        spike[5, 5] = 900
        out = normalize_image(spike)
        assert np.isfinite(out).all() and out[5, 5] > 1.0
        assert not np.delete(out.ravel(), 5 * 16 + 5).any()
        for shape in [(1, 5), (37, 1), (3, 3)]:
            tiny = np.random.default_rng(6).normal(size=shape)
            assert np.isfinite(normalize_image(tiny)).all()


def test_quantised_low_noise_integer_data_still_gets_a_noise():
    rng = np.random.default_rng(7)
    image = np.round(rng.normal(3000.0, 0.3, (64, 64))).astype(np.uint16)
    image[10, 10] = 3050
    _, noise = estimate_background(image)
    assert 0.05 < noise < 1.0
    assert normalize_image(image)[10, 10] > normalize_image(image).max() - 1e-6


def test_integer_and_float_input_agree():
    rng = np.random.default_rng(8)
    image = np.round(rng.normal(1200.0, 6.0, (40, 60))).astype(np.uint16)
    out = normalize_image(image)
    assert out.dtype == np.float32 and out.shape == image.shape
    np.testing.assert_allclose(out, normalize_image(image.astype(np.float64)), atol=1e-5)
    with pytest.raises(ValueError):
        normalize_image(np.zeros((2, 3, 4)))
