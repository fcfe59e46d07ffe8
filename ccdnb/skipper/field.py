"""The single-electron field of a skipper image: background, measured in its own noise.

A skipper CCD resolves single electrons (read noise 0.1-0.3 e-), and its frames
carry a field of them: dark current and charge collected while the frame is
read out, from 1e-4 up to about 3 electrons per pixel, rising slowly along the
readout. By the design's convention that field is background at any rate
(``docs/DESIGN.md``, notebook 01). In read-noise sigma, though, one electron is
3 to 10 sigma and a dense field looks like charge everywhere: a network reading
those units sees glow covering the frame.

What separates the field from signal is its statistics, not its level: it is
Poisson, with a rate that changes slowly along the rows. So on an image that
resolves electrons the network's input is the significance over that field,
not over the read noise alone::

    z_field = (e - rate_row) / sqrt(noise_e**2 + rate_row)

``e`` the pixel's charge in electrons (from the gain that
:func:`ccdnb.calibration.fit_skipper_gain` fits on the comb of electron peaks),
``rate_row`` the field's rate in that row (:func:`measure_electron_field`). A
sparse field (rate much below ``noise_e**2``) leaves the read-noise significance
as it was, so a 2-electron cluster keeps its 7-20 sigma; a field of 1 electron
per pixel becomes noise of unit width, as the read noise of a conventional CCD
is, and clusters, glow and hot columns stand above it as they do there. Rows are
measured, never columns: hot columns and glow must stay visible.

The floor of :mod:`ccdnb.predict.rules.signal_floor` counts electrons on such an image
(:meth:`ElectronField.signal_floor`): a pixel is signal beyond doubt only when
its row's field puts that many electrons in fewer than one pixel in a million.
The network's groups are held to the same standard
(:meth:`ElectronField.release_chance_groups`): a cluster or hot pixel whose
charge the field puts into that many pixels more often than once in a million
is the field's doing, and is background.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FIELD_CUT_SIGMA", "MIN_FIELD_CUT", "BLOCK_COLUMNS", "MIN_BAND_ROWS",
           "MIN_CELL_ELECTRONS", "SMOOTH_ROWS", "MIN_POISSON_RATIO", "MIN_DISPERSION",
           "DISPERSION_MIN_RATE", "PEAK_HALF_WINDOW", "SPARSE_MAX_NOISE_E",
           "MIN_ONE_ELECTRON_PIXELS", "DENSE_RATE", "FIELD_FALSE_RATE", "NEIGHBOUR_CHANCE",
           "MAX_FIELD_ELECTRONS", "field_floor_electrons", "field_charge_chance",
           "ElectronField", "measure_electron_field"]

#: Pixels holding more electrons than the field's rate plus this many of its
#: standard deviations (and at least :data:`MIN_FIELD_CUT` electrons) are clusters,
#: hot pixels or glow, not field: they take no part in the rate.
FIELD_CUT_SIGMA = 5.0
MIN_FIELD_CUT = 6
#: The rate is measured in cells of BLOCK_COLUMNS columns by a band of rows
#: (at least MIN_BAND_ROWS, and enough to hold MIN_CELL_ELECTRONS on average):
#: each band's rate is the median of its cells' mean charges, so glow in a corner
#: or a bright track, which fill a minority of a band's cells, do not raise it.
BLOCK_COLUMNS = 32
MIN_BAND_ROWS = 8
MIN_CELL_ELECTRONS = 20.0
#: Rows of the running mean that smooths the per-row rate, interpolated between
#: the bands' centres (the field changes slowly along the readout).
SMOOTH_ROWS = 15
#: A comb fitted on the pixel histogram is a single-electron field only when its
#: 0, 1 and 2 electron peaks are in Poisson proportions: for a Poisson rate, or a
#: mixture of rates along the readout, ``n0 * n2 / n1**2 >= 1/2`` (more where
#: clusters add to the 2-electron peak). Where the field is dense the zero peak
#: holds a few per cent of the pixels and its fitted size is uncertain, so the
#: larger of ``n0`` and ``n1`` stands in for ``n0`` (then ``n2 >= n1 / 4``).
#: Two peaks made by a baseline step of a conventional CCD fail it by orders of
#: magnitude (``n2`` about 1 % of ``n1``).
MIN_POISSON_RATIO = 0.25
#: And only when the rows' electron counts are Poisson, not fewer: a field of
#: independent electrons scatters as much as its mean (variance / mean = 1, more
#: where the rate varies), whereas flat levels one "gain" apart (glow steps, a
#: baseline step) scatter far less. The median over rows holding at least
#: DISPERSION_MIN_RATE e-/pixel must reach MIN_DISPERSION.
MIN_DISPERSION = 0.6
DISPERSION_MIN_RATE = 0.05
#: And, above SPARSE_MAX_NOISE_E of read noise, only when the one-electron peak
#: stands out: at least as many pixels lie within PEAK_HALF_WINDOW electrons of one
#: electron as of the valley at half an electron. A conventional CCD's falling
#: spectrum of charge can be fitted by a comb at about 3 read-noise sigma (0.3-0.35
#: e-, seen on Fe-55 and glow frames), and has no such peak; a true field at 0.3 e-
#: shows it from about 0.5 e-/pixel, and a sparser one changes the significance
#: little. At 0.25 e- or less (4 sigma between peaks) no such mimicry was seen. The
#: same check on the fit's fast seed spares a conventional CCD the fit's scan.
PEAK_HALF_WINDOW = 0.15
SPARSE_MAX_NOISE_E = 0.25
#: Below this many pixels in the 1-electron peak the ratio is not checked: the
#: field is too sparse to mistake, and the comb's 2-4 electron peaks were checked
#: by the fit.
MIN_ONE_ELECTRON_PIXELS = 200
#: Mean rate (electrons per pixel) from which the network reads the image as its
#: significance over the field (:func:`ccdnb.normalize.standardize_image`); below
#: it, the read-noise significance (the floor and the release of chance groups count
#: the field's electrons at any rate). Measured on the held-out sets with the default
#: model: from 0 to 0.05, cluster F1 on sparse skipper frames (`skipper`) 0.682 ->
#: 0.689 (0.694 on read-noise significance) at the same glow on dense ones; at 0.15
#: false clusters on `skipper-dense` double, at 0.3 they are 4.7 times as many.
DENSE_RATE = 0.05
#: A row's field puts at least a signal pixel's charge in fewer than this share of
#: pixels (:meth:`ElectronField.signal_floor`).
FIELD_FALSE_RATE = 1e-6
#: The pixels of a group beside its brightest are field when the field puts their
#: charge there at least this often (:meth:`ElectronField.release_chance_neighbours`).
NEIGHBOUR_CHANCE = 0.05


#: The most electrons a field pixel is tested for: a Poisson field puts 399 electrons in a
#: pixel with a chance below 1e-6 up to a rate of about 330 e-/pixel, far beyond any CCD.
MAX_FIELD_ELECTRONS = 399


def field_floor_electrons(rate, false_rate: float = FIELD_FALSE_RATE) -> np.ndarray:
    """Per row, ``k - 1/2`` with ``k`` the fewest electrons a Poisson field rarely puts in a pixel.

    The one electron floor of ccdnb: :meth:`ElectronField.signal_floor` and the
    signal floor's fallback (:func:`ccdnb.predict.rules.signal_floor.electron_floor`) both use it.

    Parameters
    ----------
    rate : array_like, shape (H,)
        The field's rate per row, electrons per pixel.
    false_rate : float
        ``k`` is the first count whose tail ``P(N >= k)`` is below this.

    Returns
    -------
    ndarray of float64, shape (H,)
    """
    from scipy.special import pdtrc

    k = np.arange(1, MAX_FIELD_ELECTRONS + 1)
    # P(N >= k) = pdtrc(k - 1, rate)
    tail = pdtrc(k[None, :] - 1, np.maximum(np.asarray(rate, dtype=np.float64), 1e-12)[:, None])
    return k[np.argmax(tail < false_rate, axis=1)] - 0.5


def field_charge_chance(charge, expected) -> np.ndarray:
    """The chance that a Poisson field of mean ``expected`` electrons puts ``charge`` or more
    into a group of pixels: ``P(N >= charge)`` (1 for no charge). The one chance test of
    the field's groups (:meth:`ElectronField.release_chance_groups`,
    :meth:`ElectronField.release_chance_neighbours`, the quality mask's loose clusters)."""
    from scipy.special import pdtrc

    # P(N >= q) = pdtrc(q - 1, mean)
    return pdtrc(np.maximum(np.asarray(charge) - 1, 0), np.maximum(expected, 1e-12))


