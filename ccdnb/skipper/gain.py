"""The gain of a skipper CCD from its comb of single-electron peaks.

Skipper CCDs read each pixel many times and average, which brings the read
noise down to 0.1-0.3 electrons: the pixel histogram then shows one peak per
electron count, 0, 1, 2, ... electrons, one gain apart. :func:`fit_skipper_gain`
fits that comb of peaks.

The fit, in four steps, all on the pedestal-subtracted pixel values (the
per-row pedestal of :func:`ccdnb.background.estimate_background`):

0. a fast check on a subsample of at most :data:`SEED_SAMPLES` pixels
   (:func:`ccdnb.skipper.comb.electron_comb`, teeth against gaps, with loose
   thresholds): an image that shows no comb at all, a conventional CCD, is
   turned away at once (about 0.1 s on 4k x 4k), and the comb's spacing
   (within 5-15 %) seeds the scan;
1. a scan over the spacing within :data:`SEED_SPAN` of the seed: for each
   trial gain, a comb of Gaussians of the read-noise width, one at every
   multiple of the gain, with amplitudes by non-negative least squares. A comb
   at half the gain fits as well as the true one (its odd peaks stay empty),
   so the largest spacing that fits as well as the best is kept;
2. fits of the first few peaks, each after aligning rows and column blocks
   at the gain of the one before (:func:`_aligned`), then a Poisson
   maximum-likelihood fit of the histogram with the offset, gain, common
   width and every amplitude free (:func:`scipy.optimize.least_squares`);
3. a check that the peaks are real: the comb must fit much better than the
   same comb shifted by half a gain, the 2- to 4-electron peaks must stand over
   the gaps between them where the single-electron field is sparse, the noise must
   stay at or below :data:`MAX_NOISE_E` electrons and enough pixels must hold charge.

The pedestal estimate locks onto the zero-charge peak, but where most pixels
hold charge it may lock onto a higher one; a peak then stands below zero, and
the lowest well-filled peak of the comb is taken as zero electrons.
"""


from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MAX_NOISE_E", "MIN_CHARGED_PIXELS", "MIN_DEVIANCE_GAIN", "MIN_TOOTH_SIGNIFICANCE",
           "SPARSE_FIELD", "MAX_DEVIANCE_PER_BIN", "SCAN_GAIN_SIGMA", "SCAN_COARSE_STEP",
           "SCAN_STEP", "SCAN_BINS_PER_SIGMA", "FIT_BINS_PER_SIGMA", "MAX_SCAN_BINS",
           "SCAN_PEAKS", "MAX_FIT_PEAKS", "FIRST_FIT_PEAKS", "FIT_PASSES", "MAX_SAMPLES",
           "MAX_SCAN_SAMPLES", "REFINE_SAMPLES", "SEED_SAMPLES", "SEED_SPAN", "SEED_MIN_SCORE",
           "SEED_FIRST_TOOTH", "BLOCK_PIXELS", "SkipperGain", "fit_skipper_gain"]

#: Above this read noise (electrons) the 1-electron peak is not separate.
MAX_NOISE_E = 0.35

#: Fewest pixels that must hold one electron or more for a fit.
MIN_CHARGED_PIXELS = 30

#: The comb must fit better than the comb shifted by half a gain by this
#: much (Poisson deviance, i.e. twice the log-likelihood ratio).
MIN_DEVIANCE_GAIN = 50.0

#: The 2- to 4-electron peaks must stand this many standard deviations over the
#: gaps between them (:func:`_teeth_over_gaps`).
MIN_TOOTH_SIGNIFICANCE = 3.0
#: ... checked where the one-electron peak holds fewer pixels than this share of the
#: zero-electron peak's (a sparse single-electron field).
SPARSE_FIELD = 0.02

#: A comb that fits worse than this (Poisson deviance per histogram bin) is no comb
#: (a dense field of 2 e-/pixel at 0.23 e- noise fits at 4).
MAX_DEVIANCE_PER_BIN = 5.0

