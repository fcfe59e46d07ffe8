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

from ..._lazy import lazy_names

__all__ = ["noise_groups", "serial_hits", "signal_floor"]


__getattr__, __dir__ = lazy_names(__name__, submodules=__all__)
