"""The four pixel classes: ids, names, colours, encodings and counting.

The one source of truth that every stage shares: class ids and names
(:func:`class_id` turns a name into an id), the thesis colours, encodings
(:func:`one_hot`, :func:`from_one_hot`, :func:`label_to_rgb`), pixel counts and
shares per class (:func:`class_counts`, :func:`class_percentages`,
:func:`confusion_counts`) and the thesis's inverse-frequency :func:`class_weights`.
What a group of pixels is (8-connected groups of a class) is
:mod:`ccdnb.objects.groups`.
"""

from __future__ import annotations

import numpy as np

from .errors import CcdnbInputError

__all__ = ["BACKGROUND", "GLOWING", "HOT_PIXEL", "CLUSTER", "CLASS_IDS", "CLASS_NAMES",
           "CLASS_KEYS", "CLASS_COLOURS", "N_CLASSES", "PRIORITY", "class_id", "one_hot",
           "from_one_hot", "label_to_rgb", "class_counts", "class_percentages", "class_weights",
           "confusion_counts"]

#: Names that moved to :mod:`ccdnb.objects.groups`, still importable from here (notebooks,
#: benchmarks, modules being edited elsewhere). Loaded on first use: groups imports the
#: class ids from here, so an import at the top would be a circle.
_MOVED_TO_GROUPS = ("EIGHT_CONNECTED", "label_groups", "class_groups", "release_pixels",
                    "count_neighbours")


def __getattr__(name):
    if name in _MOVED_TO_GROUPS:
        import importlib

        return getattr(importlib.import_module("ccdnb.objects.groups"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_MOVED_TO_GROUPS))

BACKGROUND = 0
GLOWING = 1
HOT_PIXEL = 2
CLUSTER = 3

#: Class ids in order; index == id.
CLASS_IDS = (BACKGROUND, GLOWING, HOT_PIXEL, CLUSTER)
#: Human-readable names, indexed by class id.
CLASS_NAMES = ("background", "glowing", "hot pixel", "cluster")
#: Short upper-case names for FITS keywords and table columns.
CLASS_KEYS = ("BACKGROUND", "GLOWING", "HOTPIXEL", "CLUSTER")
#: RGB colours of the thesis (background black, glowing green, hot pixel blue, cluster red).
CLASS_COLOURS = (
    (0.0, 0.0, 0.0),
    (0.35, 1.0, 0.25),
    (0.0, 0.5, 1.0),
    (1.0, 0.2, 0.2),
)
N_CLASSES = len(CLASS_IDS)

#: Where components overlap, the label is the highest priority present
#: (hot pixel > cluster > glowing > background).
PRIORITY = (HOT_PIXEL, CLUSTER, GLOWING, BACKGROUND)


def class_id(cls) -> int:
    """Return the class id of ``cls``: an id (0-3) or a name ("cluster", "hot pixel",
    "hot_pixel", "HOTPIXEL"; any case).

    Raises
    ------
    CcdnbInputError
        For anything else.
    """
    if isinstance(cls, (int, np.integer)) and not isinstance(cls, bool):
        if 0 <= int(cls) < N_CLASSES:
            return int(cls)
    elif isinstance(cls, str):
        key = cls.strip().lower().replace("_", " ").replace("-", " ")
        for k, (name, short) in enumerate(zip(CLASS_NAMES, CLASS_KEYS)):
            if key in (name, short.lower(), name.replace(" ", "")):
                return k
    raise CcdnbInputError(
        f"unknown class {cls!r}; choose an id 0-{N_CLASSES - 1} or one of {', '.join(CLASS_NAMES)}")


# --------------------------------------------------------------------------- encodings

def one_hot(labels):
    """One-hot encode class masks.

    Parameters
    ----------
    labels : array_like of int, shape (...)
        Class ids in ``0 .. N_CLASSES - 1``.

    Returns
    -------
    ndarray of float32, shape (..., N_CLASSES)
    """
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise CcdnbInputError(f"class ids must lie in 0..{N_CLASSES - 1}")
    return np.eye(N_CLASSES, dtype=np.float32)[labels]


def from_one_hot(encoded):
    """Class masks (uint8) from one-hot encodings or class probabilities (argmax of last axis)."""
    return np.argmax(np.asarray(encoded), axis=-1).astype(np.uint8)


def label_to_rgb(labels):
    """Render class masks in the thesis colours (:data:`ccdnb.classes.CLASS_COLOURS`).

    Parameters
    ----------
    labels : array_like of int, shape (...)

    Returns
    -------
    ndarray of float32, shape (..., 3), values in [0, 1]
    """
    return np.asarray(CLASS_COLOURS, dtype=np.float32)[np.asarray(labels)]


# --------------------------------------------------------------------------- counting

def class_counts(labels):
    """Number of pixels of each class, shape (N_CLASSES,) int64."""
    return np.bincount(np.asarray(labels, dtype=np.intp).ravel(), minlength=N_CLASSES)[:N_CLASSES]


def class_percentages(labels):
    """Percentage of the pixels in each class, over all images given.

    Returns
    -------
    ndarray of float64, shape (N_CLASSES,)
        Sums to 100 (all zeros for an empty array).
    """
    counts = class_counts(labels)
    return 100.0 * counts / max(int(counts.sum()), 1)


def class_weights(labels):
    """Inverse-frequency class weights, the thesis's weighting of the loss.

    ``w_k`` is proportional to ``1 / freq_k`` and the weights sum to
    ``N_CLASSES``. A class with no pixel gets weight 0 (there is nothing to
    weight; 1/0 would be infinite) and the present classes share the sum.

    Parameters
    ----------
    labels : array_like of int
        Class masks (any shape), usually the training set's truth labels.

    Returns
    -------
    ndarray of float64, shape (N_CLASSES,)
    """
    counts = class_counts(labels).astype(np.float64)
    inverse = np.divide(1.0, counts, out=np.zeros_like(counts), where=counts > 0)
    total = inverse.sum()
    return N_CLASSES * inverse / total if total > 0 else inverse


def confusion_counts(truth, other):
    """(N_CLASSES, N_CLASSES) pixel counts: row = class in ``truth``, column = class in ``other``.

    One :func:`numpy.bincount` over all pixels, fast enough for a whole training set.
    """
    truth = np.asarray(truth, dtype=np.intp).ravel()
    other = np.asarray(other, dtype=np.intp).ravel()
    if truth.shape != other.shape:
        raise CcdnbInputError("truth and other must have the same number of pixels")
    return np.bincount(truth * N_CLASSES + other,
                       minlength=N_CLASSES * N_CLASSES).reshape(N_CLASSES, N_CLASSES)
