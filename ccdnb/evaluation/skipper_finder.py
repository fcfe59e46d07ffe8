"""The classical cluster finder of skipper-CCD experiments (SENSEI, DAMIC-M).

At skipper noise (0.1-0.3 e-) every electron is many read-noise sigma, so
thresholds in sigma say little; the experiments count electrons instead:

1. **Calibrate in electrons**: the per-row pedestal and the read noise from the
   image (:func:`ccdnb.normalize.estimate_background`); the gain either given
   (``gain=``, ADU per electron, as a run's calibration knows it) or read off
   the spacing of the single-electron peaks by the fast comb check
   :func:`ccdnb.skipper.comb.electron_comb` (spacing in read-noise sigma times
   the estimated noise, refined by a straight-line fit through the 0 to 6
   electron peaks; the accurate fit, :func:`ccdnb.calibration.fit_skipper_gain`,
   is too slow to run on every image here). Every pixel is then rounded to
   whole electrons (negative counts become 0).
2. **Measure the single-electron field**: dark current and charge collected
   during readout put Poisson-distributed single electrons over the frame,
   background by the design's convention. Their rate rises along the readout;
   it is measured per row as a straight line through the rows' mean charge in
   pixels of at most :data:`FIELD_MAX_ELECTRONS` (more is cluster charge).
3. **Seed and grow**: a seed pixel holds at least ``seed_e`` electrons, a
   neighbour joins its group (8-connected, :mod:`scipy.ndimage`) at
   ``grow_e``. Where the field is dense both thresholds rise to the charge
   the row's field reaches in fewer than ``seed_field_rate`` (``grow_field_rate``)
   of its pixels: without that, at 1.7 e-/pixel a 1-electron neighbour
   threshold joins the whole frame into one "cluster".
4. **Keep** a group when its total charge is at least ``min_charge_e``
   electrons and it has at least two pixels or one pixel holding more than the
   field puts in one pixel of ``1 / single_field_rate`` (its chance level): a
   lone pixel of a few electrons is what the field makes by itself.

:func:`classify_skipper` returns a class mask (cluster or background) like
:func:`ccdnb.evaluation.baseline.classify_baseline`, for
:func:`ccdnb.evaluation.report.evaluate_predictions`. :func:`calibrate_electrons`
and :func:`find_clusters` split the work so that a threshold scan calibrates
each image once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..classes import BACKGROUND, CLUSTER
from ..objects.groups import EIGHT_CONNECTED, label_groups

__all__ = ["SKIPPER_FINDER_DEFAULTS", "FIELD_MAX_ELECTRONS", "ZERO_PEAK_RATIO", "MAX_FIELD_LEVEL",
           "ElectronImage", "field_rate", "field_level", "footprint_chance",
           "calibrate_electrons", "find_clusters", "classify_skipper", "SEED_FIELD_RATES",
           "finder_at_false_rate"]

#: Default thresholds; every one is a keyword of :func:`find_clusters` and
#: :func:`classify_skipper`.
SKIPPER_FINDER_DEFAULTS = dict(
    seed_e=1,
    grow_e=1,
    min_charge_e=2,
    seed_field_rate=1e-3,
    grow_field_rate=1e-2,
    single_field_rate=1e-6,
)

#: Pixels holding more electrons than this count as cluster charge, not field,
#: when the field's rate is measured (as :mod:`ccdnb.predict.rules.signal_floor` does).
FIELD_MAX_ELECTRONS = 6
#: A peak below the pedestal holding at least this share of the pixels of the peak
#: above it is the real zero-electron peak (the pedestal locked onto one electron).
#: Read noise of 0.3 e- rounds under 5 % of the zero-electron pixels to -1.
ZERO_PEAK_RATIO = 0.2
#: Most electrons a Poisson field level is searched up to.
MAX_FIELD_LEVEL = 200


@dataclass(frozen=True)
class ElectronImage:
    """An image counted in electrons (:func:`calibrate_electrons`)."""

    electrons: np.ndarray
    """Whole electrons per pixel, int32 (H, W), at least 0."""
    field_rate: np.ndarray
    """Single-electron field per row (electrons per pixel), float64 (H,)."""
    gain_adu: float
    """ADU per electron used."""
    noise_e: float
    """Read noise, electrons."""
    gain_source: str
    """``"given"`` or ``"comb"``."""


def field_rate(electrons) -> np.ndarray:
    """Single-electron rate per row: a straight line along the rows.

    Parameters
    ----------
    electrons : array_like of int, shape (H, W)

    Returns
    -------
    ndarray of float64, shape (H,)
        The rows' mean charge in pixels of at most :data:`FIELD_MAX_ELECTRONS`
        (cluster pixels above it count as 0), fitted by a line over the rows
        (one row holds too few pixels for its own rate), at least a tenth of
        the image's mean.
    """
    e = np.asarray(electrons, dtype=np.float64)
    field = np.where(e <= FIELD_MAX_ELECTRONS, e, 0.0)
    per_row = field.mean(axis=1)
    rows = np.arange(per_row.size, dtype=np.float64)
    if rows.size > 1:
        slope, level = np.polyfit(rows, per_row, 1)
    else:
        slope, level = 0.0, per_row[0]
    return np.maximum(level + slope * rows, 0.1 * per_row.mean())


def field_level(rate, probability) -> np.ndarray:
    """Fewest electrons a Poisson field of ``rate`` puts in a pixel with a chance below
    ``probability``.

    Parameters
    ----------
    rate : array_like of float
        Electrons per pixel.
    probability : float
        Chance per pixel.

    Returns
    -------
    ndarray of int, shape of ``rate``
        The smallest ``k >= 1`` with ``P(N >= k) < probability``.
    """
    from scipy.special import pdtrc

    rate = np.maximum(np.asarray(rate, dtype=np.float64), 1e-12)
    k = np.arange(1, MAX_FIELD_LEVEL + 1)
    tail = pdtrc(k - 1, rate[..., None])  # P(N >= k)
    below = tail < probability
    return np.where(below.any(axis=-1), k[np.argmax(below, axis=-1)], MAX_FIELD_LEVEL)


def footprint_chance(calibrated: ElectronImage, instances, ids) -> np.ndarray:
    """Chance that the single-electron field alone fills each object's footprint as full.

    An upper bound on what any finder can see: it is told exactly which pixels
    an object owns (the truth footprint) and asks whether their summed charge
    stands out of the field's Poisson fluctuation there. A diffuse deposit of
    ten electrons spread over 30 pixels of a 1 e-/pixel field is
    indistinguishable from the field, whoever looks.

    Parameters
    ----------
    calibrated : ElectronImage
        The image in electrons and its field rate per row (:func:`calibrate_electrons`).
    instances : array_like of int, shape (H, W)
        Owner id of each pixel, 0 for none.
    ids : array_like of int
        The objects asked about.

    Returns
    -------
    ndarray of float64, shape (len(ids),)
        ``P(N >= S)`` with ``S`` the electrons in the footprint and ``N`` Poisson
        with the field's summed rate over it; 1 for an empty footprint.
    """
    from scipy.special import pdtrc

    instances = np.asarray(instances)
    ids = np.asarray(ids, dtype=np.int64)
    n = max(int(instances.max(initial=0)), int(ids.max(initial=0))) + 1
    charge = np.bincount(instances.ravel(), weights=calibrated.electrons.ravel().astype(
        np.float64), minlength=n)
    rate = np.broadcast_to(calibrated.field_rate[:, None], instances.shape)
    expected = np.bincount(instances.ravel(), weights=rate.ravel(), minlength=n)
    size = np.bincount(instances.ravel(), minlength=n)
    chance = np.where(charge[ids] > 0, pdtrc(charge[ids] - 1, expected[ids]), 1.0)
    return np.where(size[ids] > 0, chance, 1.0)


def _refine_spacing(z, gain, offset, *, iterations=3):
    """The comb's spacing and offset refined by a straight-line fit through the peaks.

    The pixels within a quarter of a spacing of the 0 to :data:`FIELD_MAX_ELECTRONS`
    electron peaks are fitted as ``offset + n * gain``; a few iterations bring a
    spacing a few per cent off onto the peaks (a 4 % error misreads a 4-electron
    pixel already).
    """
    values = z[np.abs(z) < (FIELD_MAX_ELECTRONS + 0.5) * gain + abs(offset)].ravel()
    for _ in range(iterations):
        n = np.rint((values - offset) / gain)
        near = (n >= 0) & (n <= FIELD_MAX_ELECTRONS) & (
            np.abs(values - offset - n * gain) < 0.25 * gain)
        if np.unique(n[near]).size < 2:
            break
        gain, offset = (float(v) for v in np.polyfit(n[near], values[near], 1))
    return gain, offset


def calibrate_electrons(image, *, gain=None) -> ElectronImage:
    """Count the electrons of each pixel of a skipper image.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Raw ADU, pedestal included (per-row drift allowed); NaN/inf count as 0
        electrons.
    gain : float, optional
        ADU per electron. Without it the single-electron spacing comes from
        :func:`ccdnb.skipper.comb.electron_comb`.

    Returns
    -------
    ElectronImage

    Raises
    ------
    ValueError
        ``gain`` is not positive, or is not given and the image does not
        resolve single electrons (no comb of electron peaks).
    """
    from ..normalize import estimate_background
    from ..skipper.comb import electron_comb

    x = np.asarray(image, dtype=np.float64)
    pedestal, noise = estimate_background(x)
    z = (x - pedestal[:, None]) / noise
    z[~np.isfinite(z)] = 0.0
    if gain is None:
        comb = electron_comb(z)
        if comb is None:
            raise ValueError("the image does not resolve single electrons (no comb of "
                             "electron peaks); give its gain")
        gain_sigma, offset = _refine_spacing(z, *comb)
        source = "comb"
    else:
        if not gain > 0:
            raise ValueError(f"gain must be positive, got {gain}")
        gain_sigma = float(gain) / noise
        zero = z[np.abs(z) < 0.5 * gain_sigma]
        offset = float(np.median(zero)) if zero.size else 0.0
        source = "given"
    counts = np.rint((z - offset) / gain_sigma).astype(np.int64)
    # Where most pixels hold charge the pedestal may sit on the one-electron peak:
    # a well-filled peak below zero is then the real zero.
    while True:
        below = np.count_nonzero(counts == -1)
        if below < 30 or below < ZERO_PEAK_RATIO * np.count_nonzero(counts == 0):
            break
        counts += 1
    electrons = np.clip(counts, 0, None).astype(np.int32)
    return ElectronImage(electrons=electrons, field_rate=field_rate(electrons),
                         gain_adu=float(gain_sigma * noise), noise_e=float(1.0 / gain_sigma),
                         gain_source=source)


def _options(options):
    unknown = set(options) - set(SKIPPER_FINDER_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown skipper finder option(s): {', '.join(sorted(unknown))}")
    return {**SKIPPER_FINDER_DEFAULTS, **options}


def find_clusters(calibrated: ElectronImage, **options) -> np.ndarray:
    """The cluster pixels of an image counted in electrons.

    Parameters
    ----------
    calibrated : ElectronImage
        From :func:`calibrate_electrons`.
    **options
        Overrides of :data:`SKIPPER_FINDER_DEFAULTS`: ``seed_e``, ``grow_e``
        (electrons of a seed pixel and of a grown neighbour), ``min_charge_e``
        (least total charge of a group), ``seed_field_rate``, ``grow_field_rate``
        (per row, the thresholds rise to the charge the field reaches in fewer
        than this share of pixels) and ``single_field_rate`` (a one-pixel group
        must hold a charge the field reaches in fewer than this share of pixels).

    Returns
    -------
    ndarray of bool, shape (H, W)
    """
    opt = _options(options)
    e = calibrated.electrons
    rate = calibrated.field_rate
    seed_at = np.maximum(opt["seed_e"], field_level(rate, opt["seed_field_rate"]))
    grow_at = np.minimum(np.maximum(opt["grow_e"], field_level(rate, opt["grow_field_rate"])),
                         seed_at)
    single_at = np.maximum(seed_at, field_level(rate, opt["single_field_rate"]))
    seeds = e >= seed_at[:, None]
    if not seeds.any():
        return np.zeros(e.shape, dtype=bool)
    from scipy import ndimage

    grown = ndimage.binary_propagation(seeds, structure=EIGHT_CONNECTED,
                                       mask=e >= grow_at[:, None])
    groups, n = label_groups(grown)
    size = np.bincount(groups.ravel(), minlength=n + 1)
    charge = np.bincount(groups.ravel(), weights=e.ravel(), minlength=n + 1)
    beyond_chance = np.bincount(groups[e >= single_at[:, None]], minlength=n + 1) > 0
    keep = (charge >= opt["min_charge_e"]) & ((size >= 2) | beyond_chance)
    keep[0] = False
    return keep[groups]


def classify_skipper(image, *, gain=None, **options) -> np.ndarray:
    """Segment a skipper image into clusters and background, as the experiments do.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Raw ADU (pedestal included), as for the network; NaN/inf allowed.
    gain : float, optional
        ADU per electron (see :func:`calibrate_electrons`).
    **options
        Thresholds of :func:`find_clusters`.

    Returns
    -------
    ndarray of uint8, shape (H, W)
        Class mask: 3 (cluster) on the clusters found, 0 (background) elsewhere.

    Raises
    ------
    ValueError
        No ``gain`` and no comb of electron peaks in the image.
    """
    _options(options)
    clusters = find_clusters(calibrate_electrons(image, gain=gain), **options)
    return np.where(clusters, CLUSTER, BACKGROUND).astype(np.uint8)


#: Field chance levels of a seed scanned by :func:`finder_at_false_rate`.
SEED_FIELD_RATES = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)


def finder_at_false_rate(dataset, target_rate, *, gains=None, min_pixels=2,
                         on_background_only=False, seed_field_rates=SEED_FIELD_RATES,
                         seed_range=(1, 64), compare=(2, 10), calibrated=None, **options):
    """The skipper finder tuned to a false-cluster rate, for a fair efficiency comparison.

    Each image is counted in electrons once (:func:`calibrate_electrons`); then,
    for each seed chance level in ``seed_field_rates``, the seed threshold
    ``seed_e`` (whole electrons) is bisected for the lowest one whose rate of
    false clusters of at least ``min_pixels`` pixels
    (:func:`ccdnb.evaluation.events.false_cluster_components`) is at or below
    ``target_rate``. Of those, the one finding the most clusters of
    ``compare`` electrons wins: the finder's best efficiency at no more false
    clusters than the predictor it is compared with.

    Parameters
    ----------
    dataset : ccdnb.simulation.Dataset
        ``images``, ``instances``, ``objects`` (``energy_kev`` among its fields).
    target_rate : float
        False clusters per megapixel to match.
    gains : sequence of float or None, optional
        ADU per electron of each image (None: from the image's electron comb).
    min_pixels : int
        Least size of a counted false cluster.
    on_background_only : bool
        Count only the false clusters that touch no true object of any class.
        The finder knows no hot column or glow: it calls their charge clusters
        whatever its thresholds, as an experiment would before masking its
        known defects.
    seed_field_rates : sequence of float
        Values of ``seed_field_rate`` tried.
    seed_range : (int, int)
        Lowest and highest ``seed_e`` tried.
    compare : (float, float)
        Charge band (whole electrons, ``[low, high)``) whose efficiency chooses.
    calibrated : list of ElectronImage, optional
        The images already counted in electrons (saves calibrating them again).
    **options
        Other :func:`find_clusters` thresholds, held fixed.

    Returns
    -------
    info : dict
        ``seed_e``, ``seed_field_rate`` (tuned), ``options`` (every threshold
        used), ``false_clusters``, ``false_clusters_per_mpix`` (reached),
        ``target_false_clusters_per_mpix``, ``min_pixels``,
        ``on_background_only``, ``reached``,
        ``efficiency_compare``, ``compare_electrons``, ``gain_sources`` (how
        many images took their gain from where) and ``finder_runs``.
    masks : ndarray, shape (N, H, W), uint8
        The tuned finder's masks.
    """
    from . import events

    images = np.asarray(dataset.images)
    instances, objects = np.asarray(dataset.instances), dataset.objects
    if calibrated is None:
        gains = [None] * len(images) if gains is None else list(gains)
        calibrated = [calibrate_electrons(im, gain=g) for im, g in zip(images, gains)]
    megapixels = images.size / 1e6
    runs = 0

    def attempt(seed, chance):
        nonlocal runs
        masks = np.stack([np.where(find_clusters(c, seed_e=seed, seed_field_rate=chance,
                                                 **options), CLUSTER, BACKGROUND)
                          for c in calibrated]).astype(np.uint8)
        runs += len(calibrated)
        false = events.false_cluster_components(masks, instances, objects,
                                                min_pixels=min_pixels,
                                                on_background_only=on_background_only)
        return false / megapixels, masks

    best = None
    for chance in seed_field_rates:
        low, high = int(seed_range[0]), int(seed_range[1])
        rate, masks = attempt(low, chance)
        seed = low
        if rate > target_rate:
            rate_high, masks_high = attempt(high, chance)
            if rate_high > target_rate:
                seed, rate, masks = high, rate_high, masks_high
            else:  # rate(low) above, rate(high) at or below the target
                while high - low > 1:
                    middle = (low + high) // 2
                    rate_mid, masks_mid = attempt(middle, chance)
                    if rate_mid <= target_rate:
                        high, rate_high, masks_high = middle, rate_mid, masks_mid
                    else:
                        low = middle
                seed, rate, masks = high, rate_high, masks_high
        found, clusters = events.cluster_detection(masks, instances, objects)
        band = events.band_efficiency(
            events.electron_efficiency_table(found, clusters["energy_kev"],
                                             (compare[0], compare[1])), *compare)
        eff = band["efficiency"]
        score = (rate <= target_rate, -np.inf if np.isnan(eff) else eff, -rate)
        if best is None or score > best[0]:
            best = (score, seed, chance, rate, masks, eff)
    _, seed, chance, rate, masks, eff = best
    sources = [c.gain_source for c in calibrated]
    info = {"seed_e": int(seed), "seed_field_rate": float(chance),
            "options": {**_options(options), "seed_e": int(seed), "seed_field_rate": chance},
            "false_clusters": int(round(rate * megapixels)),
            "false_clusters_per_mpix": float(rate),
            "target_false_clusters_per_mpix": float(target_rate),
            "min_pixels": int(min_pixels), "on_background_only": bool(on_background_only),
            "reached": bool(rate <= target_rate),
            "efficiency_compare": eff, "compare_electrons": [float(v) for v in compare],
            "gain_sources": {s: sources.count(s) for s in sorted(set(sources))},
            "finder_runs": runs}
    return info, masks
