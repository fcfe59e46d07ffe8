"""``ccdnb predict`` on files with dead amplifiers (all NaN, or one value everywhere).

A DAMIC/DAMIC-M file has one HDU per amplifier; a dead one is read out as NaN or as
zeros. The others are segmented as if alone; the dead ones get an all-background mask
marked CCDNBDEA, no made-up pedestal, noise or rate, and one note line each.
"""

import numpy as np
import pytest
from astropy.io import fits
from predict_helpers import detector_image

from ccdnb.cli import main
from ccdnb.errors import CcdnbInputError
from ccdnb.fitsio import read_fits_images
from ccdnb.objects.quality_mask import QUALITY_BITS

SHAPE = (48, 64)
FAST = ["--tile", "32", "--margin", "8", "--batch-size", "16"]
NONFINITE = np.uint16(1 << next(b.bit for b in QUALITY_BITS if b.name == "NONFINITE"))


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """ccdnb's U-Net, tiny and untrained but seeded: the same weights every run."""
    import keras

    from ccdnb.model import build_unet

    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    keras.utils.set_random_seed(3)
    build_unet(depth=2, base_filters=4).save(path)
    return path


def _predict(model_path, path, out_dir):
    return main(["predict", "--model", str(model_path), *FAST, "--quality", "--catalog",
                 "--probabilities", "--quiet", "--out-dir", str(out_dir), str(path)])


def _good(seed):
    return detector_image(SHAPE, seed=seed)


def _mixed(path):
    """AMP0 and AMP3 hold data; AMP1 is all NaN, AMP2 int16 zeros."""
    fits.HDUList([fits.PrimaryHDU(),
                  fits.ImageHDU(_good(1), name="AMP0"),
                  fits.ImageHDU(np.full(SHAPE, np.nan, np.float32), name="AMP1"),
                  fits.ImageHDU(np.zeros(SHAPE, np.int16), name="AMP2"),
                  fits.ImageHDU(_good(2), name="AMP3")]).writeto(path)
    return path


def test_dead_amplifiers_are_masked_and_the_others_segmented_as_alone(tmp_path, capsys,
                                                                       model_path):
    mixed = _mixed(tmp_path / "mixed.fits")
    alone = tmp_path / "alone.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(_good(1), name="AMP0"),
                  fits.ImageHDU(_good(2), name="AMP3")]).writeto(alone)

    assert _predict(model_path, mixed, tmp_path / "out") == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("ccdnb: note: ") for line in err), err
    assert "HDU 2 (AMP1)" in err[0] and "no finite pixel" in err[0]
    assert "HDU 3 (AMP2)" in err[1] and "constant 0" in err[1]
    assert _predict(model_path, alone, tmp_path / "out") == 0
    assert capsys.readouterr().err == ""

    with fits.open(tmp_path / "out" / "mixed.masks.fits") as got, \
            fits.open(tmp_path / "out" / "alone.masks.fits") as ref:
        for name in ("AMP0", "AMP3"):  # the same masks, probabilities and quality as alone
            for suffix in ("", "_PROB", "_QUALITY"):
                np.testing.assert_array_equal(got[name + suffix].data, ref[name + suffix].data)
            assert got[name].header["CCDNBRN"] == ref[name].header["CCDNBRN"]
            assert "CCDNBDEA" not in got[name].header
        for name, reason in (("AMP1", "no finite pixel"), ("AMP2", "constant 0")):
            header = got[name].header
            assert header["CCDNBDEA"] == reason
            assert not got[name].data.any()  # all background
            for key in ("CCDNBPED", "CCDNBRN", "CCDNBRT", "CCDNBRTE", "CCDNBGN"):
                assert key not in header, key  # nothing measured, nothing made up
            assert "dead amplifier" in header["CCDNBRTM"]
            assert not any("read noise" in line for line in header["HISTORY"])
            probs = got[name + "_PROB"].data
            assert np.all(probs[0] == 1) and not probs[1:].any()
            assert np.all(got[name + "_QUALITY"].data == NONFINITE)
            assert got[name + "_QUALITY"].header["CCDNBDEA"] == reason
        rows, ref_rows = got["CATALOG"].data, ref["CATALOG"].data
        assert set(rows["hdu"]) <= {1, 4} and len(rows) == len(ref_rows)


def test_a_file_of_dead_amplifiers_only_is_refused(tmp_path, capsys, model_path):
    path = tmp_path / "dead.fits"
    fits.HDUList([fits.PrimaryHDU(),
                  fits.ImageHDU(np.full(SHAPE, np.nan, np.float32), name="AMP0"),
                  fits.ImageHDU(np.full(SHAPE, 7.5, np.float32), name="AMP1")]).writeto(path)
    out_dir = tmp_path / "out"
    assert _predict(model_path, path, out_dir) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ccdnb: error: " + str(path)), err
    for words in ("nothing to segment", "HDU 1 (AMP0) has no finite pixel",
                  "HDU 2 (AMP1) is constant 7.5"):
        assert words in err[0]
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_only_the_predict_reading_keeps_dead_amplifiers(tmp_path):
    """``read_fits_images``'s default (the monitor's reading) still refuses an all-NaN HDU."""
    path = _mixed(tmp_path / "mixed.fits")
    with pytest.raises(CcdnbInputError, match="HDU 2 \\(AMP1\\) has no finite pixel"):
        read_fits_images(path)
    default = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros(SHAPE, np.int16))])
    assert read_fits_images(default).images[0].dead is None
    dead = {image.extname: image.dead for image in read_fits_images(path, keep_dead=True).images}
    assert dead == {"AMP0": None, "AMP1": "no finite pixel", "AMP2": "constant 0", "AMP3": None}
