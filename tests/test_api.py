"""The public Python API: ccdnb.segment, segment_fits, Segmenter, shipped models by name."""

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from predict_helpers import detector_image

import ccdnb
from ccdnb.cli import main
from ccdnb.errors import CcdnbInputError
from ccdnb.predict import predict_image, seam_shares

TILE, MARGIN = 32, 8
FAST = dict(tile=TILE, margin=MARGIN, batch_size=16)
README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """ccdnb's U-Net, tiny and untrained but seeded, saved to disk."""
    import keras

    from ccdnb.model import build_unet

    keras.utils.set_random_seed(3)
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    build_unet(depth=2, base_filters=4).save(path)
    return path


def _write(path, *hdus):
    fits.HDUList(list(hdus)).writeto(path)
    return path


def test_import_is_cheap_and_exposes_the_api():
    code = ("import sys, ccdnb; names = ccdnb.available_models(); card = ccdnb.model_card(); "
            "print(sorted(ccdnb.__all__)); print(names, bool(card)); "
            "print([m for m in ('keras', 'tensorflow') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0] == str(sorted(["__version__", "segment", "segment_fits", "segment_files",
                                 "monitor", "Segmenter", "available_models", "model_card",
                                 "CcdnbInputError"]))
    assert out[1] == "['default', 'skipper'] True"  # the skipper CCD model ships beside it
    assert out[2] == "[]"  # listing models and reading cards loads no Keras


def test_readme_example_runs(tmp_path, monkeypatch):
    text = README.read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    image = detector_image((64, 80), seed=11)
    _write(tmp_path / "frame.fits", fits.PrimaryHDU(), fits.ImageHDU(image, name="CCD_A"))
    monkeypatch.chdir(tmp_path)  # the example names "frame.fits"
    namespace = {"image": image}
    exec(compile(code, str(README), "exec"), namespace)
    mask, masks = namespace["mask"], namespace["hdul"]
    assert mask.shape == image.shape and mask.dtype == np.uint8 and mask.max() <= 3
    assert [h.name for h in masks] == ["PRIMARY", "CCD_A"]
    np.testing.assert_array_equal(masks["CCD_A"].data, mask)


def test_segment_equals_what_ccdnb_predict_writes(tmp_path, model_path, capsys):
    image = detector_image((70, 90), seed=4).astype(np.float64)  # float64: read back as float32
    image[3, 5] = np.nan
    path = _write(tmp_path / "amp.fits", fits.PrimaryHDU(image))
    assert main(["predict", str(path), "--out-dir", str(tmp_path / "out"), "--model",
                 str(model_path), "--tile", str(TILE), "--margin", str(MARGIN)]) == 0
    mask = ccdnb.segment(image, model=model_path, tile=TILE, margin=MARGIN)
    in_memory = ccdnb.segment_fits(path, model=model_path, tile=TILE, margin=MARGIN)
    with fits.open(tmp_path / "out" / "amp.masks.fits") as written:
        np.testing.assert_array_equal(written[0].data, mask)
        np.testing.assert_array_equal(in_memory[0].data, mask)
        skip = {"CHECKSUM", "DATASUM"}
        assert [(c.keyword, c.value) for c in written[0].header.cards if c.keyword not in skip] \
            == [(c.keyword, c.value) for c in fits.Header.fromstring(
                in_memory[0].header.tostring()).cards if c.keyword not in skip]
    assert mask[3, 5] == 0


def test_segment_fits_keeps_the_extnames_of_an_hdulist(model_path):
    a, b = detector_image((40, 50), seed=1), detector_image((33, 47), seed=2, pedestal=-80.0)
    hdul = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(a, name="CCD_A"),
                         fits.CompImageHDU(b, name="CCD_B")])
    masks = ccdnb.segment_fits(hdul, model=model_path, **FAST)
    assert [h.name for h in masks] == ["PRIMARY", "CCD_A", "CCD_B"]
    assert isinstance(masks["CCD_B"], fits.CompImageHDU)
    np.testing.assert_array_equal(masks["CCD_A"].data, ccdnb.segment(a, model_path, **FAST))
    np.testing.assert_array_equal(masks["CCD_B"].data,
                                  ccdnb.segment(hdul["CCD_B"], model_path, **FAST))
    assert masks["CCD_A"].header["CCDNBSHA"] == "none (in memory)"


