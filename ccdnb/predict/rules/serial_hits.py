"""Serial-register hits: a one-row "hot" group whose charge is not one level.

The design's hot pixels include horizontal streaks, as the thesis draws them: a
defect holds one level of charge along its row, and only noise (read noise and the
shot noise of that charge) scatters its pixels. A particle that crosses the serial
register while a row is clocked out also leaves charge along one row, and the
network, shown one frame, often calls it a hot streak. Its charge is the
ionisation of a track, shared unevenly among the register's pixels: it scatters
far more than one level's noise allows. :func:`name_serial_hits` gives the cluster
class to such groups.

The test: along the group's row, a straight line (a level, plus any slow slope of
the glow or field below it) is fitted to the charge; the squared residuals over
the noise that one level's charge allows sum to a chi-square of ``n - 2`` degrees
of freedom for a defect. A group whose chance of that much scatter is below
:data:`SERIAL_CHANCE` is a serial-register hit. Where the image resolves single
electrons the noise is counted in electrons (shot noise plus read noise);
elsewhere in read-noise sigma, with the shot noise of a CCD of
:data:`MIN_NOISE_E` electrons of read noise (less noise than any CCD that does
not resolve electrons: the shot noise allowed is larger than the real one).
"""

from __future__ import annotations

import numpy as np

from ...classes import CLUSTER, HOT_PIXEL
from ...normalize import input_significance
from ...objects.catalog import per_cluster_span
from ...objects.groups import class_groups

__all__ = ["SERIAL_MIN_PIXELS", "SERIAL_CHANCE", "MIN_NOISE_E", "scatter_chance",
           "name_serial_hits"]

#: A one-row group shorter than this is left as it is (too few pixels to judge scatter).
SERIAL_MIN_PIXELS = 4
#: Chance below which a group's scatter is not one level's noise.
SERIAL_CHANCE = 1e-4
#: Read noise (electrons) assumed where single electrons are not resolved: the
#: shot noise of a level of z sigma is then at most z / MIN_NOISE_E sigma squared.
MIN_NOISE_E = 0.3
#: Pixels this far (noise sigma) from a group's line, at most CLIP_SHARE of them,
#: are foreign to the level (see :func:`scatter_chance`).
CLIP_SIGMA, CLIP_SHARE = 5.0, 0.2


def scatter_chance(values, variance_of) -> float:
    """Chance that one level's noise scatters ``values`` (along a row) as much.

    A straight line is fitted; pixels more than :data:`CLIP_SIGMA` from it (a
    neighbour the mask took into the streak, a hit crossing it), at most
    :data:`CLIP_SHARE` of them and at least one, are left out and the line fitted
    again: a defect keeps one level under a few foreign pixels, a serial hit's
    charge scatters everywhere.

    Parameters
    ----------
    values : ndarray of float, shape (n,)
        Charge of consecutive pixels.
    variance_of : callable
        The noise variance of a pixel of the fitted level (array in, array out).

    Returns
    -------
    float
        ``P(chi2(m - 2) >= sum(residual**2 / variance))`` over the ``m`` pixels kept.
    """
    from scipy.special import chdtrc  # chi2's survival function, without scipy.stats (0.5 s)

    x = np.arange(values.size, dtype=np.float64)
    kept = np.ones(values.size, dtype=bool)
    most = max(1, int(CLIP_SHARE * values.size))
    for _ in range(2):
        fit = np.polyval(np.polyfit(x[kept], values[kept], 1), x)
        pull = np.abs(values - fit) / np.sqrt(variance_of(fit))
        far = np.argsort(-pull)[:most]
        drop = far[pull[far] > CLIP_SIGMA]
        if drop.size == 0 or np.count_nonzero(kept) - drop.size < 3:
            break
        kept[:] = True
        kept[drop] = False
    fit = np.polyval(np.polyfit(x[kept], values[kept], 1), x)
    statistic = float(np.sum((values - fit)[kept] ** 2 / variance_of(fit[kept])))
    return float(chdtrc(np.count_nonzero(kept) - 2, statistic))


def name_serial_hits(mask, normalised, electrons=None, noise_e=None,
                     chance: float = SERIAL_CHANCE) -> int:
    """Give the cluster class to one-row hot groups whose charge scatters beyond one level.

    Parameters
    ----------
    mask : ndarray of uint8, shape (H, W)
        Class mask; changed in place.
    normalised : array_like, shape (H, W)
        The network's input (``asinh(z / ASINH_SOFTENING)`` of each pixel's
        significance ``z``), used where ``electrons`` is None.
    electrons : array_like, shape (H, W), optional
        Each pixel's charge in electrons, where the image resolves them
        (:meth:`ccdnb.electron_field.ElectronField.electrons`).
    noise_e : float, optional
        Read noise in electrons, with ``electrons``.
    chance : float
        See :data:`SERIAL_CHANCE`.

    Returns
    -------
    int
        Pixels renamed cluster.
    """
    rows, cols, group, n = class_groups(mask, HOT_PIXEL)
    if n == 0:
        return 0
    size = np.bincount(group, minlength=n)
    row_span = per_cluster_span(group + 1, rows, n)  # its ids count from 1
    candidates = np.flatnonzero((row_span == 1) & (size >= SERIAL_MIN_PIXELS))
    if candidates.size == 0:
        return 0
    if electrons is not None:
        values_of = np.asarray(electrons)
        read = 0.0 if noise_e is None else float(noise_e) ** 2

        def variance_of(level):
            return np.maximum(level, 0.0) + read + 1e-6
    else:
        values_of = None
        normalised = np.asarray(normalised)

        def variance_of(level):
            return 1.0 + np.maximum(level, 0.0) / MIN_NOISE_E

    renamed = 0
    order = np.argsort(group, kind="stable")  # class_groups is row-major: columns ascend
    starts = np.r_[0, np.cumsum(size)]
    for g in candidates:
        pick = order[starts[g]:starts[g + 1]]
        r, c = rows[pick], cols[pick]
        if values_of is not None:
            values = values_of[r, c].astype(np.float64)
        else:
            values = input_significance(normalised[r, c])
        if not np.all(np.isfinite(values)):
            continue
        if scatter_chance(values, variance_of) < chance:
            mask[r, c] = CLUSTER
            renamed += pick.size
    return renamed
