"""Per-pixel loss weights on the clusters that sit on glow (issue 33)."""

import json

import numpy as np
import pytest

from ccdnb.classes import BACKGROUND, CLUSTER, GLOWING, HOT_PIXEL
from ccdnb.cli import main
from ccdnb.simulation import save_dataset, simulate_dataset
from ccdnb.training.emphasis import clusters_on_glow, emphasis_weights


def _scene():
    label = np.full((40, 60), BACKGROUND, dtype=np.uint8)
    label[:, :30] = GLOWING                     # glow on the left half
    label[10:13, 10:13] = CLUSTER               # inside the glow
    label[10:13, 45:48] = CLUSTER               # on background
    label[25:28, 29:32] = CLUSTER               # astride the glow's edge
    label[30, 5:20] = HOT_PIXEL                 # a hot streak in the glow: no cluster
    return label


def test_only_the_clusters_inside_glow_are_picked():
    label = _scene()
    picked = clusters_on_glow(label)
    assert picked[10:13, 10:13].all()
    assert not picked[10:13, 45:48].any()
    assert not picked[label != CLUSTER].any()
    # astride the edge: 3x3 cluster, ring of width 2 (40 pixels), 18 of them in the glow
    assert not picked[25:28, 29:32].any()
    assert clusters_on_glow(label, share=0.45)[25:28, 29:32].all()
    assert not clusters_on_glow(label, share=0.46)[25:28, 29:32].any()
    assert not clusters_on_glow(np.zeros((8, 8), np.uint8)).any()


def test_weights_are_the_factor_on_those_pixels_and_one_elsewhere():
    labels = np.stack([_scene(), np.zeros((40, 60), np.uint8)])
    weights = emphasis_weights(labels, 4.0)
    assert weights.dtype == np.float32 and weights.shape == labels.shape
    assert (weights[0][clusters_on_glow(labels[0])] == 4.0).all()
    assert weights[0][~clusters_on_glow(labels[0])].tolist() == [1.0] * int(
        (~clusters_on_glow(labels[0])).sum())
    assert (weights[1] == 1.0).all()
    with pytest.raises(ValueError, match="at least 1"):
        emphasis_weights(labels, 0.5)


def test_batches_carry_the_weights_and_training_uses_them(tmp_path, capsys):
    from ccdnb.training.augment import AugmentedSequence

    data = simulate_dataset("glow-events", 4, (64, 64), seed=3)
    plain = AugmentedSequence(data.images, data.labels, batch_size=2, shuffle=False)
    weighted = AugmentedSequence(data.images, data.labels, batch_size=2, shuffle=False,
                                 on_glow_weight=5.0)
    x, y = plain.batch(0, 0)
    xw, yw, w = weighted.batch(0, 0)
    np.testing.assert_array_equal(x, xw)
    np.testing.assert_array_equal(y, yw)
    labels = y.argmax(-1)
    np.testing.assert_array_equal(w, emphasis_weights(labels, 5.0))
    assert (w == 5.0).any()  # this draw has clusters on glow
    with pytest.raises(ValueError, match="on_glow_weight"):
        AugmentedSequence(data.images, data.labels, batch_size=2, on_glow_weight=0.0)
    # the command trains with them and records the weight; below 1 is refused in one line
    path = tmp_path / "glow.npz"
    save_dataset(path, data)
    common = ["train", "--data", str(path), "--out-dir", str(tmp_path / "m"), "--epochs", "1",
              "--batch-size", "2", "--steps-per-epoch", "1", "--quiet"]
    assert main(common + ["--on-glow-weight", "5"]) == 0
    card = json.loads((tmp_path / "m" / "model.card.json").read_text())
    assert card["on_glow_weight"] == 5.0 and "--on-glow-weight 5" in card["command"]
    capsys.readouterr()
    assert main(common + ["--on-glow-weight", "0.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--on-glow-weight" in err[0]


def test_the_weighted_loss_is_the_pixel_weighted_mean():
    """Keras multiplies each pixel's loss by its sample weight before the batch mean."""
    import keras

    from ccdnb.training.losses import make_loss

    rng = np.random.default_rng(0)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (2, 8, 8))]
    p = rng.dirichlet(np.ones(4), (2, 8, 8)).astype(np.float32)
    w = np.where(rng.random((2, 8, 8)) < 0.2, 5.0, 1.0).astype(np.float32)
    loss = make_loss("cce")
    per_pixel = -np.log(np.clip((y * p).sum(-1), 1e-7, 1 - 1e-7))
    value = float(keras.ops.convert_to_numpy(loss(y, p, sample_weight=w)))
    assert value == pytest.approx(float((w * per_pixel).mean()), rel=1e-5)
    assert value > float(keras.ops.convert_to_numpy(loss(y, p))) * 0.99  # weights count
