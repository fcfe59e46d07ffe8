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

The significance is read off the network's input (:func:`ccdnb.normalize.normalize_image`
maps ``z`` to ``asinh(z / ASINH_SOFTENING)``), so training and prediction share
the one background estimate.
"""

from __future__ import annotations

import numpy as np

from .classes import BACKGROUND
from .normalize import ASINH_SOFTENING

#: Significance (read-noise sigma above the row pedestal) at and above which a
#: pixel is signal that the mask must keep.
SIGNAL_SIGMA = 5.0
#: Lone significant pixels (no 8-neighbour at SIGNAL_SIGMA) below this
#: significance are left to the network when they are common (see the notes).
LONE_PIXEL_SIGMA = 10.0
#: "Common": lone faint significant pixels on more than this share of an image's
#: pixels (65 in a 256 x 256 image; read noise alone makes 0.02 there).
LONE_PIXEL_DENSITY = 1e-3


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


def keep_significant_signal(mask, normalised, signal_class, *, sigma=SIGNAL_SIGMA):
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
    if lost.any():
        faint = np.nonzero(significant & (normalised < input_threshold(LONE_PIXEL_SIGMA)))
        lone = ~has_neighbour(significant, faint)
        if np.count_nonzero(lone) > LONE_PIXEL_DENSITY * significant.size:
            # a dark-current population: the network decides
            lost[faint[0][lone], faint[1][lone]] = False
    n_changed = int(np.count_nonzero(lost))
    if n_changed:
        mask[lost] = np.asarray(signal_class)[lost]
    return mask, n_changed


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
