"""A catalog of the connected clusters in a class mask.

Cluster pixels (class 3) are grouped into clusters by 8-connectivity
(:func:`ccdnb.classes.label_groups`): diagonal neighbours belong to the same
ionisation event, as a curly electron track often steps diagonally. Charges
are measured above the per-row pedestal that the network's normalisation
estimates (:func:`ccdnb.normalize.estimate_background`), in the image's ADU.

One row per cluster, columns :data:`CATALOG_COLUMNS`:

``hdu``, ``extname``
    which image of the file the cluster is in;
``cluster``
    its number within that image (1, 2, ...);
``x``, ``y``
    charge-weighted centroid, column and row, 0-based pixels (the plain
    footprint centre when the cluster holds no positive charge);
``npix``
    footprint size in pixels;
``charge_adu``
    summed ADU above the pedestal (NaN pixels count as 0);
``peak_adu``
    brightest pixel above the pedestal.
"""

from __future__ import annotations

import numpy as np

from .classes import CLUSTER, label_groups

CATALOG_COLUMNS = ("hdu", "extname", "cluster", "x", "y", "npix", "charge_adu", "peak_adu")


def label_clusters(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Label the 8-connected groups of cluster pixels in a class mask.

    Returns
    -------
    labels : ndarray, shape (H, W), int32
        0 outside clusters, 1..n inside.
    n : int
        Number of clusters.
    """
    labels, n = label_groups(np.asarray(mask) == CLUSTER)
    return labels.astype(np.int32, copy=False), int(n)


def measure_clusters(image: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Measure every cluster of one image.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Raw ADU, pedestal included; NaN/inf allowed.
    mask : ndarray, shape (H, W)
        Class mask (3 = cluster).

    Returns
    -------
    dict
        ``cluster``, ``x``, ``y``, ``npix``, ``charge_adu``, ``peak_adu``: one
        array each, one entry per cluster, in label order.
    """
    from .normalize import estimate_background

    labels, n = label_clusters(mask)
    if n == 0:
        return dict(cluster=np.zeros(0, np.int32), x=np.zeros(0), y=np.zeros(0),
                    npix=np.zeros(0, np.int64), charge_adu=np.zeros(0), peak_adu=np.zeros(0))
    # Work on the cluster pixels only: a full-frame float64 copy of a 4k x 6k
    # image would cost 200 MB per temporary.
    rows, cols = np.nonzero(labels)
    ids = labels[rows, cols]
    pedestal = estimate_background(image).pedestal
    signal = np.asarray(image)[rows, cols].astype(np.float64) - pedestal[rows]
    signal[~np.isfinite(signal)] = 0.0

    def per_cluster(weights=None):
        return np.bincount(ids, weights=weights, minlength=n + 1)[1:]

    npix = per_cluster().astype(np.int64)
    charge = per_cluster(signal)
    peak = np.full(n + 1, -np.inf)
    np.maximum.at(peak, ids, signal)
    weight = np.clip(signal, 0.0, None)
    total = per_cluster(weight)
    has_charge = total > 0
    safe_total = np.where(has_charge, total, 1.0)
    # Charge-weighted centroid; the plain footprint centre where no pixel is positive.
    y = np.where(has_charge, per_cluster(weight * rows) / safe_total, per_cluster(rows) / npix)
    x = np.where(has_charge, per_cluster(weight * cols) / safe_total, per_cluster(cols) / npix)
    return dict(cluster=np.arange(1, n + 1, dtype=np.int32), x=x, y=y, npix=npix,
                charge_adu=charge, peak_adu=peak[1:])


def build_catalog(images, masks: dict):
    """Build the cluster catalog of a file.

    Parameters
    ----------
    images : sequence of ccdnb.fitsio.FitsImage
        The images of the file.
    masks : dict
        HDU index -> class mask of that image.

    Returns
    -------
    astropy.table.Table
        Columns :data:`CATALOG_COLUMNS`, one row per cluster (possibly none).
    """
    from astropy.table import Table

    parts = []
    for image in images:
        measured = measure_clusters(image.data, masks[image.index])
        count = len(measured["cluster"])
        parts.append(dict(hdu=np.full(count, image.index, np.int32),
                          extname=np.full(count, image.label, dtype=object), **measured))
    columns = {name: np.concatenate([part[name] for part in parts]) for name in CATALOG_COLUMNS}
    columns["extname"] = columns["extname"].astype(str) if len(columns["extname"]) else \
        np.zeros(0, dtype="U1")
    table = Table(columns, names=CATALOG_COLUMNS)
    for name in ("x", "y", "charge_adu", "peak_adu"):
        table[name] = table[name].astype(np.float32)
    table["x"].unit = table["y"].unit = "pix"
    table["charge_adu"].unit = table["peak_adu"].unit = "adu"
    return table
