"""DS9 region files of the cluster catalog, coloured by particle kind.

One file per image, ``<stem>.<EXTNAME>.reg`` (``HDU<n>`` for an image without
EXTNAME), so that each overlays the frame it belongs to in SAOImage DS9
(``ds9 file.fits[EXTNAME] -regions file.<EXTNAME>.reg``). Every cluster is an
ellipse at its charge-weighted centroid with the length, width and angle of
its second moments (:mod:`ccdnb.catalog`), in image pixels, coloured by its
kind (:data:`ccdnb.particles.KIND_COLOURS`) and labelled with the kind and
the energy (keV, or ADU when the gain is unknown). The files are written with
astropy-regions, which also reads them back (:func:`read_region_file`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def catalog_regions(table):
    """The clusters of one image's catalog rows as a :class:`regions.Regions`.

    Parameters
    ----------
    table : astropy.table.Table
        Catalog rows (:data:`ccdnb.catalog.CATALOG_COLUMNS`) of one image.

    Returns
    -------
    regions.Regions
        One :class:`regions.EllipsePixelRegion` per row, in row order.
    """
    import astropy.units as u
    from regions import EllipsePixelRegion, PixCoord, Regions

    from .particles import KIND_COLOURS

    shapes = []
    for row in table:
        kind = str(row["kind"])
        energy = float(row["energy_kev"])
        amount = (f"{energy:.3g} keV" if np.isfinite(energy)
                  else f"{float(row['charge_adu']):.3g} ADU")
        shapes.append(EllipsePixelRegion(
            PixCoord(float(row["x"]), float(row["y"])),
            width=max(float(row["length"]), 1.0), height=max(float(row["width"]), 1.0),
            angle=float(row["theta"]) * u.deg,
            meta={"text": f"{kind} {amount}", "tag": [f"cluster{int(row['cluster'])}", kind]},
            visual={"color": KIND_COLOURS.get(kind, "white")}))
    return Regions(shapes)


def region_path(in_path, out_dir, label: str) -> Path:
    """``out_dir/<stem>.<label>.reg``: the region file of one image of ``in_path``."""
    from .fitsio import output_stem

    return Path(out_dir) / f"{output_stem(in_path)}.{label}.reg"


def region_texts(images, catalog) -> dict[str, str]:
    """DS9 region text of every image: image label -> file content.

    Parameters
    ----------
    images : sequence of ccdnb.fitsio.FitsImage
    catalog : astropy.table.Table
        The file's catalog (:func:`ccdnb.catalog.build_catalog`).
    """
    texts = {}
    for image in images:
        rows = catalog[catalog["hdu"] == image.index]
        header = f"# ccdnb clusters of {image.label} (HDU {image.index}): {len(rows)}\n"
        texts[image.label] = header + catalog_regions(rows).serialize(format="ds9")
    return texts


def read_region_file(path):
    """Read a region file back (:meth:`regions.Regions.read`, DS9 format)."""
    from regions import Regions

    return Regions.read(str(path), format="ds9")
