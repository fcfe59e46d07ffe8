"""The classical baseline: what standard CCD practice gives without a network.

DAMIC/DAMIC-M-style reduction, in units of the image's own read noise:

1. **Background**: robust per-row pedestal and noise from the image
   (:func:`ccdnb.normalize.estimate_background`), giving the significance
   ``z = (x - pedestal_row) / noise``.
2. **Glowing**: a local level (median over a large window, blind to thin
   tracks, single columns and small clusters) that stays above
   ``glow_sigma`` over a large connected region (at least ``glow_min_pixels``).
   Glow is a smooth low-level excess: amplifier glow near an edge shows up
   as exactly such a band.
3. **Hot columns**: columns whose median excess (over all rows, after the
   local level is removed) lies significantly above that of the columns around
   them; their pixels above ``hot_column_sigma`` in a running median along the
   column are hot pixels.
4. **Clusters**: seeds above ``seed_sigma`` grown into 8-connected neighbours
   above ``grow_sigma`` (seed-and-neighbour thresholds, as cluster finders do).
5. **Hot-pixel rules** for the grown pixels: one-pixel-wide vertical or
   horizontal runs of at least ``min_line_length`` pixels (defect segments and
   streaks, which ionisation does not make: even a muon track has diffusion
   width) and isolated single pixels brighter than ``hot_pixel_sigma`` (real
   charge of that size diffuses into its neighbours) are hot pixels; the rest
   are clusters.

:func:`classify_baseline` returns a class mask like the network's.
"""

from __future__ import annotations

import numpy as np

from ..classes import BACKGROUND, CLUSTER, GLOWING, HOT_PIXEL
from ..objects.groups import EIGHT_CONNECTED, label_groups

__all__ = ["BASELINE_DEFAULTS", "significance_image", "glow_mask", "hot_column_mask",
           "seed_and_grow", "thin_line_mask", "classify_baseline"]

#: Default thresholds and sizes; every one is a keyword of :func:`classify_baseline`.
BASELINE_DEFAULTS = dict(
    seed_sigma=4.0,
    grow_sigma=2.0,
    glow_sigma=1.0,
    glow_window=15,
    glow_min_pixels=400,
    hot_column_sigma=1.0,
    hot_column_significance=6.0,
    hot_column_window=7,
    min_line_length=4,
    hot_pixel_sigma=10.0,
)

def significance_image(image) -> np.ndarray:
    """``(x - pedestal_row) / noise`` with the robust estimates of the image itself.

    Non-finite pixels come out as 0 (no signal).
    """
    from ..normalize import estimate_background

    x = np.asarray(image, dtype=np.float64)
    pedestal, noise = estimate_background(x)
    z = (x - pedestal[:, None]) / noise
    z[~np.isfinite(z)] = 0.0
    return z


def glow_mask(z, *, glow_sigma=1.0, glow_window=15, glow_min_pixels=400):
    """Large connected regions of low-level excess (glowing).

    Parameters
    ----------
    z : ndarray, shape (H, W)
        Significance image (read-noise sigma).
    glow_sigma : float
        Minimum local level (sigma) of a glowing pixel.
    glow_window : int
        Side of the median window of the local level; wide enough that thin
        tracks, single columns and small clusters do not raise it.
    glow_min_pixels : int
        Minimum size of a glowing region.

    Returns
    -------
    glow : ndarray of bool, shape (H, W)
    level : ndarray of float, shape (H, W)
        The local level (median-filtered ``z``), used to flatten the image
        before cluster finding.
    """
    from scipy import ndimage

    level = ndimage.median_filter(z, size=glow_window, mode="nearest")
    regions, n = label_groups(level > glow_sigma)
    if n == 0:
        return np.zeros(z.shape, dtype=bool), level
    sizes = np.bincount(regions.ravel())
    big = np.flatnonzero(sizes >= glow_min_pixels)
    big = big[big > 0]
    return np.isin(regions, big), level


def hot_column_mask(z, *, hot_column_sigma=1.0, hot_column_significance=6.0,
                    hot_column_window=7):
    """Pixels of columns with excess charge (hot columns).

    A column is hot when the median of its values exceeds the median of the
    columns around it by ``hot_column_significance`` standard errors of a
    column median of pure noise (``1.2533 / sqrt(H)`` sigma) and by at least
    ``hot_column_sigma / 2``. In a hot column the pixels whose running median
    along the column (``hot_column_window`` rows) exceeds ``hot_column_sigma``
    are hot, so a column that is hot over part of its length is marked there.

    Parameters
    ----------
    z : ndarray, shape (H, W)
        Significance image with any glow level already removed.

    Returns
    -------
    ndarray of bool, shape (H, W)
    """
    from scipy import ndimage

    height = z.shape[0]
    column_median = np.median(z, axis=0)
    neighbours = ndimage.median_filter(column_median, size=9, mode="nearest")
    excess = column_median - neighbours
    standard_error = 1.2533 / np.sqrt(height)
    hot = (excess > hot_column_significance * standard_error) & (excess > 0.5 * hot_column_sigma)
    mask = np.zeros(z.shape, dtype=bool)
    for column in np.flatnonzero(hot):
        running = ndimage.median_filter(z[:, column], size=hot_column_window, mode="nearest")
        mask[:, column] = running > hot_column_sigma
    return mask


