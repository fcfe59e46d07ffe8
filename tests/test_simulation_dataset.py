"""The CCD simulator: detector response, truth rules, physics, seeds, files and CLI."""

import json

import numpy as np
import pytest
from astropy.io import fits
from astropy.stats import sigma_clipped_stats
from scenes import NO_OBJECTS

from ccdnb import cli
from ccdnb.classes import BACKGROUND, CLUSTER, GLOWING, HOT_PIXEL
from ccdnb.errors import CcdnbInputError
from ccdnb.seeds import derive_seed
from ccdnb.simulation import (
    OBJECT_DTYPE,
    PRESETS,
    electron_rate_map,
    load_dataset,
    save_dataset,
    simulate_dataset,
    simulate_image,
    tile_dataset,
)


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
    sim = simulate_image("clusters-only", (200, 200), seed=2, pedestal_adu=100.0,
                         read_noise_adu=0.3, gain_adu_per_e=2.0, dark_current_e=0.5,
                         row_drift=False, **NO_OBJECTS)
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


def test_tiles_are_the_images_cut_with_their_objects_and_field():
    data = simulate_dataset("skipper-dense", 2, (64, 96), seed=4)
    tiles = tile_dataset(data, 32)
    assert len(tiles) == 2 * 2 * 3 and tiles.images.shape[1:] == (32, 32)
    for k, meta in enumerate(tiles.meta):
        i, (top, left) = meta["tile"]["image"], meta["tile"]["origin"]
        window = (i, slice(top, top + 32), slice(left, left + 32))
        for field in ("images", "labels", "instances"):
            assert np.array_equal(getattr(tiles, field)[k], getattr(data, field)[window])
        # the field's truth is the tile's part of the image's
        np.testing.assert_allclose(electron_rate_map(meta),
                                   electron_rate_map(data.meta[i])[window[1:]])
        rows = tiles.objects[tiles.objects["image"] == k]
        held = set(np.unique(tiles.instances[k])) - {0}
        assert held <= set(rows["id"])  # every object with pixels here has its row
        source = data.objects[data.objects["image"] == i]
        for row in rows:  # same object, in the tile's coordinates
            original = source[source["id"] == row["id"]][0]
            assert row["x"] == pytest.approx(original["x"] - left)
            assert row["y"] == pytest.approx(original["y"] - top)
            assert row["kind"] == original["kind"]
    # pixels beyond the last whole tile are left out; a tile larger than the images is refused
    assert len(tile_dataset(data, 40)) == 2 * 1 * 2
    with pytest.raises(CcdnbInputError, match="tile 65"):
        tile_dataset(data, 65)


def test_cli_writes_tiles(tmp_path, capsys):
    out = tmp_path / "tiles.npz"
    assert cli.main(["simulate", "--preset", "damic", "--n", "1", "--size", "64", "--seed", "2",
                     "--tiles", "32", "--out", str(out)]) == 0
    assert "in 4 tiles of 32x32" in capsys.readouterr().out
    tiles, whole = load_dataset(out), simulate_dataset("damic", 1, 64, seed=2)
    assert np.array_equal(tiles.images[3], whole.images[0, 32:, 32:])


@pytest.mark.parametrize("argv, message", [
    (["--size", "7"], "size"), (["--preset", "nope"], "preset"), (["--n", "0"], "--n"),
    (["--size", "abc"], "size"), (["--size", "32", "--tiles", "64"], "--tiles"),
    (["--tiles", "x"], "--tiles"), (["--run", "2", "--tiles", "32"], "--tiles"),
])
def test_cli_bad_arguments_exit_2_without_output(tmp_path, capsys, argv, message):
    out = tmp_path / "sim.npz"
    assert cli.main(["simulate", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ccdnb: error:") and message in err and err.count("\n") == 1
    assert not out.exists()
