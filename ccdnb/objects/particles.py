"""Name each cluster by the particle that made it, from its energy and shape.

Kinds: ``muon`` (straight, minimum-ionising; a steep one widens along its
length as its charge diffuses longer the deeper it was freed), ``electron``
(the curly worm of a Compton or beta electron), ``alpha`` (a round blob of
MeV), ``xray`` (a compact, diffusion-limited point deposit of 1 keV or more;
the Fe-55 lines at 5.90 / 6.49 keV stand out), ``low-energy`` (below 1 keV),
``serial-register`` (charge along one row) and ``unknown``.

**With a gain** (energies known), one decision tree names every cluster
(:func:`classify_clusters`, :class:`ParticleTree`): 20 numbers of each cluster
(:data:`FEATURES`, from the catalog's columns: energy, footprint, second-moment
length and width, extent along the major axis against the length, skewness
and width gradient along it, the brightest pixel's share and place along the
axis, the energy against a muon's of that length, whether it touches the
image's border), at most 12 questions
of the form "is feature f at most t?" down to a leaf, and the leaf's most
common kind among the training clusters is the name, its share there the
confidence. The clusters it names muon or electron then go to a second stage
(:class:`TrackBooster`): 100 small gradient-boosted trees over the same 20
numbers and 8 more measured on the track's own pixels (:func:`track_shape`:
its bend, its kink, the charge of its end quarters against the middle, how its
width grows from one end to the other), whose summed votes give the
probability of a muon. A muon crosses the whole thickness in a straight line,
its charge per length even and its width growing steadily with depth; a fast
electron bends and kinks where it scattered, its loss rises at its stopping
end, and it keeps to the depths it wanders through. Both models (``models/
particle_tree.json`` and ``models/track_booster.json``, plain JSON arrays,
evaluated in NumPy) were fitted with scikit-learn to the simulator's truth by
``benchmarks/train_particle_id.py``; ``benchmarks/particle_id.py`` measures
them on held-out seeds.

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
           "ParticleTree", "shipped_tree", "TRACK_SHAPE_COLUMNS", "track_shape",
           "TRACK_FEATURES", "BOOSTER_PATH", "TrackBooster", "shipped_booster",
           "classify_clusters"]

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
TREE_PATH = Path(__file__).parent.parent / "models" / "particle_tree.json"


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


#: Per-cluster measurements of the track's own pixels (:func:`track_shape`) that the
#: particle tree reads beside the catalog's columns.
TRACK_SHAPE_COLUMNS = ("sagitta", "kink", "end_charge", "end_asymmetry", "width_slope",
                       "narrow_sigma", "wide_sigma", "core_sigma")


def _per(ids, n, weights):
    return np.bincount(ids, weights=weights, minlength=n + 1)[1:]


def _weighted_fit(ids, n, w, t, y, degree):
    """Per-cluster weighted least-squares polynomial ``y ~ sum_k p_k t^k`` (k <= degree).

    A small ridge keeps clusters of one to a few pixels solvable; their
    coefficients beyond the mean are then ~0.
    """
    k = degree + 1
    total = np.maximum(_per(ids, n, w), 1e-12)
    moments = np.stack([_per(ids, n, w * t ** p) / total for p in range(2 * k - 1)], axis=1)
    rhs = np.stack([_per(ids, n, w * y * t ** p) / total for p in range(k)], axis=1)
    normal = moments[:, np.add.outer(np.arange(k), np.arange(k))]
    diagonal = np.einsum("nii->ni", normal)
    normal = normal + np.eye(k)[None] * (1e-6 * diagonal + 1e-12)[:, None, :]
    return np.linalg.solve(normal, rhs[..., None])[..., 0]


def track_shape(ids, rows, cols, signal, n) -> dict:
    """Shape of each cluster's charge along its principal axis, from its own pixels.

    What tells a straight fast electron from a muon: a muon crosses the whole
    thickness, so its charge per length is even and its width grows steadily
    from the front-surface end (no diffusion) to the back-surface end (about
    1.4 px); an electron's charge per length rises at its stopping end (the
    Bragg-like end of its range), its path bends or kinks where it scattered,
    and it keeps to the depths it wandered through.

    The pixels are put on the cluster's principal axes (charge-weighted, as the
    catalog's moments); ``t`` along, ``u`` across. Then, per cluster:

    ``sagitta``
        the centre line ``u(t)`` fitted as a parabola (weighted least squares),
        its bow over the track's length ``(|c| (L/2)^2`` with ``L`` the
        second-moment length), in pixels: ~0 for a straight track;
    ``kink``
        the angle (rad) between straight lines fitted to the two halves
        ``t < 0`` and ``t >= 0``;
    ``end_charge``
        the charge of the richer end quarter of the footprint's extent along
        ``t`` over the mean of the two middle quarters (charge per length at
        the end over the middle: ~1 for a muon, more for an electron's end);
    ``end_asymmetry``
        ``|Q4 - Q1| / (Q1 + Q4)`` of the two end quarters;
    ``width_slope``
        the change of the squared spread about the centre line from one end to
        the other (a straight line fitted to ``(u - u(t))^2`` against ``t``),
        over its mean: ~2 for a muon, whose spread goes from ~0 to its full
        value;
    ``narrow_sigma``, ``wide_sigma``
        the spread (px) about the centre line at the narrow and the wide end of
        that line fit;
    ``core_sigma``
        the mean spread about the centre line (px).

    Parameters
    ----------
    ids : ndarray of int, shape (m,)
        Cluster number (1..n) of each pixel.
    rows, cols : ndarray, shape (m,)
        The pixels.
    signal : ndarray, shape (m,)
        Charge above the pedestal (any unit); negative pixels weigh 0, and a
        cluster without positive charge weighs its pixels equally.
    n : int
        Number of clusters.

    Returns
    -------
    dict
        One float array of length ``n`` per name of :data:`TRACK_SHAPE_COLUMNS`.
    """
    if n == 0:
        return {name: np.zeros(0) for name in TRACK_SHAPE_COLUMNS}
    ids = np.asarray(ids, np.int64)
    rows, cols = np.asarray(rows, float), np.asarray(cols, float)
    w = np.clip(np.asarray(signal, float), 0.0, None)
    has = _per(ids, n, w) > 0
    w = np.where(has[ids - 1], w, 1.0)
    total = _per(ids, n, w)
    y0, x0 = _per(ids, n, w * rows) / total, _per(ids, n, w * cols) / total
    dy, dx = rows - y0[ids - 1], cols - x0[ids - 1]
    myy = _per(ids, n, w * dy * dy) / total + 1.0 / 12.0
    mxx = _per(ids, n, w * dx * dx) / total + 1.0 / 12.0
    mxy = _per(ids, n, w * dx * dy) / total
    angle = 0.5 * np.arctan2(2.0 * mxy, mxx - myy)
    cos, sin = np.cos(angle)[ids - 1], np.sin(angle)[ids - 1]
    t, u = dx * cos + dy * sin, -dx * sin + dy * cos
    var_t = _per(ids, n, w * t * t) / total + 1.0 / 12.0
    half = np.sqrt(3.0 * var_t)  # half the second-moment length
    # centre line: u = a + b t + c t^2
    p = _weighted_fit(ids, n, w, t, u, 2)
    sagitta = np.abs(p[:, 2]) * half ** 2
    centre = p[ids - 1, 0] + p[ids - 1, 1] * t + p[ids - 1, 2] * t * t
    # kink: a straight line through each half
    slopes = []
    for side in (t < 0, t >= 0):
        ws = np.where(side, w, 0.0)
        slopes.append(_weighted_fit(ids, n, ws, t, u, 1)[:, 1])
    kink = np.abs(np.arctan(slopes[1]) - np.arctan(slopes[0]))
    # charge per quarter of the extent along the axis
    low = np.full(n + 1, np.inf)
    high = np.full(n + 1, -np.inf)
    np.minimum.at(low, ids, t)
    np.maximum.at(high, ids, t)
    low, high = low[1:], high[1:]
    span = np.maximum(high - low, 1e-9)
    quarter = np.clip(((t - low[ids - 1]) / span[ids - 1] * 4).astype(np.int64), 0, 3)
    q = np.stack([_per(ids, n, np.where(quarter == k, w, 0.0)) for k in range(4)], axis=1)
    middle = np.maximum(0.5 * (q[:, 1] + q[:, 2]), 1e-12 * total)
    end_charge = np.maximum(q[:, 0], q[:, 3]) / middle
    end_asymmetry = np.abs(q[:, 3] - q[:, 0]) / np.maximum(q[:, 0] + q[:, 3], 1e-12 * total)
    # spread about the centre line, and how it changes along the track
    r2 = (u - centre) ** 2 + 1.0 / 12.0
    line = _weighted_fit(ids, n, w, t, r2, 1)
    mean_r2 = _per(ids, n, w * r2) / total
    width_slope = line[:, 1] * 2.0 * half / np.maximum(mean_r2, 1e-12)
    ends = line[:, :1] + line[:, 1:] * np.stack([-half, half], axis=1)
    ends = np.sqrt(np.clip(ends, 0.0, None))
    return dict(sagitta=sagitta, kink=kink, end_charge=end_charge,
                end_asymmetry=end_asymmetry, width_slope=np.abs(width_slope),
                narrow_sigma=ends.min(axis=1), wide_sigma=ends.max(axis=1),
                core_sigma=np.sqrt(mean_r2))


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


#: The features of the muon-or-electron stage (:class:`TrackBooster`): the tree's
#: and the shape of the track's own pixels (:func:`track_shape`).
TRACK_FEATURES = FEATURES + TRACK_SHAPE_COLUMNS

#: The shipped muon-or-electron stage (JSON; trained by ``benchmarks/train_particle_id.py``).
BOOSTER_PATH = Path(__file__).parent.parent / "models" / "track_booster.json"


@dataclass(frozen=True)
class TrackBooster:
    """Gradient-boosted trees that tell a muon from an electron (binary, read from JSON).

    scikit-learn's ``HistGradientBoostingClassifier`` (log-loss, two classes),
    its trees stored as plain arrays and evaluated here in NumPy: the log-odds
    of a muon is ``baseline`` plus one leaf value per tree (the learning rate is
    in the leaf values); a feature that is NaN goes where the training sent
    missing values. A cluster is a muon when its probability exceeds
    ``threshold``.
    """

    baseline: float
    threshold: float
    left: np.ndarray
    """Child nodes and leaves of all trees in one flat array (-1 at a leaf)."""
    right: np.ndarray
    feature: np.ndarray
    cut: np.ndarray
    missing_left: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    card: dict

    @classmethod
    def read(cls, path=BOOSTER_PATH) -> TrackBooster:
        """Read a model written by :meth:`to_json` (plain JSON, no pickle)."""
        data = json.loads(Path(path).read_text())
        if tuple(data["features"]) != TRACK_FEATURES:
            raise ValueError(f"{path}: the model's features {data['features']} are not "
                             f"{TRACK_FEATURES}")
        arrays = {name: np.asarray(data[name]) for name in _BOOSTER_ARRAYS}
        return cls(float(data["baseline"]), float(data["threshold"]),
                   arrays["left"].astype(np.int64), arrays["right"].astype(np.int64),
                   arrays["feature"].astype(np.int64), arrays["cut"].astype(float),
                   arrays["missing_left"].astype(bool), arrays["value"].astype(float),
                   arrays["roots"].astype(np.int64),
                   {k: v for k, v in data.items() if k not in _BOOSTER_ARRAYS
                    and k not in ("features", "baseline", "threshold")})

    @classmethod
    def from_sklearn(cls, model, threshold=0.5, card=None) -> TrackBooster:
        """The trees of a fitted binary ``HistGradientBoostingClassifier`` (muon = class 1)."""
        left, right, feature, cut, missing, value, roots = [], [], [], [], [], [], []
        offset = 0
        for (predictor,) in model._predictors:
            nodes = predictor.nodes
            leaf = nodes["is_leaf"].astype(bool)
            roots.append(offset)
            left.append(np.where(leaf, -1, nodes["left"] + offset))
            right.append(np.where(leaf, -1, nodes["right"] + offset))
            feature.append(np.where(leaf, 0, nodes["feature_idx"]))
            cut.append(np.where(leaf, 0.0, nodes["num_threshold"]))
            missing.append(nodes["missing_go_to_left"].astype(bool))
            value.append(np.where(leaf, nodes["value"], 0.0))
            offset += len(nodes)
        return cls(float(np.ravel(model._baseline_prediction)[0]), float(threshold),
                   *(np.concatenate(a) for a in (left, right, feature, cut, missing, value)),
                   np.asarray(roots, np.int64), dict(card or {}))

    def to_json(self) -> str:
        """The model as JSON: the trees' arrays, the features, the card."""
        return json.dumps(dict(self.card, features=list(TRACK_FEATURES), baseline=self.baseline,
                               threshold=self.threshold, roots=self.roots.tolist(),
                               left=self.left.tolist(), right=self.right.tolist(),
                               feature=self.feature.tolist(),
                               cut=[float(c) for c in self.cut],
                               missing_left=self.missing_left.astype(int).tolist(),
                               value=[float(v) for v in self.value]), indent=None)

    def muon_probability(self, x) -> np.ndarray:
        """Probability that each row of ``x`` (:data:`TRACK_FEATURES`) is a muon."""
        x = np.asarray(x, dtype=float)
        rows = np.arange(len(x))[:, None]
        node = np.broadcast_to(self.roots, (len(x), self.roots.size)).copy()
        while True:
            inner = self.left[node] >= 0
            if not inner.any():
                break
            at = node[inner]
            seen = x[np.broadcast_to(rows, node.shape)[inner], self.feature[at]]
            go_left = np.where(np.isnan(seen), self.missing_left[at], seen <= self.cut[at])
            node[inner] = np.where(go_left, self.left[at], self.right[at])
        score = self.baseline + self.value[node].sum(axis=1)
        return 1.0 / (1.0 + np.exp(-score))


_BOOSTER_ARRAYS = ("roots", "left", "right", "feature", "cut", "missing_left", "value")


@functools.lru_cache(maxsize=1)
def shipped_tree() -> ParticleTree:
    """The particle-ID tree that ships with ccdnb (:data:`TREE_PATH`)."""
    return ParticleTree.read(TREE_PATH)


@functools.lru_cache(maxsize=1)
def shipped_booster() -> TrackBooster:
    """The muon-or-electron stage that ships with ccdnb (:data:`BOOSTER_PATH`)."""
    return TrackBooster.read(BOOSTER_PATH)


def _subset_shape(pixels, chosen):
    """:func:`track_shape` of the clusters ``chosen`` (0-based rows) from all clusters' pixels."""
    ids, rows, cols, signal = pixels
    n_all = int(ids.max(initial=0))
    number = np.zeros(n_all + 1, np.int64)
    number[np.asarray(chosen) + 1] = np.arange(1, len(chosen) + 1)
    keep = number[ids] > 0
    return track_shape(number[ids[keep]], rows[keep], cols[keep], signal[keep], len(chosen))


def classify_clusters(columns, tree: ParticleTree | None = None, pixels=None,
                      booster: TrackBooster | None = None):
    """Kind and confidence of every cluster of a catalog.

    Clusters with an energy go through the particle-ID tree (:func:`shipped_tree`
    unless ``tree`` is given): its leaf's share of the named kind is the
    confidence. Those it names muon or electron then go through the
    muon-or-electron stage (:func:`shipped_booster` unless ``booster`` is given),
    which also reads the shape of the track's own pixels (:func:`track_shape`):
    its probability of the kind it names is then the confidence. Without a gain
    the energy is unknown and only the shape rules of :func:`classify` apply
    (serial-register hits and long straight muons; the rest is ``unknown``).

    Parameters
    ----------
    columns : mapping or astropy.table.Table
        The catalog's columns (see :func:`cluster_features`); the
        :data:`TRACK_SHAPE_COLUMNS` too where ``pixels`` is None.
    pixels : tuple of ndarray, optional
        ``(ids, rows, cols, signal)`` of every cluster pixel: cluster number
        (1, 2, ... in catalog order), place, and charge above the pedestal.
        The track shapes are measured from them for the clusters that need it.

    Returns
    -------
    kind : ndarray of str
    confidence : ndarray of float
    """
    energy = np.asarray(columns["energy_kev"], dtype=float)
    kind, confidence = classify(energy, columns["length"], columns["elongation"],
                                columns["rows"], columns["columns"])
    known = np.flatnonzero(np.isfinite(energy))
    if known.size:
        tree = shipped_tree() if tree is None else tree
        x = cluster_features({name: np.asarray(columns[name])[known] for name in FEATURE_COLUMNS})
        named, share = tree.predict(x)
        kind[known], confidence[known] = named, share
        track = np.isin(named, ("muon", "electron"))
        if track.any():
            booster = shipped_booster() if booster is None else booster
            chosen = known[track]
            if pixels is None:
                shape = {name: np.asarray(columns[name], dtype=float)[chosen]
                         for name in TRACK_SHAPE_COLUMNS}
            else:
                shape = _subset_shape(pixels, chosen)
            muon = booster.muon_probability(np.column_stack(
                [x[track]] + [shape[name] for name in TRACK_SHAPE_COLUMNS]))
            is_muon = muon > booster.threshold
            kind[chosen] = np.where(is_muon, "muon", "electron")
            confidence[chosen] = np.where(is_muon, muon, 1.0 - muon)
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
