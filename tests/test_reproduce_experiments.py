"""The thesis's training experiments of notebook 05: variants, reuse, evaluation."""

import json

import numpy as np
import pytest

from ccdnb.classes import CLUSTER
from ccdnb.reproduce.experiments import (
    EXPERIMENTS,
    RAISED_CLUSTER_WEIGHT,
    THESIS_FINDINGS,
    TITLES,
    VARIANTS,
    run_experiments,
    train_variant,
    variants_of,
)
from ccdnb.simulation import simulate_dataset

TINY_SIMULATION = dict(train_preset="thesis-balanced", n_train=5, image_size=32, train_seed=4,
                       train_overrides={"glow_fraction": 0.6})
TINY_TRAINING = dict(architecture="small", epochs=1, batch_size=2, steps_per_epoch=1,
                     optimizer="adam", loss="weighted_cce", train_seed=5)


def test_every_experiment_names_known_variants_and_quotes_the_thesis():
    for name, variants in EXPERIMENTS.items():
        assert set(variants.values()) <= set(VARIANTS)
        assert THESIS_FINDINGS[name] and TITLES[name]
    needed = variants_of(["balanced_vs_imbalanced", "figure16"])
    assert len(needed) == len(set(needed)) == 3    # shared variants are trained once
    with pytest.raises(ValueError, match="unknown experiment"):
        variants_of(["no-such-experiment"])


def test_the_profile_model_stands_for_its_own_recipe(tmp_path):
    profile_model = tmp_path / "model.keras"
    profile_model.write_bytes(b"the profile's model")
    # balanced set + weighted loss is the thesis profile's recipe: reused, nothing trained
    path = train_variant("balanced-weighted", out_dir=tmp_path / "exp", train_params=TINY_TRAINING,
                         simulation=TINY_SIMULATION, profile_model=profile_model)
    assert path == profile_model and not (tmp_path / "exp").exists()


def test_variants_train_on_their_own_set_and_weights(tmp_path):
    test = simulate_dataset("thesis", 2, 32, seed=9)
    results, masks = run_experiments(["figure16"], test, out_dir=tmp_path,
                                     train_params=TINY_TRAINING, simulation=TINY_SIMULATION,
                                     tile=32, margin=0)
    assert list(results["figure16"]) == list(EXPERIMENTS["figure16"])
    assert set(masks) == {"imbalanced-weighted", "imbalanced-cluster-weight",
                          "balanced-weighted"}
    for label, metrics in results["figure16"].items():
        pred = masks[EXPERIMENTS["figure16"][label]]
        assert pred.shape == test.labels.shape
        # each variant's figures are those of its own masks
        assert metrics["classification_report"]["accuracy"] == pytest.approx(
            np.mean(pred == test.labels))

    def card(variant):
        return json.loads((tmp_path / variant / "model.card.json").read_text())

    plain, raised = card("imbalanced-weighted"), card("imbalanced-cluster-weight")
    assert plain["data"]["preset"] == raised["data"]["preset"] == "thesis"
    assert card("balanced-weighted")["data"]["preset"] == "thesis-balanced"
    # same training images, so the raised weight is the only change: the cluster's
    # share of the (sum-4) weights grows by the factor, relative to the others
    w0, w1 = np.array(plain["class_weights"]), np.array(raised["class_weights"])
    assert w1.sum() == pytest.approx(4.0)
    ratio = (w1[CLUSTER] / w1[0]) / (w0[CLUSTER] / w0[0])
    assert ratio == pytest.approx(RAISED_CLUSTER_WEIGHT, rel=1e-6)