#: Trial gains of the scan, in units of the read noise (noise 0.4 to 0.03 e-).
SCAN_GAIN_SIGMA = (2.5, 30.0)
SCAN_COARSE_STEP = 0.02     # relative steps of the scan, coarse and fine
SCAN_STEP = 0.005
SCAN_BINS_PER_SIGMA = 3     # histogram binning of the scan
FIT_BINS_PER_SIGMA = 4      # and of the final fit
MAX_SCAN_BINS = 600
SCAN_PEAKS = 12             # electron peaks that the scan's histogram reaches
MAX_FIT_PEAKS = 24          # electron counts fitted (higher ones are clusters)
FIRST_FIT_PEAKS = 4         # and in the first fits, which refine the scan's spacing
FIT_PASSES = 4              # alignments at the fitted gain and fits
MAX_SAMPLES = 1_000_000     # pixels histogrammed (a strided subsample beyond)
MAX_SCAN_SAMPLES = 30_000   # pixels of the scan
REFINE_SAMPLES = 250_000    # pixels of the first fits
SEED_SAMPLES = 200_000      # pixels of the fast comb check
SEED_SPAN = 0.2             # the scan looks this far (relative) around the seed
SEED_MIN_SCORE = 0.05       # loose thresholds of the fast check (the fit checks itself)
SEED_FIRST_TOOTH = 1.5
BLOCK_PIXELS = 2048         # pixels per column block of the baseline alignment


@dataclass(frozen=True)
class SkipperGain:
    """The result of :func:`fit_skipper_gain` (ADU and electrons)."""

    gain: float
    """ADU per electron."""
    gain_error: float
    """One-sigma statistical uncertainty of ``gain`` (ADU per electron)."""
    noise_e: float
    """Read noise, electrons (the common width of the peaks)."""
    pedestal_offset: float
    """Position of the zero-electron peak above the estimated pedestal (ADU)."""
    n_peaks: int
    """Electron peaks fitted (0, 1, ..., n_peaks - 1 electrons)."""
    method: str = "skipper peaks"
    noise_adu: float = float("nan")
    """Read noise, ADU."""
    peak_pixels: tuple = ()
    """Pixels in each peak (0, 1, 2, ... electrons), as fitted."""
    electrons_per_pixel: float = float("nan")
    """Mean charge of the pixels in the fitted peaks (single-electron rate)."""
    deviance_per_bin: float = float("nan")
    """Goodness of fit: Poisson deviance per histogram bin (about 1 when good)."""

    def density(self, values) -> np.ndarray:
        """Fitted pixel density (pixels per ADU) at residual ``values`` (ADU)."""
        values = np.asarray(values, dtype=float)
        centres = self.pedestal_offset + self.gain * np.arange(len(self.peak_pixels))
        amplitudes = np.asarray(self.peak_pixels, dtype=float)
        z = (values[..., None] - centres) / self.noise_adu
        norm = 1.0 / (np.sqrt(2.0 * np.pi) * self.noise_adu)
        return np.sum(amplitudes * norm * np.exp(-0.5 * z * z), axis=-1)


def _residual_image(image, background, max_samples=MAX_SAMPLES) -> np.ndarray:
    """Pedestal-subtracted image (float64, NaN where not finite).

    A strided subsample (rows and columns) of at most ``max_samples``
    pixels, which keeps the column structure of the frame.
    """
    x = np.asarray(image)
    stride = max(1, int(np.ceil(np.sqrt(x.size / max_samples))))
    sample = x[::stride, ::stride].astype(np.float64) - background.pedestal[::stride, None]
    sample[~np.isfinite(sample)] = np.nan
    return sample


def _column_blocks(width: int, height: int) -> np.ndarray:
    """Block index of every column: blocks of about :data:`BLOCK_PIXELS` pixels."""
    columns = max(2, int(np.ceil(BLOCK_PIXELS / max(height, 1))))  # even and odd
    return np.arange(width) // columns