@dataclass(frozen=True)
class ElectronField:
    """The calibration and single-electron field of an electron-resolving image."""

    gain: float
    """ADU per electron."""
    offset: float
    """The zero-electron peak above the per-row pedestal, ADU."""
    noise_e: float
    """Read noise, electrons."""
    rate: np.ndarray
    """(H,) float64: the field's rate in each row, electrons per pixel."""

    @property
    def dense(self) -> bool:
        """Whether the field is dense enough to read the image over it (:data:`DENSE_RATE`)."""
        return bool(np.mean(self.rate) >= DENSE_RATE)

    def electrons(self, image, pedestal) -> np.ndarray:
        """Charge of each pixel in electrons (float32; NaN where not finite)."""
        x = np.asarray(image, dtype=np.float32)
        e = (x - (np.asarray(pedestal, dtype=np.float64) + self.offset)[:, None].astype(
            np.float32)) * np.float32(1.0 / self.gain)
        return e

    def width(self) -> np.ndarray:
        """(H,) the field's standard deviation per row, electrons: read noise and Poisson."""
        return np.sqrt(self.noise_e ** 2 + self.rate)

    def significance(self, image, pedestal) -> np.ndarray:
        """``(e - rate_row) / width_row`` of every pixel (float32, NaN where not finite)."""
        e = self.electrons(image, pedestal)
        e -= self.rate[:, None].astype(np.float32)
        e *= (1.0 / self.width())[:, None].astype(np.float32)
        return e

    def signal_floor(self, noise: float, false_rate: float = FIELD_FALSE_RATE) -> np.ndarray:
        """(H,) per row, the significance of ``k - 1/2`` electrons in the network's units.

        ``k`` is the fewest electrons that the row's field (Poisson at the row's
        rate) puts in a pixel with probability below ``false_rate``: a pixel at
        or above this significance holds charge that the field cannot explain.
        The significance is that of :func:`ccdnb.normalize.standardize_image`
        for this field: over the field where it is :attr:`dense`, else in read
        noise above the row's pedestal, ``((k - 1/2) * gain + offset) / noise``.

        Parameters
        ----------
        noise : float
            The image's read noise, ADU (:class:`ccdnb.normalize.Background`).
        false_rate : float
            The share of pixels the field may put at or above the floor.
        """
        electrons = field_floor_electrons(self.rate, false_rate)
        if self.dense:
            floor = (electrons - self.rate) / self.width()
        else:
            floor = (electrons * self.gain + self.offset) / noise
        return floor.astype(np.float32)

    def release_chance_neighbours(self, mask, electrons, chance: float = NEIGHBOUR_CHANCE,
                                  classes=None) -> int:
        """Give background to the pixels that a one-pixel object takes from the field.

        A hot pixel on a dense field has neighbours holding electrons, and the
        network may draw it with them as a cluster of several pixels. A
        predicted group is a one-pixel object when, its brightest pixel aside,
        the charge of its other pixels is what the field puts there (with
        probability at least ``chance``): those pixels go back to background,
        and the brightest keeps its class.

        Parameters
        ----------
        mask : ndarray of uint8, shape (H, W)
            Class mask; changed in place.
        electrons : ndarray, shape (H, W)
            The image in electrons (:meth:`electrons`).
        chance : float
            The field's probability of at least the other pixels' charge, above
            which they are taken for field.
        classes : sequence of int, optional
            Classes whose groups are tested (default: cluster).

        Returns
        -------
        int
            Pixels released to background.
        """
        from ..classes import CLUSTER
        from ..objects.groups import release_pixels

        electrons = np.asarray(electrons)

        def beside_a_lone_pixel(rows, cols, group, n):
            q = _whole_electrons(electrons, rows, cols)
            rate = self.rate[rows]
            size = np.bincount(group, minlength=n)
            # the brightest pixel of each group, and what the others hold against the field
            order = np.lexsort((-q, group))
            first = order[np.r_[True, group[order][1:] != group[order][:-1]]]
            rest = np.bincount(group, weights=q, minlength=n)
            expected = np.bincount(group, weights=rate, minlength=n)
            rest[group[first]] -= q[first]
            expected[group[first]] -= rate[first]
            lone = (size >= 2) & ((rest < 1) | (field_charge_chance(rest, expected) >= chance))
            drop = lone[group]
            drop[first] = False
            return drop

        return release_pixels(mask, (CLUSTER,) if classes is None else classes,
                              beside_a_lone_pixel)

    def release_chance_groups(self, mask, electrons, classes=None,
                              false_rate: float = FIELD_FALSE_RATE) -> int:
        """Give background to predicted groups whose charge the field explains by chance.

        Parameters
        ----------
        mask : ndarray of uint8, shape (H, W)
            Class mask; changed in place.
        electrons : ndarray, shape (H, W)
            The image in electrons (:meth:`electrons`).
        classes : sequence of int, optional
            Classes whose groups are tested (default: cluster and hot pixel;
            glow is charge spread over many pixels, and never tested).
        false_rate : float
            A group of ``n`` pixels (8-connected) holding ``q`` electrons is
            released when the field (Poisson at ``n`` times the rate of its rows)
            puts ``q`` or more electrons into ``n`` pixels with at least this
            probability: the single-electron field makes about ``false_rate``
            times the image's pixel count of such groups by itself.

        Returns
        -------
        int
            Pixels released to background.
        """
        from ..classes import CLUSTER, HOT_PIXEL
        from ..objects.groups import release_pixels

        electrons = np.asarray(electrons)

        def by_chance(rows, cols, group, n):
            q = np.bincount(group, weights=_whole_electrons(electrons, rows, cols), minlength=n)
            expected = np.bincount(group, weights=self.rate[rows], minlength=n)
            # a group of no charge at all is noise too
            return ((q < 1) | (field_charge_chance(q, expected) >= false_rate))[group]

        return release_pixels(mask, (CLUSTER, HOT_PIXEL) if classes is None else classes,
                              by_chance)


