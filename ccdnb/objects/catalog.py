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
    brightest pixel above the pedestal;
``x_peak``, ``y_peak``
    the pixel of maximum charge;
``rows``, ``columns``
    rows and columns the cluster spans;
``length``, ``width``
    major and minor axis (pixels) from the charge-weighted second moments:
    ``sqrt(12 * eigenvalue)``, the length of a uniform line with that variance
    (a single pixel has 1 x 1);
``elongation``, ``theta``
    length over width, and the major axis's angle from the x axis (degrees);
``major_extent``, ``minor_extent``
    the footprint's extent along the major and minor axes (pixels, centre to
    centre plus one): about the length for a straight uniform track, more for
    a curly or lumpy one;
``skewness``
    the charge's skewness along the major axis (signed; an electron's Bragg
    peak at one end makes it large, a muon's even charge keeps it near 0);
``width_gradient``
    how the charge's spread across the major axis changes along it, end to
    end, relative to the mean spread (signed): a steep muon widens steadily
    (its charge diffuses longer the deeper it was freed), a worm does not;
``mxx``, ``myy``, ``mxy``
    the second moments themselves (pixels squared);
``edge``
    the cluster touches the image's border, so it may run on outside it (SExtractor's
    "truncated" flag): its charge and extent are then lower bounds, and a muon
    clipped by the border is shorter and fainter than one that crosses the image;
``electrons``, ``energy_kev``
    charge in electrons and keV (3.77 eV per pair) with the image's gain,
    NaN when the gain is unknown (see :mod:`ccdnb.calibration`);
``dedx_kev_per_px``
    energy over length, for tracks (muons, electrons; NaN otherwise);
``kind``, ``kind_confidence``
    the particle (:mod:`ccdnb.particles`) and the confidence of that name;
``gain``, ``gain_error``, ``gain_method``
    the gain used for the image (ADU per electron), its uncertainty and how
    it was found: ``skipper peaks``, ``Fe-55 lines``, ``user``, ``GAIN
    keyword`` or ``none`` (energies then stay in ADU).

The moments are computed with :func:`numpy.bincount` over the cluster pixels
only, as photutils' ``SourceCatalog`` defines them (charge-weighted central
moments, negative pixels weighing 0): one pass for all clusters keeps the
catalog step a small part of ``ccdnb predict`` on a 4k x 4k frame.
"""

from __future__ import annotations

import numpy as np

from ..classes import CLUSTER
from .groups import class_groups

__all__ = ["CATALOG_COLUMNS", "MEASURED", "label_clusters", "cluster_pixels", "measure_clusters",
           "per_cluster_range", "per_cluster_span", "add_energies", "build_catalog",
           "annotate_headers"]

CATALOG_COLUMNS = ("hdu", "extname", "cluster", "x", "y", "npix", "charge_adu", "peak_adu",
                   "x_peak", "y_peak", "rows", "columns", "length", "width", "elongation",
                   "theta", "major_extent", "minor_extent", "skewness", "width_gradient", "mxx",
                   "myy", "mxy", "edge", "electrons", "energy_kev", "dedx_kev_per_px",
                   "kind", "kind_confidence", "gain", "gain_error", "gain_method")

#: Columns that :func:`measure_clusters` measures (the rest come with the gain).
MEASURED = CATALOG_COLUMNS[2:24]


def label_clusters(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Label the 8-connected groups of cluster pixels in a class mask.

    Returns
    -------
    labels : ndarray, shape (H, W), int32
        0 outside clusters, 1..n inside, numbered in raster order of their
        first pixel (as :func:`scipy.ndimage.label` numbers them).
    n : int
        Number of clusters.
    """
    labels, n, _ = cluster_pixels(mask)
    return labels, n


