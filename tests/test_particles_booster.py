"""The muon-or-electron stage: boosted trees read from plain JSON and evaluated in NumPy,
the shape of a track's own pixels, and the two ways of handing them to the naming."""

import numpy as np
import pytest

from ccdnb.catalog import build_catalog
from ccdnb.fitsio import FitsImage
from ccdnb.particles import (
    TRACK_FEATURES,
    TRACK_SHAPE_COLUMNS,
    TrackBooster,
    classify_clusters,
    shipped_booster,
    track_shape,
)
from ccdnb.simulation import simulate_image


def test_the_numpy_booster_gives_scikit_learns_probabilities(tmp_path):
    """Missing values included: a NaN goes where the training sent them."""
    sklearn = pytest.importorskip("sklearn.ensemble")
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, (200, len(TRACK_FEATURES)))
    y = x[:, 0] + 0.5 * x[:, 3] ** 2 > 0.3
    x[rng.random(x.shape) < 0.05] = np.nan
    model = sklearn.HistGradientBoostingClassifier(max_iter=8, max_leaf_nodes=7,
                                                   random_state=0).fit(x, y)
    booster = TrackBooster.from_sklearn(model, threshold=0.4)
    test = rng.normal(0.0, 1.0, (300, len(TRACK_FEATURES)))
    test[rng.random(test.shape) < 0.1] = np.nan
    expected = model.predict_proba(test)[:, 1]
    np.testing.assert_allclose(booster.muon_probability(test), expected, rtol=1e-9, atol=1e-12)
    (tmp_path / "booster.json").write_text(booster.to_json())
    again = TrackBooster.read(tmp_path / "booster.json")
    assert again.threshold == 0.4
    np.testing.assert_allclose(again.muon_probability(test), expected, rtol=1e-9, atol=1e-12)


def test_the_shipped_booster_reads_from_json_and_refuses_other_features(tmp_path):
    booster = shipped_booster()
    assert booster.card["format"] == "ccdnb-track-booster/1"
    assert 0.0 < booster.threshold < 1.0 and booster.roots.size == booster.card["trees"]
    p = booster.muon_probability(np.random.default_rng(1).normal(0.0, 1.0,
                                                                 (50, len(TRACK_FEATURES))))
    assert np.all((p > 0.0) & (p < 1.0))
    text = booster.to_json().replace('"kink"', '"something_else"')
    (tmp_path / "booster.json").write_text(text)
    with pytest.raises(ValueError, match="features"):
        TrackBooster.read(tmp_path / "booster.json")


def _track(points, charge):
    """Pixels of a one-pixel-wide track through ``points`` (row, col), charge per point."""
    pixels = {}
    for (row, col), q in zip(points, charge):
        key = (int(round(row)), int(round(col)))
        pixels[key] = pixels.get(key, 0.0) + q
    rows, cols = np.array(list(pixels)).T
    return rows, cols, np.array(list(pixels.values()))


def test_track_shape_tells_a_straight_even_track_from_a_bent_one_and_a_bright_end():
    cols = np.arange(40)
    straight = _track(np.column_stack([np.full(40, 20.0), cols]), np.full(40, 10.0))
    # a parabola of curvature 0.02 / px: it bows 0.02 * (L / 2)^2 = 8 px over L = 40 px
    bent = _track(np.column_stack([20.0 + 0.02 * (cols - 19.5) ** 2, cols]), np.full(40, 10.0))
    bright_end = _track(np.column_stack([np.full(40, 20.0), cols]),
                        np.where(cols >= 30, 40.0, 10.0))
    parts = [straight, bent, bright_end]
    ids = np.concatenate([np.full(p[0].size, i + 1) for i, p in enumerate(parts)])
    rows, columns, signal = (np.concatenate([p[k] for p in parts]) for k in range(3))
    shape = track_shape(ids, rows, columns, signal, 3)
    assert set(shape) == set(TRACK_SHAPE_COLUMNS)
    assert shape["sagitta"][0] < 0.05 and shape["sagitta"][1] == pytest.approx(8.0, rel=0.15)
    assert shape["kink"][0] < 0.01 < 0.3 < shape["kink"][1]  # the two halves' slopes +-0.4
    assert shape["end_charge"][0] == pytest.approx(1.0, abs=0.1)
    assert shape["end_charge"][2] == pytest.approx(4.0, rel=0.1)  # 40 against 10 per px
    assert shape["end_asymmetry"][0] < 0.05 and shape["end_asymmetry"][2] > 0.5
    assert shape["core_sigma"][0] < 0.35


def test_a_track_that_widens_along_its_length_has_a_width_slope():
    rows, cols, charge = [], [], []
    for col in range(40):
        sigma = 0.2 + 1.2 * col / 39  # from the front surface to the back
        for dr in range(-4, 5):
            rows.append(30 + dr)
            cols.append(col)
            charge.append(np.exp(-0.5 * (dr / sigma) ** 2))
    shape = track_shape(np.ones(len(rows), np.int64), np.array(rows), np.array(cols),
                        np.array(charge), 1)
    assert shape["width_slope"][0] > 1.0
    assert shape["narrow_sigma"][0] < 0.5 < 1.0 < shape["wide_sigma"][0]


def test_pixels_and_saved_columns_name_clusters_alike():
    """The catalog hands the naming each cluster's pixels and measures the shapes of the
    tracks only; a table that holds the shapes of all clusters names them the same."""
    sim = simulate_image("clusters-only", (256, 256), 100_007, n_muons=4, n_worms=8,
                         worm_kev=(100.0, 2000.0))
    image = FitsImage(0, "SIM", None, sim.image, None, 0)
    table = build_catalog([image], {0: sim.label}, gain=float(sim.meta["gain_adu_per_e"]),
                          track_shape=True)
    assert set(TRACK_SHAPE_COLUMNS) <= set(table.colnames)
    tracks = np.isin(table["kind"], ("muon", "electron"))
    assert tracks.sum() >= 5 and (~tracks).sum() >= 5
    kind, confidence = classify_clusters(table)
    np.testing.assert_array_equal(kind, table["kind"])
    np.testing.assert_allclose(confidence, table["kind_confidence"], rtol=1e-5)
    plain = build_catalog([image], {0: sim.label}, gain=float(sim.meta["gain_adu_per_e"]))
    assert not set(TRACK_SHAPE_COLUMNS) & set(plain.colnames)
    np.testing.assert_array_equal(plain["kind"], table["kind"])
