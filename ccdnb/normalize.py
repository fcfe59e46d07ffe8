"""Network input from raw ADU: per-row pedestal, noise and a compressive scaling.

:func:`normalize_image` is the one preprocessing step shared by training and
prediction, so the two can never disagree. It depends on nothing but the image:
the pedestal and read noise are estimated from the pixels themselves, which
makes the result independent of the detector's pedestal, gain and noise scale::

    normalize_image(a * image + b) == normalize_image(image)    # any a > 0

Steps (see :func:`estimate_background`):

1. a rough per-row pedestal from row medians (on a column subsample for speed);
2. the read noise from the robust spread (normalised median absolute deviation)
   of the residuals, which ignores the signal's tail as a sigma clip would;
3. a per-row sigma-clipped mean as the final pedestal: the detector drifts row
   by row, so the pedestal is per row. Never per column: that would erase hot
   columns and glow bands, two of the classes the network must see;
4. a row whose pedestal sticks out far above or below both its two neighbours
   and the running median around it is taken to hold a full-width signal (a
   horizontal hot streak) and gets the running median instead, so the streak
   survives; smooth drift, however strong, is left alone;
5. ``z = (x - pedestal_row) / noise`` and ``asinh(z / ASINH_SOFTENING)``: linear
   within a few sigma, logarithmic beyond, so a 1-sigma cluster pixel and a
   saturated hot column (z ~ 1e5) both land in a range of about +-12.

NaN and inf pixels take no part in the statistics and come out as 0.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

#: ``asinh(z / ASINH_SOFTENING)``: z (in read-noise sigma) is mapped linearly
#: below about this value and logarithmically above it.
ASINH_SOFTENING = 2.0
#: Clipping threshold, in read-noise sigma, for the pedestal and noise estimates.
CLIP_SIGMA = 3.0
#: A row whose pedestal differs from its neighbours' by more than this many
#: sigma is treated as a full-width signal, not as detector drift.
ROW_OUTLIER_SIGMA = 5.0
#: Rows in the running median that replaces outlier rows.
ROW_WINDOW = 15
#: At most this many columns per row enter the rough row median, and at most
#: this many pixels the noise estimate (strided subsamples: deterministic and fast).
MAX_MEDIAN_COLUMNS = 512
MAX_NOISE_SAMPLES = 1_000_000

#: Percent trimmed from each tail in the noise estimate of quantised data.
TRIM_PERCENT = 0.5


class Background(NamedTuple):
    """Per-row pedestal and read noise of an image, in the image's units (ADU)."""

    pedestal: np.ndarray
    """(H,) float64: the pedestal of each row."""
    noise: float
    """The read noise (one standard deviation), > 0."""


def _working_array(image) -> np.ndarray:
    """Return ``image`` as a 2-D float array (float64 input stays float64)."""
    x = np.asarray(image)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {x.shape}")
    dtype = np.float64 if x.dtype == np.float64 else np.float32
    return x.astype(dtype, copy=False)


