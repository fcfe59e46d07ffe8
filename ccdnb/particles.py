"""Name each cluster by the particle that made it, from its energy and shape.

Kinds: ``muon`` (straight, minimum-ionising; a steep one widens along its
length as its charge diffuses longer the deeper it was freed), ``electron``
(the curly worm of a Compton or beta electron), ``alpha`` (a round blob of
MeV), ``xray`` (a compact, diffusion-limited point deposit of 1 keV or more;
the Fe-55 lines at 5.90 / 6.49 keV stand out), ``low-energy`` (below 1 keV),
``serial-register`` (charge along one row) and ``unknown``.

**With a gain** (energies known), one decision tree decides
(:func:`classify_clusters`, :class:`ParticleTree`): 20 numbers of each cluster
(:data:`FEATURES`, from the catalog's columns: energy, footprint, second-moment
length and width, extent along the major axis against the length, skewness
and width gradient along it, the brightest pixel's share and place along the
axis, the energy against a muon's of that length, whether it touches the
image's border), at most 12 questions
of the form "is feature f at most t?" down to a leaf, and the leaf's most
common kind among the training clusters is the name, its share there the
confidence. The tree (``models/particle_tree.json``, plain JSON arrays) was
fitted with scikit-learn to the simulator's truth by
``benchmarks/train_particle_id.py``; ``benchmarks/particle_id.py`` measures it
on held-out seeds.

**Without a gain** only plain shape rules apply (:func:`classify`): a
serial-register hit is all its charge in one row, 3 pixels or longer; a muon
is 12 pixels long or more with elongation 3 or more; everything else is
``unknown``. (:func:`classify` also holds energy rules, for reference.)

The simulator's truth kinds map onto these names as
:func:`ccdnb.evaluation.particles.truth_kind` says.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["KINDS", "KIND_COLOURS", "LOW_ENERGY_KEV", "XRAY_MAX_KEV", "ELECTRON_KEV",
           "ELECTRON_ELONGATION", "ALPHA_KEV", "MUON_LENGTH_PX", "MUON_ELONGATION",
           "ELECTRON_LENGTH_PX", "SERIAL_LENGTH_PX", "classify", "FEATURES", "FEATURE_COLUMNS",
           "MIP_KEV_PER_UM", "SENSOR_UM", "PIXEL_UM", "TREE_PATH", "cluster_features",
           "ParticleTree", "shipped_tree", "classify_clusters"]

KINDS = ("muon", "electron", "alpha", "xray", "low-energy", "serial-register", "unknown")

#: Colours of the kinds (DS9 names; also used by the spectrum plot).
KIND_COLOURS = {"muon": "red", "electron": "yellow", "alpha": "magenta", "xray": "cyan",
                "low-energy": "green", "serial-register": "orange", "unknown": "white"}

LOW_ENERGY_KEV = 1.0
XRAY_MAX_KEV = 20.0
ELECTRON_KEV = 20.0
ELECTRON_ELONGATION = 1.6
ALPHA_KEV = 1000.0
MUON_LENGTH_PX = 12.0
MUON_ELONGATION = 3.0
ELECTRON_LENGTH_PX = 6.0
SERIAL_LENGTH_PX = 3


def _confidence(value, threshold, scale):
    """Logistic in log distance from ``threshold``: 0.5 on it, -> 1 as |log ratio| grows."""
    with np.errstate(divide="ignore", invalid="ignore"):
        margin = np.abs(np.log(np.maximum(value, 1e-12) / threshold)) / scale
    return 1.0 / (1.0 + np.exp(-4.0 * margin))


def classify(energy_kev, length, elongation, rows, columns):
    """Kind and confidence of every cluster by plain rules (the first that holds wins).

    Serial-register hit: one row, 3 pixels or longer; alpha: 1 MeV or more and
    elongation below 3; muon: 12 pixels or longer and elongation 3 or more;
    electron: 20 keV or more, or 6 pixels long and elongation 1.6 or more; X-ray:
    1 to 20 keV; low-energy: below 1 keV; else unknown (e.g. no energy). The
    confidence is how far the deciding feature sits from its threshold, on a
    logistic scale (0.5 on it). The catalog uses these rules only where the
    energy is unknown (:func:`classify_clusters`).

    Parameters
    ----------
    energy_kev : array_like
        Energy (keV); NaN when the gain is unknown.
    length, elongation : array_like
        Shape from the second moments (pixels; major over minor axis).
    rows, columns : array_like
        Rows and columns the cluster spans.

    Returns
    -------
    kind : ndarray of str
    confidence : ndarray of float
    """
    energy = np.asarray(energy_kev, dtype=float)
    length = np.asarray(length, dtype=float)
    elongation = np.asarray(elongation, dtype=float)
    rows, columns = np.asarray(rows), np.asarray(columns)
    n = energy.size
    kind = np.full(n, "unknown", dtype="U16")
    confidence = np.full(n, 0.5)
    known = np.isfinite(energy)
    undecided = np.ones(n, bool)

    def assign(name, where, conf):
        nonlocal undecided
        where = where & undecided
        kind[where] = name
        confidence[where] = np.asarray(conf, dtype=float)[where] if np.ndim(conf) else conf
        undecided &= ~where

    assign("serial-register", (rows == 1) & (columns >= SERIAL_LENGTH_PX),
           _confidence(columns, SERIAL_LENGTH_PX - 0.5, 0.5))
    assign("alpha", known & (energy >= ALPHA_KEV) & (elongation < 3.0),
           _confidence(energy, ALPHA_KEV, 0.5))
    straight = (length >= MUON_LENGTH_PX) & (elongation >= MUON_ELONGATION)
    assign("muon", straight, np.minimum(_confidence(length, MUON_LENGTH_PX, 0.5),
                                        _confidence(elongation, MUON_ELONGATION, 0.5)))
    electron = known & ((energy >= ELECTRON_KEV) | ((length >= ELECTRON_LENGTH_PX)
                                                    & (elongation >= ELECTRON_ELONGATION)))
    assign("electron", electron, np.maximum(_confidence(energy, ELECTRON_KEV, 0.5),
                                            _confidence(length, ELECTRON_LENGTH_PX, 0.3)))
    assign("xray", known & (energy >= LOW_ENERGY_KEV) & (energy < XRAY_MAX_KEV),
           _confidence(energy, LOW_ENERGY_KEV, 0.5))
    assign("low-energy", known & (energy < LOW_ENERGY_KEV),
           _confidence(energy, LOW_ENERGY_KEV, 0.5))
    return kind, confidence


#: The features of the particle-ID tree, from the catalog's columns: energy,
#: size and shape, how the charge is spread, and what tells a muon from a
#: straight fast electron (see :func:`cluster_features`).
FEATURES = ("log_kev", "log_npix", "log_length", "log_width", "elongation", "log_rows",
            "log_columns", "peak_share", "log_kev_per_px", "fill", "log_kev_per_length",
            "straightness", "log_minor_extent", "abs_skewness", "axis_fill",
            "abs_width_gradient", "log_mip_ratio", "peak_toward_wide", "peak_toward_tail",
            "edge")

#: The catalog columns that :func:`cluster_features` reads.
FEATURE_COLUMNS = ("energy_kev", "npix", "length", "width", "elongation", "rows", "columns",
                   "peak_adu", "charge_adu", "major_extent", "minor_extent", "skewness",
                   "width_gradient", "x", "y", "x_peak", "y_peak", "theta", "edge")

#: Energy a minimum-ionising particle leaves per um of silicon (keV): 80 pairs of
#: 3.77 eV, the most probable loss of a muon (the simulator's ``MIP_E_PER_UM``).
MIP_KEV_PER_UM = 80.0 * 3.77e-3
#: Thickness of the sensor (um) and its pixel pitch (um): DAMIC, DAMIC-M and SENSEI
#: CCDs are 675 um thick with 15 um pixels.
SENSOR_UM = 675.0
PIXEL_UM = 15.0

#: The shipped particle-ID tree (JSON; trained by ``benchmarks/train_particle_id.py``).
TREE_PATH = Path(__file__).parent / "models" / "particle_tree.json"


def cluster_features(columns) -> np.ndarray:
    """The :data:`FEATURES` of every cluster, shape (n, len(FEATURES)).

    Besides energy, size and the moments' shape, four features tell a muon from
    a straight fast electron. A muon crosses the whole thickness, so it leaves
    at least ~200 keV and its energy follows its projected length ``L``:
    ``log_mip_ratio`` is log10 of the energy over ``MIP_KEV_PER_UM *
    hypot(SENSOR_UM, PIXEL_UM * L)``, ~0 for a muon, below for an electron that
    left the silicon part-way, above for one that stopped (its loss rises at the
    end of its range). A muon's charge per length is even, and its narrowest,
    brightest pixels lie at its front-surface end, where the width gradient
    points away from; an electron's brightest pixels lie at its stopping end,
    where the charge piles up against the skewness's tail: the brightest pixel's
    position along the major axis (from the centroid, over half the length),
    signed by the width gradient (``peak_toward_wide``) and by the skewness
    (``peak_toward_tail``). ``edge`` (1 when the cluster touches the image's
    border) says that the length and the energy may be cut.

    Parameters
    ----------
    columns : mapping or astropy.table.Table
        The catalog columns :data:`FEATURE_COLUMNS`.
    """
    def column(name):
        return np.asarray(columns[name], dtype=float)

    energy = np.maximum(column("energy_kev"), 1e-3)
    npix, length = column("npix"), column("length")
    rows, cols = column("rows"), column("columns")
    share = np.clip(column("peak_adu") / np.maximum(column("charge_adu"), 1e-12), 0.0, 1.0)
    major, minor = column("major_extent"), column("minor_extent")
    mip_kev = MIP_KEV_PER_UM * np.hypot(SENSOR_UM, PIXEL_UM * length)
    theta = np.radians(column("theta"))
    peak_along = (((column("x_peak") - column("x")) * np.cos(theta)
                   + (column("y_peak") - column("y")) * np.sin(theta))
                  / np.maximum(0.5 * length, 0.5))
    return np.column_stack([np.log10(energy), np.log10(npix), np.log10(length),
                            np.log10(column("width")), column("elongation"), np.log10(rows),
                            np.log10(cols), share, np.log10(energy / npix), npix / (rows * cols),
                            np.log10(energy / length), np.log10(major / length),
                            np.log10(minor), np.abs(column("skewness")),
                            npix / (major * minor), np.abs(column("width_gradient")),
                            np.log10(energy / mip_kev),
                            peak_along * np.sign(column("width_gradient")),
                            peak_along * np.sign(column("skewness")), column("edge")])


@dataclass(frozen=True)
class ParticleTree:
    """A decision tree over :data:`FEATURES` (scikit-learn's arrays, read from JSON)."""

    classes: tuple
    children_left: np.ndarray
    children_right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    value: np.ndarray
    """Share of each class in each node, shape (nodes, classes)."""
    card: dict

    @classmethod
    def read(cls, path=TREE_PATH) -> ParticleTree:
        """Read a tree written by :meth:`to_json` (plain JSON, no pickle)."""
        data = json.loads(Path(path).read_text())
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path}: the tree's features {data['features']} are not {FEATURES}")
        value = np.asarray(data["value"], dtype=float)
        return cls(tuple(data["classes"]), np.asarray(data["children_left"], np.int64),
                   np.asarray(data["children_right"], np.int64),
                   np.asarray(data["feature"], np.int64),
                   np.asarray(data["threshold"], float),
                   value / np.maximum(value.sum(axis=1, keepdims=True), 1e-12),
                   {k: v for k, v in data.items() if k not in _TREE_ARRAYS})

    @classmethod
    def from_sklearn(cls, model, card=None) -> ParticleTree:
        """The tree of a fitted :class:`sklearn.tree.DecisionTreeClassifier`."""
        tree = model.tree_
        value = tree.value[:, 0, :]
        return cls(tuple(str(c) for c in model.classes_), tree.children_left.copy(),
                   tree.children_right.copy(), tree.feature.copy(), tree.threshold.copy(),
                   value / np.maximum(value.sum(axis=1, keepdims=True), 1e-12), dict(card or {}))

    def to_json(self) -> str:
        """The tree as JSON: the arrays, the class and feature names, the card."""
        return json.dumps(dict(self.card, features=list(FEATURES), classes=list(self.classes),
                               children_left=self.children_left.tolist(),
                               children_right=self.children_right.tolist(),
                               feature=self.feature.tolist(),
                               threshold=[float(t) for t in self.threshold],
                               value=np.round(self.value, 5).tolist()), indent=None)

    def leaves(self, x) -> np.ndarray:
        """The leaf that each row of ``x`` (features) falls in."""
        node = np.zeros(len(x), np.int64)
        while True:
            inner = self.children_left[node] >= 0
            if not inner.any():
                return node
            at = node[inner]
            go_left = x[np.flatnonzero(inner), self.feature[at]] <= self.threshold[at]
            node[inner] = np.where(go_left, self.children_left[at], self.children_right[at])

    def predict(self, x):
        """Class and its share in the leaf (the confidence) for each row of ``x``."""
        shares = self.value[self.leaves(np.asarray(x, dtype=float))]
        best = np.argmax(shares, axis=1)
        return np.asarray(self.classes)[best], shares[np.arange(len(best)), best]


