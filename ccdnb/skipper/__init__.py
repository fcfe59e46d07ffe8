"""Skipper CCDs: images that resolve single electrons.

- :mod:`ccdnb.skipper.comb`: the comb of single-electron peaks (does an image
  resolve electrons, and at what gain);
- :mod:`ccdnb.skipper.electron_rate`: the single-electron rate on an amplifier's
  clean pixels, measured as DAMIC-M's monitoring and SENSEI's releases measure it
  (:func:`measure_electron_rate`).

Submodules load on first use, so that importing one never pays for the others.
"""

import importlib

#: Public name -> the submodule that defines it.
_SOURCES = {
    **dict.fromkeys(("SENSEI_EDGES", "ElectronRate", "RateProfile", "fit_electron_rate",
                     "measure_electron_rate"), "electron_rate"),
}


def __getattr__(name):
    if name in _SOURCES:
        return getattr(importlib.import_module(f".{_SOURCES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SOURCES))


__all__ = ["SENSEI_EDGES", "ElectronRate", "RateProfile",  # noqa: F822 (lazy, see _SOURCES)
           "fit_electron_rate", "measure_electron_rate"]
