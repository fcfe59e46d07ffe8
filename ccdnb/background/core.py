"""Pedestal and read noise of a CCD image from its zero-charge peak.

Charge only ever adds to the pedestal. So the pedestal and the read noise live
in the **zero-charge peak** of the pixel histogram (the pixels that hold no
charge) and in its low side, whatever share of the pixels carries signal: a
spread over all pixels (standard deviation, MAD) grows with the occupancy and
fails on crowded images. :func:`estimate_background` works the way DAMIC-M
reductions do, in steps:

1. a rough per-row level: a low quantile of each row (below the signal, which
   only adds), so that row drift does not smear the histogram;
2. the zero-charge peak of the residuals: the lowest peak of the histogram
   that holds a fair share of the pixels (glow, hot columns and dense clusters
   make peaks only above it), then a Gaussian fit of its low side and top
   (binned, so quantised integer data fit as well) gives its offset and the
   read noise; blocks of rows with no zero-charge pixel (a glow band across
   whole rows, as wide as its shot noise) are left out of this first fit;
3. per row, the zero-charge peak of that row (the lowest prominent peak of its
   histogram in steps of the noise, so a baseline step covering a minority of
   the row is not taken for the pedestal) refined by the mean of the row's
   low-side pixels, corrected for the truncation of the Gaussian: the
   detector drifts row by row, so the pedestal is per row. Never per column:
   that would erase hot columns and glow bands, two of the classes the network
   must see;
4. the noise is fitted again on the residuals from the per-row pedestals;
5. rows whose pedestal jumps far above the rows on both sides (or on its one
   side at the image's edge) are taken to hold a full-width signal (a
   horizontal hot streak, a glow band) and get the pedestal of the rows around
   them, so the signal survives; smooth drift, however strong, is left alone.

Where a readout has overscan or prescan columns (no image charge), they give each
row's baseline directly (``bias_columns``). NaN and inf pixels take no part in the
statistics. The network's input is built on this in :mod:`ccdnb.normalize`.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
from scipy.special import ndtr

__all__ = ["Background", "estimate_background", "fit_zero_charge_peak", "working_array",
           "image_columns",
           "ROW_OUTLIER_SIGMA", "EDGE_ROWS", "FIRST_FIT_BLOCKS", "FIRST_FIT_MIN_ROWS",
           "CLEAN_BLOCK_WIDTH", "CLEAN_BLOCK_PERCENT", "LOW_QUANTILES", "GAUSS_SPAN_1_5",
           "GAUSS_SPAN_01_05", "ROW_LEVEL_SPREAD", "SAG_SIGMA", "MEDIAN_SPREAD",
           "QUANTISED_REFIT_MAX_NOISE", "PEAK_SEARCH_RANGE", "PEAK_FIT_WIDTH_RANGE",
           "PEAK_FIT_MAX_SHIFT", "ROW_PEAK_RANGE", "STEP_MEDIAN_STEPS", "PEAK_SMOOTH_SIGMA",
           "ROW_PEAK_SMOOTH_SIGMA", "QUANTISED_MIN_WIDTH", "QUANTISED_LOW_SIDE",
           "MAX_ROW_COLUMNS", "MAX_NOISE_SAMPLES", "ROUGH_ROW_PERCENT", "ROUGH_ROW_RANK",
           "PEAK_SHARE", "LOW_SIDE", "ROW_WINDOW_SIGMA", "BINS_PER_SIGMA", "MIN_ROW_PIXELS",
           "BIAS_SMOOTH_ROWS", "BIAS_EXCESS_SIGMA", "BIAS_ROW_SIGMA", "BIAS_BASE_PERCENT"]

#: A row whose pedestal differs from its neighbours' by more than this many
#: sigma is treated as a full-width signal, not as detector drift.
ROW_OUTLIER_SIGMA = 5.0
#: Rows at each end of a block between two jumps whose median is the block's level there.
EDGE_ROWS = 3
#: At most this many columns per row enter the per-row statistics, and at most
#: this many pixels the noise fit (strided subsamples: deterministic and fast;
#: a row of 512 pixels places its level to 0.05 sigma).
MAX_ROW_COLUMNS = 512
MAX_NOISE_SAMPLES = 250_000
#: Quantile (percent) of each row that gives the rough row level of step 1: about
#: the 8th lowest pixel, within these bounds. Low enough to stay in the zero-charge
#: peak when only ~5 % of the pixels hold no charge (a skipper CCD's single-electron
#: field at 3 e-/pixel), high enough for a steady level on short rows.
ROUGH_ROW_PERCENT = (2.0, 5.0)
ROUGH_ROW_RANK = 8
#: A peak of the histogram counts as the zero-charge peak when it is at least
#: this share of the highest peak (fluctuations in the far low tail are not).
PEAK_SHARE = 0.2
#: Window of the Gaussian fit of the zero-charge peak, in noise sigma around
#: the peak: all of the low side and a little of the top, where signal hardly
#: reaches.
LOW_SIDE = (-3.0, 0.5)
#: Weight window of the per-row levels, in noise sigma around the level:
#: full weight from ``[1]`` to ``[2]``, ramping linearly to zero at ``[0]`` and
#: ``[3]``. Wider on the top than the fit's window, because a row has few pixels
#: and each one counts (the estimate's spread is about 1.14 / sqrt(n) sigma, 1.75
#: / sqrt(n) with the fit's window); ramps instead of hard edges make the level
#: a continuous function of the pixels, so float rounding cannot move it.
ROW_WINDOW_SIGMA = (-3.5, -2.5, 1.0, 2.0)


def _row_weight(u):
    """Weight of a pixel ``u`` noise sigma from the row level (see ROW_WINDOW_SIGMA)."""
    a, b, c, d = ROW_WINDOW_SIGMA
    rise = (u - a) * (1.0 / (b - a))
    np.clip(rise, 0.0, 1.0, out=rise)
    fall = (d - u) * (1.0 / (d - c))
    np.clip(fall, 0.0, 1.0, out=fall)
    rise *= fall
    return rise


def _weighted_gaussian_moments():
    """Weighted mean of a unit Gaussian around its centre, and its slope when the window moves."""
    u = np.linspace(-8.0, 8.0, 64001)
    pdf = np.exp(-0.5 * u * u)

    def mean(shift):  # the weighted mean when the window sits ``shift`` off the centre
        w = _row_weight(u - shift) * pdf
        return float(np.sum(w * u) / np.sum(w))

    h = 1e-4
    return mean(0.0), (mean(h) - mean(-h)) / (2 * h)


#: Offset of a Gaussian's weighted mean from its centre (sigma), and how much
#: of a move of the window the mean follows (for Newton steps on the level).
ROW_WINDOW_MEAN, ROW_WINDOW_SLOPE = _weighted_gaussian_moments()
#: One row's (or column's) zero-charge level from n pixels (:func:`_row_levels`) scatters
#: by about ROW_LEVEL_SPREAD noise sigma / sqrt(n): 1.14 measured on Gaussian noise with
#: :data:`ROW_WINDOW_SIGMA`, rounded up.
ROW_LEVEL_SPREAD = 1.2
#: A column's zero-charge level counts as a baseline sag (:func:`_column_sag`) this many
#: of its standard errors (ROW_LEVEL_SPREAD noise / sqrt(n)) below the row pedestals.
SAG_SIGMA = 4.0
#: Standard error of a median of k Gaussian values, in their sigma / sqrt(k):
#: sqrt(pi / 2) = 1.2533, the median's efficiency against the mean. The bias columns'
#: row level (:func:`_row_excess_over_bias`) is given the same, an upper bound of its
#: ROW_LEVEL_SPREAD.
MEDIAN_SPREAD = 1.25
#: Quantised (integer) data whose noise is at most this many units keep the first noise
#: estimate: residuals from rounded row levels would add more rounding than they remove.
QUANTISED_REFIT_MAX_NOISE = 3.0
#: Range of the histogram searched for the zero-charge peak, in first widths from the
#: 0.1 % quantile (which lies about 3 widths below the peak): room for the peak and for a
#: higher one above it.
PEAK_SEARCH_RANGE = (-2.0, 20.0)
#: A Gaussian fit of the peak is kept only where its width is within these factors of the
#: width it started from and its centre moved by less than PEAK_FIT_MAX_SHIFT widths:
#: beyond, the window held no Gaussian peak (a fit on a plateau or a slope runs away).
PEAK_FIT_WIDTH_RANGE = (0.25, 4.0)
PEAK_FIT_MAX_SHIFT = 3.0
#: Range of each row's histogram searched for its zero-charge peak (:func:`_row_peaks`),
#: in noise sigma around the rough level plus the image's offset, near which the peak
#: lies: room for what the rough level missed below, and above for higher peaks, of
#: which the lowest prominent one is taken.
ROW_PEAK_RANGE = (-6.0, 12.0)
#: The histograms searched for the zero-charge peak are smoothed by a Gaussian of this
#: many noise sigma (the image's, with at least half a bin; each row's, of few pixels,
#: more): enough to merge bins' Poisson noise into one peak, not enough to merge peaks.
PEAK_SMOOTH_SIGMA = 0.25
ROW_PEAK_SMOOTH_SIGMA = 0.5
#: Quantised (integer) data: the first width is at least half a unit (the grid resolves
#: no less), and the fit's window reaches at least these many units below and above the
#: peak, so that it holds a few integer bins however narrow the peak.
QUANTISED_MIN_WIDTH = 0.5
QUANTISED_LOW_SIDE = (-3.0, 1.5)
#: Row-to-row steps of the pedestal are compared with their running median over this many
#: steps (:func:`_protect_bright_rows`): drift makes similar steps, a jump one apart.
STEP_MEDIAN_STEPS = 5
#: Quantiles (fractions) of a sample's lowest pixels that give a first width of the
#: zero-charge peak, and the distances between them on a unit Gaussian:
#: ndtri(0.05) - ndtri(0.01) = 0.681 and ndtri(0.005) - ndtri(0.001) = 0.514 sigma.
LOW_QUANTILES = (0.001, 0.005, 0.01, 0.05)
GAUSS_SPAN_1_5 = 0.68
GAUSS_SPAN_01_05 = 0.514
#: Histogram bins per noise sigma in the peak searches.
BINS_PER_SIGMA = 4
#: The first fit of the zero-charge peak is checked on FIRST_FIT_BLOCKS blocks of rows
#: (fewer, of FIRST_FIT_MIN_ROWS rows each, on smaller images), each measured by the
#: width of its lowest quantiles (:func:`_quantile_width`). A block more than
#: CLEAN_BLOCK_WIDTH times as wide as the CLEAN_BLOCK_PERCENT percentile of the blocks'
#: widths holds no zero-charge pixels (a glow band across whole rows: wider by its shot
#: noise, 4x to 20x on the benchmark's frames) and is left out of it. In a dense skipper
#: field, whose 0-electron peak is a minority of a row, the blocks' widths spread up to
#: 2x above that percentile (skipper-dense seed 77005), hence neither the narrowest block
#: nor a tighter factor; a quarter of the rows must be clean. At the end of a 3 e-/pixel
#: field rising 5 times (up to 5 e-/pixel, under 1 % of the pixels at zero:
#: ``benchmarks/electron_rate.py``'s ladder) the blocks hold no zero-charge peak either:
#: taken in at a factor of 2.8 they pull the first fit off it and no electron comb is
#: found; 2.5 leaves them out and keeps the dense field's blocks with a quarter to spare.
FIRST_FIT_BLOCKS = 16
FIRST_FIT_MIN_ROWS = 16
CLEAN_BLOCK_WIDTH = 2.5
CLEAN_BLOCK_PERCENT = 25.0
#: Fewest low-side pixels a row needs for a pedestal of its own; rows with
#: fewer take the pedestal of their neighbours.
MIN_ROW_PIXELS = 8


class Background(NamedTuple):
    """Per-row pedestal and read noise of an image, in the image's units (ADU)."""

    pedestal: np.ndarray
    """(H,) float64: the pedestal of each row."""
    noise: float
    """The read noise (one standard deviation), > 0."""