def test_arrays_ccddata_and_hdus_give_the_same_mask(model_path):
    from astropy.nddata import CCDData

    image = detector_image((36, 52), seed=5)
    segmenter = ccdnb.Segmenter(model_path)
    expected = segmenter.segment(image, **FAST)
    for form in (image.astype(np.float64), image.tolist(), CCDData(image, unit="adu"),
                 fits.ImageHDU(image), fits.PrimaryHDU(image)):
        np.testing.assert_array_equal(segmenter.segment(form, **FAST), expected)
    mask, probs = ccdnb.segment(image, model=segmenter, probabilities=True, **FAST)
    want_mask, want_probs = predict_image(segmenter.model, image, probabilities=True, **FAST)
    assert probs.shape == image.shape + (4,) and probs.dtype == np.float32
    np.testing.assert_array_equal(mask, want_mask)
    np.testing.assert_allclose(probs, want_probs)


def test_segmenter_loads_the_model_once(tmp_path, model_path, monkeypatch):
    import ccdnb.model

    copy = tmp_path / "copy.keras"
    copy.write_bytes(model_path.read_bytes())
    loads = []
    real = ccdnb.model.load_model
    monkeypatch.setattr(ccdnb.model, "load_model", lambda path: loads.append(path) or real(path))
    segmenter = ccdnb.Segmenter(copy)
    for seed in range(3):
        segmenter.segment(detector_image((24, 24), seed=seed), **FAST)
    assert len(loads) == 1
    assert segmenter.name == "copy.keras" and segmenter.card == {}
    assert segmenter.model_id.startswith("sha256:")
    for seed in range(3):  # the module-level calls share one cached Segmenter per file
        ccdnb.segment(detector_image((24, 24), seed=seed), model=copy, **FAST)
        ccdnb.segment_fits(fits.HDUList([fits.PrimaryHDU(detector_image((20, 20)))]),
                           model=str(copy), **FAST)
    assert len(loads) == 2


def test_shipped_models_by_name():
    assert "default" in ccdnb.available_models()
    card = ccdnb.model_card("default")
    assert card["architecture"] and "ccdnb_version" in card
    segmenter = ccdnb.Segmenter()
    assert segmenter.name == "default" and segmenter.card == card
    assert ccdnb.api.get_segmenter("default") is ccdnb.api.get_segmenter()


BAD_IMAGES = {
    "3-D": (np.zeros((2, 8, 8)), "2-D image, got an array of shape (2, 8, 8)"),
    "1-D": (np.arange(10.0), "2-D image"),
    "empty": (np.zeros((0, 5)), "non-empty"),
    "all NaN": (np.full((6, 6), np.nan), "no finite pixel"),
    "text": (np.array([["a", "b"], ["c", "d"]]), "real numbers"),
    "file name": ("frame.fits", "segment_fits"),
    "HDUList": (fits.HDUList([fits.PrimaryHDU()]), "segment_fits"),
    "HDU without data": (fits.ImageHDU(), "no image data"),
}


@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
def test_bad_images_raise_a_value_error_naming_the_problem(model_path, case):
    image, problem = BAD_IMAGES[case]
    with pytest.raises(CcdnbInputError, match=re.escape(problem)) as info:
        ccdnb.segment(image, model=model_path, **FAST)
    assert isinstance(info.value, ValueError)


