"""The single-electron rate of an amplifier, measured on its clean pixels.

The number data-quality monitoring of a skipper CCD tracks first: the rate of single
electrons per pixel (dark current plus charge collected while the frame is read out).
DAMIC-M's monitoring fits every image's pixel histogram in electrons as Gaussian read
noise convolved with a Poisson field; SENSEI publishes the rate on the pixels its masks
leave, with the counts of pixels holding 0, 1, 2 and 3 or more electrons (bin edges at
0.63, 1.63 and 2.63 e-). :func:`measure_electron_rate` does both, on the pixels that the
quality mask keeps (:func:`ccdnb.objects.quality_mask.clean`).

The fit (:func:`fit_electron_rate`), on the histogram, never on the pixels:

- a pixel holds ``N ~ Poisson(lambda)`` electrons and reads ``N + mu + noise``,
  ``noise ~ Normal(0, sigma)``, all in electrons; ``lambda``, ``sigma`` and the small
  offset ``mu`` of the zero-electron peak are free;
- binned Poisson maximum likelihood over a window from ``-5 sigma`` to ``K + 1/2``
  electrons, ``K`` the larger of 1 and ``lambda0 + 4 sqrt(lambda0)`` (``lambda0``
  from the share of pixels below half an electron): the field itself, not the few
  charged pixels of clusters the mask missed. The likelihood of a window is exact (its
  normalisation is free), so the cut costs precision only, and little of it;
- errors from the Fisher information at the optimum (evaluated at a rate of at least
  one electron over the window's pixels, so that a field with no electron at all gets
  the error of one);
- the profile along the readout: the rate per band of rows (and per band of columns)
  with ``sigma`` and ``mu`` of the whole amplifier, and a weighted linear fit of the
  bands' rates against their rows in readout order: the slope per 1000 rows.

Where the image does not resolve electrons (read noise above :data:`MAX_NOISE_E`, or
no comb of electron peaks and no gain), the rate is the dark current: the image's mean
charge over its prescan/overscan columns' level, divided by the gain, where the image
has such columns and a gain. Otherwise it is NaN, and :attr:`ElectronRate.method` says
why: never a guess.

A 4k x 6k amplifier's rate costs a few passes over its pixels in blocks of rows
(the histogram of each band) and fits of histograms of a few hundred bins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import gammaln, ndtr

from ..background.core import image_columns
from ..errors import CcdnbInputError

__all__ = ["SENSEI_EDGES", "MAX_NOISE_E", "ROW_BANDS", "COLUMN_BANDS", "ElectronRate",
           "RateProfile", "fit_electron_rate", "measure_electron_rate"]

#: SENSEI's bin edges (electrons) of pixels holding 0, 1, 2 and 3 or more electrons
#: (SENSEI 2020, arXiv:2004.11378).
SENSEI_EDGES = (0.63, 1.63, 2.63)
#: Read noise (electrons) above which the electron peaks are not fitted: at 0.5 e- they
#: stand two sigma apart, beyond it they merge.
MAX_NOISE_E = 0.5
#: Bands of rows (along the readout) and of columns of the profiles.
ROW_BANDS = 16
COLUMN_BANDS = 8
#: The fit's window reaches ``lambda0 + WINDOW_SIGMA * sqrt(lambda0)`` electrons, and at
#: least one; below zero it starts LOW_SIGMA read-noise sigma down.
WINDOW_SIGMA = 4.0
LOW_SIGMA = 5.0
#: Histogram bins per read-noise sigma (at least MIN_BINS_PER_ELECTRON per electron);
#: the bins are a whole fraction of an electron wide, with SENSEI's edges among theirs.
BINS_PER_SIGMA = 4.0
MIN_BINS_PER_ELECTRON = 8
#: Fewest pixels in the window for a rate (of the amplifier, or of a band).
MIN_PIXELS = 50
#: Pixels per block of rows histogrammed at once (bounded memory on big frames).
BLOCK_PIXELS = 1 << 20
#: Pixels of each row (column) sampled for its baseline shift (:func:`_line_shifts`).
SAMPLE_PIXELS = 512
#: The histogram reaches this many electrons (the window of any rate up to 20 e-/pixel).
HISTOGRAM_TOP = 40.5
#: Bounds of the fit: read noise (e-) and the zero-electron peak's offset (e-).
NOISE_BOUNDS = (0.02, 0.8)
OFFSET_BOUND = 0.45
#: A row's or column's baseline shift is taken out where it stands this many standard
#: errors from zero, on at least MIN_SHIFT_PIXELS clean pixels (:func:`_line_shifts`).
SHIFT_SIGMA = 4.0
SHIFT_PRECISION = 0.05
MIN_SHIFT_PIXELS = 30
SMOOTH_LINES = 9
ALIGN_PASSES = 2
#: Whole-electron offsets a line may be found at (its pedestal on the 1 or 2 electron
#: peak of a dense field, or one electron too high).
WHOLE_OFFSETS = (0, -1, -2, 1)
WHOLE_EVIDENCE = 10.0
#: Conventional CCDs: pixels more than this many read-noise sigma above the mean charge
#: are signal the mask missed, and take no part in the dark current.
CLIP_SIGMA = 6.0


@dataclass(frozen=True)
class RateProfile:
    """The rate per band of rows or of columns, and its slope in readout order."""

    axis: str
    """``"row"`` or ``"column"``."""
    start: np.ndarray
    """(n,) first row (column) of each band."""
    stop: np.ndarray
    """(n,) end (exclusive) of each band."""
    centre: np.ndarray
    """(n,) mean row (column) of the band's clean pixels."""
    pixels: np.ndarray
    """(n,) clean pixels in each band."""
    rate: np.ndarray
    """(n,) electrons per pixel (NaN where a band has too few pixels)."""
    error: np.ndarray
    """(n,) one standard error of ``rate``."""
    slope: float
    """Change of the rate per 1000 rows (columns) in readout order (weighted linear fit)."""
    slope_error: float
    """Its standard error (scaled up by ``sqrt(chi2 / dof)`` where that exceeds 1)."""
    chi2_dof: float
    """Chi-square per degree of freedom of the linear fit."""

    def as_dict(self) -> dict:
        """Plain lists and floats (JSON)."""
        return {"axis": self.axis, "start": self.start.tolist(), "stop": self.stop.tolist(),
                "centre": self.centre.tolist(), "pixels": self.pixels.tolist(),
                "rate": self.rate.tolist(), "error": self.error.tolist(),
                "slope_per_k": self.slope, "slope_error": self.slope_error,
                "chi2_dof": self.chi2_dof}


