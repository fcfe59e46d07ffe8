"""No signal lost: a pixel standing 5 sigma above the background is never background.

The network decides *what* a significant group of pixels is (glowing, hot pixel
or cluster), never *whether* it exists: a plain threshold finds every pixel at 5
read-noise sigma, and a physicist cannot trust a mask that drops some of them.
:func:`keep_significant_signal` enforces that after the network: every pixel at
or above :data:`SIGNAL_SIGMA` that the network labelled background gets the
network's most probable class among the other three. A 5-sigma fluctuation of
pure read noise happens in 3 pixels of 10 million, so the floor adds almost no
false signal on its own.

One exception: when lone pixels between 5 and :data:`LONE_PIXEL_SIGMA` sigma
(no significant 8-neighbour) are *common* in an image, more than
:data:`LONE_PIXEL_DENSITY` of its pixels, they are left to the network. In a
skipper CCD one electron is 3 to 7 sigma of read noise, and dark current then
sprinkles single electrons over the whole frame: they carry no event (the
simulation's truth calls them background). Where they are rare, as read noise
alone makes them (3 in 10 million pixels) or as faint point-like events and
single hot pixels do, every one of them stays under the floor.

A skipper CCD that resolves single electrons (noise 0.1-0.3 e-) carries a field
of them, dark current and charge collected during readout, up to 3 per pixel:
every pixel holding one is 3 to 10 sigma and most have a neighbour holding one
too, yet the field is background (the design's convention). There the floor
counts electrons instead of sigma: the gain is fitted from the comb of electron
peaks (:func:`ccdnb.calibration.fit_skipper_gain`, on the network's input
turned back into sigma), each row's single-electron rate measured, and a pixel
is kept from background only when it holds more electrons than that rate puts
in one pixel of a million (:func:`electron_floor`). Fainter groups, clusters
of a few electrons among them, are the network's call.

The significance is read off the network's input (:func:`ccdnb.normalize.normalize_image`
maps ``z`` to ``asinh(z / ASINH_SOFTENING)``), so training and prediction share
the one background estimate.
"""

from __future__ import annotations

import numpy as np

from ...classes import BACKGROUND, GLOWING
from ...normalize import ASINH_SOFTENING, input_significance
from ...skipper.comb import electron_comb
from ...skipper.field import FIELD_FALSE_RATE, field_floor_electrons

__all__ = ["SIGNAL_SIGMA", "GLOW_LEVEL_SIGMA", "GLOW_RING", "LONE_PIXEL_SIGMA",
           "LONE_PIXEL_DENSITY", "FIELD_MAX_ELECTRONS", "input_threshold", "best_signal_class",
           "floor_pixels", "relabel_glow_lumps", "keep_significant_signal", "ring_median",
           "has_neighbour", "electron_floor", "electron_comb"]

#: Significance (read-noise sigma above the row pedestal) at and above which a
#: pixel is signal that the mask must keep.
SIGNAL_SIGMA = 5.0
#: A pixel kept by the floor where the median of the square ring GLOW_RING pixels out
#: stands this high (read-noise sigma), and which stands less than this over it, is
#: glowing: a lump of charge spread over a region, not an object of its own.
GLOW_LEVEL_SIGMA = 3.0
GLOW_RING = 3
#: Lone significant pixels (no 8-neighbour at SIGNAL_SIGMA) below this
#: significance are left to the network when they are common (see the notes).
LONE_PIXEL_SIGMA = 10.0
#: "Common": lone faint significant pixels on more than this share of an image's
#: pixels (65 in a 256 x 256 image; read noise alone makes 0.02 there).
LONE_PIXEL_DENSITY = 1e-3
#: Electrons per pixel above which a pixel counts as cluster charge, not field, when
#: the field's rate is measured.
FIELD_MAX_ELECTRONS = 6
#: The straight line of :func:`electron_floor` is held at or above this share of the mean
#: rate: a fit through a field that rises along the readout must not fall to zero at its start.
MIN_ROW_RATE_SHARE = 0.1


def input_threshold(sigma: float = SIGNAL_SIGMA) -> float:
    """The network-input value (``asinh(z / ASINH_SOFTENING)``) of ``sigma``."""
    return float(np.arcsinh(sigma / ASINH_SOFTENING))


