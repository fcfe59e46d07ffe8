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

    columns = {name: np.asarray(table[name]) for name in
               ("x", "y", "length", "width", "theta", "energy_kev", "charge_adu", "cluster")}
    kinds = np.asarray(table["kind"]).astype(str)
    shapes = []
    for i, kind in enumerate(kinds):  # plain arrays: a table row costs more than a region
        energy = float(columns["energy_kev"][i])
        amount = (f"{energy:.3g} keV" if np.isfinite(energy)
                  else f"{float(columns['charge_adu'][i]):.3g} ADU")
        shapes.append(EllipsePixelRegion(
            PixCoord(float(columns["x"][i]), float(columns["y"][i])),
            width=max(float(columns["length"][i]), 1.0),
            height=max(float(columns["width"][i]), 1.0),
            angle=float(columns["theta"][i]) * u.deg,
            meta={"text": f"{kind} {amount}",
                  "tag": [f"cluster{int(columns['cluster'][i])}", kind]},
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
