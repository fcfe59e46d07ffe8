"""The rules after the network: what the physics says a mask must hold.

The network decides what a group of pixels is; these rules fix what it cannot get
wrong. Each is a stage of :data:`ccdnb.predict.pipeline.STAGES` and can be switched
off by name.

- :mod:`ccdnb.predict.rules.noise_groups`: no signal invented: a predicted group whose
  summed charge is read noise goes back to background;
- :mod:`ccdnb.predict.rules.signal_floor`: no signal lost: a pixel 5 sigma above the
  background (or, on a skipper CCD, above the single-electron field) is never
  background; the floor's glowing lumps that are hits are relabelled;
- :mod:`ccdnb.predict.rules.serial_hits`: a one-row hot group whose charge is not one
  level is a serial-register hit, a cluster.

Submodules load on first use.
"""

import importlib

__all__ = ["noise_groups", "serial_hits", "signal_floor"]


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
