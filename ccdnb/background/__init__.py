"""The background of a CCD image: pedestal per row and read noise from the zero-charge peak,
overscan and prescan columns where a readout has them (:mod:`ccdnb.background.core`)."""

from .core import Background, estimate_background, fit_zero_charge_peak

__all__ = ["Background", "estimate_background", "fit_zero_charge_peak"]