def test_bad_models_tilings_and_files_raise_clear_errors(tmp_path, model_path):
    image = detector_image((20, 20))
    with pytest.raises(ValueError, match="neither a shipped model .*available: default"):
        ccdnb.segment(image, model="no-such-model")
    with pytest.raises(CcdnbInputError, match="model file not found"):
        ccdnb.Segmenter(tmp_path / "missing.keras")
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    with pytest.raises(CcdnbInputError, match="cannot load the model"):
        ccdnb.Segmenter(broken)
    with pytest.raises(CcdnbInputError, match="twice the margin"):
        ccdnb.segment(image, model=model_path, tile=16, margin=8)
    with pytest.raises(CcdnbInputError, match="batch size"):
        ccdnb.segment(image, model=model_path, batch_size=0)
    with pytest.raises(CcdnbInputError, match="no such file"):
        ccdnb.segment_fits(tmp_path / "nothing.fits", model=model_path)
    with pytest.raises(CcdnbInputError, match="segment_fits"):
        ccdnb.segment_fits(image, model=model_path)


def test_every_masks_header_records_its_provenance(tmp_path, model_path):
    a = detector_image((60, 64), seed=7, pedestal=1200.0, noise=4.0)
    b = detector_image((60, 64), seed=8, pedestal=-35.0, noise=9.0)
    path = _write(tmp_path / "run 7.fits", fits.PrimaryHDU(), fits.ImageHDU(a, name="A"),
                  fits.ImageHDU(b, name="B"))
    assert main(["predict", str(path), "--out-dir", str(tmp_path), "--model", str(model_path),
                 "--tile", "48", "--margin", "8"]) == 0
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    with fits.open(tmp_path / "run 7.masks.fits") as hdul:
        for name, pedestal, noise in (("A", 1200.0, 4.0), ("B", -35.0, 9.0)):
            header = hdul[name].header
            assert header["CCDNBIN"] == "run 7.fits"
            assert header["CCDNBSHA"] == f"sha256:{sha}"
            assert (header["CCDNBTIL"], header["CCDNBMRG"]) == (48, 8)
            assert header["CCDNBPED"] == pytest.approx(pedestal, abs=0.5)
            assert header["CCDNBRN"] == pytest.approx(noise, rel=0.1)
            history = "\n".join(str(line) for line in header["HISTORY"])
            assert sha[:20] in history.replace("\n", "") and "tiles 48 px, margin 8 px" in history
            assert "read noise" in history and "pedestal" in history
            # the engine and the arithmetic it ran in
            assert header["CCDNBENG"] in ("openvino", "onnxruntime", "keras")
            assert header["CCDNBPRC"] == "f32" and "in f32" in history
        assert hdul[0].header["CCDNBIN"] == "run 7.fits"  # the empty primary too


def test_the_masks_header_states_the_arithmetic_the_engine_chose(tmp_path):
    """bfloat16 asked for: the header says what ran (f32 on a CPU without bfloat16)."""
    pytest.importorskip("openvino")
    import openvino as ov

    path = _write(tmp_path / "f.fits", fits.PrimaryHDU(detector_image((64, 64), seed=3)))
    assert main(["predict", str(path), "--out-dir", str(tmp_path), "--runtime",
                 "openvino-bf16", "--quiet"]) == 0
    has_bf16 = "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    with fits.open(tmp_path / "f.masks.fits") as hdul:
        assert hdul[0].header["CCDNBENG"] == "openvino-bf16"
        assert hdul[0].header["CCDNBPRC"] == ("bf16" if has_bf16 else "f32")


def test_seam_shares_find_an_excess_beside_tile_borders():
    label = np.zeros((40, 96), np.uint8)
    label[:, [31, 32, 63, 64]] = 1  # glowing lines beside the borders at 32 and 64
    shares = seam_shares(label, "glowing", tile=32)
    assert shares["columns"] == pytest.approx((1.0, 4 / 96))
    assert shares["rows"][1] == pytest.approx(4 / 96)
    assert np.isnan(seam_shares(label[:20, :20], 1, tile=32)["rows"][0])


def test_model_or_default_falls_back_on_the_shipped_model(tmp_path, model_path):
    from ccdnb.api import model_or_default

    assert model_or_default(model_path) == model_path
    assert model_or_default(tmp_path / "model" / "model.keras") == "default"
    assert model_or_default("") == "default"