def _stride(n: int, limit: int) -> int:
    return max(1, -(-n // limit))


def _row_medians(x: np.ndarray, finite: np.ndarray, all_finite: bool) -> np.ndarray:
    """Median of each row over a column subsample; NaN for rows with no finite pixel."""
    cols = slice(None, None, _stride(x.shape[1], MAX_MEDIAN_COLUMNS))
    sample = x[:, cols].astype(np.float64)
    if all_finite:
        return np.median(sample, axis=1)
    sample[~finite[:, cols]] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows with no finite pixel
        return np.nanmedian(sample, axis=1)


def _fill_missing_rows(pedestal: np.ndarray) -> np.ndarray:
    """Give rows without a pedestal (no usable pixel) that of the nearest rows."""
    missing = ~np.isfinite(pedestal)
    if missing.any() and not missing.all():
        rows = np.arange(pedestal.size)
        pedestal = pedestal.copy()
        pedestal[missing] = np.interp(rows[missing], rows[~missing], pedestal[~missing])
    return pedestal


def _residual_sample(x, finite, pedestal) -> np.ndarray:
    """A strided subsample of the finite residuals ``x - pedestal_row`` (float64)."""
    step = _stride(x.size, MAX_NOISE_SAMPLES)
    flat = x.reshape(-1)[::step].astype(np.float64)
    rows = (np.arange(0, x.size, step) // x.shape[1])
    keep = finite.reshape(-1)[::step]
    return flat[keep] - pedestal[rows[keep]]


def _robust_noise(residuals: np.ndarray, scale: float) -> float:
    """Read noise from the spread of ``residuals`` (pixel minus row pedestal).

    The normalised median absolute deviation ignores the signal's tail (hot
    pixels, clusters) as a sigma clip would. On quantised low-noise data (integer
    ADU with sigma below about 0.5 ADU) most residuals are exactly 0 and the MAD
    is 0; then the standard deviation of the residuals with the 0.5 % tails on
    each side trimmed is used. The floor is the data's float resolution, so the
    noise is never 0.
    """
    from astropy.stats import mad_std

    noise = 0.0
    if residuals.size:
        noise = float(mad_std(residuals))
        if not noise > 0:
            low, high = np.percentile(residuals, [TRIM_PERCENT, 100.0 - TRIM_PERCENT])
            noise = float(np.std(residuals[(residuals >= low) & (residuals <= high)]))
    floor = np.finfo(np.float32).eps * scale
    if not noise > floor:
        noise = floor if floor > 0 else 1.0
    return noise


def _clipped_row_means(x, finite, pedestal, noise) -> np.ndarray:
    """Per-row mean of the pixels within ``CLIP_SIGMA`` noise of the row pedestal."""
    residual = x - pedestal[:, None].astype(x.dtype)
    keep = finite & (np.abs(residual) < CLIP_SIGMA * noise)
    count = keep.sum(axis=1)
    total = np.where(keep, residual, 0).sum(axis=1, dtype=np.float64)
    shift = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    return pedestal + shift


def _protect_bright_rows(pedestal: np.ndarray, noise: float) -> np.ndarray:
    """Give rows that stick out of the drift their neighbours' running median.

    A row is an outlier when its pedestal is far both from the running median
    of the rows around it and from the mean of its two neighbours. The second
    test keeps a smooth drift, however strong, from being taken for a signal
    where it curves (at a peak the running median lags behind the drift).
    """
    if pedestal.size < 3:
        return pedestal
    from scipy.ndimage import median_filter

    local = median_filter(pedestal, size=min(ROW_WINDOW, pedestal.size | 1), mode="nearest")
    padded = np.pad(pedestal, 1, mode="edge")
    bump = pedestal - 0.5 * (padded[:-2] + padded[2:])
    limit = ROW_OUTLIER_SIGMA * noise
    outlier = (np.abs(pedestal - local) > limit) & (np.abs(bump) > limit)
    return np.where(outlier, local, pedestal)


def estimate_background(image) -> Background:
    """Estimate the per-row pedestal and the read noise of an image.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Raw ADU, any real dtype; NaN/inf pixels are ignored.

    Returns
    -------
    Background
        ``(pedestal, noise)``: ``pedestal`` (H,) float64 per-row pedestal, ``noise``
        the read noise (float, > 0). Rows without a finite pixel get the pedestal
        of the nearest rows; an image without any finite pixel gets pedestal 0 and
        noise 1.

    Notes
    -----
    Both estimates are equivariant: for ``a > 0``, ``a * image + b`` gives
    pedestal ``a * pedestal + b`` and noise ``a * noise`` (up to float rounding).
    """
    x = _working_array(image)
    finite = np.isfinite(x)
    all_finite = bool(finite.all())
    if x.size == 0 or not finite.any():
        return Background(np.zeros(x.shape[0]), 1.0)

    pedestal = _fill_missing_rows(_row_medians(x, finite, all_finite))
    scale = float(np.max(np.abs(pedestal)))
    # The noise comes from the row-median residuals: on integer data they stay on
    # the integer grid, which the quantised-data fallback relies on.
    noise = _robust_noise(_residual_sample(x, finite, pedestal), scale)
    pedestal = _clipped_row_means(x, finite, pedestal, noise)
    pedestal = _protect_bright_rows(pedestal, noise)
    return Background(pedestal, noise)


def normalize_image(image) -> np.ndarray:
    """Turn a raw ADU image into the network's input.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Raw ADU as the detector writes them (pedestal included), any real dtype
        and size; NaN/inf pixels allowed.

    Returns
    -------
    ndarray, shape (H, W), float32
        ``asinh((x - pedestal_row) / (noise * ASINH_SOFTENING))`` with the
        estimates of :func:`estimate_background`; 0 where the input is not finite.
        The same for ``a * image + b`` (any ``a > 0``, ``b``) up to float rounding.
    """
    x = _working_array(image)
    pedestal, noise = estimate_background(x)
    z = x - pedestal[:, None].astype(x.dtype)
    z *= x.dtype.type(1.0 / (noise * ASINH_SOFTENING))
    out = np.arcsinh(z, out=z).astype(np.float32, copy=False)
    out[~np.isfinite(out)] = 0.0
    return out
