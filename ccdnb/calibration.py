"""The gain of each image in ADU per electron, and charges in electrons and keV.

Three sources, in order of trust (:func:`calibrate_image`): a skipper CCD's comb of
single-electron peaks (:mod:`ccdnb.skipper.gain`), the Fe-55 K-alpha and K-beta lines
of its X-ray clusters (:func:`fit_fe55_gain`), the header's GAIN keyword. The comb fit
lives in :mod:`ccdnb.skipper.gain` and is re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skipper.gain import (  # noqa: F401  (re-exported: the comb fit lived here)
    BLOCK_PIXELS,
    FIRST_FIT_PEAKS,
    FIT_BINS_PER_SIGMA,
    FIT_PASSES,
    MAX_DEVIANCE_PER_BIN,
    MAX_FIT_PEAKS,
    MAX_NOISE_E,
    MAX_SAMPLES,
    MAX_SCAN_BINS,
    MAX_SCAN_SAMPLES,
    MIN_CHARGED_PIXELS,
    MIN_DEVIANCE_GAIN,
    MIN_TOOTH_SIGNIFICANCE,
    REFINE_SAMPLES,
    SCAN_BINS_PER_SIGMA,
    SCAN_COARSE_STEP,
    SCAN_GAIN_SIGMA,
    SCAN_PEAKS,
    SCAN_STEP,
    SEED_FIRST_TOOTH,
    SEED_MIN_SCORE,
    SEED_SAMPLES,
    SEED_SPAN,
    SPARSE_FIELD,
    SkipperGain,
    fit_skipper_gain,
)

__all__ = ["EV_PER_ELECTRON", "FE55_LINES_KEV", "MIN_XRAYS", "MAX_LINE_WIDTH", "Fe55Gain",
           "fit_fe55_gain", "Calibration", "NO_GAIN", "header_gain", "calibrate_image",
           "electrons_to_kev", "SEED_SIGMA", "GROW_SIGMA", "find_cluster_charges", "ring_charges",
           "ImageCalibration", "calibrate_images"]

#: Energy to make one electron-hole pair in silicon (eV).
EV_PER_ELECTRON = 3.77


# --- Fe-55 X-ray lines --------------------------------------------------------------------

#: Mn K-alpha and K-beta lines of an Fe-55 source (keV).
FE55_LINES_KEV = (5.90, 6.49)

#: Fewest clusters in the K-alpha line for a fit.
MIN_XRAYS = 50

#: Widest K-alpha line accepted, relative to its position (a sharp line, not a Landau).
MAX_LINE_WIDTH = 0.08


@dataclass(frozen=True)
class Fe55Gain:
    """The result of :func:`fit_fe55_gain`."""

    gain: float
    """ADU per electron (K-alpha position over 5.90 keV / 3.77 eV)."""
    gain_error: float
    """One-sigma statistical uncertainty of ``gain``."""
    kalpha_adu: float
    """Position of the K-alpha line (ADU)."""
    width_adu: float
    """Gaussian width of the K-alpha line (ADU)."""
    n_kalpha: float
    """Clusters in the K-alpha line."""
    n_kbeta: float
    """Clusters in the K-beta line."""
    method: str = "Fe-55 lines"


def fit_fe55_gain(charges_adu) -> Fe55Gain | None:
    """Fit the Mn K-alpha and K-beta lines of a cluster charge spectrum.

    The most populated sharp peak of the spectrum (in log charge) is taken as
    K-alpha; two Gaussians, K-beta at 6.49 / 5.90 of K-alpha's charge and
    width scaled as the square root of the charge, over a flat background,
    are fitted to the clusters within -20 % / +30 % of it (Poisson likelihood).

    Parameters
    ----------
    charges_adu : array_like
        Summed charge of each cluster above the pedestal (ADU).

    Returns
    -------
    Fe55Gain or None
        None with fewer than :data:`MIN_XRAYS` clusters in the line, or when
        the line is wider than :data:`MAX_LINE_WIDTH` of its position.
    """
    from scipy.optimize import least_squares

    charges = np.asarray(charges_adu, dtype=float)
    charges = charges[np.isfinite(charges) & (charges > 0)]
    if charges.size < MIN_XRAYS:
        return None
    # The most populated peak in log charge, smoothed over +-5 %.
    logs = np.log(charges)
    edges = np.arange(logs.min(), logs.max() + 0.01, 0.01)
    if edges.size < 3:
        return None
    counts = np.histogram(logs, edges)[0].astype(float)
    smooth = np.convolve(counts, np.ones(9), mode="same")
    start = float(np.exp(0.5 * (edges[np.argmax(smooth)] + edges[np.argmax(smooth) + 1])))
    ratio = FE55_LINES_KEV[1] / FE55_LINES_KEV[0]
    window = charges[(charges > 0.8 * start) & (charges < 1.3 * start)]
    if window.size < MIN_XRAYS:
        return None
    bins = np.linspace(0.8 * start, 1.3 * start, 101)
    counts = np.histogram(window, bins)[0].astype(float)
    centres, step = 0.5 * (bins[1:] + bins[:-1]), bins[1] - bins[0]

    def expected(p):
        mu, sigma, n_a, n_b, flat = p

        def line(m, s, n):
            return n * step / (np.sqrt(2 * np.pi) * s) * np.exp(-0.5 * ((centres - m) / s) ** 2)
        return (line(mu, sigma, n_a ** 2) + line(ratio * mu, sigma * np.sqrt(ratio), n_b ** 2)
                + flat ** 2)

    def residuals(p):
        m = np.maximum(expected(p), 1e-12)
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(counts > 0, counts * np.log(counts / m), 0.0)
        return np.sign(counts - m) * np.sqrt(np.maximum(2.0 * (m - counts + term), 0.0))

    p0 = [start, 0.03 * start, np.sqrt(0.8 * window.size), np.sqrt(0.15 * window.size), 0.3]
    result = least_squares(residuals, p0, x_scale="jac",
                           bounds=([0.8 * start, 1e-3 * start, 0, 0, 0],
                                   [1.3 * start, 0.3 * start, np.inf, np.inf, np.inf]))
    mu, sigma = float(result.x[0]), abs(float(result.x[1]))
    n_a, n_b = float(result.x[2] ** 2), float(result.x[3] ** 2)
    if n_a < MIN_XRAYS or sigma > MAX_LINE_WIDTH * mu:
        return None
    try:
        dev = float(np.sum(result.fun ** 2))
        scale = max(1.0, dev / max(len(counts) - 5, 1))
        covariance = np.linalg.inv(result.jac.T @ result.jac) * scale
        mu_error = float(np.sqrt(covariance[0, 0]))
    except np.linalg.LinAlgError:
        mu_error = float(sigma / np.sqrt(n_a))
    electrons = FE55_LINES_KEV[0] * 1000.0 / EV_PER_ELECTRON
    return Fe55Gain(gain=mu / electrons, gain_error=mu_error / electrons, kalpha_adu=mu,
                    width_adu=sigma, n_kalpha=n_a, n_kbeta=n_b)


# --- the gain of one image ----------------------------------------------------------------

@dataclass(frozen=True)
class Calibration:
    """The gain of one image and where it comes from."""

    gain: float | None
    """ADU per electron; None when unknown (the catalog stays in ADU)."""
    gain_error: float | None
    method: str
    """``skipper peaks``, ``Fe-55 lines``, ``user``, ``GAIN keyword`` or ``none``."""
    noise_e: float | None = None
    """Read noise in electrons where the fit gives it."""
    fit: object = None
    """The :class:`SkipperGain` or :class:`Fe55Gain` behind it, if any."""

    def header_cards(self) -> list[tuple[str, object, str]]:
        """FITS cards that record the calibration (a masks header)."""
        cards = [("CCDNBGM", self.method, "ccdnb gain method")]
        if self.gain is not None:
            cards.append(("CCDNBGN", float(self.gain), "[adu/e] gain used by the ccdnb catalog"))
            if self.gain_error is not None and np.isfinite(self.gain_error):
                cards.append(("CCDNBGNE", float(self.gain_error), "[adu/e] its uncertainty"))
        if self.noise_e is not None:
            cards.append(("CCDNBNSE", float(self.noise_e), "[e] read noise from the gain fit"))
        return cards


NO_GAIN = Calibration(None, None, "none")


def header_gain(header) -> float | None:
    """The ``GAIN`` keyword of a header, read as ADU per electron, or None.

    Conventions differ: GAIN is often electrons per ADU. A value below 1 with
    a skipper-like noise is ambiguous, so it is taken as written, in ADU per
    electron, the unit of this project; the catalog says so in its method.
    """
    if header is None:
        return None
    value = header.get("GAIN")
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) and value > 0 else None


def calibrate_image(image, *, background=None, charges_adu=None, header=None,
                    gain: float | None = None, skipper: bool = True) -> Calibration:
    """Choose the gain of one image.

    In order: ``gain`` given by the user; the skipper single-electron peaks
    (:func:`fit_skipper_gain`); the Fe-55 lines of the cluster charges
    (:func:`fit_fe55_gain`); the header's GAIN keyword (ADU per electron);
    else none, and energies stay in ADU.
    """
    if gain is not None:
        return Calibration(float(gain), None, "user")
    if skipper:
        fit = fit_skipper_gain(image, background)
        if fit is not None:
            return Calibration(fit.gain, fit.gain_error, fit.method, fit.noise_e, fit)
    if charges_adu is not None:
        fit = fit_fe55_gain(charges_adu)
        if fit is not None:
            return Calibration(fit.gain, fit.gain_error, fit.method, None, fit)
    value = header_gain(header)
    if value is not None:
        return Calibration(value, None, "GAIN keyword")
    return NO_GAIN


def electrons_to_kev(electrons):
    """Energy (keV) of a charge in electrons, at 3.77 eV per electron-hole pair."""
    return np.asarray(electrons, dtype=float) * EV_PER_ELECTRON / 1000.0


# --- a file's images ------------------------------------------------------------------------

#: Classical cluster finding for the Fe-55 lines where no mask is given: groups of
#: pixels at or above GROW_SIGMA holding a pixel at or above SEED_SIGMA (read-noise sigma).
SEED_SIGMA = 4.0
GROW_SIGMA = 2.0


def find_cluster_charges(image, background) -> np.ndarray:
    """Summed charge (ADU above the row pedestal) of the clusters of an image.

    Classical seeds and neighbours (:data:`SEED_SIGMA`, :data:`GROW_SIGMA`,
    8-connected), for :func:`fit_fe55_gain` where no mask from the network is at
    hand; each with a one-pixel ring around it (:func:`ring_charges`).
    """
    from scipy import ndimage

    residual = np.asarray(image, dtype=np.float32) - background.pedestal[:, None]
    residual[~np.isfinite(residual)] = 0.0
    z = residual / np.float32(background.noise)
    labels, n = ndimage.label(z >= GROW_SIGMA, structure=np.ones((3, 3)))
    if n == 0:
        return np.zeros(0)
    index = np.arange(1, n + 1)
    seeded = ndimage.maximum(z, labels, index) >= SEED_SIGMA
    return ring_charges(image, labels, background)[seeded]


def ring_charges(image, labels, background, pixels=None) -> np.ndarray:
    """Summed charge of each labelled cluster with a one-pixel ring around it (ADU).

    A diffused X-ray spreads charge below any threshold into the pixels around
    its footprint: 1-2 % of an Fe-55 line at a few electrons of read noise,
    which would bias the gain low. The ring (8-neighbours outside every
    cluster, each given to one cluster) gets it back; its noise averages out.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Raw ADU.
    labels : ndarray of int, shape (H, W)
        0 outside clusters, 1..n inside.
    background : ccdnb.background.Background
    pixels : tuple of ndarray, optional
        ``np.nonzero(labels)``, when already at hand.
    """
    labels = np.asarray(labels)
    n = int(labels.max(initial=0))
    rows, cols = np.nonzero(labels) if pixels is None else pixels
    ids = labels[rows, cols]
    height, width = labels.shape
    step_r = np.array([-1, -1, -1, 0, 0, 1, 1, 1])
    step_c = np.array([-1, 0, 1, -1, 1, -1, 0, 1])
    ring_r = (rows[:, None] + step_r).ravel()
    ring_c = (cols[:, None] + step_c).ravel()
    ring_id = np.repeat(ids, 8)
    keep = (ring_r >= 0) & (ring_r < height) & (ring_c >= 0) & (ring_c < width)
    ring_r, ring_c, ring_id = ring_r[keep], ring_c[keep], ring_id[keep]
    free = labels[ring_r, ring_c] == 0
    ring_r, ring_c, ring_id = ring_r[free], ring_c[free], ring_id[free]
    _, first = np.unique(ring_r * width + ring_c, return_index=True)  # each pixel once
    all_r = np.concatenate([rows, ring_r[first]])
    all_c = np.concatenate([cols, ring_c[first]])
    all_id = np.concatenate([ids, ring_id[first]])
    signal = np.asarray(image)[all_r, all_c].astype(np.float64) - background.pedestal[all_r]
    signal[~np.isfinite(signal)] = 0.0
    return np.bincount(all_id, weights=signal, minlength=n + 1)[1:]


@dataclass(frozen=True)
class ImageCalibration:
    """The calibration of one image of a file, with what a figure of it needs."""

    label: str
    index: int
    calibration: Calibration
    background: object
    charges_adu: np.ndarray | None

    def record(self) -> dict:
        """One row of ``ccdnb calibrate``'s JSON/CSV output."""
        c = self.calibration
        fit = c.fit
        return {"hdu": self.index, "extname": self.label, "method": c.method,
                "gain_adu_per_e": c.gain, "gain_error": c.gain_error, "noise_e": c.noise_e,
                "noise_adu": float(self.background.noise),
                "n_peaks": getattr(fit, "n_peaks", None),
                "electrons_per_pixel": getattr(fit, "electrons_per_pixel", None),
                "kalpha_adu": getattr(fit, "kalpha_adu", None),
                "n_kalpha": getattr(fit, "n_kalpha", None),
                "n_clusters": None if self.charges_adu is None else int(self.charges_adu.size)}


def calibrate_images(images, *, gain: float | None = None) -> list[ImageCalibration]:
    """The gain of every image of a file, as :func:`calibrate_image` chooses it.

    The Fe-55 lines are fitted to clusters found by classical thresholds
    (:func:`find_cluster_charges`) when no skipper comb is found.

    Parameters
    ----------
    images : sequence of ccdnb.io.fits.FitsImage
    gain : float, optional
        ADU per electron given by the user (recorded as such).
    """
    from .background import estimate_background

    results = []
    for image in images:
        background = estimate_background(image.data, bias_columns=image.bias_columns)
        charges, fit = None, None
        if gain is None:
            fit = fit_skipper_gain(image.data, background)
        if fit is not None:
            calibration = Calibration(fit.gain, fit.gain_error, fit.method, fit.noise_e, fit)
        else:
            if gain is None:
                charges = find_cluster_charges(image.data, background)
            calibration = calibrate_image(image.data, background=background,
                                          charges_adu=charges, header=image.header, gain=gain,
                                          skipper=False)
        results.append(ImageCalibration(image.label, image.index, calibration, background,
                                        charges))
    return results