def _shifts(values, finite, blocks, gain, use, passes=2):
    """Row and column-block shifts (ADU) onto a common comb phase, from the columns ``use``.

    Returns (row shifts, block shifts, the comb's offset from zero in
    (-gain / 2, gain / 2]).
    """
    # single precision: phases of pixels up to thousands of electrons stay within 0.01 rad
    phasor = np.exp((2j * np.pi / gain) * values.astype(np.float32))
    phasor[~(finite & use[None, :])] = 0.0
    reference = phasor.sum()
    reference = reference / abs(reference) if abs(reference) > 0 else 1.0
    row_shift = np.zeros(values.shape[0])
    block_shift = np.zeros(blocks.max() + 1)

    def turn(sums):  # phase of each group relative to the image, as a shift in ADU
        return np.angle(sums * np.conj(reference)) * gain / (2.0 * np.pi)

    for _ in range(passes):
        shift = turn(phasor.sum(axis=1))
        row_shift += shift
        phasor *= np.exp(-2j * np.pi * shift / gain)[:, None]
        per_column = phasor.sum(axis=0)
        shift = turn(np.bincount(blocks, per_column.real, minlength=block_shift.size)
                     + 1j * np.bincount(blocks, per_column.imag, minlength=block_shift.size))
        block_shift += shift
        phasor *= np.exp(-2j * np.pi * shift / gain)[blocks][None, :]
    return row_shift, block_shift, float(np.angle(reference) * gain / (2.0 * np.pi))


def _aligned(residual, blocks, gain, passes=2, holdout=False, cross=False):
    """Finite residual values with every row and column block on a common comb phase.

    Returns the values (1-D) and the comb's offset from zero, in
    (-gain / 2, gain / 2] (see :func:`_phase_offset`).

    The per-row pedestal is only as good as the zero-charge pixels of a row,
    and skipper readout can shift the baseline along the row (a step, a
    transient) by a fraction of an electron: the peaks of those pixels then
    fall between the peaks of the others. Every pixel votes for its row's and
    its column block's shift modulo the gain (the circular mean of
    ``residual / gain``), which is taken out, in turn for rows and blocks,
    ``passes`` times. The shifts are referred to the whole image's phase, so
    that an image without shifts is left as it is.

    Shifts fitted on the same pixels make any histogram look a little like a
    comb at the trial gain, which pins a fit of the spacing where it starts.
    With ``holdout`` the shifts come from the even columns and only the odd
    columns are returned, for an unbiased test of the comb; with ``cross``
    the even columns are moved by the odd columns' shifts and the odd ones by
    the even columns' (every pixel, none moved by its own vote).
    """
    finite = np.isfinite(residual)
    values = np.where(finite, residual, 0.0)
    even = (np.arange(values.shape[1]) % 2) == 0
    if holdout or cross:
        rows, block, offset = _shifts(values, finite, blocks, gain, even, passes)
        moved = values - rows[:, None] - block[blocks][None, :]
        if holdout:
            return moved[:, 1::2][finite[:, 1::2]], offset
        rows, block, _ = _shifts(values, finite, blocks, gain, ~even, passes)
        moved[:, even] = (values - rows[:, None] - block[blocks][None, :])[:, even]
        return moved[finite], offset
    rows, block, offset = _shifts(values, finite, blocks, gain, np.ones_like(even), passes)
    moved = values - rows[:, None] - block[blocks][None, :]
    return moved[finite], offset


def _comb_matrix(centres_of_bins, gain, sigma, k, bin_width):
    """Expected counts per bin of one pixel in each peak ``k * gain``."""
    z = (centres_of_bins[:, None] - gain * k[None, :]) / sigma
    return np.exp(-0.5 * z * z) * (bin_width / (np.sqrt(2.0 * np.pi) * sigma))


