"""Fit the class factors of a trained network on validation images.

The factors (:mod:`ccdnb.predict.class_factors`) move the network's decision
boundaries between classes without touching what it sees: the mask's class
becomes ``argmax_c (log p_c + b_c)`` with ``b_c = log f_c`` and ``b_0 = 0``. They are
chosen to maximise the mean, over groups of validation images (one group per
simulated preset), of the group's macro F1 (the mean F1 of the classes present in
its truth or its prediction) of the bare network's pixel classes (every stage after
the network switched off: the rules are not what the factors set). Each group
counts alike, so a preset with many images does not outvote a small one.

The search is coordinate ascent over one ``b_c`` at a time on a grid (background's
included, the factors then divided by background's); for one
class the whole grid is evaluated at once and exactly: a pixel goes to class ``c``
when ``b_c`` exceeds its threshold ``max_{k != c}(log p_k + b_k) - log p_c`` and to
its best other class otherwise, so sorting the thresholds gives every grid point's
confusion matrix. Pixels whose best class leads the others by more than twice
the grid's span can never change class; they enter as one fixed confusion matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..classes import CLASS_NAMES, N_CLASSES

__all__ = ["ClassFactorFit", "GroupProbabilities", "network_probabilities",
           "group_probabilities", "fit_class_factors", "confusion_of", "macro_f1", "f1_scores"]

#: Largest |log factor| searched: factors between 1/12 and 12.
SPAN = 2.5
#: Grid step of the log factors.
STEP = 0.02
#: Coordinate-ascent rounds at most (each fits the three factors once).
ROUNDS = 8
#: Probabilities are clipped here before the logarithm.
_TINY = 1e-30


def f1_scores(confusion) -> np.ndarray:
    """Per-class F1 of confusion matrices ``(..., 4, 4)`` (truth rows, prediction columns);
    NaN for a class neither in the truth nor in the prediction."""
    confusion = np.asarray(confusion, dtype=np.float64)
    tp = np.diagonal(confusion, axis1=-2, axis2=-1)
    denominator = confusion.sum(axis=-1) + confusion.sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2 * tp / denominator, np.nan)


def macro_f1(confusion) -> np.ndarray:
    """Mean F1 over the classes present (:func:`f1_scores`) of confusion matrices
    ``(..., 4, 4)``."""
    return _mean_present(f1_scores(confusion))


def _mean_present(scores) -> np.ndarray:
    """Mean over the last axis of per-class F1, leaving out the NaN of absent classes."""
    present = np.isfinite(scores)
    return np.where(present, scores, 0).sum(axis=-1) / np.maximum(present.sum(axis=-1), 1)


def network_probabilities(model, images, *, progress=None) -> np.ndarray:
    """The bare network's class probabilities of each image, as ``ccdnb predict`` computes them.

    Parameters
    ----------
    model : object
        An engine or Keras model (without class factors: load it with
        ``load_predictor(..., class_factors=False)``).
    images : ndarray, shape (N, H, W)
        Raw ADU.
    progress : callable, optional
        ``progress(done, total)`` after each image.

    Returns
    -------
    ndarray of float32, shape (N, H, W, 4)
    """
    from ..predict.pipeline import RULES, predict_image

    images = np.asarray(images)
    out = np.empty(images.shape + (N_CLASSES,), dtype=np.float32)
    for index, image in enumerate(images):
        out[index] = predict_image(model, image, probabilities=True, skip_stages=RULES)[1]
        if progress is not None:
            progress(index + 1, len(images))
    return out


@dataclass
class GroupProbabilities:
    """One group's pixels as the fit needs them.

    ``fixed`` is the confusion matrix of the pixels that no factor in the grid's span
    can move; ``truth`` and ``log_p`` (n, 4) hold the others.
    """

    name: str
    fixed: np.ndarray
    truth: np.ndarray
    log_p: np.ndarray
    n_pixels: int


def group_probabilities(name, probabilities, labels, *, span: float = SPAN) -> GroupProbabilities:
    """Reduce one group's probabilities and truth to what :func:`fit_class_factors` needs.

    Parameters
    ----------
    name : str
    probabilities : ndarray, shape (..., 4)
    labels : ndarray of int, shape (...)
        True classes 0-3.
    span : float
        The largest |log factor| the fit will search.
    """
    p = np.asarray(probabilities, dtype=np.float32).reshape(-1, N_CLASSES)
    truth = np.asarray(labels).reshape(-1).astype(np.int64)
    if truth.shape[0] != p.shape[0]:
        raise ValueError(f"{name}: {p.shape[0]} pixels of probabilities, {truth.shape[0]} labels")
    log_p = np.log(np.maximum(p, _TINY))
    ordered = np.sort(log_p, axis=1)
    movable = ordered[:, -1] - ordered[:, -2] <= 2 * span
    settled = ~movable
    fixed = np.bincount(truth[settled] * N_CLASSES + np.argmax(log_p[settled], axis=1),
                        minlength=N_CLASSES ** 2).reshape(N_CLASSES, N_CLASSES)
    return GroupProbabilities(str(name), fixed, truth[movable], log_p[movable], int(truth.size))


def confusion_of(group: GroupProbabilities, factors=None) -> np.ndarray:
    """The confusion matrix (truth rows, prediction columns) of ``group``'s pixels with the
    class ``factors`` (None: without)."""
    offsets = np.zeros(N_CLASSES) if factors is None else np.log(np.asarray(factors, float))
    return _confusion(group, offsets)


def _confusion(group: GroupProbabilities, offsets) -> np.ndarray:
    predicted = np.argmax(group.log_p + offsets, axis=1)
    moved = np.bincount(group.truth * N_CLASSES + predicted,
                        minlength=N_CLASSES ** 2).reshape(N_CLASSES, N_CLASSES)
    return group.fixed + moved


def _grid_confusions(group: GroupProbabilities, offsets, cls: int, grid) -> np.ndarray:
    """Confusion matrices (len(grid), 4, 4) of ``group`` with ``offsets[cls]`` set to each
    grid value (the others kept)."""
    scores = group.log_p + offsets
    others = scores.copy()
    others[:, cls] = -np.inf
    other = np.argmax(others, axis=1)
    threshold = others[np.arange(len(other)), other] - group.log_p[:, cls]
    # the pixel is class cls where grid value > threshold (ties: the lower class wins
    # only below cls; a measure-zero case left to the strict inequality)
    first = np.searchsorted(grid, threshold, side="right")
    n = len(grid)
    confusions = np.broadcast_to(group.fixed, (n, N_CLASSES, N_CLASSES)).copy()
    pair = group.truth * N_CLASSES + other
    # pixels with first <= j are cls at grid j: count by (truth, other) per first index
    counts = np.bincount(first * N_CLASSES ** 2 + pair,
                         minlength=(n + 1) * N_CLASSES ** 2).reshape(n + 1, N_CLASSES ** 2)
    switched = np.cumsum(counts[:n], axis=0).reshape(n, N_CLASSES, N_CLASSES)
    stay = np.bincount(pair, minlength=N_CLASSES ** 2).reshape(N_CLASSES, N_CLASSES)
    confusions += stay - switched
    to_cls = switched.sum(axis=2)  # per grid value and truth class: pixels moved to cls
    confusions[:, :, cls] += to_cls
    return confusions


@dataclass
class ClassFactorFit:
    """The fitted factors and what they do on the validation groups.

    Attributes
    ----------
    factors : ndarray, shape (4,)
        Background's is 1.
    groups : list of str
    f1_before, f1_after : ndarray, shape (n_groups, 4)
        Per-class F1 of the bare network without and with the factors (NaN: absent).
    objective_before, objective_after : float
        Mean over groups of the macro F1, or, against a reference, the worst change of a
        class's F1 (plus a thousandth of that mean).
    reference : ndarray, shape (n_groups, 4), or None
        The reference's per-class F1 the fit was held to.
    tolerance : float or None
        The largest loss of a class's F1 against it the fit allowed (None: as little as
        possible).
    """

    factors: np.ndarray
    groups: list
    f1_before: np.ndarray
    f1_after: np.ndarray
    objective_before: float
    objective_after: float
    n_pixels: dict = field(default_factory=dict)
    reference: np.ndarray | None = None
    tolerance: float | None = None

    def card_entry(self, **provenance) -> dict:
        """The model card's ``class_factors`` record: the factors, the fit's figures and
        ``provenance`` (the command, the data)."""
        def table(scores):
            return {g: {CLASS_NAMES[c]: None if not np.isfinite(s[c]) else round(float(s[c]), 4)
                        for c in range(N_CLASSES)} for g, s in zip(self.groups, scores)}

        entry = {"factors": [round(float(f), 4) for f in self.factors],
                 "objective": self.objective_name,
                 "objective_before": round(self.objective_before, 5),
                 "objective_after": round(self.objective_after, 5),
                 "f1_before": table(self.f1_before), "f1_after": table(self.f1_after),
                 "n_pixels": dict(self.n_pixels)}
        if self.reference is not None:
            entry["f1_reference"] = table(self.reference)
        return {**entry, **provenance}

    @property
    def objective_name(self) -> str:
        """What the factors maximise, in words."""
        if self.reference is None:
            return "mean over validation groups of the bare network's macro F1"
        if self.tolerance is not None:
            return ("mean over validation groups of the bare network's macro F1, no class's F1 "
                    f"on any group more than {self.tolerance:g} below the reference network's")
        return ("smallest change of any class's F1 on any validation group against the "
                "reference network (plus a thousandth of the mean macro F1)")

    def format(self) -> str:
        """A text table: per group, the per-class F1 before -> after."""
        named = ", ".join(f"{CLASS_NAMES[c]} {self.factors[c]:.3g}" for c in range(N_CLASSES))
        lines = [f"class factors: {named}",
                 f"{self.objective_name} over {len(self.groups)} groups: "
                 f"{self.objective_before:.4f} -> {self.objective_after:.4f}",
                 f"{'group':<18}" + "".join(f"{CLASS_NAMES[c]:>20}" for c in range(N_CLASSES))]

        def cell(before, after):
            if not (np.isfinite(before) or np.isfinite(after)):
                return f"{'n/a':>20}"
            text = (f"{before:.3f}" if np.isfinite(before) else "n/a") + " -> " + \
                (f"{after:.3f}" if np.isfinite(after) else "n/a")
            return f"{text:>20}"

        for g, before, after in zip(self.groups, self.f1_before, self.f1_after):
            lines.append(f"{g:<18}" + "".join(cell(before[c], after[c])
                                              for c in range(N_CLASSES)))
        if self.reference is not None:
            lines.append("the reference's F1:")
            for g, ref in zip(self.groups, self.reference):
                lines.append(f"{g:<18}" + "".join(
                    f"{ref[c]:>20.3f}" if np.isfinite(ref[c]) else f"{'n/a':>20}"
                    for c in range(N_CLASSES)))
        return "\n".join(lines)


def _objective(f1, reference, tolerance=None):
    """The fit's objective of per-class F1 ``(n_groups, ..., 4)``: the mean over groups of
    the macro F1; with a ``reference`` ``(n_groups, 4)``, the smallest change of any class's
    F1 against it (the mean macro F1 a thousandth as much, to break ties); with a
    ``tolerance`` too, the mean macro F1 where no class loses more than ``tolerance``, and
    below every such value (the smallest change minus 1) where one does."""
    present = np.isfinite(f1)
    mean = _mean_present(f1).mean(axis=0)
    if reference is None:
        return mean
    ref = np.asarray(reference, dtype=np.float64).reshape(
        (len(reference),) + (1,) * (f1.ndim - 2) + (N_CLASSES,))
    change = np.where(present & np.isfinite(ref), f1 - ref, np.inf)
    worst = change.min(axis=(0, -1))
    worst = np.where(np.isfinite(worst), worst, 0.0)
    if tolerance is None:
        return worst + 1e-3 * mean
    return np.where(worst >= -tolerance, mean, worst - 1.0)


def fit_class_factors(groups, *, reference=None, tolerance: float | None = None,
                      span: float = SPAN, step: float = STEP,
                      rounds: int = ROUNDS) -> ClassFactorFit:
    """Fit the factors that maximise the mean over ``groups`` of the bare network's macro F1,
    or, against a ``reference``, its worst change of any class's F1 on any group.

    Parameters
    ----------
    groups : sequence of GroupProbabilities
        From :func:`group_probabilities`, made with the same ``span``.
    reference : array_like, shape (n_groups, 4), optional
        Per-class F1 on the same groups of the network a new one replaces (the
        ``f1_after`` of its own fit, or its ``f1_before`` without factors): the factors then
        maximise the smallest change ``F1 - reference`` over every class present and every
        group (ties broken by the mean macro F1), i.e. the new network loses as little as
        possible anywhere.
    tolerance : float, optional
        With a ``reference``: maximise the mean macro F1 among the factors with which no
        class on any group loses more than ``tolerance`` against it (where none does yet,
        the smallest change is raised first).
    span : float
        Log factors are searched in ``[-span, span]`` (before they are divided by
        background's, so a factor may reach ``exp(2 span)``).
    step : float
        Grid step of the log factors.
    rounds : int
        Coordinate-ascent rounds at most; it stops earlier when a round changes nothing.

    Returns
    -------
    ClassFactorFit
    """
    groups = list(groups)
    if not groups:
        raise ValueError("no validation groups to fit class factors on")
    if reference is not None:
        reference = np.asarray(reference, dtype=np.float64)
        if reference.shape != (len(groups), N_CLASSES):
            raise ValueError(f"reference F1 of shape {reference.shape}; expected "
                             f"({len(groups)}, {N_CLASSES})")
    half = int(round(span / step))
    grid = np.arange(-half, half + 1) * step
    offsets = np.zeros(N_CLASSES)

    def scores_at(values):
        return np.array([f1_scores(_confusion(g, values)) for g in groups])

    before = scores_at(offsets)
    best = objective_before = float(_objective(before, reference, tolerance))
    for _ in range(rounds):
        changed = False
        # background's offset too: raising it is every other class's factor lowered at once,
        # a move that one class at a time cannot make
        for cls in range(N_CLASSES):
            curve = _objective(np.array([f1_scores(_grid_confusions(g, offsets, cls, grid))
                                         for g in groups]), reference, tolerance)
            top = curve.max()
            # among equal best values, the one nearest to no factor
            candidates = np.flatnonzero(curve >= top - 1e-12)
            choice = grid[candidates[np.argmin(np.abs(grid[candidates]))]]
            if top > best + 1e-9 and choice != offsets[cls]:
                offsets[cls] = choice
                best = float(top)
                changed = True
        if not changed:
            break
    after = scores_at(offsets)
    return ClassFactorFit(factors=np.exp(offsets - offsets[0]), groups=[g.name for g in groups],
                          f1_before=before, f1_after=after, objective_before=objective_before,
                          objective_after=float(_objective(after, reference, tolerance)),
                          n_pixels={g.name: g.n_pixels for g in groups},
                          reference=None if reference is None else reference.copy(),
                          tolerance=None if reference is None else tolerance)