def best_signal_class(probabilities) -> np.ndarray:
    """Most probable class other than background, per pixel.

    Parameters
    ----------
    probabilities : array_like, shape (..., 4)
        Class probabilities (background, glowing, hot pixel, cluster).

    Returns
    -------
    ndarray of uint8, shape (...)
        1, 2 or 3.
    """
    p = np.asarray(probabilities)
    return (np.argmax(p[..., 1:], axis=-1) + 1).astype(np.uint8)


def floor_pixels(mask, normalised, *, sigma=SIGNAL_SIGMA, row_floor=None) -> tuple:
    """The pixels the signal floor takes from background: labelled background, at ``sigma`` or more.

    Parameters
    ----------
    mask : ndarray of uint8, shape (H, W)
        The class mask.
    normalised : array_like, shape (H, W)
        The network's input for the same image (:func:`ccdnb.normalize.normalize_image`).
    sigma : float
        Significance floor (read-noise sigma).
    row_floor : array_like, shape (H,), optional
        Where the image's single-electron field is measured
        (:meth:`ccdnb.electron_field.ElectronField.signal_floor`, in network-input
        units): per row, the input below which a pixel may be field. A pixel
        is then kept only at or above both floors. Without it, an image whose
        significant background pixels are many is checked for a comb of electrons
        (:func:`electron_floor`).

    Returns
    -------
    (rows, cols)
        Indices of the pixels, as ``np.nonzero`` gives them; a dense population of
        lone pixels below :data:`LONE_PIXEL_SIGMA` is left out (see the module notes).
    """
    normalised = np.asarray(normalised)
    significant = normalised >= input_threshold(sigma)
    lost = significant & (mask == BACKGROUND)
    if row_floor is not None:
        lost &= normalised >= np.asarray(row_floor, dtype=normalised.dtype)[:, None]
    elif np.count_nonzero(lost) > LONE_PIXEL_DENSITY * lost.size:
        row_floor = electron_floor(normalised)
        if row_floor is not None:  # a single-electron field: count electrons
            lost &= normalised >= row_floor[:, None]
    if lost.any():
        faint = np.nonzero(significant & (normalised < input_threshold(LONE_PIXEL_SIGMA)))
        lone = ~has_neighbour(significant, faint)
        if np.count_nonzero(lone) > LONE_PIXEL_DENSITY * significant.size:
            # a dark-current population: the network decides
            lost[faint[0][lone], faint[1][lone]] = False
    return np.nonzero(lost)


def relabel_glow_lumps(mask, normalised, where) -> int:
    """Give glowing to the pixels of ``where`` that are lumps of a wide raised region.

    A pixel of a wide raised region (the median of the square ring
    :data:`GLOW_RING` pixels out at :data:`GLOW_LEVEL_SIGMA` or more) that stands
    less than :data:`GLOW_LEVEL_SIGMA` over that ring is a lump of an extended
    excess of charge (a light leak's shot noise): glow, not an object. An object a
    few pixels across has the background around it.

    Parameters
    ----------
    mask : ndarray of uint8, shape (H, W)
        Class mask; changed in place.
    normalised : array_like, shape (H, W)
        The network's input.
    where : (rows, cols)
        The pixels looked at (the signal floor's, :func:`floor_pixels`).

    Returns
    -------
    int
        Pixels whose class changed.
    """
    rows, cols = where
    if len(rows) == 0:
        return 0
    normalised = np.asarray(normalised)
    z = input_significance(normalised[where])
    level = input_significance(ring_median(normalised, where))
    lump = (level >= GLOW_LEVEL_SIGMA) & (z - level < GLOW_LEVEL_SIGMA)
    changed = int(np.count_nonzero(lump & (mask[where] != GLOWING)))
    mask[rows[lump], cols[lump]] = GLOWING
    return changed