def working_array(image) -> np.ndarray:
    """Return ``image`` as a 2-D float array (float64 input stays float64)."""
    x = np.asarray(image)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {x.shape}")
    dtype = np.float64 if x.dtype == np.float64 else np.float32
    return x.astype(dtype, copy=False)


def _stride(n: int, limit: int) -> int:
    return max(1, -(-n // limit))


def _row_sample(x: np.ndarray, finite: np.ndarray) -> np.ndarray:
    """A strided column subsample of every row, float64, NaN where not finite."""
    cols = slice(None, None, _stride(x.shape[1], MAX_ROW_COLUMNS))
    sample = x[:, cols].astype(np.float64)
    sample[~finite[:, cols]] = np.nan
    return sample


def _rough_row_levels(sample: np.ndarray) -> np.ndarray:
    """A low quantile of each row (NaN for rows with no finite pixel)."""
    percent = float(np.clip(100.0 * ROUGH_ROW_RANK / max(sample.shape[1], 1), *ROUGH_ROW_PERCENT))
    if not np.isnan(sample).any():
        return np.percentile(sample, percent, axis=1, method="lower")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows with no finite pixel
        return np.nanpercentile(sample, percent, axis=1, method="lower")


def _fill_missing_rows(pedestal: np.ndarray, lowest: bool = False) -> np.ndarray:
    """Give rows without a pedestal (no usable pixel) that of the nearest rows.

    Interpolated linearly between the nearest rows with a pedestal, or, with
    ``lowest``, the lower of the two: a row without a zero-charge population
    usually sits on signal, and a ramp between a bright block and the
    background would hide the block's edge from :func:`_protect_bright_rows`.
    """
    missing = ~np.isfinite(pedestal)
    if missing.any() and not missing.all():
        rows = np.arange(pedestal.size)
        pedestal = pedestal.copy()
        known = rows[~missing]
        if lowest:
            after = np.clip(np.searchsorted(known, rows[missing]), 0, known.size - 1)
            before = np.clip(after - 1, 0, known.size - 1)
            pedestal[missing] = np.minimum(pedestal[known[before]], pedestal[known[after]])
        else:
            pedestal[missing] = np.interp(rows[missing], known, pedestal[known])
    return pedestal


def _lowest_prominent_peak(counts: np.ndarray) -> np.ndarray:
    """Index of the lowest local maximum holding at least PEAK_SHARE of the highest.

    ``counts`` is (..., n_bins), already smoothed; works along the last axis.
    """
    padded = np.concatenate([np.full(counts.shape[:-1] + (1,), -np.inf), counts,
                             np.full(counts.shape[:-1] + (1,), -np.inf)], axis=-1)
    is_peak = (counts >= padded[..., :-2]) & (counts > padded[..., 2:])
    is_peak &= counts >= PEAK_SHARE * counts.max(axis=-1, keepdims=True)
    is_peak &= counts > 0
    return np.argmax(is_peak, axis=-1)


def _is_quantised(values: np.ndarray) -> bool:
    return bool(values.size) and bool(np.all(values == np.round(values)))


def _counts(sorted_values, edges):
    """Histogram of already sorted values (a binary search per edge, no pass over the data)."""
    return np.diff(np.searchsorted(sorted_values, edges)).astype(np.float64)


def _binned_gaussian_fit(sorted_values, centre, width, edges, iterations=50):
    """Fit ``A * (Phi((e1 - mu)/s) - Phi((e0 - mu)/s))`` to the histogram in ``edges``.

    Levenberg-Marquardt on three parameters (A, mu, log s) with the analytic
    Jacobian and Poisson weights, written out because it runs on every image
    and a general-purpose solver's overhead would dominate. Returns (mu, sigma)
    or None when the fit fails.
    """
    counts = _counts(sorted_values, edges)
    total = counts.sum()
    if total < 10 or np.count_nonzero(counts) < 2:
        return None
    lo, hi = edges[:-1], edges[1:]
    weights = 1.0 / np.sqrt(np.maximum(counts, 1.0))
    inv_sqrt_2pi = 1.0 / np.sqrt(2.0 * np.pi)

    def model(p):
        amplitude, mu, log_sigma = p
        s = np.exp(log_sigma)
        a, b = (lo - mu) / s, (hi - mu) / s
        mass = ndtr(b) - ndtr(a)
        residual = (amplitude * mass - counts) * weights
        pdf_a, pdf_b = inv_sqrt_2pi * np.exp(-0.5 * a * a), inv_sqrt_2pi * np.exp(-0.5 * b * b)
        jac = np.stack([mass, amplitude * (pdf_a - pdf_b) / s,
                        amplitude * (a * pdf_a - b * pdf_b)], axis=1) * weights[:, None]
        return residual, jac

    mass0 = ndtr((edges[-1] - centre) / width) - ndtr((edges[0] - centre) / width)
    p = np.array([total / max(mass0, 1e-3), centre, np.log(width)])
    scale = np.array([total, width, 1.0])  # parameters in comparable units
    residual, jac = model(p)
    cost, damping = residual @ residual, 1e-3
    for _ in range(iterations):
        js = jac * scale
        normal = js.T @ js
        gradient = js.T @ residual
        try:
            step = -np.linalg.solve(normal + damping * np.diag(np.diag(normal) + 1e-12), gradient)
        except np.linalg.LinAlgError:
            return None
        # A Gaussian peak fitted on its own window moves by a fraction of its
        # width per step; a larger step is a wild extrapolation: shorten it.
        step *= min(1.0, 0.5 / max(abs(step[2]), 1e-300), 2.0 / max(abs(step[1]), 1e-300))
        trial = p + step * scale
        new_residual, new_jac = model(trial)
        new_cost = new_residual @ new_residual
        if np.isfinite(new_cost) and new_cost <= cost:
            small = np.all(np.abs(step) < 1e-8)
            p, residual, jac, cost, damping = trial, new_residual, new_jac, new_cost, damping / 10
            if small:
                break
        else:
            damping *= 10
            if damping > 1e10:
                break
    amplitude, mu, log_sigma = p
    sigma = float(np.exp(log_sigma))
    if not (np.isfinite(mu) and np.isfinite(sigma) and amplitude > 0):
        return None
    return float(mu), sigma


def _peak_edges(start, stop, step, quantised):
    """Uniform bin edges over [start, stop]; on the integer grid for quantised data."""
    if quantised:
        step = max(1.0, float(np.round(step)))
        start, stop = np.floor(start) - 0.5, np.ceil(stop) + 0.5
    n = int(min(max(np.ceil((stop - start) / step), 1), 20_000))  # bounded for wild spreads
    return start + step * np.arange(n + 1)


def _low_quantile_ranks(n):
    """Ranks of the :data:`LOW_QUANTILES` among ``n`` sorted values."""
    return [min(int(q * (n - 1)), n - 1) for q in LOW_QUANTILES]


def _quantile_width(q_low, q_half, q1, q5):
    """A first width of the zero-charge peak from the :data:`LOW_QUANTILES` of a sample.

    They lie 1.7 to 2.3 sigma below the peak at any occupancy (the peak's own
    quantiles are 1.6 to 3.1 sigma below it), since the lowest pixels are always
    background. Where fewer than ~10 % of the pixels hold no
    charge (a skipper CCD's field of 3 electrons per pixel) the 5 % quantile is
    already in the 1-electron peak: the narrower of the two estimates is the
    zero-charge peak's.
    """
    return min((q5 - q1) / GAUSS_SPAN_1_5, (q_half - q_low) / GAUSS_SPAN_01_05)


def fit_zero_charge_peak(values) -> tuple[float, float]:
    """Centre and width of the zero-charge peak of a sample of pixel values.

    Parameters
    ----------
    values : array_like
        Pixel values (or residuals from a rough pedestal); finite.

    Returns
    -------
    centre, width : float
        The lowest prominent peak of the histogram (charge only adds, so glow,
        hot pixels and clusters make peaks above it, never below) and its
        Gaussian sigma, from a binned Gaussian fit of the peak's low side and
        top (:data:`LOW_SIDE`). Quantised data (integers) are binned on their
        integer grid, which also resolves a sigma well below one unit. The
        width is 0 when the peak has no spread.
    """
    from scipy.ndimage import gaussian_filter1d

    v = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if v.size == 0:
        return 0.0, 0.0
    q_low, q_half, q1, q5 = v[_low_quantile_ranks(v.size)]
    quantised = _is_quantised(v)
    width = _quantile_width(q_low, q_half, q1, q5)
    resolution = 64 * np.finfo(np.float64).eps * max(abs(q_low), abs(q5))
    if quantised:
        width = max(width, QUANTISED_MIN_WIDTH)
    elif not width > resolution:  # no spread the float grid can resolve
        return float(q1), 0.0
    edges = _peak_edges(q_low + PEAK_SEARCH_RANGE[0] * width,
                        q_low + PEAK_SEARCH_RANGE[1] * width, width / BINS_PER_SIGMA, quantised)
    counts = _counts(v, edges)
    step = edges[1] - edges[0]
    smooth = gaussian_filter1d(counts, min(max(PEAK_SMOOTH_SIGMA * width / step, 0.5),
                                           PEAK_SMOOTH_SIGMA * BINS_PER_SIGMA))
    k = int(_lowest_prominent_peak(smooth))
    centre = 0.5 * (edges[k] + edges[k + 1])
    if quantised and np.count_nonzero(counts[max(k - 3, 0):k + 4]) < 2:
        return centre, 0.0  # every pixel of the peak on one value: no measurable noise
    for _ in range(8):
        if quantised:  # a few integer bins on each side, whatever the width
            low = min(LOW_SIDE[0] * width, QUANTISED_LOW_SIDE[0])
            high = max(LOW_SIDE[1] * width, QUANTISED_LOW_SIDE[1])
            edges = _peak_edges(centre + low, centre + high, 1.0, True)
        else:  # bins anchored on the peak: the fit moves exactly with the data
            edges = centre + width * np.arange(LOW_SIDE[0] * BINS_PER_SIGMA,
                                               LOW_SIDE[1] * BINS_PER_SIGMA + 1) / BINS_PER_SIGMA
        fit = _binned_gaussian_fit(v, centre, width, edges)
        low_width, high_width = PEAK_FIT_WIDTH_RANGE
        if fit is None or not (low_width * width < fit[1] < high_width * width
                               and abs(fit[0] - centre) < PEAK_FIT_MAX_SHIFT * width):
            break  # no Gaussian peak in this window: keep the last good estimate
        converged = abs(fit[1] - width) < 1e-6 * width and abs(fit[0] - centre) < 1e-6 * width
        centre, width = fit
        if converged:
            break
    return float(centre), float(width)


def _first_peak(residual, finite):
    """The zero-charge peak (offset, width) of the residuals from the rough row levels.

    Rows with no zero-charge pixel (a glow band across the whole width) have their
    rough level inside their own charge, so their residuals spread below 0 as wide
    as that charge's shot noise, and on many rows they bury the peak. The residuals
    are measured per block of rows as well (:data:`FIRST_FIT_BLOCKS`), by the
    width of their lowest quantiles (:func:`_quantile_width`): where some blocks
    are more than :data:`CLEAN_BLOCK_WIDTH` times as wide as most, the peak is
    fitted again on the other blocks only.
    """
    use = finite
    n_blocks = min(residual.shape[0] // FIRST_FIT_MIN_ROWS, FIRST_FIT_BLOCKS)
    if n_blocks >= 2:
        bounds = np.linspace(0, residual.shape[0], n_blocks + 1).astype(int)
        widths = np.full(n_blocks, np.nan)
        for b, (r0, r1) in enumerate(zip(bounds[:-1], bounds[1:])):
            block = residual[r0:r1][finite[r0:r1]]
            if block.size >= MIN_ROW_PIXELS * FIRST_FIT_MIN_ROWS:
                block = block[:: _stride(block.size, MAX_NOISE_SAMPLES // n_blocks)]
                ranks = _low_quantile_ranks(block.size)
                widths[b] = _quantile_width(*np.partition(block, ranks)[ranks])
        widths[~(widths > 0)] = np.nan
        if not np.isnan(widths).all():
            wide = widths > CLEAN_BLOCK_WIDTH * np.nanpercentile(widths, CLEAN_BLOCK_PERCENT)
            if wide.any():
                use = finite & ~np.repeat(wide, np.diff(bounds))[:, None]
    values = residual[use]
    return fit_zero_charge_peak(values[:: _stride(values.size, MAX_NOISE_SAMPLES)])


def _row_peaks(sample, level, noise):
    """Per row, the lowest prominent peak of the row's histogram (in noise steps)."""
    from scipy.ndimage import gaussian_filter1d

    lo, hi = ROW_PEAK_RANGE
    n_bins = int((hi - lo) * BINS_PER_SIGMA)
    z = (sample - level[:, None]) / noise
    bins = np.floor((z - lo) * BINS_PER_SIGMA)
    ok = np.isfinite(bins) & (bins >= 0) & (bins < n_bins)
    rows = np.broadcast_to(np.arange(sample.shape[0])[:, None], sample.shape)
    flat = rows[ok] * n_bins + bins[ok].astype(np.int64)
    counts = np.bincount(flat, minlength=sample.shape[0] * n_bins).reshape(-1, n_bins)
    smooth = gaussian_filter1d(counts.astype(float), ROW_PEAK_SMOOTH_SIGMA * BINS_PER_SIGMA,
                               axis=1, mode="constant")
    k = _lowest_prominent_peak(smooth)
    return level + (lo + (k + 0.5) / BINS_PER_SIGMA) * noise


def _row_levels(x, finite, start, noise, iterations, chunk_rows=256):
    """Per-row zero-charge level from the weighted mean around it.

    Starting from ``start`` (H,), each iteration takes the mean of the row's
    pixels weighted by :func:`_row_weight` around the current level; for a
    Gaussian that mean sits :data:`ROW_WINDOW_MEAN` sigma off the centre and
    follows a move of the window by :data:`ROW_WINDOW_SLOPE`, which gives a
    Newton step to the level where the two agree. Rows with too little weight
    take their neighbours' level. Computed in float64, in blocks of rows to
    bound the memory.
    """
    level = start.astype(np.float64)
    for _ in range(iterations):
        count = np.zeros(level.size)
        total = np.zeros(level.size)
        for r0 in range(0, x.shape[0], chunk_rows):
            rows = slice(r0, r0 + chunk_rows)
            residual = x[rows] - level[rows, None]  # float64
            weight = _row_weight(residual * (1.0 / noise))
            weight[~finite[rows]] = 0.0
            residual[~finite[rows]] = 0.0
            count[rows] = weight.sum(axis=1)
            total[rows] = np.einsum("ij,ij->i", weight, residual)
        mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
        level = level + (mean - ROW_WINDOW_MEAN * noise) / (1.0 - ROW_WINDOW_SLOPE)
        level[count < MIN_ROW_PIXELS] = np.nan
        level = _fill_missing_rows(level, lowest=True)
    return level


def _noise_floor(scale: float) -> float:
    floor = np.finfo(np.float32).eps * scale
    return floor if floor > 0 else 1.0


def _protect_bright_rows(pedestal: np.ndarray, noise: float) -> np.ndarray:
    """Give rows that hold a full-width signal the pedestal of the rows around them.

    A row whose every pixel carries charge (a horizontal hot streak, a glow
    band along the top or bottom edge) has no zero-charge peak of its own: its
    level sits on the signal. The rows are cut into blocks where the level
    jumps by more than :data:`ROW_OUTLIER_SIGMA` noise beyond the row-to-row
    steps around it (a drift, however strong, takes steps of similar size and
    is left alone). A block's level at either end is the median of its
    :data:`EDGE_ROWS` rows there, so that a single row off the zero-charge peak
    cannot stand for the block. Charge only adds, so a run of blocks that lies
    above the nearest unflagged blocks on both sides (or on its one side at the
    image edge) is flagged, the shortest run first and repeatedly, so that a
    streak inside a band goes with the band, and a band whose level steps
    inside it (a bright glow band's rows scatter by its shot noise) goes whole.
    Flagged rows get the level interpolated between the unflagged rows around
    them. Runs covering more than half of the rows are never flagged on
    both-sided evidence alone: most rows cannot all hold signal.
    """
    from scipy.ndimage import median_filter

    pedestal = np.asarray(pedestal, dtype=np.float64).copy()
    if pedestal.size < 3:
        return pedestal
    limit = ROW_OUTLIER_SIGMA * noise
    steps = np.diff(pedestal)
    usual = median_filter(steps, size=STEP_MEDIAN_STEPS, mode="nearest")
    jumps = np.flatnonzero(np.abs(steps - usual) > limit) + 1
    if jumps.size == 0:
        return pedestal
    bounds = np.concatenate([[0], jumps, [pedestal.size]])
    blocks = list(zip(bounds[:-1], bounds[1:]))
    flagged = [False] * len(blocks)

    # A block's level at its first and last rows: the median of up to EDGE_ROWS, so that
    # one row off the zero-charge peak (a row of a dense skipper field on its 1-electron
    # peak) cannot pass for the block's level.
    tops = [float(np.median(pedestal[first:min(first + EDGE_ROWS, stop)]))
            for first, stop in blocks]
    bottoms = [float(np.median(pedestal[max(stop - EDGE_ROWS, first):stop]))
               for first, stop in blocks]
    lowest = [min(top, bottom) for top, bottom in zip(tops, bottoms)]

    def neighbour_level(index, direction):
        """Edge level of the nearest unflagged block in ``direction`` (+1 or -1)."""
        k = index + direction
        while 0 <= k < len(blocks) and flagged[k]:
            k += direction
        if not 0 <= k < len(blocks):
            return None
        return tops[k] if direction > 0 else bottoms[k]

    def flag_run_from(i):
        """Flag the shortest run of unflagged blocks from ``i`` on that lies above the
        nearest unflagged blocks on both sides (a band whose level steps inside it, as
        a glow band's noisy row levels do, is such a run); True when one was flagged."""
        before, low = neighbour_level(i, -1), np.inf
        for j in range(i, len(blocks)):
            if flagged[j]:
                return False
            low = min(low, lowest[j])
            if before is not None and not low - before > limit:
                return False
            after = neighbour_level(j, +1)
            sides = [v for v in (before, after) if v is not None]
            rows = blocks[j][1] - blocks[i][0]
            if not sides or (len(sides) == 2 and rows > pedestal.size // 2):
                continue
            if all(low - v > limit for v in sides):
                flagged[i:j + 1] = [True] * (j + 1 - i)
                return True
        return False

    changed = True
    while changed:
        changed = False
        for i in range(len(blocks)):
            if not flagged[i] and flag_run_from(i):
                changed = True
    bad = np.zeros(pedestal.size, bool)
    for (first, stop), flag in zip(blocks, flagged):
        bad[first:stop] = flag
    if bad.any() and not bad.all():
        rows = np.arange(pedestal.size)
        pedestal[bad] = np.interp(rows[bad], rows[~bad], pedestal[~bad])
    return pedestal


def _refit_noise(sample, pedestal, noise, floor):
    """The zero-charge peak's width in the residuals of ``sample`` from per-row ``pedestal``.

    A baseline sagging along the row (:func:`_column_sag`) is taken out first.
    Quantised data stay on their grid (residuals from rounded levels); below a
    few units of noise that rounding would add more than it removes, and the
    first estimate stays.
    """
    finite = np.isfinite(sample)
    quantised = _is_quantised(sample[finite][:10_000])
    if quantised and noise <= QUANTISED_REFIT_MAX_NOISE:
        return noise
    residual = sample - (np.round(pedestal) if quantised else pedestal)[:, None]
    sag = _column_sag(residual, finite, noise)
    if sag is not None:
        residual -= np.round(sag) if quantised else sag
    values = residual[finite]
    values = values[:: _stride(values.size, MAX_NOISE_SAMPLES)]
    _, refit = fit_zero_charge_peak(values)
    return refit if refit > floor else noise


def _column_sag(residual, finite, noise):
    """Per-column level of the zero-charge peak where it sits below the row pedestals.

    Skipper readout can make the baseline sag along the row (a step or a
    transient in the column direction). Charge never lowers a pixel, so a
    column whose zero-charge level lies significantly below 0 can only hold
    the baseline. Returns that (W,) negative level (0 elsewhere), or None when
    there is none. Positive column levels are left alone: they are hot columns
    and glow, which the network must see.
    """
    height = residual.shape[0]
    if height < 2 * MIN_ROW_PIXELS:
        return None
    rows = slice(None, None, _stride(height, MAX_ROW_COLUMNS))
    columns = np.ascontiguousarray(residual[rows].T)
    ok = finite[rows].T
    level = _row_levels(columns, ok, np.zeros(columns.shape[0]), noise, iterations=3)
    n = np.count_nonzero(ok, axis=1)
    significant = level < -SAG_SIGMA * ROW_LEVEL_SPREAD * noise / np.sqrt(np.maximum(n, 1))
    if not significant.any():
        return None
    return np.where(significant, level, 0.0)


def estimate_background(image, bias_columns=None) -> Background:
    """Estimate the per-row pedestal and the read noise from the zero-charge peak.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Raw ADU, any real dtype; NaN/inf pixels are ignored.
    bias_columns : slice or sequence of slices, optional
        Overscan or prescan columns (the ``BIASSEC`` of a FITS header): pixels
        read with each row that collect no image charge. Where given, charge
        spread evenly along whole rows (glow from a top or bottom edge), which
        the rows' own zero-charge peaks take for drift, is measured against
        them and kept out of the pedestal (:func:`_row_excess_over_bias`).

    Returns
    -------
    Background
        ``(pedestal, noise)``: ``pedestal`` (H,) float64 per-row level of the
        zero-charge peak, ``noise`` its Gaussian sigma (float, > 0). Both hold
        whatever share of the pixels carries charge (see the module notes).
        Rows without a finite pixel get the pedestal of the nearest rows; an
        image without any finite pixel gets pedestal 0 and noise 1.

    Notes
    -----
    Both estimates are equivariant: for ``a > 0``, ``a * image + b`` gives
    pedestal ``a * pedestal + b`` and noise ``a * noise`` (up to float rounding;
    integer data are fitted on their integer grid). Every statistic works on a
    strided subsample of at most :data:`MAX_ROW_COLUMNS` columns, which keeps a
    4k x 4k frame well under a second.
    """
    x = working_array(image)
    if bias_columns is not None:
        return _with_bias_columns(x, bias_columns)
    return _estimate(x)


def _estimate(x, bias=None) -> Background:
    """:func:`estimate_background` of a working array; ``bias`` (H, n): bias columns' pixels."""
    finite = np.isfinite(x)
    if x.size == 0 or not finite.any():
        return Background(np.zeros(x.shape[0]), 1.0)

    sample = _row_sample(x, finite)
    sample_finite = np.isfinite(sample)
    rough = _fill_missing_rows(_rough_row_levels(sample))
    scale = float(np.max(np.abs(rough)))
    offset, noise = _first_peak(sample - rough[:, None], sample_finite)
    floor = _noise_floor(scale)
    if not noise > floor:  # no spread at all: every finite pixel on one level
        return Background(_protect_bright_rows(rough + offset, floor), floor)

    # Rows that hold signal across their whole width are told from drift by the bias
    # columns where a frame has them (below), else by their jump over their neighbours.
    protect = _protect_bright_rows if bias is None else (lambda levels, _noise: levels)
    pedestal = _row_peaks(sample, rough + offset, noise)
    pedestal = _row_levels(sample, sample_finite, pedestal, noise, iterations=3)
    pedestal = protect(pedestal, noise)
    # The noise again, now free of the rough levels' scatter and of rows that
    # hold signal across their full width; then the levels once more with a
    # sagging baseline taken out, and the noise with those levels.
    noise = _refit_noise(sample, pedestal, noise, floor)
    sag = _column_sag(sample - pedestal[:, None], sample_finite, noise)
    levels_from = sample if sag is None else sample - sag
    pedestal = _row_levels(levels_from, sample_finite, pedestal, noise, iterations=2)
    pedestal = protect(pedestal, noise)
    noise = _refit_noise(sample, pedestal, noise, floor)
    if bias is not None:
        pedestal = pedestal - _row_excess_over_bias(bias, pedestal, noise)
    return Background(pedestal, noise)


def _with_bias_columns(x, bias_columns) -> Background:
    """The estimate with overscan/prescan columns: the plain one unless they show glow.

    The image's own rows (bias columns left out, so that they cannot pass for the
    zero-charge peak of a row lifted by glow) are measured against the bias
    columns. Where no row holds charge spread along it beyond the image's own
    level, the plain estimate of the whole image is returned, the same as
    without the columns.
    """
    bias = _bias_sample(x, bias_columns)
    if bias is None:
        return _estimate(x)
    image_only = x.copy()
    for columns in [bias_columns] if isinstance(bias_columns, slice) else bias_columns:
        image_only[:, columns] = np.nan
    if not np.isfinite(image_only).any():
        return _estimate(x)
    plain = _estimate(image_only)
    corrected = _estimate(image_only, bias)
    if np.array_equal(corrected.pedestal, plain.pedestal):
        return _estimate(x)
    return corrected


#: Rows over which the excess of the image's row levels over the bias columns' is
#: smoothed (glow along whole rows changes slowly from row to row; drift is common
#: to both and cancels), and the significance, in its own uncertainty, it needs.
BIAS_SMOOTH_ROWS = 15
BIAS_EXCESS_SIGMA = 3.0
#: A row whose own excess over its bias columns stands this many times its
#: uncertainty above zero keeps it, unsmoothed.
BIAS_ROW_SIGMA = 5.0
#: Percentile of the rows' smoothed excess taken as the image's own level (glow must
#: leave at least this share of the rows clear).
BIAS_BASE_PERCENT = 10.0


def _bias_sample(x, bias_columns):
    """The pixels of the bias (overscan/prescan) columns, (H, n) float64."""
    if isinstance(bias_columns, slice):
        bias_columns = [bias_columns]
    parts = [x[:, columns] for columns in bias_columns]
    parts = [part for part in parts if part.shape[1]]
    if not parts:
        return None
    return np.concatenate(parts, axis=1).astype(np.float64)


def _row_excess_over_bias(bias, pedestal, noise):
    """Charge spread evenly along whole rows, from the bias columns (0 where none).

    ``bias`` holds the bias columns' pixels, (H, n): no image charge. Per row,
    their level comes from the same weighted zero-charge mean as the image
    rows' (:func:`_row_levels`); the image's row level minus it is the charge
    the image holds along the whole row. Its level over the image's clean rows
    (:data:`BIAS_BASE_PERCENT`) is charge spread over the whole image (sky,
    dark current, an offset between overscan and image area) and stays in the
    pedestal; a row keeps its own excess above that where it
    stands :data:`BIAS_ROW_SIGMA` times one row's uncertainty above zero (a
    horizontal streak, bright glow); elsewhere the excess smoothed over
    :data:`BIAS_SMOOTH_ROWS` rows (a running median) is used where it stands
    :data:`BIAS_EXCESS_SIGMA` times its uncertainty above zero (faint glow
    changes slowly from row to row), else 0: charge only adds.
    """
    from scipy.ndimage import median_filter

    if bias is None or bias.shape[1] < 4:
        return np.zeros(pedestal.size)
    bias_finite = np.isfinite(bias)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows with no finite bias pixel
        start = _fill_missing_rows(np.nanmedian(bias, axis=1))  # no charge: the median is near
    level = _row_levels(bias, bias_finite, start, noise, iterations=4)
    excess = pedestal - level
    smooth = median_filter(excess, size=BIAS_SMOOTH_ROWS, mode="nearest")
    # Charge spread over the whole image (sky, dark current, a bias offset between the
    # overscan and the image area) is a level, not glow: only the excess above the
    # image's clean rows (its lowest tenth) is localised glow.
    base = float(np.percentile(smooth, BIAS_BASE_PERCENT))
    excess, smooth = excess - base, smooth - base
    # One row's bias level from n pixels scatters by at most MEDIAN_SPREAD noise / sqrt(n);
    # the running median of k rows by MEDIAN_SPREAD / sqrt(k) of that. A row far above its
    # bias columns (a horizontal streak, bright glow) keeps its own excess; fainter ones
    # the smoothed.
    row_uncertainty = MEDIAN_SPREAD * noise / np.sqrt(max(bias.shape[1], 1))
    smooth_uncertainty = MEDIAN_SPREAD * row_uncertainty / np.sqrt(BIAS_SMOOTH_ROWS)
    faint = np.where(smooth > BIAS_EXCESS_SIGMA * smooth_uncertainty, smooth, 0.0)
    return np.where(excess > BIAS_ROW_SIGMA * row_uncertainty, excess, faint)


def image_columns(width: int, bias_columns) -> np.ndarray:
    """Boolean (W,): the columns of the image area, prescan and overscan columns left out.

    Parameters
    ----------
    width : int
    bias_columns : slice, sequence of slices or None
        The prescan/overscan columns (``BIASSEC``, :func:`ccdnb.fitsio.bias_columns_from_header`).
    """
    image = np.ones(width, dtype=bool)
    if bias_columns is None:
        return image
    for columns in [bias_columns] if isinstance(bias_columns, slice) else bias_columns:
        image[columns] = False
    return image
