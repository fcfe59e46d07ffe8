"""Event-level metrics from the simulator's objects table and instances map.

Pixel scores weigh a 2000-pixel alpha blob 2000 times as much as a one-pixel
low-energy event; a physicist counts events. These functions count them:

- a **cluster is found** when at least one pixel of its footprint
  (``instances == id``) is predicted as cluster; the efficiency is the share of
  clusters found, per bin of peak significance and of energy;
- a **false cluster** is a connected component (8-connectivity) of predicted
  cluster pixels that touches (overlaps or borders) no true cluster footprint;
- a **hot pixel or glow object is recalled** when more than half of its
  footprint pixels are predicted as its class.

All functions take stacks ``(N, H, W)`` (a single ``(H, W)`` image is treated
as ``N = 1``) and an objects table whose ``image`` field indexes the stack.
"""

from __future__ import annotations

import numpy as np

from .classes import CLUSTER

#: Edges of the peak-significance bins (read-noise sigma) of the cluster efficiency.
SIGNIFICANCE_BINS = (0.0, 3.0, 5.0, 10.0, 100.0, np.inf)
#: Edges of the energy bins (keV) of the cluster efficiency.
ENERGY_BINS_KEV = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0, np.inf)

#: 8-connectivity for :func:`scipy.ndimage.label` and dilation.
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def _stack(array) -> np.ndarray:
    array = np.asarray(array)
    return array[None] if array.ndim == 2 else array


def _objects_of(objects, cls):
    objects = np.asarray(objects)
    return objects[objects["cls"] == cls]


def _footprint_counts(instances, selected) -> np.ndarray:
    """Pixels per instance id in ``instances[selected]`` (index = id)."""
    return np.bincount(instances[selected].ravel(), minlength=int(instances.max()) + 1)


def cluster_detection(pred, instances, objects):
    """Which true clusters have at least one predicted cluster pixel on their footprint.

    Parameters
    ----------
    pred : array_like of int, shape (N, H, W) or (H, W)
        Predicted class masks.
    instances : array_like of int, shape like ``pred``
        Object id owning each pixel's truth label, 0 for background.
    objects : structured ndarray
        Objects table (fields ``image``, ``id``, ``cls`` at least).

    Returns
    -------
    found : ndarray of bool, shape (n_clusters,)
        One flag per cluster object, in table order. A cluster whose footprint
        is empty (no pixel above 1 sigma, or every pixel owned by an overlapping
        hot pixel) cannot be found and counts as missed.
    clusters : structured ndarray
        The cluster rows of ``objects`` that ``found`` refers to.
    """
    pred, instances = _stack(pred), _stack(instances)
    clusters = _objects_of(objects, CLUSTER)
    found = np.zeros(len(clusters), dtype=bool)
    for image in np.unique(clusters["image"]):
        rows = np.flatnonzero(clusters["image"] == image)
        hit = _footprint_counts(instances[image], pred[image] == CLUSTER)
        ids = clusters["id"][rows]
        found[rows] = (ids < hit.size) & (hit[np.minimum(ids, hit.size - 1)] > 0)
    return found, clusters


def efficiency_table(found, values, edges) -> list[dict]:
    """Detection efficiency in bins of ``values``.

    Parameters
    ----------
    found : array_like of bool
        One flag per object.
    values : array_like of float
        The binned quantity per object (peak significance, energy); NaN values
        are left out.
    edges : sequence of float
        Bin edges, increasing; bin ``i`` is ``edges[i] <= v < edges[i+1]``.

    Returns
    -------
    list of dict
        Per bin: ``low``, ``high``, ``n`` (objects), ``found``, ``efficiency``
        (NaN for an empty bin) and ``error`` (binomial standard error,
        ``sqrt(e (1 - e) / n)``).
    """
    found = np.asarray(found, dtype=bool)
    values = np.asarray(values, dtype=np.float64)
    rows = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (values >= low) & (values < high)
        n, k = int(inside.sum()), int(found[inside].sum())
        eff = k / n if n else np.nan
        err = np.sqrt(eff * (1.0 - eff) / n) if n else np.nan
        rows.append({"low": float(low), "high": float(high), "n": n, "found": k,
                     "efficiency": float(eff), "error": float(err)})
    return rows


def false_cluster_components(pred, instances, objects) -> int:
    """Count predicted cluster components that touch no true cluster footprint.

    Parameters
    ----------
    pred, instances : array_like of int, shape (N, H, W) or (H, W)
    objects : structured ndarray
        Objects table (fields ``image``, ``id``, ``cls``).

    Returns
    -------
    int
        Connected components (8-connectivity) of ``pred == CLUSTER`` with no pixel
        on or next to (8-neighbour) a true cluster footprint, summed over images.
        "Next to" keeps a prediction that spills one pixel beyond the 1-sigma
        footprint of a real cluster from counting as false.
    """
    from scipy import ndimage

    pred, instances = _stack(pred), _stack(instances)
    clusters = _objects_of(objects, CLUSTER)
    total = 0
    for image in range(pred.shape[0]):
        components, n = ndimage.label(pred[image] == CLUSTER, structure=EIGHT_CONNECTED)
        if n == 0:
            continue
        ids = clusters["id"][clusters["image"] == image]
        truth = np.isin(instances[image], ids)
        near_truth = ndimage.binary_dilation(truth, structure=EIGHT_CONNECTED)
        touched = np.unique(components[near_truth])
        total += n - int(np.count_nonzero(touched))
    return total


def object_recall(pred, instances, objects, cls, *, min_fraction=0.5) -> np.ndarray:
    """Which objects of class ``cls`` have most of their footprint predicted as ``cls``.

    Parameters
    ----------
    pred, instances : array_like of int, shape (N, H, W) or (H, W)
    objects : structured ndarray
        Objects table (fields ``image``, ``id``, ``cls``).
    cls : int
        Class id (e.g. :data:`ccdnb.classes.HOT_PIXEL` or ``GLOWING``).
    min_fraction : float
        An object is recalled when strictly more than this share of its
        footprint pixels is predicted as ``cls``.

    Returns
    -------
    ndarray of bool
        One flag per object of class ``cls`` with a non-empty footprint (objects
        whose footprint is empty have no pixel to recall and are left out).
    """
    pred, instances = _stack(pred), _stack(instances)
    chosen = _objects_of(objects, cls)
    flags = []
    for image in np.unique(chosen["image"]):
        ids = chosen["id"][chosen["image"] == image]
        size = _footprint_counts(instances[image], slice(None))
        right = _footprint_counts(instances[image], pred[image] == cls)
        right = np.pad(right, (0, size.size - right.size))
        ids = ids[(ids < size.size)]
        ids = ids[size[ids] > 0]
        flags.append(right[ids] > min_fraction * size[ids])
    return np.concatenate(flags) if flags else np.zeros(0, dtype=bool)
