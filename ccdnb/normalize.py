"""The network's input from raw ADU: significance over the background, asinh-compressed.

:func:`normalize_image` is the one preprocessing step shared by training and
prediction, so the two can never disagree. It depends on nothing but the image:
the pedestal and read noise are estimated from the pixels themselves
(:mod:`ccdnb.background`: the zero-charge peak of the pixel histogram), which
makes the result independent of the detector's pedestal, gain and noise scale::

    normalize_image(a * image + b) == normalize_image(image)    # any a > 0

``z = (x - pedestal_row) / noise`` and ``asinh(z / ASINH_SOFTENING)``: linear
within a few sigma, logarithmic beyond, so a 1-sigma cluster pixel and a
saturated hot column (z ~ 1e5) both land in a range of about +-12.

On a skipper image that resolves single electrons, the significance is over the
single-electron field instead, which is background at any rate
(:mod:`ccdnb.electron_field`): ``z = (e - rate_row) / sqrt(noise_e**2 + rate_row)``
in electrons. A sparse field leaves it equal to the read-noise significance.

NaN and inf pixels come out as 0. The background estimate's names
(:class:`Background`, :func:`estimate_background`) are re-exported here, where
they lived before :mod:`ccdnb.background`.
"""

from __future__ import annotations

import numpy as np

from .background.core import (
    Background,
    estimate_background,
    fit_zero_charge_peak,  # noqa: F401  (re-exported)
    working_array,
)

__all__ = ["ASINH_SOFTENING", "MEASURE", "standardize_image", "network_input",
           "input_significance", "normalize_image", "Background", "estimate_background",
           "fit_zero_charge_peak"]

#: ``asinh(z / ASINH_SOFTENING)``: z (in read-noise sigma) is mapped linearly
#: below about this value and logarithmically above it.
ASINH_SOFTENING = 2.0


#: ``field`` argument of :func:`standardize_image`: measure the single-electron field.
MEASURE = "measure"


def _field_of(x, background, field):
    """The ``field`` argument resolved: measured when it is :data:`MEASURE`."""
    if isinstance(field, str):
        if field != MEASURE:
            raise ValueError(f"field must be an ElectronField, None or {MEASURE!r}, got {field!r}")
        from .skipper.field import measure_electron_field

        return measure_electron_field(x, background)
    return field


def standardize_image(image, background: Background | None = None, field=MEASURE) -> np.ndarray:
    """The image's significance: in read-noise sigma above each row's pedestal, or
    over the single-electron field where the image resolves electrons.

    ``(x - pedestal_row) / noise`` on a conventional CCD. On a skipper image
    (:func:`ccdnb.electron_field.measure_electron_field` finds its comb of
    electron peaks) the field of single electrons is background, whatever its
    rate: the significance is then over the field's Poisson spread and the read
    noise, ``(e - rate_row) / sqrt(noise_e**2 + rate_row)`` in electrons
    (:mod:`ccdnb.electron_field`), which equals the read-noise significance
    where the field is sparse.

    The step of :func:`normalize_image` before the ``asinh``, kept apart so that
    training computes it once per image and augments in these units (see
    :class:`ccdnb.training.augment.AugmentedSequence`).

    Parameters
    ----------
    image : array_like, shape (H, W)
        Raw ADU; NaN/inf pixels allowed.
    background : Background, optional
        :func:`estimate_background` of this image, when the caller has it already.
    field : ElectronField, None or "measure"
        The image's single-electron field when the caller has measured it, None
        for the read-noise significance whatever the image, ``"measure"``
        (default) to measure it here.

    Returns
    -------
    ndarray, shape (H, W), float32
        Significance per pixel; NaN where the input is not finite.
    """
    x = working_array(image)
    if background is None:
        background = estimate_background(x)
    field = _field_of(x, background, field)
    if field is not None and field.dense:
        z = field.significance(x, background.pedestal)
    else:
        pedestal, noise = background
        z = x - pedestal[:, None].astype(x.dtype)
        z *= x.dtype.type(1.0 / noise)
    z = z.astype(np.float32, copy=False)
    z[~np.isfinite(z)] = np.nan
    return z


def network_input(z) -> np.ndarray:
    """``asinh(z / ASINH_SOFTENING)`` of a :func:`standardize_image` result; NaN gives 0.

    Returns
    -------
    ndarray, float32
    """
    out = np.arcsinh(np.asarray(z, dtype=np.float32) * np.float32(1.0 / ASINH_SOFTENING))
    out[~np.isfinite(out)] = 0.0
    return out


def input_significance(normalised, dtype=np.float64) -> np.ndarray:
    """The significance ``z`` behind network input values: the inverse of :func:`network_input`.

    ``sinh(u) * ASINH_SOFTENING`` in ``dtype`` (float64 by default, for sums and
    medians over many pixels).
    """
    return np.sinh(np.asarray(normalised, dtype=dtype)) * dtype(ASINH_SOFTENING)


def normalize_image(image, background: Background | None = None, field=MEASURE) -> np.ndarray:
    """Turn a raw ADU image into the network's input.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Raw ADU as the detector writes them (pedestal included), any real dtype
        and size; NaN/inf pixels allowed.
    background : Background, optional
        :func:`estimate_background` of this image, when the caller has it already.
    field : ElectronField, None or "measure"
        As in :func:`standardize_image`.

    Returns
    -------
    ndarray, shape (H, W), float32
        ``asinh(z / ASINH_SOFTENING)``, ``z`` the significance of
        :func:`standardize_image`; 0 where the input is not finite. The same
        for ``a * image + b`` (any ``a > 0``, ``b``) up to float rounding.
    """
    x = working_array(image)
    if background is None:
        background = estimate_background(x)
    field = _field_of(x, background, field)
    if field is not None and field.dense:
        return network_input(standardize_image(x, background, field))
    # The read-noise significance in place, in one pass each (a whole frame's input is
    # made here: the extra copies of standardize_image would cost ~0.1 s per 16 Mpix)
    pedestal, noise = background
    z = x - pedestal[:, None].astype(x.dtype)
    z *= x.dtype.type(1.0 / (noise * ASINH_SOFTENING))
    out = np.arcsinh(z, out=z).astype(np.float32, copy=False)
    out[~np.isfinite(out)] = 0.0
    return out