def _deviance(counts, expected):
    """Poisson deviance (twice the negative log-likelihood ratio to a perfect fit)."""
    expected = np.maximum(expected, 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(counts > 0, counts * np.log(counts / expected), 0.0)
    return 2.0 * np.sum(expected - counts + term)


def _nnls_comb(counts, centres, gain, sigma, bin_width, shift=0.0):
    """Best non-negative comb at ``gain`` (peaks at ``shift + k * gain``)."""
    from scipy.optimize import nnls

    k = np.arange(np.floor((centres[0] - shift) / gain) - 1,
                  np.ceil((centres[-1] - shift) / gain) + 2)
    design = _comb_matrix(centres - shift, gain, sigma, k, bin_width)
    used = design.max(axis=0) > 1e-6  # peaks that no bin sees are left out
    k, design = k[used], design[:, used]
    # Weights of the Pearson chi-square (counts floored at 1) make the linear fit close
    # to the Poisson one; the deviance then judges it.
    weight = 1.0 / np.sqrt(np.maximum(counts, 1.0))
    try:
        amplitudes, _ = nnls(design * weight[:, None], counts * weight,
                             maxiter=50 * design.shape[1])
    except RuntimeError:
        return k, np.zeros(len(k)), np.inf
    expected = design @ amplitudes
    if not np.all(np.isfinite(expected)):
        return k, np.zeros(len(k)), np.inf
    return k, amplitudes, _deviance(counts, expected)


def _peaks_deviance(counts, centres, positions, sigma, bin_width):
    """Deviance of the best non-negative sum of Gaussians at ``positions``."""
    from scipy.optimize import nnls

    z = (centres[:, None] - positions[None, :]) / sigma
    design = np.exp(-0.5 * z * z) * (bin_width / (np.sqrt(2.0 * np.pi) * sigma))
    weight = 1.0 / np.sqrt(np.maximum(counts, 1.0))
    amplitudes, _ = nnls(design * weight[:, None], counts * weight, maxiter=50 * len(positions))
    return _deviance(counts, design @ amplitudes)


def _phase_offset(values, gain):
    """Offset of a comb of spacing ``gain``: the circular mean of ``values / gain``.

    Every peak sits at ``offset + k * gain``, so every pixel votes for the
    offset modulo the gain; the zero-charge pixels, the most numerous where
    charge is sparse, weigh most. Returned in (-gain / 2, gain / 2].
    """
    values = values[::max(1, values.size // REFINE_SAMPLES)]
    phase = np.angle(np.sum(np.exp(2j * np.pi * values / gain)))
    return float(phase * gain / (2.0 * np.pi))


def _scan(residual, blocks, sigma, seed):
    """Gain of the best comb near ``seed`` (ADU; anywhere when None), with harmonics resolved."""
    stride = max(1, int(np.ceil(np.sqrt(residual.size / MAX_SCAN_SAMPLES))))
    # blocks anew for the subsample: each must hold even and odd columns (cross-fitting)
    residual = residual[::stride, ::stride]
    blocks = _column_blocks(residual.shape[1], residual.shape[0])
    finite = residual[np.isfinite(residual)]
    width = sigma / SCAN_BINS_PER_SIGMA
    # The first few peaks pin the spacing; higher ones only cost time.
    hi = (SCAN_PEAKS + 0.5) * (1.0 + SEED_SPAN) * (SCAN_GAIN_SIGMA[1] * sigma if seed is None
                                                   else seed)
    # The lowest peak may sit below zero (a pedestal locked onto the 1-electron peak).
    lo = min(-6.0 * sigma, max(np.min(finite), -6.0 * sigma - 0.3 * MAX_SCAN_BINS * width))
    hi = min(hi, lo + MAX_SCAN_BINS * width)
    edges = np.arange(lo, hi + width, width)
    centres = 0.5 * (edges[1:] + edges[:-1])
    cache = {}

    def deviance(gain):
        if gain not in cache:
            values, offset = _aligned(residual, blocks, gain, cross=True)
            counts = np.histogram(values, edges)[0].astype(float)
            cache[gain] = _nnls_comb(counts, centres, gain, sigma, width, shift=offset)[2]
        return cache[gain]

    def best_near(gain, span, step=SCAN_STEP):
        trial = gain * np.exp(np.arange(-span, span + 0.5 * step, step))
        return min(trial, key=deviance)

    # Coarse around the seed (over the whole range without one), then fine around the best.
    if seed is None:
        coarse = sigma * np.exp(np.arange(np.log(SCAN_GAIN_SIGMA[0]), np.log(SCAN_GAIN_SIGMA[1]),
                                          SCAN_COARSE_STEP))
    else:
        coarse = seed * np.exp(np.arange(-SEED_SPAN, SEED_SPAN + 1e-9, SCAN_COARSE_STEP))
    coarse = coarse[(coarse >= SCAN_GAIN_SIGMA[0] * sigma) & (coarse <= SCAN_GAIN_SIGMA[1] * sigma)]
    if coarse.size == 0:
        return None
    best = best_near(min(coarse, key=deviance), SCAN_COARSE_STEP)
    # A comb at gain / n fits as well as the comb at the gain: take the largest
    # multiple of the best spacing that fits about as well (the seed is already
    # the largest spacing of the fast check, so twice and three times suffice).
    tolerance = 10.0 + 3.0 * np.sqrt(2.0 * len(centres))
    chosen = best
    multiples = (2, 3) if seed is not None else range(
        2, int(SCAN_GAIN_SIGMA[1] / SCAN_GAIN_SIGMA[0]) + 1)
    for multiple in multiples:
        if multiple * best > SCAN_GAIN_SIGMA[1] * sigma:
            break
        candidate = best_near(multiple * best, 2.0 * SCAN_STEP)
        if deviance(candidate) <= deviance(best) + tolerance:
            chosen = candidate
    return float(chosen)


def _one_blas_thread():
    """A context with BLAS on one thread (threadpoolctl), or a plain one without it."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scipy's usual stacks
        from contextlib import nullcontext
        return nullcontext()
    return threadpool_limits(1, user_api="blas")


def _fit(values, gain, sigma, max_peaks=MAX_FIT_PEAKS):
    """Poisson fit of the comb: offset, gain, width and amplitudes free.

    At most ``max_peaks`` + 1 peaks (0 to ``max_peaks`` electrons) are fitted;
    None when the histogram shows one peak only.
    """
    from scipy.optimize import least_squares

    width = sigma / FIT_BINS_PER_SIGMA
    offset = _phase_offset(values, gain)
    # Down to three gains below zero: room for a pedestal locked onto a higher peak.
    lo = min(max(np.min(values), -3.0 * gain), 0.0) - 6.0 * sigma
    hi = (max_peaks + 0.5) * gain
    edges = np.arange(lo, hi + width, width)
    counts = np.histogram(values, edges)[0].astype(float)
    centres = 0.5 * (edges[1:] + edges[:-1])
    k, amplitudes, _ = _nnls_comb(counts, centres, gain, sigma, width, shift=offset)
    # The lowest well-filled peak is zero electrons; the highest kept is the
    # last with pixels enough to pin its position, beyond which clusters take over.
    filled = amplitudes >= max(5.0, 0.01 * amplitudes.max(initial=0.0))
    if not filled.any():
        return None
    first = int(np.flatnonzero(filled)[0])
    last = int(np.flatnonzero(amplitudes >= 5.0)[-1])
    last = min(max(last, first + 1), first + max_peaks, len(amplitudes) - 1)
    if last <= first:  # one peak: no comb to fit
        return None
    zero = offset + float(k[first]) * gain
    n = last - first + 1
    keep = (centres >= zero - 6.0 * sigma) & (centres <= zero + (n - 0.5) * gain)
    counts, centres = counts[keep], centres[keep]
    start = np.concatenate([[zero, gain, sigma],
                            np.sqrt(np.maximum(amplitudes[first:last + 1], 1.0))])

    electrons = np.arange(n)

    def model(p):
        z = (centres[:, None] - p[0] - p[1] * electrons[None, :]) / p[2]
        shape = np.exp(-0.5 * z * z) * (width / (np.sqrt(2.0 * np.pi) * p[2]))
        return z, shape, np.maximum(shape @ (p[3:] ** 2), 1e-12)  # amplitudes squared: >= 0

    def deviance_terms(m):
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(counts > 0, counts * np.log(counts / m), 0.0)
        return np.maximum(2.0 * (m - counts + term), 0.0)

    def deviance_residuals(p):
        m = model(p)[2]
        return np.sign(counts - m) * np.sqrt(deviance_terms(m))

    def jacobian(p):
        z, shape, m = model(p)
        d = deviance_terms(m)
        # d(residual)/dm; near a perfect bin the limit -1/sqrt(m)
        with np.errstate(divide="ignore", invalid="ignore"):
            dr = np.where(d > 1e-10, np.sign(counts - m) * (1.0 - counts / m) / np.sqrt(d),
                          -1.0 / np.sqrt(m))
        weighted = shape * (p[3:] ** 2)[None, :]
        columns = [np.sum(weighted * z, axis=1) / p[2],
                   np.sum(weighted * z * electrons[None, :], axis=1) / p[2],
                   np.sum(weighted * (z * z - 1.0), axis=1) / p[2],
                   ]
        jac = np.empty((len(counts), len(p)))
        jac[:, 0], jac[:, 1], jac[:, 2] = columns
        jac[:, 3:] = 2.0 * shape * p[3:][None, :]
        return jac * dr[:, None]

    with _one_blas_thread():  # small matrices: threads only wait on each other
        result = least_squares(deviance_residuals, start, jac=jacobian, x_scale="jac",
                               method="trf")
    p = result.x
    dev = float(np.sum(result.fun ** 2))
    dof = max(len(counts) - len(p), 1)
    try:
        covariance = np.linalg.inv(result.jac.T @ result.jac) * max(1.0, dev / dof)
        gain_error = float(np.sqrt(covariance[1, 1]))
    except np.linalg.LinAlgError:
        gain_error = float("nan")
    return p, gain_error, dev / len(counts), counts, centres, width


def fit_skipper_gain(image, background=None) -> SkipperGain | None:
    """Fit the gain from the 0, 1, 2, ... electron peaks of a skipper image.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Raw ADU, pedestal included (per-row drift allowed); NaN/inf ignored.
    background : ccdnb.background.Background, optional
        Per-row pedestal and noise; estimated from ``image`` when None.

    Returns
    -------
    SkipperGain or None
        None when the image does not resolve single electrons: read noise
        above :data:`MAX_NOISE_E` electrons, fewer than
        :data:`MIN_CHARGED_PIXELS` pixels holding charge, or no comb of
        peaks standing out of the histogram.

    Notes
    -----
    Equivariant in the ADU scale: ``a * image + b`` gives ``a`` times the gain.
    Works at any single-electron rate, including where the zero-electron peak
    is not the highest (at 3 e-/pixel it holds 5 % of the pixels).
    """
    from ..background import estimate_background
    from .comb import electron_comb

    x = np.asarray(image)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {x.shape}")
    if background is None:
        background = estimate_background(x)
    sigma = float(background.noise)
    if not sigma > 0:
        return None
    quick = _residual_image(x, background, SEED_SAMPLES)
    finite = quick[np.isfinite(quick)]
    if finite.size < 100:
        return None
    # Where most pixels hold charge the zero-charge peak is not prominent and
    # the background's noise may come out too wide: the comb's own harmonics
    # then give the width.
    guesses = [sigma]
    dense = _harmonic_width(finite, sigma)
    if dense is not None:
        # again with rows and column blocks aligned at that gain: the per-row
        # pedestals of a dense frame scatter by fractions of an electron
        dense = _harmonic_width(_aligned(quick, _column_blocks(*quick.shape[::-1]),
                                         dense[0])[0], sigma)
    if dense is not None and abs(np.log(dense[1] / sigma)) > np.log(1.3):
        guesses.insert(0, dense[1])
    # The fast check: no comb of teeth and gaps at any width guess, no fit.
    seeds, clear = [], []
    for width_guess in guesses:
        comb = electron_comb(quick / width_guess, max_samples=SEED_SAMPLES,
                             min_score=SEED_MIN_SCORE, first_tooth=SEED_FIRST_TOOTH)
        if comb is not None:
            seeds.append((width_guess, comb[0] * width_guess))
            # the strict check too: a comb beyond doubt earns the slow full scan below
            if electron_comb(quick / width_guess, max_samples=SEED_SAMPLES) is not None:
                clear.append(width_guess)
    if not seeds:
        return None
    residual = _residual_image(x, background)
    blocks = _column_blocks(residual.shape[1], residual.shape[0])
    for width_guess, seed in seeds:
        fit = _fit_comb(residual, blocks, width_guess, seed)
        if fit is not None:
            return fit
    # The fast check saw a comb but no fit near its spacing held: a comb hidden by
    # baseline shifts of a fraction of an electron (which the alignment of rows and
    # column blocks takes out) may have misled it. Scan the whole range (seconds),
    # where the strict check saw the comb clearly.
    for width_guess in clear:
        fit = _fit_comb(residual, blocks, width_guess, None)
        if fit is not None:
            return fit
    return None


def _harmonic_width(values, sigma):
    """Gain and peak width from the histogram's Fourier transform, or None.

    The transform of a comb of Gaussians (spacing ``g``, width ``s``) peaks at
    the frequency ``1 / g`` with height ``exp(-2 pi^2 s^2 / g^2)`` of its
    value at zero. Where charge is dense the peak stands out clearly, and
    gives the width whatever the zero-charge peak looks like; where charge is
    sparse there is no clear peak (None).
    """
    width = sigma / 40.0
    values = values[values <= np.quantile(values, 0.999)]
    if not values.max() > values.min():
        return None
    n_bins = int(min(2 ** 16, np.ceil((values.max() - values.min()) / width) + 1))
    counts = np.histogram(values, n_bins)[0].astype(float)
    width = (values.max() - values.min()) / n_bins
    spectrum = np.abs(np.fft.rfft(counts)) / counts.sum()
    frequency = np.fft.rfftfreq(n_bins, width)
    # Gains from 0.7 to 30 guessed widths: the guess may be 4 times too wide.
    inside = (frequency >= 1.0 / (SCAN_GAIN_SIGMA[1] * sigma)) & (frequency <= 1.0 / (0.7 * sigma))
    spectrum, frequency = spectrum[inside], frequency[inside]
    if spectrum.size < 3:
        return None
    dips = np.flatnonzero((spectrum[1:-1] < spectrum[:-2]) & (spectrum[1:-1] <= spectrum[2:])) + 1
    if dips.size == 0:
        return None
    first = int(np.argmax(spectrum[dips[0]:])) + dips[0]
    height = spectrum[first]
    if height < 1.5 * spectrum[dips[0]] or height < 10.0 / np.sqrt(values.size) or height >= 1:
        return None
    gain = 1.0 / frequency[first]
    guess = np.sqrt(-np.log(height)) * gain / (np.sqrt(2.0) * np.pi)
    return (float(gain), float(guess)) if guess <= 0.5 * gain else None


def _teeth_over_gaps(z, spacing) -> bool:
    """Whether the 2-, 3- and 4-electron peaks stand over the gaps beside them.

    ``z``: pixel values in read-noise sigma above the zero-electron peak;
    ``spacing``: the gain in read-noise sigma. Pixels within a window of each
    peak (``k * spacing``, k = 2, 3, 4) are compared with the geometric mean
    of the same windows at ``(k -+ 1/2) * spacing``: a smooth spectrum that
    falls exponentially has its value there, one that falls as a power law
    less, a comb more. The summed log excess must reach
    :data:`MIN_TOOTH_SIGNIFICANCE` standard deviations (Poisson counts). Too few
    pixels beyond 1.5 electrons to judge (fewer than :data:`MIN_CHARGED_PIXELS`) pass.
    """
    z = np.sort(z[np.isfinite(z)])
    if z.size - np.searchsorted(z, 1.5 * spacing) < MIN_CHARGED_PIXELS:
        return True
    half = min(0.25 * spacing, 1.0)

    def window(centre):
        return np.searchsorted(z, centre + half) - np.searchsorted(z, centre - half) + 1.0

    k = np.arange(2, 5)
    teeth, below, above = window(k * spacing), window((k - 0.5) * spacing), window(
        (k + 0.5) * spacing)
    excess = float(np.sum(np.log(teeth) - 0.5 * (np.log(below) + np.log(above))))
    spread = float(np.sqrt(np.sum(1.0 / teeth + 0.25 / below + 0.25 / above)))
    return excess >= MIN_TOOTH_SIGNIFICANCE * spread


def _fit_comb(residual, blocks, sigma, seed):
    """Scan, fit and check the comb from read noise ``sigma`` and a spacing ``seed`` (ADU)."""
    gain = _scan(residual, blocks, sigma, seed)
    if gain is None:
        return None
    # Rows and blocks aligned at a trial gain pull the pixels towards a comb of
    # that spacing, and a fit of fixed values stalls part way from its start to
    # the true gain: align at the fitted gain and fit again.
    stride = max(1, int(np.ceil(np.sqrt(residual.size / REFINE_SAMPLES))))
    coarse = residual[::stride, ::stride]
    coarse_blocks = _column_blocks(coarse.shape[1], coarse.shape[0])
    for _ in range(FIT_PASSES - 1):
        values, _ = _aligned(coarse, coarse_blocks, gain, cross=True)
        first = _fit(values, gain, sigma, max_peaks=FIRST_FIT_PEAKS)
        refined = float(first[0][1]) if first is not None else np.nan
        if not (np.isfinite(refined) and refined > 0 and abs(np.log(refined / gain)) < SEED_SPAN):
            break
        gain = refined
    values, _ = _aligned(residual, blocks, gain, cross=True)
    every = values  # every pixel, none moved by its own vote
    fitted = _fit(values, gain, sigma)
    if fitted is None:
        return None
    p, gain_error, deviance_per_bin, counts, centres, width = fitted
    offset, gain, noise = float(p[0]), float(p[1]), abs(float(p[2]))
    peaks = p[3:] ** 2
    if not (gain > 0 and np.isfinite(gain)) or noise / gain > MAX_NOISE_E:
        return None
    if peaks[1:].sum() < MIN_CHARGED_PIXELS or deviance_per_bin > MAX_DEVIANCE_PER_BIN:
        return None
    # The peaks must be real: the comb beats the same comb with every peak but
    # the zero-electron one moved by half a gain, on columns that the alignment did not see.
    values, _ = _aligned(residual, blocks, gain, holdout=True)
    counts = np.histogram(values, np.concatenate([centres - 0.5 * width,
                                                  [centres[-1] + 0.5 * width]]))[0].astype(float)
    comb = offset + gain * np.arange(len(peaks))
    aligned = _peaks_deviance(counts, centres, comb, noise, width)
    shifted = _peaks_deviance(counts, centres, np.concatenate([comb[:1], comb + 0.5 * gain]),
                              noise, width)
    if shifted - aligned < MIN_DEVIANCE_GAIN:
        return None
    # Where the "one-electron peak" is a sparse field, the peaks of 2 and more
    # electrons must stand over the gaps between them too (on every column,
    # cross-aligned): beside the zero peak a smooth tail of cluster charge on a
    # conventional frame can pass the test above with a first "peak" a few sigma
    # out, but it has no gaps (0.5 sigma on a 384 x 384 Fe-55 frame at 0.008
    # "electrons" per pixel; 5 to 170 on skipper frames of 512 x 512).
    if (peaks[1] < SPARSE_FIELD * peaks[0]
            and not _teeth_over_gaps((every - offset) / noise, gain / noise)):
        return None
    electrons = np.arange(len(peaks))
    return SkipperGain(gain=gain, gain_error=gain_error, noise_e=noise / gain,
                       pedestal_offset=offset, n_peaks=len(peaks), noise_adu=noise,
                       peak_pixels=tuple(float(a) for a in peaks),
                       electrons_per_pixel=float(np.sum(electrons * peaks) / np.sum(peaks)),
                       deviance_per_bin=float(deviance_per_bin))


