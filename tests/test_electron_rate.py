"""The single-electron rate: a Poisson field in Gaussian read noise, measured on its histogram."""

import numpy as np
import pytest

from ccdnb.errors import CcdnbInputError
from ccdnb.skipper.electron_rate import (
    SENSEI_EDGES,
    fit_electron_rate,
    measure_electron_rate,
)


def field(rate, noise_e, shape=(200, 250), seed=0):
    """Electrons: Poisson at ``rate`` (scalar or (H, W)) plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    rate = np.broadcast_to(rate, shape)
    return rng.poisson(rate) + rng.normal(0.0, noise_e, shape)


@pytest.mark.parametrize("rate, noise_e", [(0.005, 0.2), (0.3, 0.15), (2.0, 0.25)])
def test_the_rate_of_a_simulated_field_is_found_within_its_reported_error(rate, noise_e):
    for seed in range(3):
        measured = fit_electron_rate(field(rate, noise_e, seed=seed))
        assert measured.error > 0
        # the reported error is the spread of Poisson counting on these pixels
        assert measured.error == pytest.approx(np.sqrt(max(rate, 1e-3) / 50_000), rel=0.3)
        assert abs(measured.rate - rate) < 4.0 * measured.error
        assert measured.noise_e == pytest.approx(noise_e, rel=0.05)
        assert measured.clean_pixels == 50_000 and measured.counts is not None


def test_the_reported_errors_are_the_spread_of_the_estimates():
    pulls = []
    for seed in range(12):
        measured = fit_electron_rate(field(0.8, 0.2, shape=(100, 100), seed=seed))
        pulls.append((measured.rate - 0.8) / measured.error)
    assert 0.5 < np.std(pulls) < 1.6
    assert abs(np.mean(pulls)) < 1.0


def test_only_the_clean_pixels_count():
    electrons = field(0.1, 0.15, seed=1)
    dirty = np.zeros(electrons.shape, bool)
    dirty[:, :50] = True
    electrons[dirty] += 3.0  # glow on a fifth of the frame
    everything = fit_electron_rate(electrons)
    clean = fit_electron_rate(electrons, clean=~dirty)
    assert abs(clean.rate - 0.1) < 4 * clean.error
    assert everything.rate > 0.1 + 10 * everything.error
    assert clean.clean_pixels == int((~dirty).sum())
    assert clean.clean_share == pytest.approx(0.8)


def test_sensei_counts_use_their_bin_edges():
    electrons = np.zeros((20, 20))
    electrons.flat[:10] = 0.62   # 0 electrons
    electrons.flat[10:15] = 0.64  # 1
    electrons.flat[15:18] = 1.7   # 2
    electrons.flat[18:20] = 2.64  # 3 or more
    electrons.flat[20:21] = 30.0
    measured = fit_electron_rate(electrons, align=False)
    assert SENSEI_EDGES == (0.63, 1.63, 2.63)
    assert measured.counts == (389, 5, 3, 3)


def test_the_profile_along_the_readout_gives_the_slope_of_a_rising_field():
    rows = np.linspace(0.5, 1.5, 400)[:, None]  # +1 e-/pixel over 400 rows: 2.5 per 1000
    measured = fit_electron_rate(field(rows, 0.2, shape=(400, 300), seed=2), row_bands=10)
    assert measured.rows.rate.shape == (10,)
    assert np.all(np.diff(measured.rows.rate) > 0)
    assert abs(measured.slope_per_krow - 2.5) < 4 * measured.slope_error
    assert measured.slope_error < 0.1
    # read the other way, the same field falls
    falling = fit_electron_rate(field(rows, 0.2, shape=(400, 300), seed=2), row_bands=10,
                                readout_rows="descending")
    assert falling.slope_per_krow == pytest.approx(-measured.slope_per_krow, rel=1e-6)
    # across the readout it is flat
    assert abs(measured.columns.slope) < 4 * measured.columns.slope_error


def test_rows_and_columns_off_the_comb_are_brought_back():
    electrons = field(1.2, 0.2, shape=(240, 300), seed=3)
    truth = fit_electron_rate(electrons, align=False)
    moved = electrons.copy()
    moved[:, 200:] -= 0.6        # a baseline step of more than half an electron
    moved[50:60] += 1.0          # rows whose pedestal sat on another peak
    moved[100:180] += 0.12       # a pedestal drifting with the field's density
    assert abs(fit_electron_rate(moved, align=False).rate - truth.rate) > 10 * truth.error
    aligned = fit_electron_rate(moved)
    assert abs(aligned.rate - truth.rate) < 2 * truth.error
    assert aligned.extra["shifted_columns"] >= 100


def test_from_adu_with_the_comb_fitted_and_with_a_gain_given():
    gain, pedestal = 2.7, 1234.5
    electrons = field(0.4, 0.18, shape=(200, 256), seed=6)
    image = (pedestal + gain * electrons).astype(np.float32)
    fitted = measure_electron_rate(image)
    assert "electron comb" in fitted.method
    assert fitted.gain == pytest.approx(gain, rel=0.01)
    assert abs(fitted.rate - 0.4) < 4 * fitted.error
    given = measure_electron_rate(image, gain=gain)
    assert "gain given" in given.method and abs(given.rate - 0.4) < 4 * given.error


def test_a_conventional_ccd_without_overscan_gets_nan_and_the_reason():
    rng = np.random.default_rng(7)
    image = 1000.0 + rng.normal(0.0, 20.0, (120, 160)) + 10.0 * rng.poisson(0.5, (120, 160))
    measured = measure_electron_rate(image.astype(np.float32))
    assert np.isnan(measured.rate) and np.isnan(measured.error)
    assert "no comb" in measured.method and "overscan" in measured.method
    given = measure_electron_rate(image.astype(np.float32), gain=10.0)
    assert np.isnan(given.rate) and "does not resolve" in given.method
    skipped = measure_electron_rate(image.astype(np.float32), fit_comb=False)
    assert np.isnan(skipped.rate) and "no comb" in skipped.method
    assert ("CCDNBRT", measured.rate) not in [c[:2] for c in measured.header_cards()]
    assert all(np.isfinite(v) for k, v, _ in measured.header_cards() if not isinstance(v, str))


def test_a_conventional_ccd_with_overscan_gives_its_dark_current():
    from ccdnb.simulation import simulate_image

    sim = simulate_image("damic", (200, 300), 3, dark_current_e=0.6, gain_adu_per_e=8.0,
                         read_noise_adu=16.0, overscan_columns=40, prescan_columns=0,
                         row_drift=False, glow_fraction=0.0)
    start, stop = sim.meta["bias_columns"][0]
    clean = sim.label == 0
    measured = measure_electron_rate(sim.image, clean=clean, gain=8.0,
                                     bias_columns=[slice(start, stop)])
    assert "overscan" in measured.method and "does not resolve" in measured.method
    assert abs(measured.rate - 0.6) < 4 * measured.error
    assert measured.counts is None
    without_gain = measure_electron_rate(sim.image, clean=clean,
                                         bias_columns=[slice(start, stop)])
    assert np.isnan(without_gain.rate) and "no gain" in without_gain.method


def test_nothing_to_measure_and_bad_input():
    assert "clean pixels" in fit_electron_rate(field(0.1, 0.2, shape=(5, 5))).method
    with pytest.raises(CcdnbInputError, match="shape"):
        fit_electron_rate(np.zeros((10, 10)), clean=np.ones((5, 5), bool))
    with pytest.raises(CcdnbInputError, match="readout_rows"):
        fit_electron_rate(np.zeros((10, 10)), readout_rows="up")
    with pytest.raises(CcdnbInputError, match="2-D"):
        measure_electron_rate(np.zeros(10))


def test_the_figures_go_to_a_table_row_and_a_header():
    from astropy.io import fits

    measured = fit_electron_rate(field(0.3, 0.15, seed=9))
    row = measured.as_dict()
    assert row["rate_e_per_pix"] == measured.rate and row["pixels_1e"] == measured.counts[1]
    assert "row_profile" in measured.as_dict(profiles=True)
    header = fits.Header()
    for key, value, comment in measured.header_cards():
        header[key] = (value, comment)
    assert header["CCDNBRT"] == pytest.approx(measured.rate)
    assert header["CCDNBN0"] == measured.counts[0]
    assert measured.pixel_days(86400.0) == pytest.approx(measured.clean_pixels)
    assert measured.pixel_days(86400.0, readout_s=86400.0) == pytest.approx(
        1.5 * measured.clean_pixels)
    assert np.isnan(measured.pixel_days(float("nan")))


def test_each_band_is_fitted_on_its_own_pixels():
    # column bands of very different rates, one of them masked whole
    rates = np.repeat([0.01, 3.0, 0.5, 0.0, 1.2], 60)[None, :]
    electrons = field(rates, 0.15, shape=(300, 300), seed=4)
    keep = np.ones(electrons.shape, bool)
    keep[:, 180:240] = False
    measured = fit_electron_rate(electrons, clean=keep, column_bands=5, row_bands=3)
    columns = measured.columns
    assert np.isnan(columns.rate[3]) and np.isnan(columns.error[3])
    for band in (0, 1, 2, 4):
        truth = rates[0, 60 * band]
        assert abs(columns.rate[band] - truth) < 4 * columns.error[band] + 1e-3, band
    # one band of all the pixels: the amplifier's own rate (its error with sigma and mu fixed)
    whole = fit_electron_rate(electrons, clean=keep, row_bands=1, column_bands=1)
    assert whole.rows.rate[0] == pytest.approx(whole.rate, rel=1e-6)
    assert whole.rows.error[0] <= whole.error * (1 + 1e-9)
