"""Objects of a segmented frame: what the class mask's groups are, and where a frame is clean.

- :mod:`ccdnb.objects.groups`: the 8-connected groups of a class mask (one cluster, one
  catalog row, one event), and giving chosen groups back to background;
- :mod:`ccdnb.objects.catalog`: one row per cluster (position, size, charge in ADU,
  electrons and keV, shape, particle kind);
- :mod:`ccdnb.objects.particles`: the particle kinds (muon, electron, alpha, X-ray,
  low-energy, serial-register hit) from a cluster's measurements;
- :mod:`ccdnb.objects.ds9`: DS9 region files of a frame's clusters, coloured by kind;
- :mod:`ccdnb.objects.quality_mask`: the quality bit mask of an amplifier, of the kind
  a search for few-electron events applies (cluster, halo, bleed trail, hot pixel, hot
  column, glowing, edge, serial-register event, run defect, neighbour), and the clean
  pixels it leaves (:func:`clean`).

Submodules load on first use.
"""

from .._lazy import lazy_names

#: Public name -> the submodule that defines it.
_SOURCES = {
    **dict.fromkeys(("EIGHT_CONNECTED", "label_groups", "class_groups", "flat_groups",
                     "release_pixels", "count_neighbours"), "groups"),
    **dict.fromkeys(("QUALITY_BITS", "QualityBit", "MaskParameters", "quality_mask", "clean",
                     "bit_shares", "quality_header_cards", "quality_hdu"), "quality_mask"),
}


__getattr__, __dir__ = lazy_names(__name__, _SOURCES)


__all__ = ["QUALITY_BITS", "QualityBit", "MaskParameters",  # noqa: F822 (lazy, see _SOURCES)
           "EIGHT_CONNECTED", "label_groups", "class_groups", "flat_groups", "release_pixels",
           "count_neighbours",
           "bit_shares", "clean", "quality_hdu", "quality_header_cards", "quality_mask"]
