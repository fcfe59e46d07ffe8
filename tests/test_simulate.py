"""The CCD simulator: detector response, truth rules, physics, seeds, files and CLI."""

import json

import numpy as np
import pytest
from astropy.io import fits
from astropy.stats import sigma_clipped_stats

from ccdnb import cli
from ccdnb.classes import BACKGROUND, CLUSTER, GLOWING, HOT_PIXEL
from ccdnb.errors import CcdnbInputError
from ccdnb.seeds import derive_seed
from ccdnb.simulation import (EV_PER_PAIR, OBJECT_DTYPE, PRESETS, label_from_components, load_dataset,
                              save_dataset, simulate_dataset, simulate_frame, simulate_image,
                              write_simulated_fits)
from ccdnb.simulation.physics import THICKNESS_UM, diffusion_sigma_px
from ccdnb.simulation.presets import draw_parameters
from ccdnb.simulation.truth import Scene

NO_OBJECTS = dict(glow_fraction=0.0, n_hot_pixels=0, n_hot_segments=0, n_hot_columns=0,
                  n_hot_streaks=0, n_diffuse=0, n_worms=0, n_muons=0, n_alphas=0)


def test_background_has_the_requested_pedestal_and_noise():
    sim = simulate_image("clusters-only", (200, 300), seed=4, pedestal_adu=1234.5,
                         read_noise_adu=7.0, dark_current_e=0.0, row_drift=False, **NO_OBJECTS)
    mean, _, std = sigma_clipped_stats(sim.image, sigma=5)
    n = sim.image.size
    assert sim.image.dtype == np.float32 and sim.image.shape == (200, 300)
    assert abs(mean - 1234.5) < 5 * 7.0 / np.sqrt(n)
    assert abs(std - 7.0) < 5 * 7.0 / np.sqrt(2 * n)
    assert not sim.label.any() and not sim.instances.any() and len(sim.objects) == 0


def test_dark_current_adds_poisson_charge():
    sim = simulate_image("clusters-only", (200, 200), seed=2, pedestal_adu=100.0, read_noise_adu=0.3,
                         gain_adu_per_e=2.0, dark_current_e=0.5, row_drift=False, **NO_OBJECTS)
    electrons = np.rint((sim.image - 100.0) / 2.0)
    assert electrons.mean() == pytest.approx(0.5, abs=0.02)
    assert electrons.var() == pytest.approx(0.5, abs=0.03)  # Poisson: variance == mean


def test_gain_scales_the_signal():
    common = dict(preset="clusters-only", shape=96, seed=11, noiseless=True, pedestal_adu=0.0,
                  read_noise_adu=5.0, dark_current_e=0.0, row_drift=False)
    low = simulate_image(gain_adu_per_e=2.0, **common)
    high = simulate_image(gain_adu_per_e=8.0, **common)
    assert low.image.sum() > 0
    assert high.image.sum() == pytest.approx(4 * low.image.sum(), rel=1e-3)
    assert high.image.max() == pytest.approx(4 * low.image.max(), rel=1e-5)


