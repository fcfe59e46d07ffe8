"""Skipper CCDs: images that resolve single electrons.

- :mod:`ccdnb.skipper.comb`: the comb of single-electron peaks (does an image
  resolve electrons, and at what gain);
- :mod:`ccdnb.skipper.electron_rate`: the single-electron rate on an amplifier's
  clean pixels, measured as DAMIC-M's monitoring and SENSEI's releases measure it
  (:func:`measure_electron_rate`).

Submodules load on first use, so that importing one never pays for the others.
"""

from .._lazy import lazy_names

#: Public name -> the submodule that defines it.
_SOURCES = {
    **dict.fromkeys(("SENSEI_EDGES", "ElectronRate", "RateProfile", "fit_electron_rate",
                     "measure_electron_rate"), "electron_rate"),
}


__getattr__, __dir__ = lazy_names(__name__, _SOURCES)


__all__ = ["SENSEI_EDGES", "ElectronRate", "RateProfile",  # noqa: F822 (lazy, see _SOURCES)
           "fit_electron_rate", "measure_electron_rate"]
