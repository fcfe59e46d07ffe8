"""Regression test of the shipped default model (ccdnb/models/default.keras) against its card.

What ships is the model and its card (``default.card.json``), whose ``heldout`` section
publishes the per-class F1 of every held-out set of ``benchmarks/heldout_evaluation.py``
(simulated with seeds no training used). The test rebuilds two of those sets, the same
images (``simulate_dataset(preset, n, (256, 256), seed)``), segments them with
``ccdnb.segment`` and checks each class's F1 over the set against the card's, within
:data:`F1_TOLERANCE`: a model that scores worse, or one shipped without its card's figures
(better or worse), fails. At 642f53f (the model fine-tuned on 2026-11-27):

    thesis (42 images, seed 90001), background / glowing / hot pixel / cluster:
        measured 0.9985 0.9943 0.9936 0.8753, card 0.9985 0.9946 0.9916 0.8796
    fe55 (30 images, seed 90005):
        measured 0.9968 0.9454 0.8829 0.9257, card 0.9969 0.9460 0.8792 0.9248

The largest difference, 0.004, comes from the engine and the simulation's small changes
since the card was written. 0.015 is more than the whole sets move (8-image parts of the
thesis set score 0.870-0.880 in cluster F1, of fe55 0.90-0.94); the shipped skipper
model in the default's place scores 0.863 on thesis clusters, and fails. Bright
isolated hits must never be labelled background, and a dense single-electron field is
background to both shipped models.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import ccdnb

CLUSTER, HOT_PIXEL, BACKGROUND = 3, 2, 0
CLASSES = ("background", "glowing", "hot pixel", "cluster")
#: The card's held-out sets that the test rebuilds: (set name, preset, images).
HELDOUT_SETS = [("thesis", "thesis", 42), ("fe55", "fe55", 30)]
F1_TOLERANCE = 0.015


def simulate(preset, shape, seed):
    from ccdnb.simulation import simulate_image

    return simulate_image(preset, shape, seed)


def f1_score(truth, predicted, class_id) -> float:
    """Pixel F1 of one class (1.0 when the class is absent from both)."""
    t = np.asarray(truth) == class_id
    p = np.asarray(predicted) == class_id
    tp = np.count_nonzero(t & p)
    wrong = np.count_nonzero(t ^ p)
    return 1.0 if tp + wrong == 0 else 2 * tp / (2 * tp + wrong)


def test_f1_score_counts():
    truth = np.array([[3, 3, 0, 0]])
    assert f1_score(truth, np.array([[3, 3, 0, 0]]), CLUSTER) == 1.0
    assert f1_score(truth, np.array([[3, 0, 3, 0]]), CLUSTER) == pytest.approx(0.5)
    assert f1_score(truth, np.array([[0, 0, 0, 0]]), CLUSTER) == 0.0
    assert f1_score(truth, truth, HOT_PIXEL) == 1.0


def shipped_card() -> dict:
    from ccdnb.model import DEFAULT_MODEL, card_path

    return json.loads(card_path(DEFAULT_MODEL).read_text())


@pytest.mark.parametrize("name,preset,n", HELDOUT_SETS, ids=[s[0] for s in HELDOUT_SETS])
def test_f1_on_a_heldout_set_is_the_shipped_cards(name, preset, n):
    from ccdnb.simulation import simulate_dataset

    heldout = shipped_card()["heldout"]
    seed = heldout["seeds"][name]
    card = heldout["sets"][name]
    assert card["n_images"] == n and card["seed"] == seed and card["preset"] == preset
    data = simulate_dataset(preset, n, (256, 256), seed)
    segmenter = ccdnb.Segmenter()
    masks = np.stack([segmenter.segment(image) for image in data.images])
    assert masks.shape == data.labels.shape and masks.dtype == np.uint8
    measured = {c: f1_score(data.labels, masks, k) for k, c in enumerate(CLASSES)}
    far = {c: (round(measured[c], 4), round(card["f1"][c], 4)) for c in CLASSES
           if abs(measured[c] - card["f1"][c]) > F1_TOLERANCE}
    assert not far, (f"{name}: F1 (measured, card) more than {F1_TOLERANCE} apart: {far}; "
                     f"a model that scores otherwise than its card says must not ship")


def quiet_positions(label, rng, n, *, clearance=3, include=()):
    """``n`` pixels at least ``clearance`` pixels from any labelled pixel and from each other."""
    from scipy.ndimage import binary_dilation

    size = 2 * clearance + 1
    busy = binary_dilation(label != BACKGROUND, structure=np.ones((size, size), bool))
    chosen = []
    candidates = list(include) + [tuple(rc) for rc in rng.permutation(np.argwhere(~busy))]
    for r, c in candidates:
        if busy[r, c]:
            continue
        chosen.append((int(r), int(c)))
        r0, c0 = max(r - clearance, 0), max(c - clearance, 0)
        busy[r0:r + clearance + 1, c0:c + clearance + 1] = True
        if len(chosen) == n:
            break
    assert len(chosen) == n
    return chosen


@pytest.mark.parametrize("preset,shape,seed", [("thesis", (256, 256), 123),
                                               ("damic", (512, 512), 123)])
def test_bright_isolated_hits_are_never_background(preset, shape, seed):
    """Single pixels 50 read-noise sigma above the image are signal, wherever they are.

    The 5-sigma signal floor (ccdnb/signal_floor.py) guarantees it for any model:
    the network may call them hot pixels or clusters, never background. Hits go on
    quiet background, on the image's edges and corners and, in the 512 x 512 image,
    around the 256-pixel tile seams.
    """
    sim = simulate(preset, shape, seed)
    sigma = float(sim.meta["read_noise_adu"])
    h, w = shape
    rng = np.random.default_rng(2024)
    edges = [(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1), (0, w // 3), (h // 2, 0)]
    seams = [(r, c) for r in (h // 2 - 33, h // 2 - 1, h // 2, h // 2 + 32)
             for c in (w // 4, w // 2)] if h > 256 else []
    hits = quiet_positions(sim.label, rng, 24, include=edges + seams)
    image = sim.image.astype(np.float32, copy=True)
    rows, cols = np.array(hits).T
    image[rows, cols] += 50.0 * sigma
    mask = ccdnb.segment(image)
    labelled = mask[rows, cols]
    lost = [hit for hit, cls in zip(hits, labelled) if cls == BACKGROUND]
    assert not lost, f"50-sigma hits labelled background at {lost}"


@pytest.mark.parametrize("model", ["default", "skipper"])
def test_a_dense_single_electron_field_is_background(model):
    """A DAMIC-M-like amplifier: 1 e-/pixel on average, rising 3 times along the readout.
    Both shipped models call the field background: the network reads the significance
    over the field (ccdnb.electron_field). Before, on read-noise significance, the
    default model painted 87 % of it glowing."""
    from ccdnb.classes import GLOWING
    from ccdnb.simulation import simulate_image

    sim = simulate_image("skipper-dense", (320, 640), 1, dark_current_e=1.0, dark_rise=3.0)
    mask = ccdnb.segment(sim.image, model=model)
    background = sim.label == 0
    assert np.mean(mask[background] == GLOWING) < 0.005
    assert f1_score(sim.label, mask, CLUSTER) > 0.6