def cluster_pixels(mask: np.ndarray):
    """:func:`label_clusters` and the cluster pixels, found among themselves.

    The groups come from :func:`ccdnb.classes.class_groups` (a neighbour graph of
    the cluster pixels alone, a third of the time of labelling the whole frame),
    renumbered in raster order of their first pixel.

    Returns
    -------
    labels : ndarray, shape (H, W), int32
    n : int
    pixels : tuple of ndarray
        ``(rows, cols)`` of the cluster pixels in row-major order, as
        ``np.nonzero(labels)`` gives them.
    """
    mask = np.asarray(mask)
    rows, cols, group, n = class_groups(mask, CLUSTER)
    labels = np.zeros(mask.shape, np.int32)
    if n:
        # pixels come in row-major order: a group's first pixel is its first entry
        first = np.full(n, rows.size, np.int64)
        np.minimum.at(first, group, np.arange(rows.size))
        rank = np.empty(n, np.int32)
        rank[np.argsort(first)] = np.arange(1, n + 1, dtype=np.int32)
        labels[rows, cols] = rank[group]
    return labels, int(n), (rows, cols)


def measure_clusters(image: np.ndarray, mask: np.ndarray, background=None,
                     labels=None, pixels=None) -> dict[str, np.ndarray]:
    """Measure every cluster of one image.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Raw ADU, pedestal included; NaN/inf allowed.
    mask : ndarray, shape (H, W)
        Class mask (3 = cluster).
    background : ccdnb.normalize.Background, optional
        The image's pedestal; estimated when None.
    labels : ndarray, optional
        :func:`label_clusters` of ``mask``, when already at hand.
    pixels : tuple of ndarray, optional
        ``np.nonzero(labels)``, when already at hand (:func:`cluster_pixels`).

    Returns
    -------
    dict
        One array per name of :data:`MEASURED`, one entry per cluster, in
        label order; and ``pixels``: ``(ids, rows, cols, signal)`` of every
        cluster pixel (cluster number, place, charge above the pedestal), from
        which the particle naming measures the shape of tracks
        (:func:`ccdnb.particles.classify_clusters`).
    """
    from ..background import estimate_background

    if labels is None:
        labels, n, pixels = cluster_pixels(mask)
    else:
        n = int(labels.max(initial=0))
    if n == 0:
        empty = {name: np.zeros(0) for name in MEASURED}
        empty.update(cluster=np.zeros(0, np.int32), npix=np.zeros(0, np.int64),
                     edge=np.zeros(0, bool),
                     rows=np.zeros(0, np.int64), columns=np.zeros(0, np.int64),
                     x_peak=np.zeros(0, np.int64), y_peak=np.zeros(0, np.int64),
                     pixels=(np.zeros(0, np.int64), np.zeros(0, np.int64),
                             np.zeros(0, np.int64), np.zeros(0)))
        return empty
    # Work on the cluster pixels only: a full-frame float64 copy of a 4k x 6k
    # image would cost 200 MB per temporary.
    rows, cols = np.nonzero(labels) if pixels is None else pixels
    ids = labels[rows, cols]
    if background is None:
        background = estimate_background(image)
    signal = np.asarray(image)[rows, cols].astype(np.float64) - background.pedestal[rows]
    signal[~np.isfinite(signal)] = 0.0

    def per_cluster(weights=None):
        return np.bincount(ids, weights=weights, minlength=n + 1)[1:]

    npix = per_cluster().astype(np.int64)
    charge = per_cluster(signal)
    # The brightest pixel of each cluster: sort by (cluster, signal), last of each run.
    order = np.lexsort((signal, ids))
    last = np.flatnonzero(np.diff(ids[order], append=n + 1)) if order.size else order
    brightest = order[last]
    peak = signal[brightest]
    weight = np.clip(signal, 0.0, None)
    total = per_cluster(weight)
    has_charge = total > 0
    # Charge-weighted moments; the plain footprint where no pixel is positive.
    weight = np.where(has_charge[ids - 1], weight, 1.0)
    total = per_cluster(weight)
    y = per_cluster(weight * rows) / total
    x = per_cluster(weight * cols) / total
    dy, dx = rows - y[ids - 1], cols - x[ids - 1]
    # A pixel is a unit square: add its own variance, 1/12, to each axis.
    myy = per_cluster(weight * dy * dy) / total + 1.0 / 12.0
    mxx = per_cluster(weight * dx * dx) / total + 1.0 / 12.0
    mxy = per_cluster(weight * dx * dy) / total
    half_trace, diff = 0.5 * (mxx + myy), np.sqrt((0.5 * (mxx - myy)) ** 2 + mxy ** 2)
    major, minor = half_trace + diff, np.maximum(half_trace - diff, 1.0 / 12.0)
    row_span, row_low, row_high = per_cluster_span(ids, rows, n, bounds=True)
    col_span, col_low, col_high = per_cluster_span(ids, cols, n, bounds=True)
    height, width = labels.shape
    edge = (row_low == 0) | (col_low == 0) | (row_high == height - 1) | (col_high == width - 1)
    # Along the major axis: the footprint's extent (a straight uniform track spans
    # about its length, a curly or lumpy one more) and the charge's skewness (an
    # electron's Bragg peak at one end; none along a muon).
    angle = 0.5 * np.arctan2(2.0 * mxy, mxx - myy)
    along = dx * np.cos(angle)[ids - 1] + dy * np.sin(angle)[ids - 1]
    across = -dx * np.sin(angle)[ids - 1] + dy * np.cos(angle)[ids - 1]
    major_extent = per_cluster_range(ids, along, n) + 1.0
    minor_extent = per_cluster_range(ids, across, n) + 1.0
    skew = per_cluster(weight * along ** 3) / total / np.maximum(major - 1.0 / 12.0, 1e-6) ** 1.5
    # How the spread across the axis changes along it, over the whole length, relative to
    # the mean spread: a steep muon's charge diffuses more the deeper it was freed, so
    # its track widens steadily from one end to the other; a worm's does not.
    spread = per_cluster(weight * across ** 2) / total + 1.0 / 12.0
    slope = per_cluster(weight * along * across ** 2) / total / np.maximum(major, 1e-6)
    width_gradient = slope * np.sqrt(12.0 * major) / spread
    return dict(cluster=np.arange(1, n + 1, dtype=np.int32), x=x, y=y, npix=npix,
                charge_adu=charge, peak_adu=peak, x_peak=cols[brightest].astype(np.int64),
                y_peak=rows[brightest].astype(np.int64), rows=row_span, columns=col_span,
                length=np.sqrt(12.0 * major), width=np.sqrt(12.0 * minor),
                elongation=np.sqrt(major / minor),
                theta=np.degrees(angle), major_extent=major_extent,
                minor_extent=minor_extent, skewness=skew, width_gradient=width_gradient,
                mxx=mxx, myy=myy, mxy=mxy, edge=edge, pixels=(ids, rows, cols, signal))