_TREE_ARRAYS = ("features", "classes", "children_left", "children_right", "feature",
                "threshold", "value")


@functools.lru_cache(maxsize=1)
def shipped_tree() -> ParticleTree:
    """The particle-ID tree that ships with ccdnb (:data:`TREE_PATH`)."""
    return ParticleTree.read(TREE_PATH)


def classify_clusters(columns, tree: ParticleTree | None = None):
    """Kind and confidence of every cluster of a catalog.

    Clusters with an energy go through the particle-ID tree (:func:`shipped_tree`
    unless ``tree`` is given): its leaf's share of the named kind is the
    confidence. Without a gain the energy is unknown and only the shape rules
    of :func:`classify` apply (serial-register hits and long straight muons;
    the rest is ``unknown``).

    Parameters
    ----------
    columns : mapping or astropy.table.Table
        The catalog's columns (see :func:`cluster_features`).

    Returns
    -------
    kind : ndarray of str
    confidence : ndarray of float
    """
    energy = np.asarray(columns["energy_kev"], dtype=float)
    kind, confidence = classify(energy, columns["length"], columns["elongation"],
                                columns["rows"], columns["columns"])
    known = np.isfinite(energy)
    if known.any():
        tree = shipped_tree() if tree is None else tree
        named, share = tree.predict(cluster_features(
            {name: np.asarray(columns[name])[known] for name in FEATURE_COLUMNS}))
        kind[known], confidence[known] = named, share
    return kind, confidence


#: Truth helpers that moved to :mod:`ccdnb.evaluation.particles` (kept reachable here;
#: loaded on first use, so that prediction never imports the simulator).
_MOVED = ("TRUTH_KINDS", "POINT_KINDS", "WORM_MIN_RANGE_PX", "truth_kind",
          "label_simulated_clusters", "confusion_matrix", "SIMULATION_PRESETS", "HELDOUT_SEED",
          "simulated_clusters")


def __getattr__(name):
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module("ccdnb.evaluation.particles"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
