"""``ccdnb predict`` end to end: bad inputs fail cleanly, odd inputs work, outputs mirror inputs."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from predict_helpers import detector_image, local_conv_model

from ccdnb.cli import main
from ccdnb.fitsio import read_fits_images
from ccdnb.predict import predict_file, predict_image

TILE, MARGIN = 32, 8
FAST = ["--tile", str(TILE), "--margin", str(MARGIN), "--batch-size", "16"]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A tiny model saved to disk: ccdnb's U-Net when available, else a small conv net."""
    import keras

    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    try:
        from ccdnb.model import build_unet
    except ModuleNotFoundError:
        local_conv_model(seed=2).save(path)
    else:
        keras.utils.set_random_seed(2)  # the same untrained weights in every run
        build_unet(depth=2, base_filters=4).save(path)
    return path


@pytest.fixture(scope="module")
def model(model_path):
    from ccdnb.model import load_model_file

    return load_model_file(model_path)[0]


def _predict(model_path, *args):
    return main(["predict", "--model", str(model_path), *FAST, *map(str, args)])


def _write(path, *hdus):
    fits.HDUList(list(hdus)).writeto(path)
    return path


def _table_hdu():
    return fits.BinTableHDU.from_columns([fits.Column(name="t", format="E", array=[1.0, 2.0])],
                                         name="EVENTS")


def _cut(keep_bytes):
    """Write a two-HDU file cut after ``keep_bytes`` (in the data, or in the second header)."""
    def make(path):
        full = path.with_name("full.fits")
        _write(full, fits.PrimaryHDU(), fits.ImageHDU(detector_image((64, 64))))
        path.write_bytes(full.read_bytes()[:keep_bytes])
        full.unlink()
    return make


BAD_INPUTS = {
    "missing": (lambda p: None, "no such file"),
    "text": (lambda p: p.write_text("SIMPLE? no, just a note\n" * 20), "not a readable FITS"),
    "empty": (lambda p: p.write_bytes(b""), "empty file"),
    "truncated data": (_cut(8000), "truncated"),
    "truncated header": (_cut(3500), "truncated"),
    "table only": (lambda p: _write(p, fits.PrimaryHDU(), _table_hdu()), "no image data"),
    "1-D": (lambda p: _write(p, fits.PrimaryHDU(np.arange(50.0))), "1-D data"),
    "3-D": (lambda p: _write(p, fits.PrimaryHDU(np.zeros((3, 8, 8)))), "3-D cube"),
    "all NaN": (lambda p: _write(p, fits.PrimaryHDU(np.full((16, 16), np.nan))),
                "no finite pixel"),
}


def _assert_one_error_line(capsys, *names):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ccdnb: error:") and "Traceback" not in err
    for name in names:
        assert str(name) in lines[0]
    return lines[0]


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_file_fails_with_one_line_and_leaves_nothing(tmp_path, capsys, model_path,
                                                               case):
    make, problem = BAD_INPUTS[case]
    path = tmp_path / "input.fits"
    make(path)
    before = path.read_bytes() if path.exists() else None
    out_dir = tmp_path / "out"
    assert _predict(model_path, path, "--out-dir", out_dir) == 2
    assert problem in _assert_one_error_line(capsys, path)
    assert list(out_dir.iterdir()) == []
    assert (path.read_bytes() if path.exists() else None) == before


def test_unreadable_model_file_is_one_line(tmp_path, capsys):
    image = _write(tmp_path / "img.fits", fits.PrimaryHDU(detector_image((40, 40))))
    bad_model = tmp_path / "broken.keras"
    bad_model.write_bytes(b"not a zip archive")
    assert _predict(bad_model, image, "--out-dir", tmp_path / "out") == 2
    _assert_one_error_line(capsys, bad_model)
    assert not (tmp_path / "out").exists()  # nothing is created before the model loads


def test_missing_default_model_is_one_line(tmp_path, capsys, monkeypatch):
    import ccdnb.model

    monkeypatch.setattr(ccdnb.model, "MODELS_DIR", tmp_path / "models")
    image = _write(tmp_path / "img.fits", fits.PrimaryHDU(detector_image((40, 40))))
    assert main(["predict", str(image), "--out-dir", str(tmp_path / "out")]) == 2
    assert "--model" in _assert_one_error_line(capsys, "default.keras")


def test_unwritable_output_directory_is_one_line(tmp_path, capsys, model_path):
    image = _write(tmp_path / "img.fits", fits.PrimaryHDU(detector_image((40, 40))))
    (tmp_path / "afile").write_text("a regular file, so no directory can be made below it")
    out_dir = tmp_path / "afile" / "sub"  # fails for root too, unlike chmod
    assert _predict(model_path, image, "--out-dir", out_dir) == 2
    _assert_one_error_line(capsys, out_dir)