def per_cluster_range(ids, value, n):
    """Highest less lowest of ``value`` per cluster (float)."""
    low = np.full(n + 1, np.inf)
    high = np.full(n + 1, -np.inf)
    np.minimum.at(low, ids, value)
    np.maximum.at(high, ids, value)
    return (high - low)[1:]


def per_cluster_span(ids, coordinate, n, bounds=False):
    """Number of distinct values (rows or columns) from lowest to highest, per cluster;
    with ``bounds``, also the lowest and the highest."""
    low = np.full(n + 1, np.iinfo(np.int64).max)
    high = np.full(n + 1, -1)
    np.minimum.at(low, ids, coordinate)
    np.maximum.at(high, ids, coordinate)
    span = (high - low + 1)[1:].astype(np.int64)
    return (span, low[1:], high[1:]) if bounds else span


def add_energies(measured: dict, calibration) -> dict:
    """Energy, kind and gain columns of one image's clusters from its calibration."""
    from ..calibration import electrons_to_kev
    from .particles import classify_clusters

    count = len(measured["cluster"])
    gain = calibration.gain
    electrons = measured["charge_adu"] / gain if gain else np.full(count, np.nan)
    energy = electrons_to_kev(electrons)
    kind, confidence = classify_clusters(dict(measured, energy_kev=energy),
                                         pixels=measured.get("pixels"))
    track = np.isin(kind, ("muon", "electron"))
    return dict(measured, electrons=electrons, energy_kev=energy,
                dedx_kev_per_px=np.where(track, energy / measured["length"], np.nan),
                kind=kind, kind_confidence=confidence,
                gain=np.full(count, np.nan if gain is None else gain),
                gain_error=np.full(count, np.nan if calibration.gain_error is None
                                   else calibration.gain_error),
                gain_method=np.full(count, calibration.method, dtype=object))


