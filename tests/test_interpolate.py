"""Weight-space interpolation of a fine-tune with its start (ccdnb interpolate)."""

import json

import numpy as np
import pytest

from ccdnb.cli import main
from ccdnb.errors import CcdnbInputError
from ccdnb.training.interpolate import interpolate_weights


def _tiny(path, seed, base_filters=2):
    import keras

    from ccdnb.model import build_unet, save_model

    keras.utils.set_random_seed(seed)
    model = build_unet("small", depth=2, base_filters=base_filters)
    # batch-norm statistics away from their initial 0 and 1, as after training
    weights = [w + np.random.default_rng(seed).normal(0, 0.1, w.shape).astype(w.dtype)
               for w in model.get_weights()]
    model.set_weights(weights)
    return save_model(model, path, {"architecture": "small", "class_factors": {"factors": [1] * 4}})


def test_the_weights_move_along_the_line_between_the_two_networks():
    rng = np.random.default_rng(0)
    start = [rng.normal(size=(3, 3)).astype(np.float32), rng.normal(size=4).astype(np.float32)]
    tuned = [w + rng.normal(size=w.shape).astype(np.float32) for w in start]
    for alpha in (0.0, 0.25, 1.0):
        mixed = interpolate_weights(start, tuned, alpha)
        for a, b, m in zip(start, tuned, mixed):
            assert m.dtype == np.float32
            np.testing.assert_allclose(m, a + alpha * (b - a), rtol=1e-6, atol=1e-6)
    with pytest.raises(CcdnbInputError, match="alpha"):
        interpolate_weights(start, tuned, 1.5)
    with pytest.raises(CcdnbInputError, match="architectures"):
        interpolate_weights(start, tuned[:1], 0.5)
    with pytest.raises(CcdnbInputError, match="architectures"):
        interpolate_weights(start, [tuned[0][:2], tuned[1]], 0.5)


def test_the_command_writes_a_network_between_the_two(tmp_path, capsys):
    from ccdnb.model import card_path, load_model

    start, tuned = _tiny(tmp_path / "start.keras", 1), _tiny(tmp_path / "tuned.keras", 2)
    x = np.random.default_rng(3).normal(size=(2, 16, 16, 1)).astype(np.float32)
    outputs = {}
    for alpha in ("0", "0.5", "1"):
        out = tmp_path / f"mix{alpha}.keras"
        assert main(["interpolate", str(start), str(tuned), "--alpha", alpha,
                     "--out", str(out)]) == 0
        assert capsys.readouterr().out.strip() == str(out)
        outputs[alpha] = np.asarray(load_model(out)[0](x, training=False))
        card = json.loads(card_path(out).read_text())
        assert card["interpolation"]["alpha"] == float(alpha)
        assert "class_factors" not in card  # fitted to the tuned network's outputs
    # the ends are the two networks themselves (to float32 rounding of the mix)
    for alpha, source in (("0", start), ("1", tuned)):
        expected = np.asarray(load_model(source)[0](x, training=False))
        np.testing.assert_allclose(outputs[alpha], expected, atol=1e-5)
    # half-way is a third network, not either end
    assert np.abs(outputs["0.5"] - outputs["0"]).max() > 1e-3
    assert np.abs(outputs["0.5"] - outputs["1"]).max() > 1e-3


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    start = _tiny(tmp_path / "start.keras", 1)
    other = _tiny(tmp_path / "other.keras", 2, base_filters=4)
    out = tmp_path / "mix.keras"
    not_a_model = tmp_path / "notes.keras"
    not_a_model.write_text("not a model")
    for argv in ([str(start), str(other), "--alpha", "0.5"],           # another architecture
                 [str(start), str(start), "--alpha", "1.5"],           # alpha outside [0, 1]
                 [str(start), str(start), "--alpha", "half"],
                 [str(start), str(tmp_path / "missing.keras"), "--alpha", "0.5"],
                 [str(start), str(not_a_model), "--alpha", "0.5"]):
        assert main(["interpolate", *argv, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("ccdnb: error:")
        assert not out.exists() and not out.with_suffix(".card.json").exists()
    assert main(["interpolate", str(start), str(start), "--alpha", "0.5",
                 "--out", str(tmp_path / "mix.h5")]) == 2