@dataclass(frozen=True)
class ElectronRate:
    """The single-electron rate of one amplifier and how it was measured."""

    rate: float
    """Electrons per pixel on the clean pixels; NaN when not measured (see :attr:`method`)."""
    error: float
    """One standard error of :attr:`rate`."""
    method: str
    """How the rate was measured, or why it was not."""
    noise_e: float = float("nan")
    """Read noise, electrons."""
    noise_error: float = float("nan")
    gain: float = float("nan")
    """ADU per electron used (NaN where none)."""
    offset_e: float = float("nan")
    """Offset of the zero-electron peak from the pedestal used, electrons (fitted)."""
    clean_pixels: int = 0
    """Pixels the rate is measured on."""
    image_pixels: int = 0
    """Pixels of the amplifier's image area (prescan/overscan columns left out)."""
    counts: tuple | None = None
    """Clean pixels holding 0, 1, 2 and 3 or more electrons (:data:`SENSEI_EDGES`);
    None where electrons are not resolved."""
    rows: RateProfile | None = None
    """Profile along the readout: per band of rows."""
    columns: RateProfile | None = None
    """Profile across the amplifier: per band of columns."""
    deviance_per_bin: float = float("nan")
    """Goodness of the histogram fit: Poisson deviance per bin (about 1 when good)."""
    extra: dict = field(default_factory=dict, compare=False)
    """Anything else the method reports (e.g. the overscan level)."""

    @property
    def measured(self) -> bool:
        """Whether a rate was measured."""
        return bool(np.isfinite(self.rate))

    @property
    def clean_share(self) -> float:
        """Share of the image area's pixels that are clean."""
        return self.clean_pixels / self.image_pixels if self.image_pixels else float("nan")

    @property
    def slope_per_krow(self) -> float:
        """Change of the rate per 1000 rows in readout order (NaN without a profile)."""
        return self.rows.slope if self.rows is not None else float("nan")

    @property
    def slope_error(self) -> float:
        return self.rows.slope_error if self.rows is not None else float("nan")

    def pixel_days(self, exposure_s: float, readout_s: float = 0.0) -> float:
        """Clean exposure in pixel-days: clean pixels times their mean exposure.

        A pixel read ``t`` seconds into a readout of ``readout_s`` seconds has collected
        charge for ``exposure_s + t``: on average ``exposure_s + readout_s / 2``. NaN
        where the exposure is not known (NaN or None).
        """
        if exposure_s is None or not np.isfinite(exposure_s):
            return float("nan")
        readout = float(readout_s) if readout_s is not None and np.isfinite(readout_s) else 0.0
        return self.clean_pixels * (float(exposure_s) + 0.5 * readout) / 86400.0

    def as_dict(self, profiles: bool = False) -> dict:
        """The figures as a flat dict (the monitor table's columns), NaN where unknown.

        Parameters
        ----------
        profiles : bool
            Add ``row_profile`` and ``column_profile`` (:meth:`RateProfile.as_dict`).
        """
        counts = self.counts if self.counts is not None else (np.nan,) * 4
        out = {"rate_e_per_pix": self.rate, "rate_error": self.error,
               "rate_method": self.method, "noise_e": self.noise_e,
               "rate_gain_adu_per_e": self.gain,
               "rate_slope_per_krow": self.slope_per_krow,
               "rate_slope_error": self.slope_error,
               "clean_pixels": int(self.clean_pixels), "clean_share": self.clean_share,
               "pixels_0e": counts[0], "pixels_1e": counts[1], "pixels_2e": counts[2],
               "pixels_3e_plus": counts[3]}
        if profiles:
            out["row_profile"] = None if self.rows is None else self.rows.as_dict()
            out["column_profile"] = None if self.columns is None else self.columns.as_dict()
        return out

    def header_cards(self) -> list[tuple[str, object, str]]:
        """FITS cards of the rate (a masks header); NaN figures are left out.

        Floats are written to 6 significant digits: the fit's last bits move with the
        memory alignment of numpy's sums from run to run on one machine, and six digits,
        far below the rate's error, print alike each time.
        """
        method = _fits_text(self.method)
        # a long method leaves no room for a comment on its card (astropy would warn)
        cards = [("CCDNBRTM", method, "rate method" if len(method) <= 50 else "")]

        def add(key, value, comment):
            if value is not None and np.isfinite(value):
                cards.append((key, float(f"{float(value):.6g}"), comment))

        add("CCDNBRT", self.rate, "[e-/pix] single-electron rate, clean pixels")
        add("CCDNBRTE", self.error, "[e-/pix] its standard error")
        add("CCDNBRSL", self.slope_per_krow, "[e-/pix] rate change per 1000 rows read")
        add("CCDNBRSE", self.slope_error, "[e-/pix] its standard error")
        add("CCDNBRNE", self.noise_e, "[e-] read noise from the rate fit")
        cards.append(("CCDNBCLN", int(self.clean_pixels), "clean pixels (quality mask)"))
        add("CCDNBCLS", self.clean_share, "clean share of the image area")
        if self.counts is not None:
            for key, n, what in zip(("CCDNBN0", "CCDNBN1", "CCDNBN2", "CCDNBN3P"), self.counts,
                                    ("0", "1", "2", "3 or more")):
                cards.append((key, int(n), f"clean pixels of {what} e- (SENSEI edges)"))
        return cards


def _fits_text(text: str) -> str:
    """A string a FITS card holds (printable ASCII, at most 68 characters)."""
    text = "".join(c if 32 <= ord(c) < 127 else "?" for c in str(text))
    return text if len(text) <= 68 else text[:65] + "..."


def _not_measured(reason: str, **figures) -> ElectronRate:
    return ElectronRate(rate=float("nan"), error=float("nan"), method=reason, **figures)


# --- the model of the histogram -----------------------------------------------------------

def _poisson(k, lam):
    """P(N = k) for N ~ Poisson(lam), and its derivative in lam."""
    if lam <= 0:
        p = (k == 0).astype(np.float64)
        return p, np.where(k == 1, 1.0, 0.0) - p
    p = np.exp(k * np.log(lam) - lam - gammaln(k + 1.0))
    before = np.concatenate([[0.0], p[:-1]])
    return p, before - p


class _Comb:
    """Bin probabilities of Poisson(lam) electrons plus Normal(mu, sigma) noise."""

    def __init__(self, edges):
        self.edges = np.asarray(edges, dtype=np.float64)
        # electron counts whose peak reaches the window (sigma stays below 1 e-)
        self.k = np.arange(int(np.ceil(self.edges[-1] + 6.0)) + 1, dtype=np.float64)

    def shapes(self, sigma, mu):
        """(bins, k) probabilities of each peak in each bin, and their mu and sigma slopes."""
        z = (self.edges[:, None] - self.k[None, :] - mu) / sigma
        cdf = ndtr(z)
        pdf = np.exp(-0.5 * z * z) * (1.0 / np.sqrt(2.0 * np.pi))
        g = np.diff(cdf, axis=0)
        d_mu = np.diff(-pdf / sigma, axis=0)
        d_sigma = np.diff(-z * pdf / sigma, axis=0)
        return g, d_mu, d_sigma

    def terms(self, lam, sigma, mu):
        """Bin probabilities p and their derivatives in (lam, sigma, mu): (bins,), (bins, 3)."""
        pk, dpk = _poisson(self.k, lam)
        g, d_mu, d_sigma = self.shapes(sigma, mu)
        p = g @ pk
        dp = np.stack([g @ dpk, d_sigma @ pk, d_mu @ pk], axis=1)
        return p, dp


