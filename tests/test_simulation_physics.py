"""Charge generation and transport: pair-creation energy, diffusion and electron tracks."""

import numpy as np
import pytest
from scenes import NO_OBJECTS

from ccdnb.classes import CLUSTER
from ccdnb.simulation import EV_PER_PAIR, simulate_image
from ccdnb.simulation.physics import (
    THICKNESS_UM,
    diffusion_sigma_px,
    electron_energy_left_kev,
    electron_range_px,
    electron_range_um,
    electron_track,
    electron_walk,
    highland_angle,
)


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


def test_katz_penfold_range_and_its_inverse():
    # Katz & Penfold: 412 mg/cm^2 at 1 MeV, 530 E - 106 above 2.5 MeV; 2.33 g/cm^3 of Si
    assert electron_range_um(1000.0) == pytest.approx(412.0 * 10 / 2.33, rel=1e-6)
    assert electron_range_um(3000.0) == pytest.approx((530 * 3 - 106) * 10 / 2.33, rel=1e-6)
    assert 50 < electron_range_um(100.0) < 65 and electron_range_px(45.0) < 1.0
    energies = np.array([5.0, 30.0, 100.0, 400.0, 1000.0, 2000.0])
    np.testing.assert_allclose(electron_energy_left_kev(electron_range_um(energies)), energies,
                               rtol=1e-4)
    assert electron_energy_left_kev(0.0) == 0.0


def test_highland_angle_falls_with_energy():
    # PDG's Highland formula over 10 um of silicon (X0 = 9.37 cm)
    assert highland_angle(400.0, 10.0) == pytest.approx(0.150, abs=0.005)
    assert highland_angle(100.0, 10.0) == pytest.approx(0.534, abs=0.01)
    assert highland_angle(2000.0, 10.0) < highland_angle(400.0, 10.0)


def _inside(energy, seed, depth=THICKNESS_UM / 2):
    """The first walk of ``energy`` from ``seed`` on that stays in the silicon."""
    for s in range(seed, seed + 200):
        path = electron_walk(np.random.default_rng(s), energy, depth)
        if not path.clipped:
            return path
    raise AssertionError(f"no {energy} keV electron stayed in the silicon")


def test_an_electron_deposits_its_energy_over_3_77_ev_per_pair():
    for energy in (20.0, 150.0, 600.0):
        path = _inside(energy, 0)
        *_, electrons, again = electron_track(np.random.default_rng(0), energy, 50.0, 50.0,
                                              THICKNESS_UM / 2)
        if not again.clipped:
            assert electrons.sum() == pytest.approx(energy * 1000 / EV_PER_PAIR, rel=1e-9)
        assert path.deposited_kev == pytest.approx(energy, rel=1e-9)


def test_a_simulated_electron_keeps_its_charge_in_the_image():
    for seed in range(60):  # one electron that stays in the silicon and in the image
        sim = simulate_image("clusters-only", 96, seed=seed, noiseless=True, pedestal_adu=500.0,
                             gain_adu_per_e=2.0, read_noise_adu=1.0, dark_current_e=0.0,
                             row_drift=False, worm_kev=(300.0, 300.0), **{**NO_OBJECTS,
                                                                          "n_worms": 1})
        (obj,) = sim.objects
        if obj["energy_kev"] > 299.99 and 30 < obj["x"] < 66 and 30 < obj["y"] < 66:
            break
    assert obj["kind"] == "worm"
    electrons = (sim.image.astype(np.float64) - 500.0).sum() / 2.0
    assert electrons == pytest.approx(300.0 * 1000 / EV_PER_PAIR, rel=1e-3)


def test_an_electron_that_leaves_the_silicon_loses_charge():
    # from 2 um under the front surface, heading out of it
    for seed in range(5):
        rows, cols, sigmas, electrons, path = electron_track(
            np.random.default_rng(seed), 500.0, 50.0, 50.0, 2.0, direction=(0.3, 0.0, -1.0))
        assert path.clipped and path.deposit_kev.size < 10
        assert electrons.sum() == pytest.approx(path.deposited_kev * 1000 / EV_PER_PAIR)
        assert path.deposited_kev < 0.1 * 500.0
        assert path.z_um.min() == pytest.approx(0.0, abs=1e-9)
    # and the truth records what stayed in: 2 MeV electrons mostly leave 675 um
    sim = simulate_image("clusters-only", 256, seed=3, worm_kev=(2000.0, 2000.0),
                         **{**NO_OBJECTS, "n_worms": 20})
    assert np.all(sim.objects["energy_kev"] <= 2000.0 * (1 + 1e-5))
    assert np.mean(sim.objects["energy_kev"] < 1900.0) > 0.5


def test_projected_length_grows_with_energy_within_the_csda_range():
    extent = []
    for energy in (100.0, 300.0, 1000.0):
        lengths = []
        for seed in range(20):
            path = electron_walk(np.random.default_rng(seed), energy, THICKNESS_UM / 2)
            far = np.hypot(path.x_um, path.y_um).max()
            assert far <= electron_range_um(energy) + 1e-9
            lengths.append(np.ptp(path.x_um) + np.ptp(path.y_um))
        extent.append(np.median(lengths))
    assert extent[0] < extent[1] < extent[2]


def _turning_per_um(path):
    d = np.diff(np.column_stack([path.x_um, path.y_um, path.z_um]), axis=0)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    turns = np.arccos(np.clip(np.sum(d[1:] * d[:-1], axis=1), -1.0, 1.0))
    step = np.linalg.norm([path.x_um[1] - path.x_um[0], path.y_um[1] - path.y_um[0],
                           path.z_um[1] - path.z_um[0]])
    return turns.mean() / step


def test_slow_electrons_curl_more_than_fast_ones():
    slow = np.mean([_turning_per_um(_inside(80.0, s)) for s in range(10)])
    fast = np.mean([_turning_per_um(_inside(800.0, 100 + 10 * s)) for s in range(10)])
    assert slow > 3 * fast


def test_charge_per_length_rises_towards_the_end_and_depth_changes_along_the_path():
    for seed in range(5):
        path = _inside(400.0, 10 * seed)
        quarter = path.deposit_kev.size // 4
        assert path.deposit_kev[-quarter:].sum() > 1.5 * path.deposit_kev[:quarter].sum()
        assert np.ptp(path.z_um) > 20.0  # a 400 keV track spans tens of um in depth
        *_, sigmas, _, again = electron_track(np.random.default_rng(10 * seed), 400.0, 0, 0,
                                              THICKNESS_UM / 2)
        # the deposits diffuse as their own depth says
        assert np.ptp(sigmas) > 0.01


def test_electron_tracks_repeat_with_their_seed():
    one = electron_track(np.random.default_rng(7), 700.0, 10.0, 20.0, 100.0)
    two = electron_track(np.random.default_rng(7), 700.0, 10.0, 20.0, 100.0)
    other = electron_track(np.random.default_rng(8), 700.0, 10.0, 20.0, 100.0)
    for a, b in zip(one[:4], two[:4]):
        np.testing.assert_array_equal(a, b)
    assert one[0].shape != other[0].shape or not np.array_equal(one[0], other[0])