def test_existing_output_needs_overwrite(tmp_path, capsys, model_path):
    image = _write(tmp_path / "img.fits", fits.PrimaryHDU(detector_image((40, 40))))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    existing = out_dir / "img.masks.fits"
    existing.write_bytes(b"an earlier result")
    assert _predict(model_path, image, "--out-dir", out_dir) == 2
    _assert_one_error_line(capsys, image, existing)
    assert existing.read_bytes() == b"an earlier result"
    assert sorted(p.name for p in out_dir.iterdir()) == ["img.masks.fits"]
    assert _predict(model_path, image, "--out-dir", out_dir, "--overwrite") == 0
    with fits.open(existing) as hdul:
        assert hdul[0].data.shape == (40, 40)


def test_one_bad_file_does_not_stop_the_others(tmp_path, capsys, model_path):
    good = _write(tmp_path / "good.fits.fz", fits.PrimaryHDU(detector_image((40, 40))))
    missing = tmp_path / "missing.fits"
    assert _predict(model_path, missing, good, "--out-dir", tmp_path / "out") == 2
    captured = capsys.readouterr()
    error, summary = captured.err.strip().splitlines()  # the error, then the run's summary
    assert error == f"ccdnb: error: {missing}: no such file"
    assert summary.startswith("ccdnb: 1 written, 1 failed (missing.fits); ")
    assert captured.out == f"{tmp_path / 'out' / 'good.masks.fits'}\n"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["good.masks.fits"]


def test_odd_valid_inputs_give_masks_equal_to_predict_image_in_the_input_layout(
        tmp_path, capsys, model_path, model):
    with_nans = detector_image((517, 1031), seed=1)
    with_nans[[5, 300], [7, 900]] = np.nan
    small = detector_image((20, 13), seed=2)
    raw = np.clip(detector_image((48, 64), seed=3) * 20, 0, 65535).astype(np.uint16)
    compressed = detector_image((70, 50), seed=4)
    path = _write(tmp_path / "frame.FITS",
                  fits.PrimaryHDU(small, header=fits.Header([("OBSERVER", "DAMIC-M")])),
                  fits.ImageHDU(with_nans, name="AMP1"), _table_hdu(),
                  fits.ImageHDU(raw, name="RAW"), fits.CompImageHDU(compressed, name="CMP"))
    before = path.read_bytes()
    assert _predict(model_path, path, "--out-dir", tmp_path / "out") == 0
    out = tmp_path / "out" / "frame.masks.fits"
    assert capsys.readouterr().out.strip() == str(out)
    assert path.read_bytes() == before
    contents = read_fits_images(path)
    with fits.open(out) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "AMP1", "EVENTS", "RAW", "CMP"]
        assert [type(h).__name__ for h in hdul] == [
            "PrimaryHDU", "ImageHDU", "ImageHDU", "ImageHDU", "CompImageHDU"]
        assert hdul["AMP1"].header["NNONFIN"] == 2 and hdul[0].header["OBSERVER"] == "DAMIC-M"
        for image in contents.images:
            expected = predict_image(model, image.data, tile=TILE, margin=MARGIN)
            np.testing.assert_array_equal(hdul[image.index].data, expected)


def test_probabilities_and_catalog_outputs(tmp_path):
    """With the shipped model, which finds the bright dots (an untrained network may find
    no cluster, and a catalog of none checks nothing): the probabilities written are the
    model's, and the catalog, its CSV and its DS9 file hold one row per cluster of the mask."""
    from scipy.ndimage import label

    from ccdnb.model import DEFAULT_MODEL
    from ccdnb.runtime import load_predictor

    image = detector_image((64, 80), seed=6)
    for row, col in ((10, 10), (40, 50), (52, 20)):
        image[row:row + 2, col:col + 3] += 150.0
    path = _write(tmp_path / "amp.fits", fits.PrimaryHDU(), fits.ImageHDU(image, name="A"))
    written = predict_file(path, tmp_path / "out", model=DEFAULT_MODEL, probabilities=True,
                           catalog=True, tile=64, margin=16, progress=False)
    assert written == tmp_path / "out" / "amp.masks.fits"
    predictor, _ = load_predictor(DEFAULT_MODEL)
    mask, probs = predict_image(predictor, image, tile=64, margin=16, probabilities=True)
    with fits.open(written) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "A", "A_PROB", "CATALOG"]
        assert hdul["A"].header["CCDNBMOD"] == DEFAULT_MODEL.name
        np.testing.assert_array_equal(hdul["A"].data, mask)
        np.testing.assert_allclose(np.moveaxis(hdul["A_PROB"].data, 0, -1), probs, atol=1e-6)
        table = hdul["CATALOG"].data
        method = hdul["A"].header["CCDNBGM"]
    from astropy.table import Table

    _, clusters = label(mask == 3, structure=np.ones((3, 3)))
    assert clusters >= 3  # the three dots at least
    csv = Table.read(tmp_path / "out" / "amp.catalog.csv", format="ascii.csv")
    assert len(csv) == len(table) == clusters
    assert int(np.sum(csv["npix"])) == int(np.sum(mask == 3))
    for row, col in ((10, 10), (40, 50), (52, 20)):  # each dot is a row, at its place
        assert np.min(np.hypot(csv["x"] - (col + 1), csv["y"] - (row + 0.5))) < 1.0
    # the gain behind the catalog's energies in the mask's header, a DS9 region file per image
    from ccdnb.ds9 import read_region_file

    assert set(csv["gain_method"]) == {method}
    assert len(read_region_file(tmp_path / "out" / "amp.A.reg")) == len(csv)


