"""The clean exposure of one amplifier of one frame: the run table's rate columns.

A run knows its defects only once every frame is segmented, so the monitor measures
the clean exposure in a second pass (:class:`ccdnb.monitoring.frame.MonitorTask`):
the frame's mask is settled by the run's defect map and its quality bit mask made
(the prediction pipeline's own ``defect_map`` and ``quality`` stages,
:func:`ccdnb.predict.pipeline.run_stages`, the code behind ``ccdnb predict --defects
--quality``), and the single-electron rate is measured on the clean pixels by
:func:`ccdnb.skipper.electron_rate.measure_electron_rate`, the one function that
``ccdnb predict --quality``/``--catalog`` and notebook 07 use too:

- electron-resolving frames: the Poisson x Gaussian fit of the clean pixels'
  histogram, with the gain and zero peak of the single-electron field prediction read;
- frames that resolve no electrons (a conventional CCD) with a gain: the dark current
  over the prescan/overscan level, where the frame has such columns;
- otherwise NaN, and ``rate_method`` says why.

:func:`rate_columns` turns the result into the table's columns, :func:`no_rate_columns`
gives the same columns, NaN, with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .reading import finite_number

__all__ = ["CleanExposure", "clean_exposure", "rate_columns", "no_rate_columns",
           "readout_time", "RATE_COLUMNS", "READOUT_KEYS"]

#: Header keywords of the readout time (s): pixel-days count half of it on average.
READOUT_KEYS = ("READTIME", "RDTIME", "READOUT")

#: The table's columns of the clean exposure and the rate, with their kinds
#: (:data:`ccdnb.monitoring.table.COLUMNS`).
RATE_COLUMNS = {
    "rate_e_per_pix": "f", "rate_error": "f", "rate_method": "U",
    "rate_slope_per_krow": "f", "rate_slope_error": "f", "noise_e": "f",
    "clean_pixels": "i", "clean_share": "f", "readout_s": "f", "pixel_days": "f",
    "pixels_0e": "f", "pixels_1e": "f", "pixels_2e": "f", "pixels_3e_plus": "f",
}


@dataclass
class CleanExposure:
    """One amplifier's settled mask, quality bit mask and single-electron rate."""

    mask: np.ndarray
    """uint8 classes, settled by the run's defect map where one was given."""
    quality: np.ndarray
    """uint16 quality bits (:mod:`ccdnb.objects.quality_mask`)."""
    rate: object
    """:class:`ccdnb.skipper.electron_rate.ElectronRate` on the clean pixels."""


def clean_exposure(image, mask, background, *, field=None, gain=None, defects=None,
                   bias_columns=None, options=None) -> CleanExposure:
    """Settle ``mask`` with the run's defects, make its quality mask, measure the rate.

    Parameters
    ----------
    image : ndarray (H, W)
        Raw ADU.
    mask : ndarray (H, W) uint8
        The frame's own classes (not changed).
    background : ccdnb.normalize.Background
    field : ccdnb.skipper.field.ElectronField, optional
        The single-electron field prediction measured (gain, zero peak, noise);
        None where the frame resolves no electrons.
    gain : float, optional
        ADU per electron where no field gives it (header or ``--gain``).
    defects : ndarray (H, W) bool, optional
        The run's known hot defects of this amplifier
        (:meth:`ccdnb.defects.DefectMap.for_image`): the mask is settled with them
        (:func:`ccdnb.defects.settle_with_defects`) and they are the quality mask's
        DEFECT bit.
    bias_columns : slice or sequence of slices, optional
        Prescan/overscan columns: the dark current's reference, never clean.
    options : dict, optional
        Options of :func:`ccdnb.objects.quality_mask.quality_mask` (and
        ``readout_rows``/``readout_side``).

    Returns
    -------
    CleanExposure
    """
    from ..predict.pipeline import FrameState, run_stages

    state = FrameState(image=np.asarray(image), model=None, grid=None, batch_size=1,
                       background=background, field=field, mask=np.array(mask, np.uint8),
                       defects=None if defects is None else np.asarray(defects, bool),
                       quality_options=dict(options or {}), bias_columns=bias_columns,
                       gain=gain)
    run_stages(state, only=("defect_map", "quality"))
    return CleanExposure(mask=state.mask, quality=state.quality, rate=state.rate)


def readout_time(headers) -> float:
    """The readout time (s) from the first header with one of :data:`READOUT_KEYS`, else NaN."""
    for header in headers:
        if header is None:
            continue
        for key in READOUT_KEYS:
            if key in header:
                value = finite_number(header[key])
                if value is not None and value >= 0:
                    return float(value)
    return float("nan")


def _reason(method: str) -> str:
    """``none (why)``: the table's form of a rate that was not measured."""
    why = str(method)
    for prefix in ("not measured: ", "not measured"):
        if why.startswith(prefix):
            why = why[len(prefix):]
            break
    return f"none ({why.strip() or 'not measured'})"


def no_rate_columns(reason: str, *, exposure_s: float = np.nan,
                    readout_s: float = np.nan) -> dict:
    """The rate columns of an amplifier whose rate is not measured: NaN, 0 clean pixels,
    ``rate_method`` ``none (reason)``."""
    out = {name: np.nan for name, kind in RATE_COLUMNS.items() if kind == "f"}
    out.update(rate_method=_reason(f"not measured: {reason}"), clean_pixels=0,
               readout_s=readout_s)
    return out


def rate_columns(rate, *, exposure_s: float = np.nan, readout_s: float = np.nan) -> dict:
    """The table's rate columns of ``rate`` (:class:`ccdnb.skipper.electron_rate.ElectronRate`).

    ``pixel_days`` is NaN unless ``exposure_s`` is known (``readout_s`` adds half a
    readout on average, :meth:`ElectronRate.pixel_days`); ``pixels_0e`` ...
    ``pixels_3e_plus`` (SENSEI's edges at 0.63, 1.63, 2.63 e-) are NaN where electrons
    are not resolved; ``rate_method`` is ``none (why)`` where the rate is not measured.
    """
    figures = rate.as_dict()
    out = {name: figures[name] for name in RATE_COLUMNS if name in figures}
    for name, kind in RATE_COLUMNS.items():
        if kind == "f" and name in out:
            value = out[name]
            out[name] = float(value) if value is not None else np.nan
    out["clean_pixels"] = int(rate.clean_pixels)
    out["readout_s"] = float(readout_s)
    out["pixel_days"] = (rate.pixel_days(exposure_s, readout_s) if rate.clean_pixels
                         else np.nan)
    if not rate.measured:
        out["rate_method"] = _reason(rate.method)
    return out
