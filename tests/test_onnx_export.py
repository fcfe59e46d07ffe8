"""The ONNX export computes what the Keras model computes."""

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from ccdnb.model import build_unet, save_model  # noqa: E402
from ccdnb.predict.onnx_export import SOURCE_SHA256_KEY, export_onnx, file_sha256, onnx_path  # noqa: E402


def _randomise_batch_norm(model, rng):
    """Give every batch norm non-trivial statistics, so that folding them is tested."""
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0, 0.3, n),
                               rng.normal(0, 0.3, n), rng.uniform(0.5, 2.0, n)])


@pytest.mark.parametrize("architecture, overrides", [
    ("small", {}),
    ("small", {"upsampling": "bilinear", "base_filters": 4}),
    ("thesis", {"base_filters": 4}),               # ELU, dropout, biases, no batch norm
])
def test_export_gives_the_keras_probabilities(tmp_path, architecture, overrides):
    rng = np.random.default_rng(0)
    model = build_unet(architecture, **overrides)
    _randomise_batch_norm(model, rng)
    path = save_model(model, tmp_path / "model.keras", {"architecture": architecture})
    exported = export_onnx(path)
    assert exported == onnx_path(path) == tmp_path / "model.onnx"
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert meta[SOURCE_SHA256_KEY] == file_sha256(path)
    x = rng.normal(size=(2, 64, 96, 1)).astype(np.float32)
    x[0, 20:23, 30:33, 0] += 25.0                   # a bright blob: large activations
    expected = np.asarray(model.predict_on_batch(x))
    got = session.run(None, {"image": x})[0]
    assert got.shape == expected.shape == (2, 64, 96, 4)
    np.testing.assert_allclose(got, expected, atol=2e-5)


def test_an_unsupported_layer_is_refused_in_one_line(tmp_path):
    import keras

    from ccdnb.errors import CcdnbInputError
    from ccdnb.predict.onnx_export import build_onnx

    inputs = keras.Input((None, None, 1))
    outputs = keras.layers.Conv2D(4, 3, strides=2, padding="same")(inputs)
    with pytest.raises(CcdnbInputError, match="stride-1"):
        build_onnx(keras.Model(inputs, outputs))
