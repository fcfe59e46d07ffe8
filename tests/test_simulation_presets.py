"""Presets and their parameter rules."""

import numpy as np
import pytest

from ccdnb.errors import CcdnbInputError
from ccdnb.simulation import simulate_image
from ccdnb.simulation.presets import draw_parameters


def test_random_preset_covers_the_skipper_regime_and_wide_ranges():
    draws = [draw_parameters("random", np.random.default_rng(s)) for s in range(200)]
    skipper = [d for d in draws if d["regime"] == "skipper"]
    assert 0.1 < len(skipper) / len(draws) < 0.4
    for d in skipper:  # real skipper frames: issue 20's ranges
        assert 0.1 <= d["read_noise_adu"] / d["gain_adu_per_e"] <= 0.3
        assert 0.5 <= d["gain_adu_per_e"] <= 5 and 1 <= d["dark_rise"] <= 5
        end_rate = 2 * d["dark_current_e"] * d["dark_rise"] / (1 + d["dark_rise"])
        assert 1e-4 <= end_rate <= 3
    end_rates = [2 * d["dark_current_e"] * d["dark_rise"] / (1 + d["dark_rise"]) for d in skipper]
    assert min(end_rates) < 1e-2 and max(end_rates) > 1
    pedestals = [d["pedestal_adu"] for d in draws]
    assert min(pedestals) < 2000 and max(pedestals) > 25000 and min(pedestals) >= -1000
    conventional = [d for d in draws if d["regime"] == "conventional"]
    assert all(d["dark_rise"] == 1 for d in conventional)
    assert all(0.2 <= d["read_noise_adu"] <= 60 and 1 <= d["gain_adu_per_e"] <= 200
               for d in conventional)


def test_skipper_dense_field_is_background_and_rises_along_the_readout():
    """Issue 20's convention: single electrons scattered by a Poisson process are background
    at any rate, even when most pixels hold one and the rate rises along the readout."""
    nothing = dict(glow_fraction=0.0, n_hot_pixels=0, n_hot_segments=0, n_hot_columns=0,
                   n_hot_streaks=0, n_diffuse=0, n_worms=0, n_muons=0, n_xrays=0, n_lowe=0,
                   n_serial=0, row_drift=False, baseline_step_probability=0.0)
    sim = simulate_image("skipper-dense", (200, 100), 3, dark_current_e=1.2, dark_rise=4.0,
                         readout_side="right", **nothing)
    m = sim.meta
    electrons = np.round((sim.image - m["pedestal_adu"]) / m["gain_adu_per_e"])
    assert np.all(sim.label == 0)                       # most pixels hold an electron
    assert np.mean(electrons >= 1) > 0.5
    first, last = electrons[:20].mean(), electrons[-20:].mean()
    assert 3.0 < last / first < 5.0                     # rises along the rows (readout order)
    assert electrons.mean() == pytest.approx(1.2, rel=0.05)
    # within a row the columns are read from the right (the amplifier's side)
    noiseless = simulate_image("skipper-dense", (200, 100), 3, noiseless=True,
                               dark_current_e=1.2, dark_rise=4.0, readout_side="right",
                               **nothing).image
    assert noiseless[0, 0] > noiseless[0, -1] and noiseless[-1, 0] > noiseless[0, 0]


def test_skipper_dense_preset_draws_issue_20_ranges():
    draws = [draw_parameters("skipper-dense", np.random.default_rng(s)) for s in range(100)]
    for d in draws:
        assert 0.1 <= d["read_noise_adu"] / d["gain_adu_per_e"] <= 0.3
        assert 0.5 <= d["gain_adu_per_e"] <= 5
        assert d["glow_kinds"] == ("corner",) and d["glow_edges"] == (d["readout_side"],)
    end_rates = [2 * d["dark_current_e"] * d["dark_rise"] / (1 + d["dark_rise"]) for d in draws]
    assert 1e-4 <= min(end_rates) and max(end_rates) <= 3.0 and max(end_rates) > 1.0


def test_bad_preset_or_parameter_is_bad_input():
    with pytest.raises(CcdnbInputError, match="preset"):
        simulate_image("nope")
    with pytest.raises(CcdnbInputError, match="read_nosie_adu"):
        simulate_image("thesis", 32, read_nosie_adu=3.0)
    with pytest.raises(CcdnbInputError, match="size"):
        simulate_image("thesis", "32x")
