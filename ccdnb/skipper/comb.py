"""The comb of single-electron peaks: does an image resolve electrons, and at what gain?

A skipper CCD read with 0.1-0.3 e- of noise puts its charged pixels on a comb of
peaks one gain apart. :func:`electron_comb` is the fast check for that comb, in
read-noise sigma: the seed of the gain fit (:func:`ccdnb.calibration.fit_skipper_gain`),
the test of :func:`ccdnb.electron_field.measure_electron_field`, and the signal floor's
fallback (:func:`ccdnb.predict.rules.signal_floor.electron_floor`). It depends on numpy and scipy
alone, so every layer above can use it.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

__all__ = ["electron_comb", "COMB_GAIN_SIGMA", "COMB_MIN_SCORE", "COMB_FIRST_TOOTH",
           "COMB_MIN_PIXELS", "FIELD_SAMPLES"]

#: The electron-comb check (:func:`electron_comb`): gains searched in this range of
#: read-noise sigma (noise 0.31 to 0.03 electrons), the share of charged pixels a comb
#: must explain, the pixels its teeth must hold, the pixels looked at.
COMB_GAIN_SIGMA = (3.2, 30.0)
COMB_MIN_SCORE = 0.3
COMB_FIRST_TOOTH = 3.0
COMB_MIN_PIXELS = 30
FIELD_SAMPLES = 200_000

#: The zero-charge peak is looked for within this many read-noise sigma of zero; a unit
#: Gaussian puts this share of itself there (0.86639, kept to the 4 digits it was tuned with).
ZERO_WINDOW = 1.5
ZERO_WINDOW_SHARE = 0.8664


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
    zero = values[np.abs(values) < ZERO_WINDOW]
    offset = float(np.median(zero)) if zero.size else 0.0
    n_zero = zero.size / ZERO_WINDOW_SHARE  # the zero-charge peak (a unit Gaussian) in all
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
