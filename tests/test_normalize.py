"""Normalisation: independent of pedestal, gain and noise; keeps the classes' signals."""

import warnings
from typing import NamedTuple

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
        # float32 rounding moves a few pixels across the fit's bin edges: the
        # estimates agree to about 0.01 sigma, far below anything the network sees
        np.testing.assert_allclose(other, reference, atol=1e-2)


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


# --- the zero-charge peak at any occupancy (issue: no event lost) -----------------------

#: Tolerance of the estimate on every preset (issue: no event lost): noise within 5 %,
#: the per-row pedestal within 0.1 read-noise sigma (median over rows, worst image).
NOISE_TOLERANCE, PEDESTAL_TOLERANCE = 0.05, 0.1


class Short(NamedTuple):
    """A preset where the estimate misses the tolerance: today's error, bounded.

    ``noise`` bounds |estimated / true noise - 1| and ``pedestal`` the median per-row
    pedestal error (sigma) on the four images of :func:`_preset_errors`, each a quarter
    to a third above what they measure today, so that a regression fails and not only a
    crash; ``reason`` says why, with today's figures there and on the 12 images per
    preset of ``benchmarks/background_accuracy.py`` (seed 77), which see more.
    """

    noise: float
    pedestal: float
    reason: str


#: Measured at 7d66912 (four images, seeds 3100-3103, 256 x 256).
KNOWN_SHORT = {
    "thesis-balanced": Short(0.05, 0.15, "faint cluster tails shift the zero-charge peak of "
                             "256-pixel rows at 61 % occupancy: pedestal 0.11 sigma here, "
                             "0.17 on the benchmark's images"),
    "balanced": Short(0.05, 0.31, "faint cluster tails shift the zero-charge peak of 256-pixel "
                      "rows: pedestal 0.25 sigma on one image here (0.08-0.09 on the others), "
                      "0.23 on the benchmark's; noise up to 1.05x"),
    "skipper-dense": Short(0.05, 0.15, "a field of 2-3 e-/pixel leaves 5-15 % of a 256-pixel "
                           "row without charge: pedestal 0.12 sigma and noise 0.97x here, "
                           "0.26 sigma and 0.96-1.07x on the benchmark's images"),
    "dense": Short(0.06, 0.33, "at 50-70 % occupancy faint charge widens the peak: noise "
                   "1.03-1.05x and pedestal 0.26 sigma here, noise up to 1.12x and "
                   "pedestal 0.42 sigma on the benchmark's images"),
    # Glow along whole rows (top/bottom edges) looks like row drift to any estimate made
    # from the rows alone; these 256 x 256 images have no overscan columns to tell the two
    # apart (with them it is measured: test_whole_row_glow_is_measured_against_the_overscan).
    # That is most of the error; faint cluster tails and, in the skipper regime at 0.3 e-
    # noise, the 1-electron peak's low tail add more on some images.
    "random": Short(0.05, 0.15, "glow along whole rows looks like row drift without overscan "
                    "columns, and faint tails of charge shift rows' zero-charge peak: pedestal "
                    "0.11 sigma here, 0.31 and noise up to 1.06x on the benchmark's images"),
    "glow-events": Short(0.05, 0.19, "glow along whole rows looks like row drift without "
                         "overscan columns; faint cluster tails shift rows' zero-charge "
                         "peak: pedestal 0.15 sigma here, 0.18 and noise up to 1.12x on the "
                         "benchmark's images"),
}


def _preset_errors(preset, n=4, size=256, seed=31):
    from ccdnb.simulation import simulate_image

    ratios, pedestal_errors = [], []
    for i in range(n):
        sim = simulate_image(preset, size, seed * 100 + i)
        sigma = sim.meta["read_noise_adu"]
        pedestal, noise = estimate_background(sim.image)
        truth = np.asarray(sim.meta["row_pedestal_adu"])
        ratios.append(noise / sigma)
        pedestal_errors.append(float(np.median(np.abs(pedestal - truth)) / sigma))
    return np.asarray(ratios), np.asarray(pedestal_errors)


def _presets():
    """Every preset; those short of the tolerance as strict xfails that only a missed
    tolerance satisfies (a crash fails them)."""
    from ccdnb.simulation import PRESETS

    return [pytest.param(name, marks=pytest.mark.xfail(
                strict=True, raises=AssertionError, reason=KNOWN_SHORT[name].reason))
            if name in KNOWN_SHORT else name for name in PRESETS]


@pytest.mark.parametrize("preset", _presets())
def test_noise_within_5_percent_and_pedestal_within_a_tenth_sigma_on_every_preset(preset):
    ratios, pedestal_errors = _preset_errors(preset)
    assert np.all(np.abs(ratios - 1.0) <= NOISE_TOLERANCE), ratios
    assert np.all(pedestal_errors <= PEDESTAL_TOLERANCE), pedestal_errors


@pytest.mark.parametrize("preset", sorted(KNOWN_SHORT))
def test_presets_short_of_the_tolerance_stay_within_todays_error(preset):
    """Where the tolerance is missed, today's error is the bound (see :class:`Short`)."""
    from ccdnb.simulation import PRESETS

    assert preset in PRESETS
    short = KNOWN_SHORT[preset]
    ratios, pedestal_errors = _preset_errors(preset)
    assert np.all(np.abs(ratios - 1.0) <= short.noise), (ratios, short.reason)
    assert np.all(pedestal_errors <= short.pedestal), (pedestal_errors, short.reason)


