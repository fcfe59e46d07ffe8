"""Choosing the engine: ONNX Runtime with a matching export, Keras otherwise."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from ccdnb.errors import CcdnbInputError
from ccdnb.model import DEFAULT_MODEL
from ccdnb.onnx_export import onnx_path
from ccdnb.runtime import OnnxModel, load_predictor

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def model_copy(tmp_path_factory):
    """The shipped model and its export, copied so that tests may change them."""
    folder = tmp_path_factory.mktemp("model")
    for source in (DEFAULT_MODEL, onnx_path(DEFAULT_MODEL)):
        shutil.copy(source, folder / source.name)
    return folder / DEFAULT_MODEL.name


def test_the_shipped_model_has_a_matching_export():
    predictor, card = load_predictor(DEFAULT_MODEL)
    assert isinstance(predictor, OnnxModel)
    assert card["architecture"] == "small"


def test_onnx_and_keras_give_the_same_mask(model_copy):
    from scenes import noise_image

    from ccdnb.predict import predict_image

    image = noise_image((200, 300), seed=4)
    image[50:53, 60:63] += 400.0
    image[:, 150] += 120.0
    onnx, _ = load_predictor(model_copy, "onnx")
    keras_model, _ = load_predictor(model_copy, "keras")
    assert not isinstance(keras_model, OnnxModel)
    a, pa = predict_image(onnx, image, probabilities=True)
    b, pb = predict_image(keras_model, image, probabilities=True)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(pa, pb, atol=1e-4)


def test_a_stale_export_is_never_used(model_copy, tmp_path):
    from ccdnb.model import build_unet, save_model

    # a retrained model beside the export of the one before it
    stale = save_model(build_unet("small", base_filters=2), tmp_path / "model.keras", {})
    shutil.copy(onnx_path(model_copy), onnx_path(stale))
    predictor, _ = load_predictor(stale)
    assert not isinstance(predictor, OnnxModel) and predictor.count_params() < 50_000
    with pytest.raises(CcdnbInputError, match="no ONNX export of this model"):
        load_predictor(stale, "onnx")


def test_auto_falls_back_on_keras_without_an_export(tmp_path, model_copy):
    bare = tmp_path / "bare.keras"
    shutil.copy(model_copy, bare)
    predictor, _ = load_predictor(bare)
    assert not isinstance(predictor, OnnxModel)
    with pytest.raises(CcdnbInputError, match="runtime 'tpu'"):
        load_predictor(bare, "tpu")


def test_predict_runs_without_importing_tensorflow(tmp_path):
    from astropy.io import fits
    from scenes import noise_image

    frame = tmp_path / "frame.fits"
    fits.PrimaryHDU(noise_image((64, 96), seed=1)).writeto(frame)
    code = ("import sys; from ccdnb.cli import main; "
            f"code = main(['predict', {str(frame)!r}, '--out-dir', {str(tmp_path / 'out')!r}, "
            "'--quiet']); print(code, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split()[-2:] == ["0", "False"]
    assert (tmp_path / "out" / "frame.masks.fits").is_file()
