"""Detector changes: the same scene as another detector (or another day) would read it out.

A CCD image in ADU is ``pedestal_row + gain * charge + read noise``. The
changes below act on exactly those terms, about each row's pedestal (the
zero-charge level, :func:`ccdnb.normalize.estimate_background`, unless given):

- :func:`shift_pedestal`: add an offset (one value, or one per row: drift);
- :func:`scale_gain`: scale the signal and the noise about the pedestal;
- :func:`invert_about_pedestal`: ``2 * pedestal - x``, the thesis's "colour
  inversion" in ADU (signals become negative);
- :func:`add_read_noise`: add Gaussian read noise of a given sigma.

They are the one copy used by the training augmenters
(:mod:`ccdnb.training.augment`), the invariance test
(:mod:`ccdnb.evaluation.invariance`) and notebook 03 (:func:`detector_variants`,
:func:`normalisation_differences`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["row_pedestal", "shift_pedestal", "scale_gain", "invert_about_pedestal",
           "add_read_noise", "detector_variants", "normalisation_differences"]


def row_pedestal(image) -> np.ndarray:
    """Each row's zero-charge level, shape (H, 1) float64 (broadcasts over the columns)."""
    from .normalize import estimate_background

    return estimate_background(image).pedestal[:, None]


def shift_pedestal(image, shift):
    """``image + shift``: a pedestal moved by ``shift`` ADU (a scalar, or (H, 1) per row)."""
    return np.asarray(image) + shift


def scale_gain(image, factor, pedestal=None):
    """``pedestal + factor * (image - pedestal)``: signal and noise scaled about the pedestal.

    Parameters
    ----------
    image : array_like, shape (H, W)
    factor : float
        Gain ratio (new / old).
    pedestal : float or array_like broadcasting to the image, optional
        The level to scale about; each row's zero-charge level when None, 0 for
        pedestal-relative data.
    """
    image = np.asarray(image)
    if pedestal is None:
        pedestal = row_pedestal(image)
    return pedestal + factor * (image - pedestal)


def invert_about_pedestal(image, pedestal=None):
    """``2 * pedestal - image``: intensities mirrored about the pedestal (each row's when None)."""
    image = np.asarray(image)
    if pedestal is None:
        pedestal = row_pedestal(image).astype(
            image.dtype if image.dtype.kind == "f" else np.float64)
    return 2.0 * pedestal - image


def add_read_noise(image, sigma, rng):
    """``image`` plus Gaussian noise of standard deviation ``sigma`` drawn from ``rng``.

    ``rng`` is a :class:`numpy.random.Generator` (or anything with its ``normal``
    method, such as imgaug's random state). The noise has the image's float type.
    """
    image = np.asarray(image)
    noise = rng.normal(0.0, sigma, size=image.shape)
    return image + noise.astype(np.result_type(image.dtype, np.float32), copy=False)


def detector_variants(image, *, settings=((20000.0, 40.0), (-300.0, 0.05)), drift_sigma=30.0):
    """The same scene as detectors with other pedestals, gains and a row drift (notebook 03).

    Parameters
    ----------
    image : array_like, shape (H, W)
        Raw ADU.
    settings : sequence of (float, float)
        ``(pedestal ADU, gain factor)`` of each other detector: the image's
        median pedestal moves to the first and its signal and noise are scaled
        by the second.
    drift_sigma : float
        Amplitude, in read-noise sigma, of a sinusoidal per-row drift added to
        the image as simulated (0: no drift variant).

    Returns
    -------
    list of (str, ndarray)
        ``(title, float32 image)``, the image as given first.
    """
    from .normalize import estimate_background

    image = np.asarray(image, dtype=np.float32)
    pedestal, noise = estimate_background(image)
    level = float(np.median(pedestal))
    variants = [(f"as simulated: pedestal\n{level:.0f} ADU, noise {noise:.2g} ADU", image)]
    for new_pedestal, gain in settings:
        scaled = shift_pedestal(scale_gain(image, gain, level), new_pedestal - level)
        variants.append((f"pedestal {new_pedestal:.0f} ADU\nnoise {gain * noise:.2g} ADU",
                         np.asarray(scaled, dtype=np.float32)))
    if drift_sigma:
        drift = drift_sigma * noise * np.sin(np.linspace(0.0, 3.0 * np.pi, image.shape[0]))[:, None]
        variants.append((f"as simulated plus a row\ndrift of +-{drift_sigma:g} noise sigma",
                         np.asarray(shift_pedestal(image, drift), dtype=np.float32)))
    return variants


def normalisation_differences(variants) -> list[dict]:
    """How far the network input of each variant is from the first one's.

    Parameters
    ----------
    variants : list of (str, ndarray)
        From :func:`detector_variants`.

    Returns
    -------
    list of dict
        One per variant after the first: ``title`` (one line), ``max`` and
        ``mean`` absolute difference of :func:`ccdnb.normalize.normalize_image`.
    """
    from .normalize import normalize_image

    reference = normalize_image(variants[0][1])
    rows = []
    for title, image in variants[1:]:
        diff = np.abs(normalize_image(image) - reference)
        rows.append({"title": title.replace("\n", " "), "max": float(diff.max()),
                     "mean": float(diff.mean())})
    return rows
