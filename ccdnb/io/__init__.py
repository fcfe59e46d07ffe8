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

from .._lazy import lazy_names

__all__ = ["atomic", "fits", "labelme"]


__getattr__, __dir__ = lazy_names(__name__, submodules=__all__)
