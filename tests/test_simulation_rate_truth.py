"""The simulator records the single-electron rate map it drew each amplifier's field from."""

import numpy as np
import pytest

from ccdnb.simulation import simulate_frame, simulate_image
from ccdnb.simulation.dataset import dark_rate_map, electron_rate_map
from ccdnb.simulation.run import load_run_truth, simulate_run


def test_a_rising_field_is_recorded_as_its_map_and_its_numbers():
    sim = simulate_image("skipper-dense", (60, 80), 2, dark_current_e=0.8, dark_rise=4.0,
                         readout_side="right", prescan_columns=3, overscan_columns=5)
    truth = sim.rate_map()
    assert truth.shape == sim.image.shape
    start, stop = sim.meta["data_columns"]
    assert np.all(truth[:, :start] == 0) and np.all(truth[:, stop:] == 0)
    area = truth[:, start:stop]
    assert area.mean() == pytest.approx(0.8)
    summary = sim.meta["electron_rate"]
    assert summary["mean_e_per_pix"] == pytest.approx(0.8)
    # read from the right: the last pixel read is the bottom row's first column
    assert area[-1, 0] == pytest.approx(summary["last_e_per_pix"])
    assert area[0, -1] == pytest.approx(summary["first_e_per_pix"])
    assert summary["last_e_per_pix"] == pytest.approx(4.0 * summary["first_e_per_pix"])
    slope = np.polyfit(np.arange(60), area.mean(axis=1), 1)[0] * 1000.0
    assert summary["slope_per_krow"] == pytest.approx(slope, rel=1e-6)


def test_the_field_in_the_image_is_the_one_recorded():
    sim = simulate_image("skipper-dense", (200, 240), 4, dark_current_e=1.0, dark_rise=5.0,
                         glow_fraction=0.0, n_hot_pixels=0, n_hot_segments=0,
                         n_hot_columns=0, n_hot_streaks=0, n_diffuse=0, n_worms=0, n_muons=0,
                         n_xrays=0, n_lowe=0, n_serial=0, row_drift=False,
                         baseline_step_probability=0.0)
    gain = sim.meta["gain_adu_per_e"]
    electrons = np.rint((sim.image - sim.meta["pedestal_adu"]) / gain)
    truth = sim.rate_map()
    # row by row and in total, the counts are Poisson at the recorded rate
    assert abs(electrons.sum() - truth.sum()) < 4 * np.sqrt(truth.sum())
    first, last = electrons[:20].mean(), electrons[-20:].mean()
    assert first == pytest.approx(truth[:20].mean(), rel=0.05)
    assert last == pytest.approx(truth[-20:].mean(), rel=0.05)


def test_a_flat_field_and_every_amplifier_of_a_frame():
    for sim in simulate_frame((40, 50), 2, seed=1, preset="skipper-dense", dark_current_e=0.3,
                              dark_rise=2.0):
        assert sim.rate_map().mean() == pytest.approx(0.3)
        edge = sim.meta["readout_edge"]
        assert sim.meta["electron_rate"]["readout_side"] == edge
    flat = simulate_image("damic", 32, 0, dark_current_e=0.02)
    assert np.all(flat.rate_map() == 0.02)
    assert flat.meta["electron_rate"]["slope_per_krow"] == 0.0


def test_a_run_records_the_rate_of_every_frame_and_amplifier(tmp_path):
    run = simulate_run(2, (40, 48), seed=3, n_amplifiers=2, preset="skipper-dense",
                       gain_adu_per_e=2.0, read_noise_adu=0.3, dark_current_e=0.5,
                       dark_rise=3.0, bad_share=0.0)
    for i in range(2):
        for k, sim in enumerate(run.frame(i)):
            assert np.allclose(run.rate_map(i, k), electron_rate_map(sim.meta))
            assert sim.meta["readout_side"] == ("left" if k % 2 == 0 else "right")
    path = run.save_truth(tmp_path / "truth.npz")
    with np.load(path) as data:
        rows = data["rate_rows"]
    assert rows.shape == (2, 2, 40)
    assert np.allclose(rows[1, 0], run.rate_map(1, 0).mean(axis=1))
    assert load_run_truth(path).rate_map(0, 1).mean() == pytest.approx(0.5)
    # a run without a rising field keeps today's flat field of the preset
    flat = simulate_run(1, 32, seed=0)
    assert np.all(flat.rate_map(0, 0) == flat.params["dark_current_e"])
    assert np.all(dark_rate_map({"dark_current_e": 0.1}, (4, 4)) == 0.1)
