"""DS9 region files of the cluster catalog, coloured by particle kind.

One file per image, ``<stem>.<EXTNAME>.reg`` (``HDU<n>`` for an image without
EXTNAME), so that each overlays the frame it belongs to in SAOImage DS9
(``ds9 file.fits[EXTNAME] -regions file.<EXTNAME>.reg``). The label is made safe
for a file name (:func:`region_labels`: characters other than letters, digits and
``._,+-`` become ``_``, so an EXTNAME such as ``../x`` cannot leave the output
folder) and unique in the file (two images of one EXTNAME and no EXTVER get
``<label>_HDU<n>``), so that no image's file overwrites another's. Every cluster is an
ellipse at its charge-weighted centroid with the length, width and angle of
its second moments (:mod:`ccdnb.catalog`), in image pixels, coloured by its
kind (:data:`ccdnb.particles.KIND_COLOURS`) and labelled with the kind and
the energy (keV, or ADU when the gain is unknown). The files hold exactly the
text astropy-regions writes for :func:`catalog_regions` (a test compares them
byte for byte) and read back with it (:func:`read_region_file`); they are
formatted here in one pass because building and serialising one region object
per cluster cost 0.9 s for the 2000 clusters of a 4096 x 4096 frame, more than
the rest of the catalog.

Angles are rounded to the precision written (:data:`PRECISION` decimals) before
they are formatted, in both: a track along a pixel axis has an angle of 0 up to
the last bits of the moment sums, and those bits depend on the CPU's vector
instructions (-0.0 on one machine, 6e-27 on another, which regions would write
as ``6.26510904e-27``). Rounded, every such angle is written ``0.00000000``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

__all__ = ["DS9_HEADER", "PRECISION", "catalog_regions", "ds9_text", "format_angle",
           "read_region_file", "region_labels", "region_path", "region_texts",
           "rounded_angles"]

#: The first lines of a DS9 region file in image pixels, as astropy-regions writes them.
DS9_HEADER = "# Region file format: DS9 astropy/regions\nimage\n"
#: Decimals written for positions, axes and angles (regions' default precision).
PRECISION = 8


def rounded_angles(theta) -> np.ndarray:
    """Angles (degrees) rounded to :data:`PRECISION` decimals, -0.0 made 0.0.

    What the region files hold, so that an angle of zero up to the CPU's last
    bits (-0.0, 0.0, 6e-27) is written alike on every machine.
    """
    return np.round(np.asarray(theta, dtype=np.float64), PRECISION) + 0.0


def format_angle(angle: float) -> str:
    """An angle as regions writes a rounded one (:func:`numpy.array2string`, fixed, 8
    decimals): exponent notation below 1e-4 in magnitude, except 0."""
    if angle != 0.0 and abs(angle) < 1e-4:
        return f"{angle:.{PRECISION}e}"
    return f"{angle:.{PRECISION}f}"


def _labels(table):
    """Kind, colour and label text of every row (as :func:`catalog_regions` makes them)."""
    from .particles import KIND_COLOURS

    kinds = np.asarray(table["kind"]).astype(str)
    energy = np.asarray(table["energy_kev"], dtype=np.float64)
    charge = np.asarray(table["charge_adu"], dtype=np.float64)
    texts = [f"{kind} {e:.3g} keV" if np.isfinite(e) else f"{kind} {q:.3g} ADU"
             for kind, e, q in zip(kinds, energy, charge)]
    colours = [KIND_COLOURS.get(kind, "white") for kind in kinds]
    return kinds, colours, texts


def ds9_text(table) -> str:
    """The DS9 region file of one image's catalog rows (:func:`catalog_regions`'s text).

    Parameters
    ----------
    table : astropy.table.Table
        Catalog rows (:data:`ccdnb.catalog.CATALOG_COLUMNS`) of one image.

    Returns
    -------
    str
        Empty for no rows; else :data:`DS9_HEADER` and one ``ellipse`` line per
        row: centre (1-based pixels), semi-axes, angle (degrees, rounded by
        :func:`rounded_angles`), label, tags and colour. As regions does, a
        label or colour that every row shares is written once, on a ``global``
        line after the first.
    """
    if len(table) == 0:
        return ""

    def column(name):
        return np.asarray(table[name], dtype=np.float64)

    kinds, colours, texts = _labels(table)
    shared = {"text": len(set(texts)) == 1, "color": len(set(colours)) == 1}
    header = DS9_HEADER
    if any(shared.values()):
        common = [f"text={{{texts[0]}}}"] if shared["text"] else []
        common += [f"color={colours[0]}"] if shared["color"] else []
        header = DS9_HEADER.replace("\nimage", "\nglobal " + " ".join(common) + "\nimage")
    text_of = (lambda text: "") if shared["text"] else (lambda text: f"text={{{text}}} ")
    colour_of = (lambda colour: "") if shared["color"] else (lambda colour: f" color={colour}")
    lines = [f"ellipse({x + 1:.8f},{y + 1:.8f},{a:.8f},{b:.8f},{format_angle(t)}) # "
             f"{text_of(text)}tag={{cluster{c}}} tag={{{kind}}}{colour_of(colour)}\n"
             for x, y, a, b, t, text, c, kind, colour in zip(
                 column("x"), column("y"), np.maximum(column("length"), 1.0) / 2,
                 np.maximum(column("width"), 1.0) / 2, rounded_angles(table["theta"]), texts,
                 np.asarray(table["cluster"]).astype(np.int64), kinds, colours)]
    return header + "".join(lines)


def catalog_regions(table):
    """The clusters of one image's catalog rows as a :class:`regions.Regions`.

    Parameters
    ----------
    table : astropy.table.Table
        Catalog rows (:data:`ccdnb.catalog.CATALOG_COLUMNS`) of one image.

    Returns
    -------
    regions.Regions
        One :class:`regions.EllipsePixelRegion` per row, in row order; angles
        rounded as the files hold them (:func:`rounded_angles`).
    """
    import astropy.units as u
    from regions import EllipsePixelRegion, PixCoord, Regions

    columns = {name: np.asarray(table[name]) for name in ("x", "y", "length", "width", "cluster")}
    columns["theta"] = rounded_angles(table["theta"])
    kinds, colours, texts = _labels(table)
    shapes = []
    for i, kind in enumerate(kinds):  # plain arrays: a table row costs more than a region
        shapes.append(EllipsePixelRegion(
            PixCoord(float(columns["x"][i]), float(columns["y"][i])),
            width=max(float(columns["length"][i]), 1.0),
            height=max(float(columns["width"][i]), 1.0),
            angle=float(columns["theta"][i]) * u.deg,
            meta={"text": texts[i], "tag": [f"cluster{int(columns['cluster'][i])}", kind]},
            visual={"color": colours[i]}))
    return Regions(shapes)


def region_path(in_path, out_dir, label: str) -> Path:
    """``out_dir/<stem>.<label>.reg``: the region file of one image of ``in_path``
    (``label`` from :func:`region_labels`)."""
    from ..io.fits import output_stem

    return Path(out_dir) / f"{output_stem(in_path)}.{label}.reg"


def region_labels(images) -> list[str]:
    """The label of each image's region file: safe in a file name, unique in the file.

    Parameters
    ----------
    images : sequence of ccdnb.io.fits.FitsImage

    Returns
    -------
    list of str
        Each image's :attr:`~ccdnb.io.fits.FitsImage.label` with every character
        other than a letter, digit or ``._,+-`` replaced by ``_`` (``HDU<n>`` when
        nothing is left); where two images would share one, ``<label>_HDU<n>``.
    """
    safe = []
    for image in images:
        label = re.sub(r"[^A-Za-z0-9._,+-]", "_", image.label).strip(".")
        safe.append(label or f"HDU{image.index}")
    shared = {label for label in safe if safe.count(label) > 1}
    return [f"{label}_HDU{image.index}" if label in shared else label
            for label, image in zip(safe, images)]


def region_texts(images, catalog) -> dict[str, str]:
    """DS9 region text of every image: file label (:func:`region_labels`) -> file content.

    Parameters
    ----------
    images : sequence of ccdnb.io.fits.FitsImage
    catalog : astropy.table.Table
        The file's catalog (:func:`ccdnb.catalog.build_catalog`).
    """
    texts = {}
    for image, label in zip(images, region_labels(images)):
        rows = catalog[catalog["hdu"] == image.index]
        header = f"# ccdnb clusters of {image.label} (HDU {image.index}): {len(rows)}\n"
        texts[label] = header + ds9_text(rows)
    return texts


def read_region_file(path):
    """Read a region file back (:meth:`regions.Regions.read`, DS9 format)."""
    from regions import Regions

    return Regions.read(str(path), format="ds9")