def test_a_given_gain_is_the_catalogs_and_bad_gains_are_one_error(tmp_path, model_path,
                                                                  capsys):
    image = detector_image((128, 128), seed=6)
    path = _write(tmp_path / "amp.fits", fits.PrimaryHDU(image))
    # the shipped model finds the bright dots (the tiny test model may find none)
    assert main(["predict", str(path), "--out-dir", str(tmp_path / "out"), "--catalog",
                 "--gain", "2.5", "--quiet"]) == 0
    from astropy.table import Table

    csv = Table.read(tmp_path / "out" / "amp.catalog.csv", format="ascii.csv")
    assert len(csv) and set(csv["gain_method"]) == {"user"}
    np.testing.assert_allclose(csv["gain"], 2.5)
    np.testing.assert_allclose(csv["electrons"], csv["charge_adu"] / 2.5, rtol=1e-5)
    capsys.readouterr()
    for bad in (["--gain", "2.5"], ["--catalog", "--gain", "-1"],
                ["--catalog", "--gain", "abc"]):
        assert _predict(model_path, path, "--out-dir", tmp_path / "bad", *bad) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--gain" in err[0]
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())


def _installed_test_file(package, name):
    spec = importlib.util.find_spec(package)
    return Path(spec.origin).parent / "tests" / "data" / name


@pytest.mark.parametrize("package, name, images", [
    ("ccdproc", "a8280271.fits", ["PRIMARY"]),
    ("astroscrappy", "gmos.fits", ["SCI", "VAR", "SKYFIT"]),
])
def test_real_detector_frames(tmp_path, model_path, package, name, images):
    path = _installed_test_file(package, name)
    before = path.read_bytes()
    assert _predict(model_path, path, "--out-dir", tmp_path, "--catalog",
                    "--tile", "64", "--margin", "8", "--batch-size", "32") == 0
    assert path.read_bytes() == before
    with fits.open(tmp_path / f"{Path(name).stem}.masks.fits") as out, fits.open(path) as src:
        assert [h.name for h in out][:len(src)] == [h.name for h in src]
        for extname in images:
            assert out[extname].data.shape == src[extname].data.shape
            assert out[extname].data.dtype == np.uint8 and out[extname].data.max() <= 3


def test_truncated_file_gives_exactly_one_stderr_line_and_no_astropy_warnings(tmp_path,
                                                                              model_path):
    """A real process: astropy's logger and TensorFlow's start-up notes write past capsys."""
    import subprocess
    import sys

    path = tmp_path / "cut.fits"
    _cut(8000)(path)
    result = subprocess.run(
        [sys.executable, "-m", "ccdnb", "predict", str(path), "--out-dir", str(tmp_path / "out"),
         "--model", str(model_path), *FAST], capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"ccdnb: error: {path}: ") and "truncated" in lines[0]
    assert result.stdout == ""


def test_most_probable_class_is_argmax_ties_included():
    from ccdnb.predict import most_probable_class

    rng = np.random.default_rng(3)
    p = rng.random((3, 40, 50, 4)).astype(np.float32)
    p[0, :, :, 1] = p[0, :, :, 0]                     # ties go to the lower class
    p[1, :, :, 3] = p[1, :, :, 2]
    p[2, :10, :, 2] = p[2, :10, :, 1] = p[2, :10, :, 0] = 2.0
    np.testing.assert_array_equal(most_probable_class(p), np.argmax(p, axis=-1))
    assert most_probable_class(p).dtype == np.uint8
