"""The four pixel classes: ids, names, colours, counting, and what a group of pixels is.

The one source of truth that every stage shares: class ids and names
(:func:`class_id` turns a name into an id), the thesis colours, encodings
(:func:`one_hot`, :func:`from_one_hot`, :func:`label_to_rgb`), pixel counts and
shares per class (:func:`class_counts`, :func:`class_percentages`,
:func:`confusion_counts`), the thesis's inverse-frequency :func:`class_weights`,
and :func:`label_groups`: pixels form one group (one cluster, one catalog row,
one event) when they touch by an edge or a corner (8-connectivity).
"""

from __future__ import annotations

import numpy as np

from .errors import CcdnbInputError

__all__ = ["BACKGROUND", "GLOWING", "HOT_PIXEL", "CLUSTER", "CLASS_IDS", "CLASS_NAMES",
           "CLASS_KEYS", "CLASS_COLOURS", "N_CLASSES", "PRIORITY", "EIGHT_CONNECTED", "class_id",
           "one_hot", "from_one_hot", "label_to_rgb", "class_counts", "class_percentages",
           "class_weights", "confusion_counts", "label_groups", "class_groups", "release_pixels",
           "count_neighbours"]

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

#: 8-connectivity: diagonal neighbours belong to the same group (for
#: :func:`scipy.ndimage.label`, dilation and neighbour counts).
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


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


# --------------------------------------------------------------------------- groups

def label_groups(mask):
    """Number the 8-connected groups of ``True`` pixels.

    Parameters
    ----------
    mask : array_like of bool, shape (H, W)

    Returns
    -------
    labels : ndarray of int32, shape (H, W)
        0 outside the mask, ``1..n`` for the groups.
    n : int
        Number of groups.
    """
    from scipy import ndimage

    labels, n = ndimage.label(np.asarray(mask, dtype=bool), structure=EIGHT_CONNECTED)
    return labels, int(n)


def class_groups(mask, cls):
    """The 8-connected groups of one class, as lists of its pixels.

    The same partition as :func:`label_groups` of ``mask == cls``, found among
    the class's pixels alone (:func:`scipy.sparse.csgraph.connected_components`
    on their neighbour graph): clusters and hot pixels are a small share of a
    frame, and a labelled frame of 4096 x 4096 cost a tenth of a second.

    Parameters
    ----------
    mask : array_like of int, shape (H, W)
        Class mask.
    cls : int
        The class.

    Returns
    -------
    rows, cols : ndarray of intp
        The class's pixels, in row-major order.
    group : ndarray of int32
        The group of each pixel, ``0..n-1``.
    n : int
        Number of groups.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    mask = np.asarray(mask)
    flat = np.flatnonzero(mask == cls)
    rows, cols = np.divmod(flat, mask.shape[1])
    if flat.size == 0:
        return rows, cols, np.zeros(0, np.int32), 0
    # a row stride of W + 2 keeps the pixels either side of a row's ends apart
    stride = mask.shape[1] + 2
    index = rows.astype(np.int64) * stride + cols  # ascending, as flatnonzero
    pixels = np.arange(index.size)
    first, second = [], []
    for step in (1, stride - 1, stride, stride + 1):  # right, and the row below
        at = np.searchsorted(index, index + step)
        hit = at < index.size
        hit[hit] = index[at[hit]] == index[hit] + step
        first.append(pixels[hit])
        second.append(at[hit])
    first, second = np.concatenate(first), np.concatenate(second)
    graph = coo_matrix((np.ones(first.size, np.int8), (first, second)),
                       shape=(index.size, index.size))
    n, group = connected_components(graph, directed=False)
    return rows, cols, group.astype(np.int32), int(n)


def release_pixels(mask, classes, chosen) -> int:
    """Give background to the pixels of each class's groups that ``chosen`` picks.

    Parameters
    ----------
    mask : ndarray of int, shape (H, W)
        Class mask; changed in place.
    classes : sequence of int
    chosen : callable
        ``chosen(rows, cols, group, n)`` of :func:`class_groups`, returning a
        bool per pixel: those go to background.

    Returns
    -------
    int
        Pixels released.
    """
    released = 0
    for cls in classes:
        rows, cols, group, n = class_groups(mask, cls)
        if n == 0:
            continue
        lost = chosen(rows, cols, group, n)
        if lost.any():
            mask[rows[lost], cols[lost]] = BACKGROUND
            released += int(np.count_nonzero(lost))
    return released


def count_neighbours(mask):
    """Number of 8-neighbours of each pixel that are ``True`` in ``mask`` (the pixel itself
    not counted): int array of the mask's shape."""
    from scipy.ndimage import convolve

    mask = np.asarray(mask, dtype=np.uint8)
    return convolve(mask, EIGHT_CONNECTED.astype(np.uint8), mode="constant") - mask