def build_catalog(images, masks: dict, backgrounds: dict | None = None,
                  gain: float | None = None, skipper: bool = True,
                  calibrations: dict | None = None, track_shape: bool = False):
    """Build the cluster catalog of a file.

    Parameters
    ----------
    images : sequence of ccdnb.fitsio.FitsImage
        The images of the file.
    masks : dict
        HDU index -> class mask of that image.
    backgrounds : dict, optional
        HDU index -> :class:`ccdnb.normalize.Background` already estimated.
    gain : float, optional
        ADU per electron for every image (``--gain``); measured when None.
    skipper : bool
        Try the skipper single-electron peaks first
        (:func:`ccdnb.calibration.fit_skipper_gain`: a fast check turns a
        conventional frame away in a few hundredths of a second). The Fe-55
        lines of the cluster charges and the header's GAIN keyword come next
        (:func:`ccdnb.calibration.calibrate_image`).
    calibrations : dict, optional
        Filled with HDU index -> :class:`ccdnb.calibration.Calibration` of
        each image (see :func:`annotate_headers`).
    track_shape : bool
        Add the shape of every cluster's pixels that the particle naming reads
        for tracks (:data:`ccdnb.particles.TRACK_SHAPE_COLUMNS`; for training
        and judging it: ``ccdnb predict`` leaves them out).

    Returns
    -------
    astropy.table.Table
        Columns :data:`CATALOG_COLUMNS`, one row per cluster (possibly none),
        then the track-shape columns with ``track_shape``.
    """
    from astropy.table import Table

    from ..background import estimate_background
    from ..calibration import calibrate_image, ring_charges

    parts = []
    calibrations = {} if calibrations is None else calibrations
    for image in images:
        background = (backgrounds or {}).get(image.index)
        if background is None:
            background = estimate_background(image.data)
        labels, _, pixels = cluster_pixels(masks[image.index])
        measured = measure_clusters(image.data, masks[image.index], background, labels=labels,
                                    pixels=pixels)
        # The Fe-55 lines from charges with a one-pixel ring: the footprint alone
        # misses the X-rays' diffused tails (1-2 %) and would bias the gain low.
        calibration = calibrate_image(
            image.data, background=background, header=image.header, gain=gain,
            skipper=skipper, charges_adu=None if gain is not None
            else ring_charges(image.data, labels, background, pixels=pixels))
        calibrations[image.index] = calibration
        measured = add_energies(measured, calibration)
        count = len(measured["cluster"])
        if track_shape:
            from .particles import track_shape as measure_shape

            measured.update(measure_shape(*measured["pixels"], count))
        parts.append(dict(hdu=np.full(count, image.index, np.int32),
                          extname=np.full(count, image.label, dtype=object), **measured))
    names = CATALOG_COLUMNS + (_shape_columns() if track_shape else ())
    columns = {name: np.concatenate([part[name] for part in parts]) if parts else np.zeros(0)
               for name in names}
    for name in ("extname", "kind", "gain_method"):
        columns[name] = columns[name].astype(str) if len(columns[name]) else \
            np.zeros(0, dtype="U1")
    table = Table(columns, names=names)
    for name in ("x", "y", "charge_adu", "peak_adu", "length", "width", "elongation", "theta",
                 "major_extent", "minor_extent", "skewness", "width_gradient", "mxx", "myy",
                 "mxy", "electrons",
                 "energy_kev", "dedx_kev_per_px", "kind_confidence", "gain", "gain_error",
                 *names[len(CATALOG_COLUMNS):]):
        table[name] = table[name].astype(np.float32)
    for name in ("x", "y", "x_peak", "y_peak", "length", "width", "major_extent",
                 "minor_extent"):
        table[name].unit = "pix"
    table["charge_adu"].unit = table["peak_adu"].unit = "adu"
    # Units that FITS tables write natively (electrons, moments and the gain
    # are named in the column docs above).
    table["theta"].unit = "deg"
    table["energy_kev"].unit = "keV"
    return table


def _shape_columns() -> tuple:
    from .particles import TRACK_SHAPE_COLUMNS

    return TRACK_SHAPE_COLUMNS


def annotate_headers(hdulist, calibrations: dict) -> None:
    """Record each image's gain, its uncertainty and method in its masks header."""
    for index, calibration in calibrations.items():
        for key, value, comment in calibration.header_cards():
            hdulist[index].header[key] = (value, comment)