def keep_significant_signal(mask, normalised, signal_class, *, sigma=SIGNAL_SIGMA,
                            row_floor=None, glow_lumps: bool = True):
    """Give every significant pixel labelled background its best signal class.

    The signal floor (:func:`floor_pixels`) and, with ``glow_lumps``, the glow
    lumps among its pixels (:func:`relabel_glow_lumps`), as the prediction
    pipeline runs them (stages ``signal_floor`` and ``glow_lumps`` of
    :data:`ccdnb.predict.pipeline.STAGES`).

    Parameters
    ----------
    mask : ndarray of uint8, shape (H, W)
        The network's class mask; changed in place and returned.
    normalised : array_like, shape (H, W)
        The network's input for the same image (:func:`ccdnb.normalize.normalize_image`).
    signal_class : array_like of uint8, shape (H, W)
        :func:`best_signal_class` of the network's probabilities.
    sigma : float
        Significance floor (read-noise sigma).
    row_floor : array_like, shape (H,), optional
        See :func:`floor_pixels`.
    glow_lumps : bool
        Also relabel the lumps of wide raised regions as glowing.

    Returns
    -------
    mask : ndarray of uint8
        ``mask`` with no pixel at or above ``sigma`` left as background, except
        a dense population of lone pixels below :data:`LONE_PIXEL_SIGMA` (see
        the module notes).
    n_changed : int
        How many pixels the floor relabelled.
    """
    where = floor_pixels(mask, normalised, sigma=sigma, row_floor=row_floor)
    n_changed = int(where[0].size)
    if n_changed:
        mask[where] = np.asarray(signal_class)[where]
        if glow_lumps:
            relabel_glow_lumps(mask, normalised, where)
    return mask, n_changed


def ring_median(values, where, radius: int = GLOW_RING) -> np.ndarray:
    """Median over the square ring ``radius`` pixels out of each pixel of ``where``
    (``8 * radius`` pixels; beyond the edge the edge repeats)."""
    values = np.asarray(values)
    height, width = values.shape
    rows, cols = where
    ring = [(dr, dc) for dr in range(-radius, radius + 1) for dc in range(-radius, radius + 1)
            if max(abs(dr), abs(dc)) == radius]
    around = [values[np.clip(rows + dr, 0, height - 1), np.clip(cols + dc, 0, width - 1)]
              for dr, dc in ring]
    return np.median(np.stack(around), axis=0)


def has_neighbour(flags, where) -> np.ndarray:
    """Whether each pixel of ``where`` has an 8-neighbour set in ``flags``.

    The same as ``count_neighbours(flags)[where] > 0``
    (:func:`ccdnb.classes.count_neighbours`), looking only at the pixels asked
    about: significant pixels are a small share of most frames, and a
    convolution of the whole frame cost a tenth of its segmentation time.

    Parameters
    ----------
    flags : ndarray of bool, shape (H, W)
    where : (ndarray, ndarray)
        Row and column indices (as from ``np.nonzero``).

    Returns
    -------
    ndarray of bool, one per pixel of ``where``
    """
    rows, cols = (np.asarray(index) + 1 for index in where)
    padded = np.pad(np.asarray(flags, dtype=bool), 1)  # False beyond the border
    found = np.zeros(rows.shape, dtype=bool)
    for d_row in (-1, 0, 1):
        for d_col in (-1, 0, 1):
            if d_row or d_col:
                found |= padded[rows + d_row, cols + d_col]
    return found


def electron_floor(normalised):
    """Per row, the network-input value below which a pixel may be single-electron field.

    Parameters
    ----------
    normalised : ndarray, shape (H, W)
        The network's input (:func:`ccdnb.normalize.normalize_image`).

    Returns
    -------
    ndarray of float32, shape (H,), or None
        None when the image does not resolve single electrons
        (:func:`electron_comb`). Otherwise, for each row, the input value of
        ``k - 0.5`` electrons, ``k`` the fewest electrons that the row's field
        (Poisson; its rate a straight line along the rows through their mean
        charge in pixels of at most :data:`FIELD_MAX_ELECTRONS`) puts in a pixel
        with a probability below :data:`FIELD_FALSE_RATE`.
    """
    z = input_significance(normalised, np.float32)  # back to read-noise sigma
    comb = electron_comb(z)
    if comb is None:
        return None
    gain, offset = comb
    electrons = np.clip(np.round((z - offset) / gain), 0, None)
    field = np.where(electrons <= FIELD_MAX_ELECTRONS, electrons, 0.0)
    # The field rises slowly along the readout: a straight line through the rows' means
    # (one row alone holds too few pixels for its rate).
    rows = np.arange(field.shape[0], dtype=np.float64)
    per_row = field.mean(axis=1)
    slope, level = np.polyfit(rows, per_row, 1) if rows.size > 1 else (0.0, per_row[0])
    rate = np.maximum(level + slope * rows, per_row.mean() * MIN_ROW_RATE_SHARE)
    electrons = field_floor_electrons(rate, FIELD_FALSE_RATE)
    return np.arcsinh((offset + electrons * gain) / ASINH_SOFTENING).astype(np.float32)
