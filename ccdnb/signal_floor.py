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
from scipy.special import ndtr

from .classes import BACKGROUND, GLOWING
from .normalize import ASINH_SOFTENING, input_significance

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
#: In an electron-resolving image, a pixel is kept from background when the row's
#: single-electron field puts at least its charge in fewer than this share of pixels.
FIELD_FALSE_RATE = 1e-6
#: Electrons per pixel above which a pixel counts as cluster charge, not field, when
#: the field's rate is measured.
FIELD_MAX_ELECTRONS = 6
#: The electron-comb check (:func:`electron_comb`): gains searched in this range of
#: read-noise sigma (noise 0.31 to 0.03 electrons), the share of charged pixels a comb
#: must explain, the pixels its teeth must hold, the pixels looked at.
COMB_GAIN_SIGMA = (3.2, 30.0)
COMB_MIN_SCORE = 0.3
COMB_FIRST_TOOTH = 3.0
COMB_MIN_PIXELS = 30
FIELD_SAMPLES = 200_000


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


def keep_significant_signal(mask, normalised, signal_class, *, sigma=SIGNAL_SIGMA,
                            row_floor=None):
    """Give every significant pixel labelled background its best signal class.

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
        Where the image's single-electron field is measured
        (:meth:`ccdnb.electron_field.ElectronField.signal_floor`, in network-input
        units): per row, the input below which a pixel may be field. A pixel
        is then kept only at or above both floors.

    Returns
    -------
    mask : ndarray of uint8
        ``mask`` with no pixel at or above ``sigma`` left as background, except
        a dense population of lone pixels below :data:`LONE_PIXEL_SIGMA` (see
        the module notes).
    n_changed : int
        How many pixels the floor relabelled.
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
    n_changed = int(np.count_nonzero(lost))
    if n_changed:
        where = np.nonzero(lost)
        kept = np.asarray(signal_class)[where]
        # a pixel of a wide raised region (the median of the ring GLOW_RING pixels out at
        # GLOW_LEVEL_SIGMA or more) that stands less than GLOW_LEVEL_SIGMA over it is a
        # lump of an extended excess of charge (a light leak's shot noise): glow, not an
        # object; an object a few pixels across has the background around it
        z = input_significance(normalised[where])
        level = input_significance(ring_median(normalised, where))
        kept[(level >= GLOW_LEVEL_SIGMA) & (z - level < GLOW_LEVEL_SIGMA)] = GLOWING
        mask[where] = kept
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


def electron_comb(z, *, max_samples=FIELD_SAMPLES, min_score=COMB_MIN_SCORE,
                  first_tooth=COMB_FIRST_TOOTH):
    """Spacing and offset of the single-electron peaks of an image in read-noise sigma.

    A fast check, not a calibration (that is :func:`ccdnb.calibration.fit_skipper_gain`):
    the charged pixels of an electron-resolving image sit on a comb of peaks one
    gain apart. For each trial gain ``g`` the pixels within a window of the comb's
    teeth (``k g``, k = 1 ... 12) are counted against those within the same
    window of the gaps (``(k + 1/2) g``); a comb gives a strong contrast at its
    gain (at ``g / 2`` its teeth fall half in gaps, at ``2 g`` every other peak
    does), the continuous charge of a conventional CCD none at any.

    Parameters
    ----------
    z : ndarray
        Pixel significance above the row pedestals (read-noise sigma); NaN ignored.
    max_samples : int
        Pixels used (a strided subsample beyond).
    min_score, first_tooth : float
        The thresholds below (looser ones make a seed for a fit that checks itself).

    Returns
    -------
    (gain, offset) in read-noise sigma, or None
        None when no comb stands out: it explains less than ``min_score``
        of the charged pixels, fewer than :data:`COMB_MIN_PIXELS` sit on its
        teeth, or its one-electron tooth holds fewer than ``first_tooth``
        times the pixels of the gaps beside it
        (less the zero-charge peak's tail).
    """
    values = np.asarray(z, dtype=np.float32).ravel()
    values = values[:: max(1, values.size // max_samples)]
    values = np.sort(values[np.isfinite(values)]).astype(np.float64)
    if values.size < COMB_MIN_PIXELS:
        return None
    zero = values[np.abs(values) < 1.5]
    offset = float(np.median(zero)) if zero.size else 0.0
    n_zero = zero.size / 0.8664  # the zero-charge peak (a unit Gaussian) in all
    gains = np.exp(np.arange(np.log(COMB_GAIN_SIGMA[0]), np.log(COMB_GAIN_SIGMA[1]), 0.01))
    half = np.minimum(0.25 * gains, 1.0)[:, None]

    def in_windows(centres):
        """Pixels in each window, less what the zero-charge peak's tail puts there."""
        lo, hi = offset + centres - half, offset + centres + half
        counts = np.searchsorted(values, hi) - np.searchsorted(values, lo)
        return counts - n_zero * (ndtr(hi - offset) - ndtr(lo - offset))

    k = np.arange(1, 13)[None, :]
    teeth = in_windows(gains[:, None] * k)
    gaps = in_windows(gains[:, None] * (k - 0.5)), in_windows(gains[:, None] * (k + 0.5))
    # Each tooth against the mean of the gaps on its two sides (a falling spectrum of
    # continuous charge makes both alike), summed and put over the charged pixels:
    # about 0.7 at the gain, as much at g / 2 (take the largest such spacing), none at
    # 2 g or on continuous charge.
    excess = (teeth - 0.5 * (gaps[0] + gaps[1])).sum(axis=1)
    charged = (values.size - np.searchsorted(values, offset + 0.5 * gains)
               - n_zero * ndtr(-0.5 * gains))
    score = excess / np.maximum(charged, 1.0)
    first = teeth[:, 0]
    score[(first < COMB_MIN_PIXELS) | (first < first_tooth * np.maximum(
        0.5 * (gaps[0][:, 0] + gaps[1][:, 0]), 0.0))] = -1.0
    good = np.flatnonzero(score >= max(0.85 * score.max(), min_score))
    if good.size == 0:
        return None
    best = int(good[-1])
    gain = float(gains[best])
    # Refine: the mean spacing of the pixels of the first few peaks.
    n = np.round((values - offset) / gain)
    near = (n >= 1) & (n <= 4) & (np.abs(values - offset - n * gain) < 0.3 * gain)
    if np.count_nonzero(near) >= COMB_MIN_PIXELS:
        gain = float(np.sum((values[near] - offset) * n[near]) / np.sum(n[near] ** 2))
    return gain, offset


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
    from scipy.special import pdtrc

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
    rate = np.maximum(level + slope * rows, per_row.mean() * 0.1)
    k = np.arange(1, 200)
    # P(N >= k) = pdtrc(k - 1, rate): the first k whose tail is below the false rate
    tail = pdtrc(k[None, :] - 1, np.maximum(rate, 1e-12)[:, None])
    fewest = k[np.argmax(tail < FIELD_FALSE_RATE, axis=1)]
    return np.arcsinh((offset + (fewest - 0.5) * gain) / ASINH_SOFTENING).astype(np.float32)
