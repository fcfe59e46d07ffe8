"""Connected groups of a class mask: what one cluster, one catalog row, one event is.

Pixels form one group when they touch by an edge or a corner (8-connectivity,
:data:`EIGHT_CONNECTED`). :func:`label_groups` numbers the groups of a boolean mask
(:func:`scipy.ndimage.label`); :func:`class_groups` finds the same partition among one
class's pixels alone, which is faster where the class is a small share of a frame;
:func:`release_pixels` gives chosen groups back to background (what the rules after
the network do), and :func:`count_neighbours` counts a pixel's 8-neighbours in a mask.
"""

from __future__ import annotations

import numpy as np

from ..classes import BACKGROUND

__all__ = ["EIGHT_CONNECTED", "label_groups", "class_groups", "flat_groups", "release_pixels",
           "count_neighbours"]

#: 8-connectivity: diagonal neighbours belong to the same group (for
#: :func:`scipy.ndimage.label`, dilation and neighbour counts).
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


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
    mask = np.asarray(mask)
    flat = np.flatnonzero(mask == cls)
    rows, cols = np.divmod(flat, mask.shape[1])
    if flat.size == 0:
        return rows, cols, np.zeros(0, np.int32), 0
    group, n = flat_groups(flat, mask.shape[1])
    return rows, cols, group, n


def flat_groups(index, width):
    """The 8-connected groups of some pixels of an image, given by flat index.

    Parameters
    ----------
    index : ndarray of int
        Flat (row-major) indices of the pixels, ascending, as :func:`numpy.flatnonzero`
        gives them.
    width : int
        The image's width.

    Returns
    -------
    group : ndarray of int32
        The group of each pixel, ``0..n-1``: the partition of :func:`label_groups`.
    n : int
        Number of groups.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rows, cols = np.divmod(np.asarray(index, dtype=np.int64), width)
    # a row stride of W + 2 keeps the pixels either side of a row's ends apart
    stride = width + 2
    key = rows * stride + cols  # ascending, as index
    pixels = np.arange(key.size)
    first, second = [], []
    for step in (1, stride - 1, stride, stride + 1):  # right, and the row below
        at = np.searchsorted(key, key + step)
        hit = at < key.size
        hit[hit] = key[at[hit]] == key[hit] + step
        first.append(pixels[hit])
        second.append(at[hit])
    first, second = np.concatenate(first), np.concatenate(second)
    graph = coo_matrix((np.ones(first.size, np.int8), (first, second)),
                       shape=(key.size, key.size))
    n, group = connected_components(graph, directed=False)
    return group.astype(np.int32), int(n)


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
