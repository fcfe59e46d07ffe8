"""Reading detector FITS files and writing their masks files."""

import numpy as np
import pytest
from astropy.io import fits

from ccdnb.errors import CcdnbInputError
from ccdnb.io.fits import atomic_outputs, masks_path, output_stem, read_fits_images, write_masks


@pytest.mark.parametrize("name, stem", [
    ("run1.fits", "run1"), ("run1.FITS.fz", "run1"), ("a.b.fit", "a.b"), ("x.fts", "x"),
    ("img.fz", "img"), ("frame.Fits.FZ", "frame"), ("noext", "noext"), ("d.fits.gz", "d.fits.gz"),
])
def test_output_stem_strips_fits_suffixes_case_insensitively(name, stem):
    assert output_stem(f"/data/{name}") == stem


def test_masks_path_is_in_the_output_directory(tmp_path):
    assert masks_path("/raw/img_001.fits.fz", tmp_path) == tmp_path / "img_001.masks.fits"


def _multi_extension_file(path):
    rng = np.random.default_rng(0)
    science = rng.normal(100.0, 3.0, (30, 40)).astype(np.float32)
    science[2, 3] = np.nan
    raw = rng.integers(0, 65535, (20, 25)).astype(np.uint16)  # stored as int16 + BZERO
    table = fits.BinTableHDU.from_columns([fits.Column(name="t", format="E", array=[1.0])],
                                          name="EVENTS")
    primary = fits.PrimaryHDU(header=fits.Header([("OBSERVER", "DAMIC")]))
    hdus = [primary, fits.ImageHDU(science, name="SCI"), table,
            fits.ImageHDU(raw, name="RAW"),
            fits.CompImageHDU(science[:16, :16], name="CMP",
                              header=fits.Header([("ZD", 12.5, "zenith distance")]))]
    fits.HDUList(hdus).writeto(path)
    return science, raw


def test_reads_every_image_hdu_as_float32_with_headers_and_nan_count(tmp_path):
    path = tmp_path / "mef.fits"
    science, raw = _multi_extension_file(path)
    contents = read_fits_images(path)
    assert [h.kind for h in contents.hdus] == ["empty", "image", "BinTableHDU", "image",
                                               "compressed image"]
    sci, raw_image, compressed = contents.images
    assert [i.index for i in contents.images] == [1, 3, 4]
    assert sci.extname == "SCI" and sci.data.dtype == np.float32
    np.testing.assert_array_equal(sci.data, science)
    assert sci.n_nonfinite == 1 and contents.n_nonfinite == 2
    np.testing.assert_array_equal(raw_image.data, raw.astype(np.float32))  # BZERO applied
    assert compressed.compressed and compressed.data.shape == (16, 16)
    assert contents.hdus[0].header["OBSERVER"] == "DAMIC"


@pytest.mark.parametrize("data, problem", [
    (np.zeros((2, 4, 5), np.float32), "3-D cube"),
    (np.arange(10, dtype=np.float32), "1-D data"),
    (np.full((4, 4), np.nan, np.float32), "no finite pixel"),
])
def test_unusable_image_data_is_named(tmp_path, data, problem):
    path = tmp_path / "bad.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, name="AMP")]).writeto(path)
    with pytest.raises(CcdnbInputError, match=problem) as info:
        read_fits_images(path)
    assert str(path) in str(info.value) and "AMP" in str(info.value)


def test_masks_file_mirrors_the_input_layout_and_headers(tmp_path):
    path = tmp_path / "mef.fits"
    _multi_extension_file(path)
    contents = read_fits_images(path)
    rng = np.random.default_rng(1)
    masks = {i.index: rng.integers(0, 4, i.data.shape).astype(np.uint8) for i in contents.images}
    out = write_masks(tmp_path / "out.masks.fits", contents, masks, model_name="m.keras",
                      model_id="abc123")
    with fits.open(out) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "SCI", "EVENTS", "RAW", "CMP"]
        assert isinstance(hdul["CMP"], fits.CompImageHDU)
        assert hdul["EVENTS"].data is None and "CCDNBSKP" in hdul["EVENTS"].header
        for index, mask in masks.items():
            assert hdul[index].data.dtype == np.uint8
            np.testing.assert_array_equal(hdul[index].data, mask)
        header = hdul["RAW"].header
        assert "BZERO" not in header and header["BITPIX"] == 8
        assert [header[f"CLASS{k}"] for k in range(4)] == [
            "background", "glowing", "hot pixel", "cluster"]
        assert header["CCDNBMOD"] == "m.keras" and header["CCDNBMID"] == "abc123"
        assert hdul["SCI"].header["NNONFIN"] == 1 and "CCDNBVER" in header
        assert hdul[0].header["OBSERVER"] == "DAMIC" and hdul["CMP"].header["ZD"] == 12.5


def test_atomic_outputs_leave_nothing_when_writing_fails(tmp_path):
    finals = [tmp_path / "a.masks.fits", tmp_path / "a.catalog.csv"]
    with pytest.raises(RuntimeError):
        with atomic_outputs(*finals) as temps:
            temps[0].write_text("partial")
            raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []
    with atomic_outputs(*finals) as temps:
        for temp in temps:
            temp.write_text("done")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in finals)


def test_one_file_atomic_writers_leave_nothing_on_failure(tmp_path):
    from ccdnb.io.atomic import atomic_path, write_text_atomic

    final = tmp_path / "sub" / "stats.json"
    with pytest.raises(RuntimeError):
        with atomic_path(final, make_parents=True) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert list((tmp_path / "sub").iterdir()) == []
    assert write_text_atomic(final, "{}\n") == final and final.read_text() == "{}\n"
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["stats.json"]


def test_an_hdulist_in_memory_is_read_like_a_file(tmp_path):
    path = tmp_path / "mef.fits"
    science, raw = _multi_extension_file(path)
    with fits.open(path) as hdul:
        contents = read_fits_images(hdul)
    assert contents.path == str(path)
    assert [i.index for i in contents.images] == [1, 3, 4]
    np.testing.assert_array_equal(contents.images[1].data, raw.astype(np.float32))
    with pytest.raises(CcdnbInputError, match="in memory.*no image data"):
        read_fits_images(fits.HDUList([fits.PrimaryHDU()]))
