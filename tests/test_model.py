"""The U-Net builder, model saving with its card, and loading pretrained weights."""

import json

import keras
import numpy as np
import pytest

from ccdnb.model import (
    build_unet,
    card_path,
    conv_flops,
    load_model,
    load_pretrained_weights,
    save_model,
)


def _layers(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


def test_thesis_architecture_matches_the_thesis():
    model = build_unet("thesis")
    assert model.count_params() == 7_759_620  # the thesis's ~7.8 M
    assert len(_layers(model, keras.layers.MaxPooling2D)) == 4
    assert len(_layers(model, keras.layers.Conv2DTranspose)) == 4
    convs = [c for c in _layers(model, keras.layers.Conv2D)
             if not isinstance(c, keras.layers.Conv2DTranspose)]
    three = [c for c in convs if c.kernel_size == (3, 3)]
    assert len(three) == 18  # two per level: 4 down, bottom, 4 up
    assert sorted({c.filters for c in three}) == [32, 64, 128, 256, 512]
    assert all(c.kernel_regularizer.l2 == pytest.approx(0.01) for c in three)
    assert all(c.activation is keras.activations.linear for c in three)
    acts = {layer.get_config()["activation"] for layer in _layers(model, keras.layers.Activation)}
    assert acts == {"elu", "softmax"}
    dropouts = _layers(model, keras.layers.Dropout)
    assert len(dropouts) == 9 and {d.rate for d in dropouts} == {0.18}
    assert not _layers(model, keras.layers.BatchNormalization)
    assert len(_layers(model, keras.layers.Concatenate)) == 4
    assert model.output_shape == (None, None, None, 4)


@pytest.mark.parametrize("overrides", [{}, {"upsampling": "bilinear", "depth": 3}])
def test_small_unet_takes_any_multiple_of_its_unit_and_outputs_probabilities(overrides):
    model = build_unet("small", **overrides)
    x = np.random.default_rng(0).normal(size=(2, 48, 80, 1)).astype("float32")
    probs = model.predict(x, verbose=0)
    assert probs.shape == (2, 48, 80, 4)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-5)


def test_small_is_much_cheaper_than_the_thesis_net():
    small, thesis = build_unet("small"), build_unet("thesis")
    assert conv_flops(small) < conv_flops(thesis) / 10
    # 24 GFLOP per 256x256 tile for the thesis net: 2 x multiply-adds of its convolutions
    assert conv_flops(thesis) == pytest.approx(24.08e9, rel=0.01)


def test_softmax_stays_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_unet("small", depth=2, base_filters=4)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.layers[-2].compute_dtype == "bfloat16"
    out = model(np.zeros((1, 16, 16, 1), "float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "float32"


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="unknown architecture"):
        build_unet("huge")
    with pytest.raises(ValueError, match="unknown U-Net option"):
        build_unet("small", filters=3)
    with pytest.raises(ValueError, match="upsampling"):
        build_unet("small", upsampling="nearest")


def test_saved_model_reloads_with_its_card_and_predicts_the_same(tmp_path):
    keras.utils.set_random_seed(3)
    model = build_unet("small", depth=2, base_filters=4)
    x = np.random.default_rng(1).normal(size=(1, 32, 32, 1)).astype("float32")
    card = {"architecture": "small", "class_weights": np.array([0.1, 0.2, 3.0, 0.7])}
    path = save_model(model, tmp_path / "model.keras", card)
    assert card_path(path) == tmp_path / "model.card.json"
    assert json.loads(card_path(path).read_text())["class_weights"] == [0.1, 0.2, 3.0, 0.7]
    loaded, loaded_card = load_model(path)
    assert loaded_card["architecture"] == "small"
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-7)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.card.json", "model.keras"]


def test_pretrained_weights_load_into_the_same_architecture_only(tmp_path):
    keras.utils.set_random_seed(4)
    source = build_unet("small", depth=2, base_filters=4)
    path = save_model(source, tmp_path / "pre.keras", {})
    keras.utils.set_random_seed(5)
    target = build_unet("small", depth=2, base_filters=4)
    load_pretrained_weights(target, path)
    for a, b in zip(source.get_weights(), target.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="do not fit"):
        load_pretrained_weights(build_unet("small", depth=2, base_filters=8), path)
