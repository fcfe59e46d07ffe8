"""Particle kinds: the shipped tree (plain JSON), its features, and the simulator's truth."""

import numpy as np
import pytest
from astropy.table import vstack

from ccdnb.evaluation.particles import confusion_matrix, label_simulated_clusters, truth_kind
from ccdnb.particles import (
    FEATURES,
    KINDS,
    ParticleTree,
    cluster_features,
    shipped_tree,
)
from ccdnb.simulation import simulate_image


def test_the_shipped_tree_reads_from_json_and_writes_back_the_same(tmp_path):
    tree = shipped_tree()
    assert set(tree.classes) <= set(KINDS) and tree.card["format"] == "ccdnb-particle-tree/1"
    path = tmp_path / "tree.json"
    path.write_text(tree.to_json())
    again = ParticleTree.read(path)
    np.testing.assert_array_equal(again.feature, tree.feature)
    np.testing.assert_allclose(again.threshold, tree.threshold)
    x = np.random.default_rng(0).normal(0.0, 1.0, (200, len(FEATURES)))
    assert (again.predict(x)[0] == tree.predict(x)[0]).all()
    # the confidence is the named kind's share of its leaf: the largest of the leaf's
    # shares, which sum to one
    kinds, shares = tree.predict(x)
    leaves = tree.value[tree.leaves(x)]
    np.testing.assert_allclose(leaves.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(shares, leaves.max(axis=1))
    assert (shares >= 1.0 / len(tree.classes)).all() and len(set(kinds)) >= 3


def test_a_tree_with_other_features_is_refused(tmp_path):
    text = shipped_tree().to_json().replace('"abs_width_gradient"', '"something_else"')
    (tmp_path / "tree.json").write_text(text)
    with pytest.raises(ValueError, match="features"):
        ParticleTree.read(tmp_path / "tree.json")


def test_kinds_of_simulated_clusters_mostly_right():
    """Fe-55 X-rays, a few muons and worms on a conventional frame: named by the tree."""
    sim = simulate_image("fe55", (256, 256), 100_123)
    table = label_simulated_clusters(sim)
    assert {"truth_kind", "truth_purity", "truth_completeness"} <= set(table.colnames)
    # purity and completeness as their definitions count them, cluster by cluster
    from ccdnb.catalog import label_clusters

    labels, _ = label_clusters(sim.label)
    for row in table:
        owners = sim.instances[(labels == row["cluster"]) & (sim.instances > 0)]
        ids, counts = np.unique(owners, return_counts=True)
        owner = ids[len(ids) - 1 - np.argmax(counts[::-1])]  # ties: the last, as it takes
        assert row["truth_purity"] == pytest.approx(counts.max() / owners.size, rel=1e-6)
        assert row["truth_completeness"] == pytest.approx(
            counts.max() / np.count_nonzero(sim.instances == owner), rel=1e-6)
    xrays = (table["truth_kind"] == "xray") & (table["truth_purity"] >= 0.8)
    assert xrays.sum() >= 10
    assert np.mean(table["kind"][xrays] == "xray") >= 0.9
    matrix = confusion_matrix(table["truth_kind"], table["kind"])
    assert matrix["total"].sum() == len(table)


def test_short_worms_are_point_deposits():
    assert truth_kind("worm", 300.0) == "electron"
    assert truth_kind("worm", 10.0) == "xray"  # its range is a tenth of a pixel
    assert truth_kind("diffuse", 0.5) == "low-energy"
    assert truth_kind("track", 5000.0) == "muon"


def test_features_are_finite_for_single_pixels():
    one = {"energy_kev": [0.01], "npix": [1], "length": [1.0], "width": [1.0],
           "elongation": [1.0], "rows": [1], "columns": [1], "peak_adu": [5.0],
           "charge_adu": [5.0], "major_extent": [1.0], "minor_extent": [1.0],
           "skewness": [0.0], "width_gradient": [0.0], "x": [3.0], "y": [4.0],
           "x_peak": [3], "y_peak": [4], "theta": [0.0], "edge": [False]}
    assert np.isfinite(cluster_features(one)).all()


def _only(**kinds):
    from scenes import NO_OBJECTS

    return {**NO_OBJECTS, "pedestal_adu": 1000.0, "gain_adu_per_e": 5.0, "read_noise_adu": 5.0,
            "dark_current_e": 0.0, "row_drift": False, **kinds}


def _feature(table, name):
    return cluster_features(table)[:, FEATURES.index(name)]


def test_a_muon_leaves_the_energy_of_its_length_and_a_slow_electron_less():
    """log_mip_ratio: ~0 for muons crossing the thickness (>= ~200 keV at any length),
    well below for electrons of 50-120 keV."""
    muons = vstack([label_simulated_clusters(simulate_image("clusters-only", 256, seed,
                                                            **_only(n_muons=4)))
                    for seed in range(3)])
    muons = muons[(muons["truth_kind"] == "muon") & ~muons["edge"]
                  & (muons["truth_completeness"] > 0.9)]
    assert len(muons) >= 5
    assert np.all(np.abs(_feature(muons, "log_mip_ratio")) < 0.15)
    electrons = vstack([label_simulated_clusters(simulate_image(
        "clusters-only", 256, seed, **_only(n_worms=6, worm_kev=(50.0, 120.0))))
        for seed in range(3)])
    electrons = electrons[(electrons["truth_kind"] == "electron") & ~electrons["edge"]]
    assert len(electrons) >= 5
    assert np.all(_feature(electrons, "log_mip_ratio") < -0.2)


def test_the_brightest_pixel_of_a_muon_is_at_its_narrow_end():
    """peak_toward_wide: a steep muon's charge is least diffused at the front surface."""
    table = vstack([label_simulated_clusters(simulate_image("clusters-only", 256, seed,
                                                            **_only(n_muons=4)))
                    for seed in range(4)])
    muons = table[(table["truth_kind"] == "muon") & ~table["edge"] & (table["length"] > 5)]
    assert len(muons) >= 5
    assert np.mean(_feature(muons, "peak_toward_wide") < 0) > 0.8