def _whole_electrons(electrons, rows, cols) -> np.ndarray:
    """The pixels' charge rounded to whole electrons, none below zero (NaN as zero)."""
    return np.clip(np.rint(np.nan_to_num(electrons[rows, cols].astype(np.float64))), 0, None)


def _poisson_like(peak_pixels) -> bool:
    """Whether the fitted 0, 1, 2 electron peaks hold Poisson-like shares."""
    n = np.asarray(peak_pixels, dtype=np.float64)
    if n.size < 3 or n[1] < MIN_ONE_ELECTRON_PIXELS:
        return True
    return bool(max(n[0], n[1]) * n[2] >= MIN_POISSON_RATIO * n[1] ** 2)


def _one_electron_peak_stands_out(electrons: np.ndarray) -> bool:
    """Whether more pixels sit near one electron than in the valley below it."""
    e = electrons[np.isfinite(electrons)]
    peak = np.count_nonzero(np.abs(e - 1.0) < PEAK_HALF_WINDOW)
    valley = np.count_nonzero(np.abs(e - 0.5) < PEAK_HALF_WINDOW)
    return peak > 0 and peak >= valley


def _field_counts(electrons: np.ndarray):
    """Electron counts of the field's pixels: ``(counts, kept)``, clusters and hot pixels out."""
    counts = np.rint(electrons)
    finite = np.isfinite(counts)
    overall = float(np.mean(np.clip(counts[finite], 0, None))) if finite.any() else 0.0
    # a first rate from all pixels, then the cut at that rate
    cut = max(MIN_FIELD_CUT, overall + FIELD_CUT_SIGMA * np.sqrt(overall) + 1)
    kept = finite & (counts <= cut)
    return np.where(kept, np.clip(counts, 0, None), 0.0), kept


