"""The thesis's threshold labelling, and how a labelling compares with the truth.

The thesis labelled its simulated images by intensity thresholds: in its
images glow is a flat band at one level, hot pixels sit at one higher level
and clusters stay below it, so a pixel's value alone tells its class.
:func:`threshold_labels` reproduces that method from each image's meta (the
simulation now provides exact truth labels; the thresholds remain as a method
and a comparison, notebook 02). :func:`agreement_table` and
:func:`format_confusion` compare a labelling with the truth;
:func:`write_label_stats` writes the run directory's class statistics.
Encodings and class counting are in :mod:`ccdnb.classes`; labelme annotations
in :mod:`ccdnb.io.labelme`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .classes import (
    BACKGROUND,
    CLASS_IDS,
    CLASS_NAMES,
    CLUSTER,
    GLOWING,
    HOT_PIXEL,
    class_percentages,
    class_weights,
    confusion_counts,
)
from .errors import CcdnbInputError
from .io.atomic import write_json_atomic

__all__ = ["DEFAULT_N_SIGMA", "ThresholdWindows", "threshold_windows", "threshold_labels",
           "agreement_table", "format_confusion", "write_label_stats"]

#: Half-width of the glow and hot-pixel windows and the background cut, in read-noise
#: sigma, for images with noise (noiseless images use exact windows).
DEFAULT_N_SIGMA = 3.0


# --------------------------------------------------------------------------- thresholds

@dataclass(frozen=True)
class ThresholdWindows:
    """Intensity windows of one image, in ADU as the image holds them (pedestal included).

    A pixel ``v`` is hot when ``v >= hot_min``, else glowing when
    ``glow_min <= v <= glow_max``, else a cluster when ``v >= signal_min``,
    else background. Absent levels are ``inf`` / ``-inf`` bounds that no pixel meets.
    """

    signal_min: float
    glow_min: float
    glow_max: float
    hot_min: float


def _up(value):
    """Smallest float32 >= ``value``.

    ``x >= value`` equals ``x >= _up(value)`` for float32 ``x``.
    """
    rounded = np.float32(value)
    return np.nextafter(rounded, np.float32(np.inf)) if rounded < value else rounded


def _down(value):
    """Largest float32 <= ``value``.

    ``x <= value`` equals ``x <= _down(value)`` for float32 ``x``.
    """
    rounded = np.float32(value)
    return np.nextafter(rounded, np.float32(-np.inf)) if rounded > value else rounded


def threshold_windows(meta, *, n_sigma=DEFAULT_N_SIGMA):
    """Intensity windows of one image from its simulation meta.

    The levels are measured from the image's base, the float32 value of
    ``pedestal_adu + dark_current_e * gain_adu_per_e`` (what a noiseless
    image holds where nothing is). In a noiseless image (``meta['noiseless']``)
    the windows are exact: signal at least 1 read-noise sigma, glow exactly at
    ``glow_level_adu``, hot pixels at ``hot_level_adu`` or above. With noise
    they widen by ``n_sigma`` read-noise sigma, as the thesis's did: the glow
    window becomes ``glow_level +- n_sigma sigma``, the hot window starts
    ``n_sigma sigma`` below the hot level and the signal cut rises to
    ``n_sigma sigma`` (a 1-sigma cut would call 16 % of the background signal).

    Parameters
    ----------
    meta : dict
        ``SimulatedImage.meta``: needs ``pedestal_adu``, ``read_noise_adu``,
        ``gain_adu_per_e``; uses ``dark_current_e``, ``noiseless``,
        ``glow_level_adu`` and ``hot_level_adu`` (None: no such level).
    n_sigma : float
        Widening with noise, in read-noise sigma.

    Returns
    -------
    ThresholdWindows

    Raises
    ------
    CcdnbInputError
        A required meta key is missing.
    """
    try:
        base = np.float32(meta["pedestal_adu"]
                          + meta.get("dark_current_e", 0.0) * meta["gain_adu_per_e"])
        sigma = float(meta["read_noise_adu"])
    except KeyError as err:
        raise CcdnbInputError(f"threshold labelling needs image meta key {err.args[0]!r}") from None
    base = float(base)
    tol = 0.0 if meta.get("noiseless", False) else float(n_sigma) * sigma
    signal_min = _up(base + max(sigma, tol))
    glow = meta.get("glow_level_adu")
    glow_min, glow_max = ((np.inf, -np.inf) if glow is None
                          else (_up(base + glow - tol), _down(base + glow + tol)))
    hot = meta.get("hot_level_adu")
    hot_min = np.inf if hot is None else _up(base + hot - tol)
    return ThresholdWindows(float(signal_min), float(glow_min), float(glow_max), float(hot_min))


def threshold_labels(images, meta, *, n_sigma=DEFAULT_N_SIGMA):
    """Label images by intensity thresholds, the thesis's automated labelling.

    Vectorised over the stack: each image gets its own windows
    (:func:`threshold_windows`), compared at once with broadcasting.
    Precedence where windows overlap: hot pixel > glowing > cluster >
    background. Row drift of the pedestal is not followed (the thesis's
    images had none).

    Parameters
    ----------
    images : ndarray, shape (N, H, W) or (H, W)
        Images in ADU as simulated (pedestal included).
    meta : list of dict or dict
        One meta dict per image (a single dict for a single image).
    n_sigma : float
        Window widening for images with noise, in read-noise sigma.

    Returns
    -------
    ndarray of uint8, same shape as ``images``
    """
    images = np.asarray(images)
    single = images.ndim == 2
    if single:
        images, meta = images[None], [meta]
    if images.ndim != 3 or len(meta) != len(images):
        raise CcdnbInputError(f"threshold labelling needs (N, H, W) images and N meta dicts; "
                              f"got shape {images.shape} and {len(meta)} meta")
    windows = [threshold_windows(m, n_sigma=n_sigma) for m in meta]
    dtype = images.dtype if images.dtype == np.float32 else np.float64

    def bound(name):
        return np.array([getattr(w, name) for w in windows], dtype)[:, None, None]

    # Lowest precedence first, higher ones overwrite; np.where keeps it to a few passes.
    labels = np.where(images >= bound("signal_min"), np.uint8(CLUSTER), np.uint8(BACKGROUND))
    glow = (images >= bound("glow_min")) & (images <= bound("glow_max"))
    labels[glow] = GLOWING
    labels[images >= bound("hot_min")] = HOT_PIXEL
    return labels[0] if single else labels


# --------------------------------------------------------------------------- statistics

def agreement_table(truth, other):
    """Per-class agreement of a labelling with the truth, one row per class.

    Parameters
    ----------
    truth, other : array_like of int
        Class masks of the same shape (any number of images).

    Returns
    -------
    list of dict
        ``class``, ``truth px``, ``labelled px``, ``precision`` (share of the
        pixels labelled k that are k), ``recall`` (share of the true k pixels
        labelled k), ``f1``; NaN where a share has no pixels.
    """
    counts = confusion_counts(truth, other).astype(np.float64)
    hits = np.diag(counts)
    in_truth, labelled = counts.sum(axis=1), counts.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision, recall = hits / labelled, hits / in_truth
        f1 = 2 * hits / (in_truth + labelled)
    return [{"class": CLASS_NAMES[k], "truth px": int(in_truth[k]), "labelled px": int(labelled[k]),
             "precision": float(precision[k]), "recall": float(recall[k]), "f1": float(f1[k])}
            for k in CLASS_IDS]


def format_confusion(truth, other, *, title="true / threshold") -> str:
    """The confusion matrix of a labelling against the truth as text, rows in percent.

    Parameters
    ----------
    truth, other : array_like of int
        Class masks of the same shape (any number of images).
    title : str
        Heading of the row-name column.

    Returns
    -------
    str
        One header line and one line per true class: the share (%) of its
        pixels given each class by ``other`` (each row sums to 100, or 0 for a
        class absent from the truth).
    """
    counts = confusion_counts(truth, other).astype(np.float64)
    percent = 100.0 * counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    lines = [f"{title:>18s}" + "".join(f"{name:>12s}" for name in CLASS_NAMES)]
    lines += [f"{name:>18s}" + "".join(f"{value:11.2f}%" for value in row)
              for name, row in zip(CLASS_NAMES, percent)]
    return "\n".join(lines)


def write_label_stats(path, labels):
    """Write the class statistics of ``labels`` as JSON (the run directory's ``label_stats.json``).

    Parameters
    ----------
    path : str or Path
        Written under a temporary name and renamed, so no partial file is left.
    labels : array_like of int
        Usually the truth labels of the training set.

    Returns
    -------
    dict
        What was written: ``{"class_percent": [4 floats], "class_weights": [4 floats]}``
        (:func:`class_percentages`, :func:`class_weights`).
    """
    stats = {"class_percent": class_percentages(labels).tolist(),
             "class_weights": class_weights(labels).tolist()}
    write_json_atomic(path, stats)
    return stats
