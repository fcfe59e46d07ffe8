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
    for d in skipper:
        assert 0.15 <= d["read_noise_adu"] / d["gain_adu_per_e"] <= 0.3
        assert 1 <= d["gain_adu_per_e"] <= 2 and 0.01 <= d["dark_current_e"] <= 2
    pedestals = [d["pedestal_adu"] for d in draws]
    assert min(pedestals) < 2000 and max(pedestals) > 25000 and min(pedestals) >= -1000
    assert all(0.2 <= d["read_noise_adu"] <= 60 and 1 <= d["gain_adu_per_e"] <= 200 for d in draws)


def test_bad_preset_or_parameter_is_bad_input():
    with pytest.raises(CcdnbInputError, match="preset"):
        simulate_image("nope")
    with pytest.raises(CcdnbInputError, match="read_nosie_adu"):
        simulate_image("thesis", 32, read_nosie_adu=3.0)
    with pytest.raises(CcdnbInputError, match="size"):
        simulate_image("thesis", "32x")