@pytest.mark.parametrize("occupancy", [0.0, 0.3, 0.5, 0.7])
def test_noise_from_the_zero_charge_peak_at_any_occupancy(occupancy):
    """Charge that only adds, on any share of the pixels, leaves the noise estimate alone."""
    rng = np.random.default_rng(int(occupancy * 10))
    shape = (256, 256)
    sigma, pedestal = 7.0, 1500.0
    image = pedestal + rng.normal(0.0, sigma, shape)
    charged = rng.random(shape) < occupancy
    image[charged] += sigma * rng.exponential(8.0, charged.sum()) + 3.0 * sigma
    estimate = estimate_background(image)
    assert estimate.noise == pytest.approx(sigma, rel=0.05)
    assert abs(np.median(estimate.pedestal) - pedestal) <= 0.1 * sigma


def test_glow_band_over_half_of_the_rows_and_a_hot_column_keep_their_signal():
    rng = np.random.default_rng(12)
    sigma = 3.0
    image = 800.0 + rng.normal(0.0, sigma, (200, 160))
    image[:100] += 40.0 * sigma                     # glow along the top half, every column
    image[:, 70] += 500.0 * sigma                   # a full hot column
    image[:, 100:160] += 20.0 * sigma                # a glow band over the right third
    pedestal, noise = estimate_background(image)
    assert noise == pytest.approx(sigma, rel=0.05)
    np.testing.assert_allclose(pedestal, 800.0, atol=0.5 * sigma)
    z = normalize_image(image)
    assert z[:100, :60].mean() > 2.5 and z[:, 70].min() > 5.0 and z[150:, 120].mean() > 2.0


def test_baseline_sagging_along_the_row_does_not_widen_the_noise():
    rng = np.random.default_rng(13)
    sigma = 2.0
    image = 300.0 + rng.normal(0.0, sigma, (256, 256))
    image[:, 180:] -= 3.0 * sigma * np.exp(-np.arange(76) / 30.0)   # skipper transient
    pedestal, noise = estimate_background(image)
    assert noise == pytest.approx(sigma, rel=0.05)
    assert abs(np.median(pedestal) - 300.0) <= 0.15 * sigma


def _row_glow_images(n=6, **overrides):
    """Glow along whole rows (a top or bottom edge), few other objects."""
    from ccdnb.simulation import simulate_image

    quiet = dict(glow_kinds=("edge", "band"), glow_edges=("top", "bottom"), n_diffuse=5.0,
                 n_worms=0.5, n_muons=0.2, n_xrays=1.0, n_hits=1.0, n_long_tracks=0.0,
                 events_on_defects=0.0, glow_amplitude_sigma=(5.0, 100.0))
    return [simulate_image("glow-events", 256, 700 + i, **{**quiet, **overrides})
            for i in range(n)]


def test_whole_row_glow_is_measured_against_the_overscan():
    """Overscan columns see each row's baseline and no image charge: glow spread along
    whole rows stands above them, and is kept out of the pedestal (issue 20, item 4)."""
    glow_with, glow_without, other_with = [], [], []
    for sim in _row_glow_images(n=8, overscan_columns=32):
        truth = np.asarray(sim.meta["row_pedestal_adu"])
        sigma = sim.meta["read_noise_adu"]
        start, stop = sim.meta["data_columns"]
        glow_rows = (sim.label[:, start:stop] == 1).mean(axis=1) > 0.9
        bias = [slice(*columns) for columns in sim.meta["bias_columns"]]
        with_bias = np.abs(estimate_background(sim.image, bias).pedestal - truth) / sigma
        without = np.abs(estimate_background(sim.image).pedestal - truth) / sigma
        glow_with.append(with_bias[glow_rows])
        glow_without.append(without[glow_rows])
        other_with.append(np.median(with_bias[~glow_rows]))
    glow_with, glow_without = np.concatenate(glow_with), np.concatenate(glow_without)
    assert glow_with.size > 50
    # Sharp-edged bands are caught without help (_protect_bright_rows); smooth edge glow
    # is what the rows alone take for drift: 0.54 sigma on average here, about 0.2 with
    # the overscan (one row of 32 bias pixels places its level to ~0.22 sigma).
    assert glow_without.mean() > 0.4                      # the blind spot ...
    assert glow_with.mean() < 0.5 * glow_without.mean()   # ... that the overscan closes
    assert max(other_with) <= 0.12, other_with            # and other rows keep their level


def test_without_overscan_whole_row_glow_is_taken_for_the_pedestal():
    """The decision for frames without bias columns: no estimate made from the rows alone
    can tell charge spread evenly and smoothly along whole rows from a pedestal drift, so
    such glow becomes part of those rows' pedestal (the network's blind spot; the truth
    still labels it, as physics, and bias columns find it)."""
    rng = np.random.default_rng(4)
    rows = np.arange(200)[:, None]
    glow = 30.0 * np.exp(-rows / 12.0)                      # sigma, from the top edge
    image = 1000.0 + glow + rng.normal(0.0, 1.0, (200, 288))
    image[:, 256:] = 1000.0 + rng.normal(0.0, 1.0, (200, 32))   # 32 overscan columns
    bright = glow[:, 0] > 3.0
    alone = estimate_background(image[:, :256]).pedestal - 1000.0
    np.testing.assert_allclose(alone[bright], glow[bright, 0], atol=0.5)  # taken for drift
    measured = estimate_background(image, bias_columns=slice(256, 288)).pedestal - 1000.0
    # one row of 32 bias pixels places its level to ~0.22 sigma
    assert np.all(np.abs(measured[bright][3:]) < 0.1 * glow[bright, 0][3:] + 0.8)
    assert np.median(np.abs(measured[~bright])) < 0.1