def test_same_seed_same_arrays_other_seed_different():
    a, b = simulate_image("random", 64, seed=7), simulate_image("random", 64, seed=7)
    c = simulate_image("random", 64, seed=8)
    for field in ("image", "label", "instances"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert a.objects.tobytes() == b.objects.tobytes()  # NaN energies compare equal as bytes
    assert a.meta == b.meta
    assert not np.array_equal(a.image, c.image)


def test_dataset_image_i_is_simulate_image_with_derived_seed():
    data = simulate_dataset("thesis", 3, 48, seed=5)
    again = simulate_dataset("thesis", 3, 48, seed=5)
    assert np.array_equal(data.images, again.images)
    second = simulate_image("thesis", 48, seed=derive_seed(5, 1))
    assert np.array_equal(data.images[1], second.image)
    assert np.array_equal(data.labels[1], second.label)
    assert set(np.unique(data.objects["image"])) <= {0, 1, 2}
    assert not np.array_equal(data.images[0], data.images[1])


def test_label_from_components_applies_one_sigma_and_priority():
    sigma = 10.0
    glow = np.array([[10.0, 9.99, 50.0, 50.0, 0.0]])
    hot = np.array([[0.0, 0.0, 10.0, 0.0, 9.0]])
    cluster = np.array([[0.0, 0.0, 30.0, 30.0, 9.0]])
    label = label_from_components({GLOWING: glow, HOT_PIXEL: hot, CLUSTER: cluster}, sigma)
    # 1 sigma is enough; just below is not; hot > cluster > glowing; no summing across classes
    assert label.tolist() == [[GLOWING, BACKGROUND, HOT_PIXEL, CLUSTER, BACKGROUND]]
    assert label.dtype == np.uint8


def test_scene_instances_follow_priority_and_brightest_owner():
    scene = Scene((6, 8), gain=1.0, read_noise=2.0)
    scene.add_box(GLOWING, "band", (0, 6), (0, 4), 5.0)       # id 1
    scene.add_box(HOT_PIXEL, "column", (0, 6), (3, 4), 100.0)  # id 2, over the glow
    scene.add_box(CLUSTER, "diffuse", (2, 4), (2, 6), 3.0)     # id 3, partly over glow and hot
    scene.add_box(CLUSTER, "diffuse", (3, 5), (5, 7), 4.0)     # id 4, brighter where they meet
    scene.add_box(CLUSTER, "diffuse", (0, 1), (6, 8), 1.0)     # below 1 sigma: dropped
    truth = scene.finalize()
    lab, inst = truth.label, truth.instances
    assert lab[0, 0] == GLOWING and inst[0, 0] == 1
    assert lab[2, 3] == HOT_PIXEL and inst[2, 3] == 2
    assert lab[2, 2] == CLUSTER and inst[2, 2] == 3  # cluster beats glowing
    assert lab[3, 5] == CLUSTER and inst[3, 5] == 4  # the brighter cluster owns the overlap
    assert lab[0, 7] == BACKGROUND and inst[0, 7] == 0
    assert list(truth.objects["id"]) == [1, 2, 3, 4]
    assert truth.objects["peak_sigma"][1] == pytest.approx(50.0)


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


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_objects_table_matches_instances_and_labels(preset):
    sim = simulate_image(preset, 128, seed=3)
    objects, inst = sim.objects, sim.instances
    assert objects.dtype == OBJECT_DTYPE
    assert list(objects["id"]) == list(range(1, len(objects) + 1))
    assert set(np.unique(inst)) - {0} == set(objects["id"])
    assert np.array_equal(inst > 0, sim.label > 0)
    for row in objects:
        footprint = inst == row["id"]
        assert footprint.sum() == row["npix"]
        assert np.all(sim.label[footprint] == row["cls"])
        assert np.isnan(row["energy_kev"]) == (row["cls"] != CLUSTER)
        assert -1 <= row["x"] <= 128 and -1 <= row["y"] <= 128
    json.dumps(sim.meta)  # JSON-serialisable
    for key in ("pedestal_adu", "read_noise_adu", "gain_adu_per_e", "dark_current_e",
                "saturation_adu", "row_drift", "preset", "seed", "shape", "noiseless"):
        assert key in sim.meta


def test_thesis_noiseless_images_are_exactly_threshold_labelled():
    for seed in range(6):
        sim = simulate_image("thesis", 128, seed=seed, noiseless=True)
        meta = sim.meta
        signal = sim.image.astype(np.float64) - np.float32(meta["pedestal_adu"])
        label = np.where(signal >= meta["read_noise_adu"], CLUSTER, BACKGROUND)
        if meta["glow_level_adu"] is not None:
            label[signal == meta["glow_level_adu"]] = GLOWING
        label[signal >= meta["hot_level_adu"]] = HOT_PIXEL
        assert np.array_equal(label, sim.label)
        assert signal[sim.label == CLUSTER].max() < meta["hot_level_adu"]
        # glow on the left, hot lines and clusters mixed on the right (the thesis's Figure 6)
        columns = [set(np.flatnonzero((sim.label == c).any(axis=0))) for c in (1, 2, 3)]
        assert not (columns[0] & columns[1] or columns[0] & columns[2])


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


def test_dataset_round_trip(tmp_path):
    data = simulate_dataset("random", 3, (32, 40), seed=1)
    path = save_dataset(tmp_path / "d.npz", data)
    back = load_dataset(path)
    for field in ("images", "labels", "instances", "objects"):
        assert getattr(back, field).dtype == getattr(data, field).dtype
        assert getattr(back, field).tobytes() == getattr(data, field).tobytes()
    assert back.meta == data.meta and len(back) == 3
    with pytest.raises(CcdnbInputError, match="no such"):
        load_dataset(tmp_path / "missing.npz")


def test_cli_writes_dataset_and_fits(tmp_path, capsys):
    out, fits_dir = tmp_path / "sim.npz", tmp_path / "fits"
    code = cli.main(["simulate", "--preset", "thesis", "--n", "2", "--size", "32x48", "--seed", "3",
                     "--out", str(out), "--fits", str(fits_dir)])
    assert code == 0
    data = load_dataset(out)
    assert data.images.shape == (2, 32, 48) and data.labels.dtype == np.uint8
    files = sorted(fits_dir.glob("*.fits"))
    assert [f.name for f in files] == ["sim_0000.fits", "sim_0001.fits"]
    with fits.open(files[1]) as hdul:
        assert np.array_equal(hdul[0].data, data.images[1])
        assert hdul[0].header["CCDNBSIM"] == "thesis"
        assert hdul[0].header["PEDESTAL"] == pytest.approx(8800.0)


@pytest.mark.parametrize("argv, message", [
    (["--size", "7"], "size"), (["--preset", "nope"], "preset"), (["--n", "0"], "--n"),
    (["--size", "abc"], "size"),
])
def test_cli_bad_arguments_exit_2_without_output(tmp_path, capsys, argv, message):
    out = tmp_path / "sim.npz"
    assert cli.main(["simulate", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ccdnb: error:") and message in err and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize("compress", [False, True])
def test_damic_frame_fits_has_one_extension_per_amplifier(tmp_path, compress):
    amps = simulate_frame((64, 96), n_amplifiers=4, seed=2)
    assert [a.meta["amplifier"] for a in amps] == ["A", "B", "C", "D"]
    assert len({a.meta["pedestal_adu"] for a in amps}) == 4
    for amp in amps:  # glow at the amplifier's readout edge
        glow_cols = np.flatnonzero((amp.label == GLOWING).any(axis=0))
        assert glow_cols.size and (glow_cols.max() < 48 if amp.meta["readout_edge"] == "left"
                                   else glow_cols.min() >= 48)
    path = write_simulated_fits(tmp_path / "frame.fits", amps, compress=compress)
    with fits.open(path) as hdul:
        assert hdul[0].data is None
        assert [h.name for h in hdul[1:]] == ["CCD_A", "CCD_B", "CCD_C", "CCD_D"]
        for hdu, amp in zip(hdul[1:], amps):
            assert isinstance(hdu, fits.CompImageHDU) == compress
            assert hdu.data.shape == (64, 96)
            assert hdu.header["RDNOISE"] == pytest.approx(amp.meta["read_noise_adu"])
            assert hdu.header["GAIN"] == pytest.approx(amp.meta["gain_adu_per_e"])
            assert hdu.header["CCDNBSIM"] == "damic"
            np.testing.assert_allclose(hdu.data, amp.image, atol=amp.meta["read_noise_adu"])