def _fisher(counts_total, p, dp):
    """Fisher information of (A, theta...) for counts ~ Poisson(A p): A = total / sum p."""
    amplitude = counts_total / max(p.sum(), 1e-300)
    m = np.maximum(amplitude * p, 1e-300)
    jac = np.concatenate([p[:, None], amplitude * dp], axis=1)
    return (jac / m[:, None]).T @ jac


def _nll(counts, p):
    """Negative log-likelihood with the amplitude profiled out (constants dropped)."""
    p = np.maximum(p, 1e-300)
    return float(-np.sum(counts * np.log(p)) + counts.sum() * np.log(p.sum()))


def _scoring(counts, evaluate, theta, lower, upper, iterations=60):
    """Fisher scoring with a backtracking line search, within bounds.

    ``evaluate(theta)`` returns ``(p, dp)``; the amplitude is profiled out. Returns the
    optimum and its ``(p, dp)``.
    """
    theta = np.clip(np.asarray(theta, dtype=np.float64), lower, upper)
    total = counts.sum()
    p, dp = evaluate(theta)
    current = _nll(counts, p)
    for _ in range(iterations):
        amplitude = total / max(p.sum(), 1e-300)
        m = np.maximum(amplitude * p, 1e-300)
        jac = np.concatenate([p[:, None], amplitude * dp], axis=1)
        score = jac.T @ (counts / m - 1.0)
        info = (jac / m[:, None]).T @ jac
        try:
            step = np.linalg.solve(info + 1e-12 * np.diag(np.diag(info) + 1e-30), score)[1:]
        except np.linalg.LinAlgError:
            break
        moved = False
        for shrink in (1.0, 0.5, 0.25, 0.1, 0.03, 0.01):
            trial = np.clip(theta + shrink * step, lower, upper)
            p_trial, dp_trial = evaluate(trial)
            value = _nll(counts, p_trial)
            if np.isfinite(value) and value <= current + 1e-12 * abs(current):
                moved = not np.allclose(trial, theta, rtol=1e-10, atol=1e-14)
                theta, p, dp, gain_ = trial, p_trial, dp_trial, current - value
                current = value
                break
        else:
            break
        if not moved or gain_ < 1e-9:
            break
    return theta, p, dp