def seed_and_grow(z, *, seed_sigma=4.0, grow_sigma=2.0):
    """Pixels above ``grow_sigma`` 8-connected to a seed above ``seed_sigma``."""
    from scipy import ndimage

    return ndimage.binary_propagation(z > seed_sigma, structure=EIGHT_CONNECTED,
                                      mask=z > grow_sigma)


def thin_line_mask(grown, *, min_line_length=4):
    """Pixels of one-pixel-wide vertical or horizontal runs in ``grown``.

    A run is at least ``min_line_length`` pixels along a column (or row) of
    ``grown``, found by a morphological opening with a line. A run pixel is
    part of a thin line when, along the run around it (``2 * min_line_length + 1``
    pixels), most pixels have neither side neighbour in ``grown``. Judging along
    the run rather than per connected component keeps a defect segment
    recognisable when a cluster touches it, while the body of a cluster or a
    worm, whose columns all have grown neighbours, is never thin.
    """
    from scipy import ndimage

    lines = np.zeros(grown.shape, dtype=bool)
    for axis in (0, 1):
        shape = (min_line_length, 1) if axis == 0 else (1, min_line_length)
        runs = ndimage.binary_opening(grown, structure=np.ones(shape, dtype=bool))
        side = 1 - axis  # neighbours across the run
        padded = np.pad(grown, [(1, 1) if a == side else (0, 0) for a in (0, 1)])
        before = padded[:-2] if side == 0 else padded[:, :-2]
        after = padded[2:] if side == 0 else padded[:, 2:]
        # share of flanked pixels among the run pixels near each pixel
        window = dict(size=2 * min_line_length + 1, axis=axis, mode="constant")
        flanked = ndimage.uniform_filter1d((runs & (before | after)).astype(np.float32), **window)
        in_run = ndimage.uniform_filter1d(runs.astype(np.float32), **window)
        lines |= runs & (flanked < 0.5 * in_run)
    return lines


def _bright_single_pixels(components, z, hot_pixel_sigma):
    """Ids of one-pixel components brighter than ``hot_pixel_sigma``."""
    from scipy import ndimage

    hot = []
    for index, box in enumerate(ndimage.find_objects(components), start=1):
        if box is None:
            continue
        if all(s.stop - s.start == 1 for s in box) and z[box].max() > hot_pixel_sigma:
            hot.append(index)
    return hot


def classify_baseline(image, **options) -> np.ndarray:
    """Segment an image by classical CCD rules into the four classes.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Raw ADU (pedestal included), as for the network; NaN/inf allowed.
    **options
        Thresholds and sizes overriding :data:`BASELINE_DEFAULTS`: ``seed_sigma``,
        ``grow_sigma`` (cluster seed and neighbour thresholds, read-noise sigma),
        ``glow_sigma``, ``glow_window``, ``glow_min_pixels`` (glow level, its
        median window and the smallest glowing region), ``hot_column_sigma``,
        ``hot_column_significance``, ``hot_column_window`` (hot columns),
        ``min_line_length`` (shortest one-pixel-wide line called hot) and
        ``hot_pixel_sigma`` (an isolated single pixel above it is hot).

    Returns
    -------
    ndarray, shape (H, W), uint8
        Class mask: 0 background, 1 glowing, 2 hot pixel, 3 cluster. Where rules
        overlap the class priority of the truth applies (hot pixel > cluster >
        glowing).
    """

    unknown = set(options) - set(BASELINE_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown baseline option(s): {', '.join(sorted(unknown))}")
    opt = {**BASELINE_DEFAULTS, **options}

    z = significance_image(image)
    glow, level = glow_mask(z, glow_sigma=opt["glow_sigma"], glow_window=opt["glow_window"],
                            glow_min_pixels=opt["glow_min_pixels"])
    flat = z - level  # clusters and columns stand out above the local glow
    hot = hot_column_mask(flat, hot_column_sigma=opt["hot_column_sigma"],
                          hot_column_significance=opt["hot_column_significance"],
                          hot_column_window=opt["hot_column_window"])
    # Hot-column pixels neither seed nor extend clusters: they would grow into
    # the noise beside the column.
    grown = seed_and_grow(np.where(hot, 0.0, flat), seed_sigma=opt["seed_sigma"],
                          grow_sigma=opt["grow_sigma"])
    lines = thin_line_mask(grown, min_line_length=opt["min_line_length"])
    components, _ = label_groups(grown & ~lines)
    bright = _bright_single_pixels(components, flat, opt["hot_pixel_sigma"])

    mask = np.full(z.shape, BACKGROUND, dtype=np.uint8)
    mask[glow] = GLOWING
    mask[grown] = CLUSTER
    mask[hot | lines | np.isin(components, bright)] = HOT_PIXEL
    return mask
