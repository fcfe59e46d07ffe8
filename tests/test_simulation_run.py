"""Simulated runs: frames of one sensor sharing its defects, drift, bad frames, truth."""

import numpy as np
import pytest
from astropy.io import fits

from ccdnb.classes import HOT_PIXEL
from ccdnb.cli import main
from ccdnb.errors import CcdnbInputError
from ccdnb.simulation.run import load_run_truth, simulate_run


@pytest.fixture(scope="module")
def run():
    return simulate_run(20, 96, seed=4, n_amplifiers=2, defect_pixels=20.0,
                        defect_segments=30.0, defect_columns=20.0)


def test_the_same_seed_gives_the_same_frames(run):
    again = simulate_run(20, 96, seed=4, n_amplifiers=2, defect_pixels=20.0,
                         defect_segments=30.0, defect_columns=20.0)
    a, b = run.frame(3), again.frame(3)
    assert all(np.array_equal(x.image, y.image) and np.array_equal(x.label, y.label)
               for x, y in zip(a, b))
    assert not np.array_equal(run.frame(4)[0].image, a[0].image)


def test_defects_come_back_at_the_same_place_and_intermittent_ones_come_and_go(run):
    kinds = set(run.defects["kind"])
    assert {"pixel", "segment", "column"} <= kinds
    presence = run.present.mean(axis=0)
    intermittent = run.defects["presence"] < 1
    assert intermittent.any() and (~intermittent).any()
    assert (presence[~intermittent] == 1).all()
    assert ((run.defects["presence"][intermittent] >= 0.3)
            & (run.defects["presence"][intermittent] <= 0.9)).all()
    for i in (0, 7):
        frame = run.frame(i)
        for k, sim in enumerate(frame):
            on = run.defects[(run.defects["amplifier"] == k) & run.present[i]]
            for d in on:
                assert (sim.label[d["row0"]:d["row1"], d["col"]] == HOT_PIXEL).all()
            # fresh hits differ frame to frame; defect truth is in the objects table too
            assert (sim.objects["kind"][sim.objects["cls"] == HOT_PIXEL].size == len(on))


def test_bad_frames_are_recorded_and_drift_is_slow(run):
    kinds = [b for b in run.bad if b]
    assert kinds == ["noise jump"]  # 6 % of 20 frames: one, the first kind
    i = run.bad.index("noise jump")
    assert run.read_noise(i) > 2 * run.read_noise(i - 1)
    noises = [run.read_noise(j) for j in range(run.n_frames) if not run.bad[j]]
    assert max(noises) / min(noises) < 1.15
    steps = np.diff([run.pedestal(j) for j in range(run.n_frames)])
    assert np.abs(steps).max() < run.params["read_noise_adu"]


def test_every_bad_kind_shows_in_its_frame():
    run = simulate_run(6, 64, seed=1, bad_share=0.5)
    assert sorted(b for b in run.bad if b) == ["glow burst", "light leak", "noise jump"]
    glow = {b: run.frame(i)[0].label for i, b in enumerate(run.bad)}
    assert (glow["light leak"] == 1).mean() > 3 * (glow[""] == 1).mean()
    assert (glow["glow burst"] == 1).mean() > 3 * (glow[""] == 1).mean()


def test_written_frames_carry_time_and_the_truth_reads_back(tmp_path, run):
    small = simulate_run(3, 32, seed=2, n_amplifiers=2)
    paths = small.write(tmp_path, "f")
    assert [p.name for p in paths] == ["f_0000.fits", "f_0001.fits", "f_0002.fits"]
    with fits.open(paths[1]) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "CCD_A", "CCD_B"]
        assert hdul[1].header["DATE-OBS"] > fits.getheader(paths[0], 1)["DATE-OBS"]
        assert hdul[1].header["EXPTIME"] == small.params["exposure_s"]
    back = load_run_truth(tmp_path / "truth.npz")
    assert back.bad == small.bad and np.array_equal(back.present, small.present)
    assert np.array_equal(back.frame(2)[1].image, small.frame(2)[1].image)


def test_bad_parameters_are_one_clear_error(tmp_path, capsys):
    with pytest.raises(CcdnbInputError, match="unknown run parameter"):
        simulate_run(3, 32, defect_colums=1.0)
    assert main(["simulate", "--run", "0", "--out", str(tmp_path / "t.npz")]) == 2
    assert "--run '0': must be at least 1" in capsys.readouterr().err
    assert main(["simulate", "--run", "2", "--size", "32", "--out", str(tmp_path / "t.npz"),
                 "--fits", str(tmp_path / "frames")]) == 0
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [
        "t_0000.fits", "t_0001.fits"]
    assert (tmp_path / "t.npz").is_file()
