"""Choosing the engine: OpenVINO or ONNX Runtime with a matching export, Keras otherwise."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from ccdnb.errors import CcdnbInputError
from ccdnb.model import DEFAULT_MODEL
from ccdnb.predict.onnx_export import onnx_path
from ccdnb.predict.runtime import OnnxModel, OpenVinoModel, engine_available, load_predictor

pytest.importorskip("onnxruntime")
FROZEN = (OnnxModel, OpenVinoModel)


@pytest.fixture(scope="module")
def model_copy(tmp_path_factory):
    """The shipped model and its export, copied so that tests may change them."""
    folder = tmp_path_factory.mktemp("model")
    for source in (DEFAULT_MODEL, onnx_path(DEFAULT_MODEL)):
        shutil.copy(source, folder / source.name)
    return folder / DEFAULT_MODEL.name


def test_the_shipped_model_has_a_matching_export():
    predictor, card = load_predictor(DEFAULT_MODEL)
    expected = OpenVinoModel if engine_available("openvino") else OnnxModel
    assert isinstance(predictor, expected)
    assert card["architecture"] == "small"
    assert isinstance(load_predictor(DEFAULT_MODEL, "onnx")[0], OnnxModel)


def _test_image():
    from scenes import noise_image

    image = noise_image((200, 300), seed=4)
    image[50:53, 60:63] += 400.0
    image[:, 150] += 120.0
    image[120, 40] += 90.0
    return image


@pytest.mark.parametrize("runtime", ["onnx", "openvino"])
def test_frozen_engines_and_keras_give_the_same_mask(model_copy, runtime):
    from ccdnb.predict import predict_image

    if not engine_available(runtime):
        pytest.skip(f"{runtime} not installed")
    image = _test_image()
    frozen, _ = load_predictor(model_copy, runtime)
    keras_model, _ = load_predictor(model_copy, "keras")
    assert isinstance(frozen, FROZEN) and not isinstance(keras_model, FROZEN)
    a, pa = predict_image(frozen, image, tile=256, probabilities=True)
    b, pb = predict_image(keras_model, image, tile=256, probabilities=True)
    np.testing.assert_allclose(pa, pb, atol=1e-4)
    # Each engine sums in its own order, with the kernels of the CPU at hand (AVX2, AVX-512,
    # AMX): a pixel whose two best classes are within the engines' difference may go either
    # way, and only such a pixel.
    top_two = np.sort(pb, axis=-1)[..., -2:]
    undecided = top_two[..., 1] - top_two[..., 0] < 2e-4
    assert np.array_equal(a[~undecided], b[~undecided])
    assert np.count_nonzero(a != b) <= max(1, int(1e-4 * a.size))


def test_bfloat16_changes_almost_no_pixel(model_copy):
    from ccdnb.predict import predict_image

    if not engine_available("openvino"):
        pytest.skip("openvino not installed")
    image = _test_image()
    f32, _ = load_predictor(model_copy, "openvino")
    bf16, _ = load_predictor(model_copy, "openvino-bf16")
    assert bf16.runtime == "openvino-bf16"
    agree = np.mean(predict_image(f32, image) == predict_image(bf16, image))
    assert agree >= 0.999


def test_frozen_engines_get_no_padded_batch_and_openvino_larger_tiles(model_copy):
    from ccdnb.predict import predict_image, tile_for
    from ccdnb.tiling import MAX_AUTO_TILE, TileGrid

    class Recording:  # a frozen engine that records the batches it is given
        def __init__(self, engine):
            self.engine, self.batches = engine, []
            self.any_batch_size = engine.any_batch_size

        def predict_on_batch(self, x):
            self.batches.append(len(x))
            return self.engine.predict_on_batch(x)

    onnx = Recording(load_predictor(model_copy, "onnx")[0])
    image = _test_image()
    tiles = len(TileGrid.for_image(image.shape, 128, 32))  # 20
    predict_image(onnx, image, tile=128, batch_size=6)
    assert onnx.batches == [6] * (tiles // 6) + [tiles % 6] and tiles % 6
    assert tile_for(onnx.engine, (4096, 4096)) <= MAX_AUTO_TILE
    if engine_available("openvino"):
        openvino = load_predictor(model_copy, "openvino")[0]
        assert tile_for(openvino, (4096, 4096)) == 1088  # 4 x 4 tiles, margins of 32


def test_a_stale_export_is_never_used(model_copy, tmp_path):
    from ccdnb.model import build_unet, save_model

    # a retrained model beside the export of the one before it
    stale = save_model(build_unet("small", base_filters=2), tmp_path / "model.keras", {})
    shutil.copy(onnx_path(model_copy), onnx_path(stale))
    predictor, _ = load_predictor(stale)
    assert not isinstance(predictor, FROZEN) and predictor.count_params() < 50_000
    for runtime in ("onnx", "openvino"):
        if engine_available(runtime):
            with pytest.raises(CcdnbInputError, match="no ONNX export of this model"):
                load_predictor(stale, runtime)


def test_auto_falls_back_on_keras_without_an_export(tmp_path, model_copy):
    bare = tmp_path / "bare.keras"
    shutil.copy(model_copy, bare)
    predictor, _ = load_predictor(bare)
    assert not isinstance(predictor, FROZEN)
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


def test_a_corrupt_export_is_one_clear_error_and_auto_falls_back(tmp_path, model_copy):
    from ccdnb.predict.runtime import OpenVinoModel

    model = tmp_path / "model.keras"
    shutil.copy(model_copy, model)
    onnx_path(model).write_bytes(b"not an onnx file")
    for engine in (OnnxModel, OpenVinoModel):
        if engine is OpenVinoModel and not engine_available("openvino"):
            continue
        with pytest.raises(CcdnbInputError, match="cannot load the ONNX model"):
            engine(onnx_path(model))
    predictor, _ = load_predictor(model)
    assert not isinstance(predictor, FROZEN)
