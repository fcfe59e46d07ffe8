"""Files in and out.

- :mod:`ccdnb.io.atomic`: atomic file writing (outputs appear complete or not at all),
  the one JSON sanitiser;
- :mod:`ccdnb.io.fits`: the images of a detector FITS file in (any image HDU, compressed,
  scaled, raw skipper samples averaged), the class masks out with the input's HDU layout
  and the provenance keywords;
- :mod:`ccdnb.io.labelme`: labelme polygon annotations of real images, to and from
  class masks.

Submodules load on first use.
"""

import importlib

__all__ = ["atomic", "fits", "labelme"]


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