def _deviance(counts, expected):
    expected = np.maximum(expected, 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(counts > 0, counts * np.log(counts / expected), 0.0)
    return float(2.0 * np.sum(expected - counts + term))


# --- the histograms ----------------------------------------------------------------------

@dataclass
class _Histograms:
    """Histograms of the clean pixels in electrons, per band of rows and of columns."""

    edges: np.ndarray        # (M + 1,) bin edges; bin 0 below edges[0], bin M + 1 above
    rows: np.ndarray         # (row bands, M + 2) counts
    columns: np.ndarray      # (column bands, M + 2)
    row_edges: np.ndarray
    column_edges: np.ndarray
    row_pixels: np.ndarray   # (H,) clean pixels per row
    column_pixels: np.ndarray  # (W,)

    @property
    def total(self) -> np.ndarray:
        return self.rows.sum(axis=0)


def _band_edges(n, bands):
    bands = int(max(1, min(int(bands), n)))
    return np.unique(np.linspace(0, n, bands + 1).round().astype(np.int64))


def _blocks(height, width):
    rows = max(1, BLOCK_PIXELS // max(width, 1))
    for r0 in range(0, height, rows):
        yield slice(r0, min(r0 + rows, height))


def _histograms(electrons_of, shape, clean, edges, row_bands, column_bands,
                row_shift=None, column_shift=None) -> _Histograms:
    """Histogram the clean pixels, per band of rows and band of columns, in one pass.

    ``electrons_of(rows, columns)`` gives a block in electrons (a fresh float32 array);
    ``row_shift`` (H,) and ``column_shift`` (W,) are taken from every row and column.
    The bins are ``1 / n`` electrons wide (``edges`` uniform); pixels below and above
    the edges go to two extra bins.
    """
    height, width = shape
    n_bins = edges.size - 1
    per_electron = np.float32(1.0 / (edges[1] - edges[0]))
    row_edges = _band_edges(height, row_bands)
    column_edges = _band_edges(width, column_bands)
    n_rows, n_cols = row_edges.size - 1, column_edges.size - 1
    stride = n_bins + 2
    # one bincount per block over (row band, column band, bin); the last slot is the dump
    row_offset = (np.repeat(np.arange(n_rows), np.diff(row_edges)) * n_cols * stride
                  ).astype(np.int32)
    column_offset = (np.repeat(np.arange(n_cols), np.diff(column_edges)) * stride + 1
                     ).astype(np.int32)
    dump = n_rows * n_cols * stride
    joint = np.zeros(dump + 1, dtype=np.int64)
    row_pixels = np.zeros(height, dtype=np.int64)
    column_pixels = np.zeros(width, dtype=np.int64)
    row_origin = np.full(height, edges[0], dtype=np.float32)
    if row_shift is not None:
        row_origin += row_shift.astype(np.float32)
    for rows in _blocks(height, width):
        v = electrons_of(rows, slice(None))
        keep = np.isfinite(v)
        if clean is not None:
            keep &= clean[rows]
        v -= row_origin[rows, None]
        if column_shift is not None:
            v -= column_shift.astype(np.float32)[None, :]
        v *= per_electron
        np.floor(v, out=v)
        np.clip(v, -1, n_bins, out=v)  # NaN stays NaN: dumped below
        index = v.astype(np.int32)
        index += row_offset[rows, None]
        index += column_offset[None, :]
        np.putmask(index, ~keep, dump)
        joint += np.bincount(index.ravel(), minlength=dump + 1)
        row_pixels[rows] += np.count_nonzero(keep, axis=1)
        column_pixels += np.count_nonzero(keep, axis=0)
    joint = joint[:dump].reshape(n_rows, n_cols, stride)
    return _Histograms(edges, joint.sum(axis=1), joint.sum(axis=0), row_edges, column_edges,
                       row_pixels, column_pixels)


def _sample(electrons_of, shape, clean, axis):
    """Every row (``axis`` 0) or every column (1), on at most SAMPLE_PIXELS evenly strided
    pixels of each: (lines, pixels) in electrons, NaN where not clean, and the columns
    (rows) sampled."""
    height, width = shape
    if axis == 0:
        columns = slice(None, None, max(1, -(-width // SAMPLE_PIXELS)))
        parts = []
        for rows in _blocks(height, width):
            part = electrons_of(rows, columns)
            if clean is not None:
                part[~clean[rows, columns]] = np.nan
            parts.append(part)
        return np.concatenate(parts), np.arange(width)[columns]
    picked = np.arange(0, height, max(1, -(-height // SAMPLE_PIXELS)))
    step = max(1, BLOCK_PIXELS // max(width, 1))
    part = np.concatenate([electrons_of(picked[i:i + step], slice(None))
                           for i in range(0, picked.size, step)])
    if clean is not None:
        part[~clean[picked]] = np.nan
    return np.ascontiguousarray(part.T), picked  # line by line in memory: 5 times faster


def _level_counts(values, phase):
    """Counts of each line's pixels at integer levels around ``phase`` (per line):
    ``(levels, counts)`` with counts (lines, levels), or None without finite pixels."""
    finite = np.isfinite(values)
    if not finite.any():
        return None
    peak = float(np.nanmax(values))
    top = int(min(max(peak if peak < np.inf else float(np.max(values[finite])), 2.0),
                  40.0)) + 2
    levels = np.arange(-3, top + 1)
    lines = values.shape[0]
    level = values - phase[:, None].astype(np.float32)
    np.rint(level, out=level)
    # NaN and -inf land on the lowest level, +inf on the top one, and are taken off after
    # (fewer passes than a masked copy and a masked index)
    np.fmax(level, -3, out=level)
    np.fmin(level, top, out=level)
    index = level.astype(np.intp)
    index += (np.arange(lines) * levels.size + 3)[:, None]
    counts = np.bincount(index.ravel(), minlength=lines * levels.size).reshape(lines,
                                                                               levels.size)
    if not finite.all():
        high = np.count_nonzero(values == np.inf, axis=1) if peak == np.inf else 0
        counts[:, 0] -= (~finite).view(np.uint8).sum(axis=1, dtype=np.int64) - high
        counts[:, -1] -= high
    return levels, counts.astype(np.float64)


def _whole_likelihoods(counts, levels, spill):
    """Log-likelihood of each line's counts at integer ``levels`` under each whole-electron
    offset ``j`` of :data:`WHOLE_OFFSETS`: (lines, offsets).

    Under offset ``j`` the counts at ``L`` are ``L - j`` electrons, Poisson at the line's
    own mean, each read one level off with chance ``spill`` either way (read noise). No
    Poisson field puts pixels at -1 electrons, nor leaves out the empty pixels its rate
    implies: a line moved by a whole electron shows it.
    """
    n = counts.sum(axis=1)
    kernel = np.array([spill, 1.0 - 2.0 * spill, spill])
    out = np.empty((counts.shape[0], len(WHOLE_OFFSETS)))
    for i, j in enumerate(WHOLE_OFFSETS):
        k = levels - j  # electrons of each level under this offset
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.maximum((counts * np.maximum(k, 0)[None, :]).sum(axis=1)
                              / np.maximum(n, 1), 1e-6)
            log_p = np.where(k[None, :] >= 0, k[None, :] * np.log(rate[:, None]) - rate[:, None]
                             - gammaln(np.maximum(k, 0) + 1.0)[None, :], -np.inf)
        p = np.exp(log_p)
        # the read noise moves a pixel one level either way
        seen = p * kernel[1]
        seen[:, 1:] += p[:, :-1] * kernel[0]
        seen[:, :-1] += p[:, 1:] * kernel[2]
        out[:, i] = (counts * np.log(np.maximum(seen, 1e-12))).sum(axis=1)
    return out


def _whole_electrons(counts, levels, spill):
    """The likeliest whole-electron offset of each line (:func:`_whole_likelihoods`).

    The pedestal's own level (offset 0) stands unless another is likelier by
    :data:`WHOLE_EVIDENCE` (natural log units): at several electrons per pixel a line
    has few empty pixels, and the evidence of one line is thin.
    """
    likelihood = _whole_likelihoods(counts, levels, spill)
    offsets = np.array(WHOLE_OFFSETS, dtype=np.float64)
    best = np.argmax(likelihood, axis=1)
    stay = likelihood[np.arange(best.size), best] < likelihood[:, 0] + WHOLE_EVIDENCE
    return np.where(stay, 0.0, offsets[best])


def _line_shifts(sample, noise_e):
    """Baseline shift (electrons) of every line (row of ``sample``) onto the comb.

    The fraction of an electron: each line's pixels vote for its shift modulo one
    electron (the circular mean of ``e`` over :data:`SMOOTH_LINES` lines around it,
    referred to the whole sample's phase); it is taken out where its standard error is at
    most :data:`SHIFT_PRECISION` or it stands :data:`SHIFT_SIGMA` standard errors from
    zero. The whole electrons (:func:`_whole_electrons`): a per-row pedestal locked onto
    the one-electron peak of a dense field, or a baseline step of more than half an
    electron, moves every count of its line by one.
    """
    finite = np.isfinite(sample)
    values = np.where(finite, sample, 0.0).astype(np.float32)
    angle = values * np.float32(2.0 * np.pi)
    phasor = (np.where(finite, np.cos(angle), 0.0).sum(axis=1)
              + 1j * np.where(finite, np.sin(angle), 0.0).sum(axis=1))
    count = finite.sum(axis=1).astype(np.float64)
    total = phasor.sum()
    shift = np.zeros(sample.shape[0])
    if not abs(total) > 0:
        return shift
    from scipy.ndimage import uniform_filter1d

    rho = abs(total) / max(count.sum(), 1.0)  # the comb's sharpness: exp(-2 pi^2 sigma^2)
    usable = count >= MIN_SHIFT_PIXELS
    with np.errstate(invalid="ignore", divide="ignore"):
        own = np.where(usable, np.angle(phasor * np.conj(total)) / (2.0 * np.pi), 0.0)
        # the fraction a line is shifted by: the circular mean over SMOOTH_LINES lines
        # around it (a line's shift from its own pixels alone pulls them onto the comb,
        # which distorts the peaks' shape the fit relies on)
        unit = np.where(usable, phasor / np.maximum(np.abs(phasor), 1e-300), 0.0)
        size = min(SMOOTH_LINES, unit.size)
        smooth = (uniform_filter1d(unit.real, size, mode="nearest")
                  + 1j * uniform_filter1d(unit.imag, size, mode="nearest"))
        near = np.angle(smooth * np.conj(total)) / (2.0 * np.pi)
        error = 1.0 / (2.0 * np.pi * max(rho, 1e-3)
                       * np.sqrt(np.maximum(uniform_filter1d(count, size, mode="nearest")
                                            * size, 1.0)))
    # taken out where measured to a few hundredths of an electron (the per-row pedestal
    # drifts with the field's density by a tenth of an electron) or clearly off zero
    fraction = np.where(usable & ((error <= SHIFT_PRECISION)
                                  | (np.abs(near) > SHIFT_SIGMA * error)), near, 0.0)
    # whole electrons: each line's counts at integer levels, around its own phase
    reference = np.angle(total) / (2.0 * np.pi)
    levels, c = _level_counts(sample, reference + own)
    # the read noise: the larger of the guess and what the comb's sharpness says (its
    # blur by the lines' misalignments included: the spill is not underrated)
    seen = np.sqrt(max(-np.log(max(rho, 1e-12)), 0.0) / (2.0 * np.pi ** 2))
    sigma = min(max(float(noise_e), seen, 0.02), MAX_NOISE_E)
    whole = _whole_electrons(c, levels, float(ndtr(-0.5 / sigma)))
    whole = np.where(usable, whole, 0.0)
    return fraction + whole


# --- the fit -----------------------------------------------------------------------------

def _first_rate(zero_fraction: float) -> float:
    """A first rate from the share of pixels without an electron: P(0) = exp(-lambda)."""
    if not zero_fraction > 0:
        return 20.0
    return float(np.clip(-np.log(zero_fraction), 1e-4, 20.0))


def _grid(noise_e: float):
    """The histogram's bin edges: a whole fraction of an electron wide, SENSEI's edges
    among them, from LOW_SIGMA read-noise sigma below zero to :data:`HISTOGRAM_TOP`."""
    per_electron = int(max(MIN_BINS_PER_ELECTRON, np.ceil(BINS_PER_SIGMA / max(noise_e, 1e-3))))
    width = 1.0 / per_electron
    low = -LOW_SIGMA * max(noise_e, 0.05)
    first = int(np.floor((low - SENSEI_EDGES[0]) / width))
    last = int(np.ceil((HISTOGRAM_TOP - SENSEI_EDGES[0]) / width))
    return SENSEI_EDGES[0] + width * np.arange(first, last + 1)


def _window(edges, rate0: float) -> slice:
    """The fit window's bins: from the bottom to ``K + 1/2`` electrons (see the notes)."""
    top = max(1.0, float(np.ceil(rate0 + WINDOW_SIGMA * np.sqrt(rate0)))) + 0.5
    stop = int(np.searchsorted(edges, top - 1e-9))  # the first edge at or above the top
    return slice(0, int(np.clip(stop, 1, edges.size - 1)))


def _histogram_zero_fraction(edges, total) -> float:
    """Share of the pixels below half an electron (at the bin edge nearest it)."""
    cut = int(np.argmin(np.abs(edges - 0.5))) + 1  # +1: the bin below the edges
    n = total.sum()
    return float(total[:cut].sum() / n) if n else float("nan")


def _sensei_counts(edges, total) -> tuple:
    """Pixels of 0, 1, 2 and 3+ electrons from a histogram whose edges hold SENSEI's."""
    cuts = [int(np.argmin(np.abs(edges - e))) + 1 for e in SENSEI_EDGES]  # +1: below-bin
    cumulative = np.concatenate([[0], np.cumsum(total)])
    n = [cumulative[cuts[0]], cumulative[cuts[1]] - cumulative[cuts[0]],
         cumulative[cuts[2]] - cumulative[cuts[1]], cumulative[-1] - cumulative[cuts[2]]]
    return tuple(int(v) for v in n)


def _fit_window(counts, comb, rate0, noise0):
    """Fit lambda, sigma and mu on one window's counts: (theta, errors, deviance/bin)."""
    def evaluate(theta):
        return comb.terms(*theta)

    lower = np.array([0.0, NOISE_BOUNDS[0], -OFFSET_BOUND])
    upper = np.array([60.0, NOISE_BOUNDS[1], OFFSET_BOUND])
    theta, p, dp = _scoring(counts, evaluate, [rate0, noise0, 0.0], lower, upper)
    errors = _errors(counts, comb, theta, lambda t: comb.terms(*t))
    expected = counts.sum() * p / max(p.sum(), 1e-300)
    return theta, errors, _deviance(counts, expected) / max(counts.size, 1)


def _errors(counts, comb, theta, evaluate):
    """Standard errors from the Fisher information, at a rate of at least one electron."""
    total = counts.sum()
    floor = 1.0 / max(total, 1.0)
    at = np.array(theta, dtype=np.float64)
    at[0] = max(at[0], floor)
    p, dp = evaluate(at)
    info = _fisher(total, p, dp)
    try:
        covariance = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return np.full(len(theta), np.nan)
    return np.sqrt(np.maximum(np.diag(covariance)[1:], 0.0))


def _poisson_columns(k, lam):
    """:func:`_poisson` of every rate of ``lam`` at once: (k, rates) arrays."""
    positive = lam > 0
    safe = np.where(positive, lam, 1.0)
    p = np.exp(k[:, None] * np.log(safe)[None, :] - safe[None, :] - gammaln(k + 1.0)[:, None])
    p = np.where(positive[None, :], p, (k == 0).astype(np.float64)[:, None])
    before = np.concatenate([np.zeros((1, lam.size)), p[:-1]])
    return p, before - p


def _nll_columns(counts, p):
    """:func:`_nll` of every column of ``counts`` and ``p`` (bins, columns)."""
    p = np.maximum(p, 1e-300)
    return -np.sum(counts * np.log(p), axis=0) + counts.sum(axis=0) * np.log(p.sum(axis=0))


def _information(total, p, dp):
    """The Fisher information of (A, lambda) of each column, as :func:`_fisher`: its
    entries (00, 01, 11)."""
    amplitude = total / np.maximum(p.sum(axis=0), 1e-300)
    m = np.maximum(amplitude * p, 1e-300)
    jd = amplitude * dp
    return (p * p / m).sum(axis=0), (p * jd / m).sum(axis=0), (jd * jd / m).sum(axis=0)


#: The line search's shrinks of a scoring step (:func:`_scoring`).
SHRINKS = (1.0, 0.5, 0.25, 0.1, 0.03, 0.01)


def _band_rates(hist, window, comb, sigma, mu, rate0, iterations=60):
    """The rate and its error in every band (sigma and mu fixed).

    The steps of :func:`_scoring` (one parameter, the amplitude profiled out) and of
    :func:`_errors`, taken for all bands at once: each band stops where it would alone.
    """
    g, _, _ = comb.shapes(sigma, mu)
    counts = hist[:, 1:-1][:, window].astype(np.float64).T  # (bins, bands)
    rates = np.full(counts.shape[1], np.nan)
    errors = np.full(counts.shape[1], np.nan)
    fit = np.flatnonzero(counts.sum(axis=0) >= MIN_PIXELS)
    if fit.size == 0:
        return rates, errors
    counts = counts[:, fit]
    total = counts.sum(axis=0)
    shrinks = np.array(SHRINKS)

    def evaluate(lam):
        pk, dpk = _poisson_columns(comb.k, lam)
        return g @ pk, g @ dpk

    lam = np.full(fit.size, float(np.clip(rate0, 0.0, 60.0)))
    p, dp = evaluate(lam)
    current = _nll_columns(counts, p)
    active = np.arange(fit.size)
    for _ in range(iterations):
        if active.size == 0:
            break
        c, pa, dpa = counts[:, active], p[:, active], dp[:, active]
        amplitude = total[active] / np.maximum(pa.sum(axis=0), 1e-300)
        m = np.maximum(amplitude * pa, 1e-300)
        residual = c / m - 1.0
        jd = amplitude * dpa
        score0, score1 = (pa * residual).sum(axis=0), (jd * residual).sum(axis=0)
        i00, i01, i11 = (pa * pa / m).sum(axis=0), (pa * jd / m).sum(axis=0), \
            (jd * jd / m).sum(axis=0)
        i00 = i00 + 1e-12 * (i00 + 1e-30)
        i11 = i11 + 1e-12 * (i11 + 1e-30)
        det = i00 * i11 - i01 * i01
        solvable = det != 0
        with np.errstate(invalid="ignore", divide="ignore"):
            step = (i00 * score1 - i01 * score0) / det
        # every shrink at once; the first that does not raise the likelihood's minus is taken
        n = active.size
        trial = np.clip(lam[active][None, :] + shrinks[:, None] * step[None, :], 0.0, 60.0)
        p_trial, dp_trial = evaluate(trial.ravel())
        value = _nll_columns(np.tile(c, (1, shrinks.size)), p_trial).reshape(shrinks.size, n)
        was = current[active]
        ok = np.isfinite(value) & (value <= was + 1e-12 * np.abs(was)) & solvable[None, :]
        found = ok.any(axis=0)
        first = np.argmax(ok, axis=0)
        column = first * n + np.arange(n)
        new = trial[first, np.arange(n)]
        moved = ~np.isclose(new, lam[active], rtol=1e-10, atol=1e-14)
        gain = was - value[first, np.arange(n)]
        take = active[found]
        lam[take] = new[found]
        p[:, take] = p_trial[:, column[found]]
        dp[:, take] = dp_trial[:, column[found]]
        current[take] = value[first, np.arange(n)][found]
        active = active[found & moved & (gain >= 1e-9)]
    # errors from the Fisher information, at a rate of at least one electron
    at = np.maximum(lam, 1.0 / np.maximum(total, 1.0))
    i00, i01, i11 = _information(total, *evaluate(at))
    det = i00 * i11 - i01 * i01
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = np.where(det != 0, i00 / det, np.nan)
    rates[fit] = lam
    errors[fit] = np.sqrt(np.maximum(variance, 0.0))
    return rates, errors


def _profile(axis, band_edges, pixels_per_line, rates, errors, length, ascending) -> RateProfile:
    """A band profile with its slope per 1000 lines in readout order."""
    counts = np.add.reduceat(pixels_per_line, band_edges[:-1]) if pixels_per_line.size else \
        np.zeros(band_edges.size - 1)
    lines = np.arange(pixels_per_line.size, dtype=np.float64)
    weighted = np.add.reduceat(pixels_per_line * lines, band_edges[:-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.where(counts > 0, weighted / np.maximum(counts, 1),
                          0.5 * (band_edges[:-1] + band_edges[1:] - 1))
    order = centre if ascending else (length - 1) - centre
    slope, slope_error, chi2 = _weighted_line(order, rates, errors)
    return RateProfile(axis=axis, start=band_edges[:-1].copy(), stop=band_edges[1:].copy(),
                       centre=centre, pixels=counts.astype(np.int64), rate=rates, error=errors,
                       slope=1000.0 * slope, slope_error=1000.0 * slope_error, chi2_dof=chi2)


def _weighted_line(x, y, sigma):
    """Slope of ``y = a + b x`` by weighted least squares, its error and chi2/dof."""
    ok = np.isfinite(y) & np.isfinite(sigma) & (sigma > 0)
    if np.count_nonzero(ok) < 3:
        return float("nan"), float("nan"), float("nan")
    x, y, w = x[ok], y[ok], 1.0 / sigma[ok] ** 2
    design = np.stack([np.ones_like(x), x - np.average(x, weights=w)], axis=1)
    normal = (design * w[:, None]).T @ design
    try:
        covariance = np.linalg.inv(normal)
    except np.linalg.LinAlgError:
        return float("nan"), float("nan"), float("nan")
    coef = covariance @ ((design * w[:, None]).T @ y)
    dof = x.size - 2
    chi2 = float(np.sum(w * (y - design @ coef) ** 2) / dof)
    error = float(np.sqrt(covariance[1, 1] * max(1.0, chi2)))
    return float(coef[1]), error, chi2


def _checked_clean(clean, shape):
    if clean is None:
        return None
    clean = np.asarray(clean)
    if clean.shape != tuple(shape):
        raise CcdnbInputError(f"clean pixel map of shape {clean.shape} for an image of shape "
                              f"{tuple(shape)}")
    return clean.astype(bool, copy=False)


def _readout_flags(readout_rows, readout_side):
    if readout_rows not in ("ascending", "descending"):
        raise CcdnbInputError(f"readout_rows {readout_rows!r}: expected 'ascending' (row 0 "
                              "read first) or 'descending'")
    if readout_side not in ("left", "right"):
        raise CcdnbInputError(f"readout_side {readout_side!r}: expected 'left' (column 0 read "
                              "first) or 'right'")
    return readout_rows == "ascending", readout_side == "left"


def _fit_blocks(electrons_of, shape, clean, *, noise_e, image_pixels, row_bands, column_bands,
                readout_rows, readout_side, method, align,
                gain=float("nan")) -> ElectronRate:
    """The fit of :func:`fit_electron_rate` on pixels given block by block."""
    rows_ascending, columns_ascending = _readout_flags(readout_rows, readout_side)
    figures = dict(gain=gain, image_pixels=image_pixels)
    noise0 = float(np.clip(noise_e if noise_e is not None and np.isfinite(noise_e) else 0.2,
                           *NOISE_BOUNDS))
    row_shift = column_shift = None
    if align:
        # rows (their pedestals) and columns (baseline steps along the rows) in turn, twice:
        # each blurs the other's comb
        by_row, sampled_columns = _sample(electrons_of, shape, clean, axis=0)
        by_column, sampled_rows = _sample(electrons_of, shape, clean, axis=1)
        # which peak is zero, on every row's sample at once (decisive where one row is not)
        pooled = _level_counts(by_row, np.zeros(by_row.shape[0]))
        if pooled is not None:
            levels, counts = pooled
            sigma = min(max(noise0, 0.02), MAX_NOISE_E)
            # one offset for all rows, each row at its own rate
            likelihood = _whole_likelihoods(counts, levels, float(ndtr(-0.5 / sigma)))
            whole = float(WHOLE_OFFSETS[int(np.argmax(likelihood.sum(axis=0)))])
            by_row -= np.float32(whole)
            by_column -= np.float32(whole)
        else:
            whole = 0.0
        column_shift = np.zeros(shape[1])
        for _ in range(ALIGN_PASSES):
            row_shift = _line_shifts(by_row - column_shift[sampled_columns][None, :].astype(
                np.float32), noise0)
            column_shift = _line_shifts(by_column - row_shift[sampled_rows][None, :].astype(
                np.float32), noise0)
        row_shift = row_shift + whole
    edges = _grid(noise0)
    hist = _histograms(electrons_of, shape, clean, edges, row_bands, column_bands, row_shift,
                       column_shift)
    total = hist.total
    n_clean = int(total.sum())
    figures["clean_pixels"] = n_clean
    if n_clean < MIN_PIXELS:
        return _not_measured(f"not measured: {n_clean} clean pixels (fewer than {MIN_PIXELS})",
                             **figures)
    counts = _sensei_counts(edges, total)
    rate0 = _first_rate(_histogram_zero_fraction(edges, total))
    window = _window(edges, rate0)
    comb = _Comb(edges[window.start:window.stop + 1])
    in_window = total[1:-1][window].astype(np.float64)
    if in_window.sum() < MIN_PIXELS:
        return _not_measured(f"not measured: {int(in_window.sum())} clean pixels in the fit "
                             f"window", counts=counts, **figures)
    theta, errors, deviance = _fit_window(in_window, comb, rate0, noise0)
    rate, sigma, mu = (float(v) for v in theta)
    band_rates, band_errors = _band_rates(np.concatenate([hist.rows, hist.columns]), window,
                                          comb, sigma, mu, rate)
    split = hist.rows.shape[0]
    row_rates = band_rates[:split], band_errors[:split]
    column_rates = band_rates[split:], band_errors[split:]
    rows = _profile("row", hist.row_edges, hist.row_pixels, *row_rates, shape[0],
                    rows_ascending)
    columns = _profile("column", hist.column_edges, hist.column_pixels, *column_rates, shape[1],
                       columns_ascending)
    extra = {"shifted_rows": 0 if row_shift is None else int(np.count_nonzero(row_shift)),
             "shifted_columns": 0 if column_shift is None
             else int(np.count_nonzero(column_shift))}
    return ElectronRate(rate=rate, error=float(errors[0]), method=method, noise_e=sigma,
                        noise_error=float(errors[1]), offset_e=mu, counts=counts, rows=rows,
                        columns=columns, deviance_per_bin=deviance, extra=extra, **figures)


def fit_electron_rate(electrons, *, clean=None, noise_e=None, row_bands: int = ROW_BANDS,
                      column_bands: int = COLUMN_BANDS, readout_rows: str = "ascending",
                      readout_side: str = "left", align: bool = True) -> ElectronRate:
    """Fit the single-electron rate of pixels already in electrons.

    Parameters
    ----------
    electrons : array_like, shape (H, W)
        Each pixel's charge in electrons above the zero-electron peak (NaN ignored).
    clean : array_like of bool, shape (H, W), optional
        The pixels to measure on (:func:`ccdnb.objects.quality_mask.clean`); all finite
        pixels when None.
    noise_e : float, optional
        A first guess of the read noise in electrons (fitted; 0.2 when None).
    row_bands, column_bands : int
        Bands of the profiles along the readout (rows) and across it (columns).
    readout_rows : {"ascending", "descending"}
        Whether row 0 is read first (DAMIC-M's files, the simulator) or last.
    readout_side : {"left", "right"}
        The amplifier's side: column 0 read first in each row, or the last column.
    align : bool
        Bring every row and column onto the comb of electron peaks before the fit
        (:func:`_line_shifts`): a row pedestal locked onto the one-electron peak of a
        dense field, a baseline step along the rows.

    Returns
    -------
    ElectronRate
        Method ``"Poisson x Gaussian fit of the clean pixels' histogram"``;
        ``extra["shifted_rows"]``, ``extra["shifted_columns"]``: the rows and columns
        whose baseline was shifted.
    """
    e = np.asarray(electrons)
    if e.ndim != 2:
        raise CcdnbInputError(f"expected a 2-D image in electrons, got shape {e.shape}")
    clean = _checked_clean(clean, e.shape)

    def electrons_of(rows, columns):
        return np.array(e[rows, columns], dtype=np.float32)

    return _fit_blocks(electrons_of, e.shape, clean, noise_e=noise_e, image_pixels=e.size,
                       row_bands=row_bands, column_bands=column_bands,
                       readout_rows=readout_rows, readout_side=readout_side,
                       align=align,
                       method="Poisson x Gaussian fit of the clean pixels' histogram")


# --- from ADU ------------------------------------------------------------------------------

def _overscan_rate(x, clean, image_cols, bias_columns, gain, noise_adu, *, row_bands,
                   column_bands, readout_rows, readout_side, reason):
    """Dark current from the image's mean charge over its prescan/overscan level."""
    rows_ascending, columns_ascending = _readout_flags(readout_rows, readout_side)
    height = x.shape[0]
    bias = x[:, ~image_cols].astype(np.float64)
    finite = np.isfinite(bias)
    median = np.nanmedian(np.where(finite, bias, np.nan), axis=1)
    near = finite & (np.abs(bias - median[:, None]) <= CLIP_SIGMA * noise_adu)
    n_bias = near.sum(axis=1)
    level = np.where(n_bias > 0, np.where(near, bias, 0.0).sum(axis=1) / np.maximum(n_bias, 1),
                     np.nan)
    image = x[:, image_cols]
    use = np.isfinite(image) & np.isfinite(level)[:, None]
    if clean is not None:
        use &= clean[:, image_cols]
    charge = image.astype(np.float64) - level[:, None]
    if np.count_nonzero(use) < MIN_PIXELS:
        return None
    # signal the mask missed: far above the mean charge
    cut = np.median(charge[use]) + CLIP_SIGMA * noise_adu
    use &= charge < cut
    charge = np.where(use, charge, 0.0) / gain
    n = use.sum()
    mean = charge.sum() / n
    variance = (charge ** 2).sum() / n - mean ** 2
    level_error = noise_adu / gain / np.sqrt(max(n_bias.sum(), 1))
    error = float(np.sqrt(variance / n + level_error ** 2))

    def bands(axis_pixels, axis_charge, axis_charge2, band_edges):
        pixels = np.add.reduceat(axis_pixels, band_edges[:-1]).astype(np.float64)
        total = np.add.reduceat(axis_charge, band_edges[:-1])
        total2 = np.add.reduceat(axis_charge2, band_edges[:-1])
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(pixels >= MIN_PIXELS, total / pixels, np.nan)
            spread = np.where(pixels >= MIN_PIXELS, total2 / pixels - rate ** 2, np.nan)
            return rate, np.sqrt(np.maximum(spread, 0.0) / pixels + level_error ** 2)

    row_edges = _band_edges(height, row_bands)
    column_edges = _band_edges(image.shape[1], column_bands)
    row_pixels, column_pixels = use.sum(axis=1), use.sum(axis=0)
    rows = _profile("row", row_edges, row_pixels,
                    *bands(row_pixels, charge.sum(axis=1), (charge ** 2).sum(axis=1), row_edges),
                    height, rows_ascending)
    columns = _profile("column", column_edges, column_pixels,
                       *bands(column_pixels, charge.sum(axis=0), (charge ** 2).sum(axis=0),
                              column_edges), image.shape[1], columns_ascending)
    return ElectronRate(rate=float(mean), error=error,
                        method=f"dark current: mean charge over the prescan/overscan level, "
                               f"gain {gain:.4g} ADU/e- ({reason})",
                        noise_e=noise_adu / gain, gain=gain, clean_pixels=int(n),
                        image_pixels=int(image.size), rows=rows, columns=columns,
                        extra={"overscan_level_adu": float(np.nanmedian(level))})


def measure_electron_rate(image, *, clean=None, gain: float | None = None, background=None,
                          field=None, bias_columns=None, row_bands: int = ROW_BANDS,
                          column_bands: int = COLUMN_BANDS, readout_rows: str = "ascending",
                          readout_side: str = "left", max_noise_e: float = MAX_NOISE_E,
                          align: bool = True, fit_comb: bool = True) -> ElectronRate:
    """The single-electron rate of one amplifier, on its clean pixels.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Raw ADU, pedestal included; NaN/inf pixels ignored.
    clean : array_like of bool, shape (H, W), optional
        The pixels to measure on: where the quality mask sets no bit
        (:func:`ccdnb.objects.quality_mask.clean`). Every finite pixel of the image
        area when None.
    gain : float, optional
        ADU per electron. When None, from ``field``, else fitted on the comb of
        electron peaks (:func:`ccdnb.calibration.fit_skipper_gain`).
    background : ccdnb.normalize.Background, optional
        The image's per-row pedestal and read noise (estimated when None, with
        ``bias_columns``).
    field : ccdnb.electron_field.ElectronField or ccdnb.calibration.SkipperGain, optional
        The image's calibration as prediction measured it (its single-electron field)
        or as the comb fit gave it: the gain, the zero peak's offset (``offset`` or
        ``pedestal_offset``, ADU) and the read noise (saves the comb fit).
    bias_columns : slice or sequence of slices, optional
        Prescan/overscan columns (``BIASSEC``): never part of the rate; the dark
        current's reference where electrons are not resolved.
    row_bands, column_bands : int
        Bands of the profiles (see :class:`RateProfile`).
    readout_rows : {"ascending", "descending"}
        Row 0 read first (DAMIC-M's files, the simulator) or last.
    readout_side : {"left", "right"}
        Column 0 read first in each row (amplifier on the left), or the last.
    max_noise_e : float
        Read noise (electrons) above which the peaks are not fitted.
    align : bool
        See :func:`fit_electron_rate`.
    fit_comb : bool
        Fit the comb of electron peaks where neither ``gain`` nor ``field`` is given;
        False where the caller knows the image does not resolve electrons (prediction
        found no single-electron field): the rate then comes from the overscan or is NaN.

    Returns
    -------
    ElectronRate
        ``method`` says which of the three ways the rate was found: the fit of the
        histogram in electrons (gain from the comb fit, the field, or given); the dark
        current over the prescan/overscan (a conventional CCD with such columns and a
        gain); or why it is NaN.

    Raises
    ------
    CcdnbInputError
        An image that is not 2-D, a ``clean`` map of another shape, or an unknown
        readout order.
    """
    from ..normalize import estimate_background

    x = np.asarray(image)
    if x.ndim != 2 or x.size == 0:
        raise CcdnbInputError(f"expected a 2-D image, got shape {x.shape}")
    clean = _checked_clean(clean, x.shape)
    _readout_flags(readout_rows, readout_side)
    image_cols = image_columns(x.shape[1], bias_columns)
    if background is None:
        background = estimate_background(x, bias_columns=bias_columns)
    pedestal, noise_adu = np.asarray(background.pedestal, dtype=np.float64), float(background.noise)
    offset_adu, noise_e, source = 0.0, None, None
    if field is not None:
        offset_adu = getattr(field, "offset", getattr(field, "pedestal_offset", 0.0))
        gain, offset_adu, noise_e = float(field.gain), float(offset_adu), float(field.noise_e)
        source = "gain from the electron comb"
    elif gain is not None:
        gain = float(gain)
        if not (np.isfinite(gain) and gain > 0):
            raise CcdnbInputError(f"gain {gain!r}: must be a positive number of ADU per electron")
        noise_e, source = noise_adu / gain, "gain given"
    elif fit_comb:
        from .gain import fit_skipper_gain

        fit = fit_skipper_gain(x[:, image_cols], background)
        if fit is not None:
            gain, offset_adu, noise_e = float(fit.gain), float(fit.pedestal_offset), fit.noise_e
            source = "gain from the electron comb"
    has_bias = not image_cols.all()
    if gain is None or noise_e is None or not noise_e <= max_noise_e:
        why = ("no comb of electron peaks and no gain" if gain is None
               else f"read noise {noise_e:.2f} e- does not resolve electrons")
        if has_bias and gain is not None:
            measured = _overscan_rate(x, clean, image_cols, bias_columns, gain, noise_adu,
                                      row_bands=row_bands, column_bands=column_bands,
                                      readout_rows=readout_rows, readout_side=readout_side,
                                      reason=why)
            if measured is not None:
                return measured
        image_pixels = int(image_cols.sum() * x.shape[0])
        if gain is None:
            return _not_measured(f"not measured: {why}" + (
                "" if has_bias else "; no prescan/overscan columns"), image_pixels=image_pixels)
        return _not_measured(f"not measured: {why} and no prescan/overscan columns",
                             gain=gain, noise_e=noise_e, image_pixels=image_pixels)

    data = np.flatnonzero(image_cols)
    contiguous = data.size and data[-1] - data[0] + 1 == data.size
    columns = slice(data[0], data[-1] + 1) if contiguous else data
    sub = x[:, columns]
    sub_clean = None if clean is None else clean[:, columns]
    # Where most pixels hold charge, a row's pedestal may sit on its one- or two-electron
    # peak, and rows differ: the pedestals are made continuous across whole-electron
    # jumps from row to row (drift moves them by far less), keeping the zero peak's
    # fraction of an electron; which peak is zero is then settled on all rows at once
    # (_fit_blocks: the pooled whole-electron test).
    levels = pedestal / gain
    jumps = np.concatenate([[0.0], np.cumsum(np.rint(np.diff(levels)))]) if levels.size else levels
    fraction = offset_adu / gain - np.rint(offset_adu / gain)
    base = ((levels - jumps + fraction) * gain).astype(np.float32)
    scale = np.float32(1.0 / gain)

    def electrons_of(rows, columns):
        return (sub[rows, columns].astype(np.float32) - base[rows, None]) * scale

    return _fit_blocks(electrons_of, sub.shape, sub_clean, noise_e=noise_e,
                       image_pixels=int(sub.size), row_bands=row_bands,
                       column_bands=column_bands, readout_rows=readout_rows,
                       readout_side=readout_side, align=align, gain=gain,
                       method=f"Poisson x Gaussian fit of the clean pixels' histogram "
                              f"({source})")