def _poisson_dispersion(electrons: np.ndarray) -> bool:
    """Whether the rows' counts scatter as a Poisson field does (see :data:`MIN_DISPERSION`)."""
    field, kept = _field_counts(electrons)
    n = kept.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = field.sum(axis=1) / n
        variance = (field ** 2).sum(axis=1) / n - mean ** 2
        rows = (n > 1) & (mean >= DISPERSION_MIN_RATE)
        if not rows.any():
            return True  # too sparse to tell, and too sparse to matter (DENSE_RATE)
        return bool(np.median(variance[rows] / mean[rows]) >= MIN_DISPERSION)


def _row_rates(electrons: np.ndarray) -> np.ndarray:
    """Smoothed per-row field rate from the image in electrons (see the module notes)."""
    from scipy.ndimage import uniform_filter1d

    h, w = electrons.shape
    field, kept = _field_counts(electrons)
    rate = float(field.sum() / max(np.count_nonzero(kept), 1))
    # Cells of a band of rows by BLOCK_COLUMNS columns, tall enough to hold
    # MIN_CELL_ELECTRONS on average (a median of cells that mostly hold no electron
    # would say the field is empty); each band's rate is the median of its cells.
    band = int(np.clip(np.ceil(MIN_CELL_ELECTRONS / max(rate * BLOCK_COLUMNS, 1e-9)),
                       MIN_BAND_ROWS, h))
    row_edges = np.unique(np.r_[np.arange(0, h, band), h])
    col_edges = np.unique(np.linspace(0, w, max(1, w // BLOCK_COLUMNS) + 1).astype(int))
    charge = np.add.reduceat(np.add.reduceat(field, row_edges[:-1], axis=0),
                             col_edges[:-1], axis=1)
    pixels = np.add.reduceat(np.add.reduceat(kept.astype(np.float64), row_edges[:-1], axis=0),
                             col_edges[:-1], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        band_rates = np.nanmedian(np.where(pixels > 0, charge / pixels, np.nan), axis=1)
    good = np.isfinite(band_rates)
    if not good.any():
        return np.zeros(h)
    centres = 0.5 * (row_edges[:-1] + row_edges[1:] - 1)
    rates = np.interp(np.arange(h), centres[good], band_rates[good])
    rates = uniform_filter1d(rates, size=min(SMOOTH_ROWS, h), mode="nearest")
    return np.maximum(rates, 0.0)


def measure_electron_field(image, background) -> ElectronField | None:
    """Calibrate an electron-resolving image and measure its single-electron field.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Raw ADU; NaN/inf pixels ignored.
    background : ccdnb.normalize.Background
        Its per-row pedestal and read noise (:func:`ccdnb.normalize.estimate_background`).

    Returns
    -------
    ElectronField or None
        None when the image does not resolve single electrons: no comb of
        electron peaks fits (:func:`ccdnb.calibration.fit_skipper_gain`; a
        conventional CCD is turned away in about 0.03 s per Mpix), or its 0, 1
        and 2 electron peaks are not in Poisson proportions (two levels of a
        baseline step are not a field of electrons), its rows' counts scatter
        less than Poisson counts do (flat levels of glow), or, at a read noise
        above :data:`SPARSE_MAX_NOISE_E`, its one-electron peak does not stand
        out over the valley below it (:data:`PEAK_HALF_WINDOW`).
    """
    from .comb import electron_comb
    from .gain import SEED_FIRST_TOOTH, SEED_MIN_SCORE, SEED_SAMPLES, fit_skipper_gain

    x = np.asarray(image)
    if x.ndim != 2 or x.size == 0:
        return None
    # The fit's own fast check is loose (a dense field can hide its comb), and on a
    # conventional CCD it often seeds a scan of a second or so that then fails. Its seed
    # is checked here first, in a strided subsample: a comb of 0.25 e- noise or more
    # whose one-electron peak does not stand over the valley below it is no field.
    stride = max(1, int(np.ceil(np.sqrt(x.size / SEED_SAMPLES))))
    sample = (x[::stride, ::stride] - background.pedestal[::stride, None]) / background.noise
    seed = electron_comb(sample, max_samples=SEED_SAMPLES, min_score=SEED_MIN_SCORE,
                         first_tooth=SEED_FIRST_TOOTH)
    if (seed is not None and 1.0 / seed[0] > SPARSE_MAX_NOISE_E
            and not _one_electron_peak_stands_out((sample - seed[1]) / seed[0])):
        return None
    fit = fit_skipper_gain(x, background)
    if fit is None or not _poisson_like(fit.peak_pixels):
        return None
    field = ElectronField(gain=float(fit.gain), offset=float(fit.pedestal_offset),
                          noise_e=float(fit.noise_e), rate=np.zeros(x.shape[0]))
    electrons = field.electrons(x, background.pedestal)
    if fit.noise_e > SPARSE_MAX_NOISE_E and not _one_electron_peak_stands_out(electrons):
        return None
    if not _poisson_dispersion(electrons):
        return None
    return ElectronField(field.gain, field.offset, field.noise_e, _row_rates(electrons))
