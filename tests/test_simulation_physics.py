"""Charge generation and transport: pair-creation energy and diffusion."""

import numpy as np
import pytest
from scenes import NO_OBJECTS

from ccdnb.classes import CLUSTER
from ccdnb.simulation import EV_PER_PAIR, simulate_image
from ccdnb.simulation.physics import THICKNESS_UM, diffusion_sigma_px


def test_point_event_charge_is_energy_over_pair_creation_energy():
    energy_kev, gain = 5.9, 3.0
    for seed in range(40):  # find an event well inside the image
        sim = simulate_image("clusters-only", 64, seed=seed, noiseless=True, pedestal_adu=500.0,
                             gain_adu_per_e=gain, read_noise_adu=1.0, dark_current_e=0.0,
                             row_drift=False, diffuse_kev=(energy_kev, energy_kev),
                             **{**NO_OBJECTS, "n_diffuse": 1})
        (obj,) = sim.objects
        if 10 < obj["x"] < 54 and 10 < obj["y"] < 54:
            break
    electrons = (sim.image.astype(np.float64) - 500.0).sum() / gain
    assert electrons == pytest.approx(energy_kev * 1000 / EV_PER_PAIR, rel=1e-3)
    assert obj["energy_kev"] == pytest.approx(energy_kev)
    assert obj["kind"] == "diffuse" and obj["cls"] == CLUSTER


def test_diffusion_grows_with_depth_to_about_one_and_a_half_pixels():
    sigma = diffusion_sigma_px(np.array([0.0, THICKNESS_UM / 2, THICKNESS_UM]))
    assert sigma[0] < 0.1 and sigma[0] < sigma[1] < sigma[2]
    assert 1.0 < sigma[2] < 1.5
