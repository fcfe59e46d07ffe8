"""The quality mask: which pixels of an amplifier a search for few-electron events keeps.

A search for events of a few electrons counts electrons only where nothing else put
charge (the design's "clean exposure"). SENSEI's releases (SENSEI 2020,
arXiv:2004.11378) and DAMIC-M's searches (arXiv:2302.02372, arXiv:2503.14617) mask
every pixel that a known source of charge may have reached; the single-electron rate
is measured on what is left (:func:`ccdnb.skipper.electron_rate.measure_electron_rate`).

:func:`quality_mask` returns one ``uint16`` per pixel, a bit per reason
(:data:`QUALITY_BITS`, one table of names, bits, meanings and sources):

====  ===========  ==========================================================
bit   name         the pixel is ...
====  ===========  ==========================================================
0     CLUSTER      a cluster pixel of the class mask
1     HALO         within ``halo_radius`` px of a pixel of ``halo_threshold_e`` e- or more
                   (of charge the class mask calls no defect, unless ``defect_seeds``)
2     BLEED        in the charge-transfer trail of such a pixel: ``bleed_row_length`` px
                   along its row and ``bleed_column_length`` px along its column, on the
                   side read after it
3     HOTPIX       a hot pixel of the class mask
4     HOTCOL       in a hot column: a vertical hot-pixel group of ``hot_column_min_rows``
                   rows or more, or a column whose clean charge stands
                   ``column_excess_sigma`` standard errors above the amplifier's
5     GLOW         glowing in the class mask, within ``glow_margin`` px of it, or in its
                   tail: rings around it whose charge stands above the field's
6     EDGE         within ``edge_width`` px of the image area's border
7     SERIAL       on the row segment of a serial-register event
8     DEFECT       flagged by the run's defect map (hot or glowing)
9     NEIGHBOR     within ``neighbour_width`` px of a cluster pixel
10    OVERSCAN     a prescan/overscan column: no exposure
11    NONFINITE    NaN or infinite in the image
====  ===========  ==========================================================

:func:`clean` gives the pixels with no bit set. Everything a bit needs is a keyword of
:func:`quality_mask` (:class:`MaskParameters`, whose fields carry their help and source),
so the command line and the API expose them all. :func:`quality_header_cards` names the
bits and the parameters in a FITS header (``QBIT0 = 'CLUSTER'``, ...);
:func:`quality_hdu` builds the HDU ``ccdnb predict --quality`` writes.

Readout order: row 0 is read first (``readout_rows="ascending"``, DAMIC-M's files and
the simulator) and, in each row, the column on the amplifier's side
(``readout_side``). Charge a bright pixel leaves behind during transfer is read after
it: in the rows above it and in the columns away from the amplifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from ..classes import CLUSTER, GLOWING, HOT_PIXEL
from ..errors import CcdnbInputError

__all__ = ["QUALITY_BITS", "QualityBit", "MaskParameters", "bit_shares", "clean",
           "quality_hdu", "quality_header_cards", "quality_mask"]


@dataclass(frozen=True)
class QualityBit:
    """One bit of the quality mask."""

    name: str
    """FITS-friendly name (``QBITn`` keyword value)."""
    bit: int
    description: str
    parameters: tuple
    """The :class:`MaskParameters` fields it uses."""
    source: str


#: The bits, in bit order (see the module notes).
QUALITY_BITS = (
    QualityBit("CLUSTER", 0, "cluster pixel of the class mask", (),
               "SENSEI 2020 cluster mask; DAMIC-M 2023/2025 cluster masks"),
    QualityBit("HALO", 1, "within halo_radius px of a pixel of halo_threshold_e e- or more",
               ("halo_threshold_e", "halo_radius"), "SENSEI 2020 halo mask"),
    QualityBit("BLEED", 2, "charge-transfer trail: bleed_row_length px along the row and "
               "bleed_column_length px along the column, read after a pixel of "
               "bleed_threshold_e e- or more",
               ("bleed_threshold_e", "bleed_row_length", "bleed_column_length",
                "readout_rows", "readout_side"),
               "SENSEI 2020 bleeding-zone mask; DAMIC-M 2023/2025 charge-transfer trails"),
    QualityBit("HOTPIX", 3, "hot pixel of the class mask", (),
               "SENSEI 2020 noisy/bad pixel mask"),
    QualityBit("HOTCOL", 4, "hot column: a vertical hot-pixel group of hot_column_min_rows "
               "rows or more, or excess charge column_excess_sigma standard errors above the "
               "amplifier's", ("hot_column_min_rows", "column_excess_sigma"),
               "SENSEI 2020 bad column mask; DAMIC-M hot columns from excess charge per column"),
    QualityBit("GLOW", 5, "glowing in the class mask, within glow_margin px of it, or in "
               "its tail (rings whose charge stands above the field's)",
               ("glow_margin", "glow_excess_sigma", "glow_ring", "glow_max_margin"),
               "ccdnb classes (amplifier and edge glow)"),
    QualityBit("EDGE", 6, "within edge_width px of the image area's border", ("edge_width",),
               "SENSEI 2020 edge mask"),
    QualityBit("SERIAL", 7, "row segment of a serial-register event",
               ("serial_min_pixels", "serial_margin"), "SENSEI 2020 serial-register hit mask"),
    QualityBit("DEFECT", 8, "flagged by the run's defect map (hot or glowing)", (),
               "ccdnb.defects run defect map (SENSEI's and DAMIC-M's masks from many images)"),
    QualityBit("NEIGHBOR", 9, "within neighbour_width px of a cluster pixel",
               ("neighbour_width",), "SENSEI 2020 neighbour mask"),
    QualityBit("OVERSCAN", 10, "prescan or overscan column (no exposure)", (), "BIASSEC"),
    QualityBit("NONFINITE", 11, "NaN or infinite pixel value", (), "ccdnb FITS input"),
)
_BIT = {b.name: b.bit for b in QUALITY_BITS}


def _option(default, help_text, source):
    return field(default=default, metadata={"help": help_text, "source": source})


@dataclass(frozen=True)
class MaskParameters:
    """Every option of :func:`quality_mask`, with its default, meaning and source.

    The thresholds of 100 e- are SENSEI 2020's (arXiv:2004.11378) for its halo and
    bleeding-zone masks. SENSEI's images hold a few high-energy events each; a
    DAMIC-M amplifier holds tens (about 130 clusters on the real 320 x 640 amplifier
    of issue 20), so the disc radius and trail lengths are chosen here to keep
    most of such an amplifier (benchmarks/electron_rate.py measures the share each
    bit takes; SENSEI's own larger values are one keyword away).
    """

    halo_threshold_e: float = _option(
        100.0, "pixels of at least this many electrons seed the halo",
        "SENSEI 2020 (arXiv:2004.11378): halo around pixels above 100 e-")
    halo_radius: float = _option(
        20.0, "radius (px) of the halo disc around each seed pixel",
        "chosen for DAMIC-M-sized amplifiers (SENSEI 2020 masks a larger disc)")
    bleed_threshold_e: float = _option(
        100.0, "pixels of at least this many electrons leave a charge-transfer trail",
        "SENSEI 2020: bleeding zone from pixels above 100 e-")
    bleed_row_length: int = _option(
        100, "trail length (px) along the row, on the side read after the pixel",
        "SENSEI 2020 bleeding zone along the serial direction")
    bleed_column_length: int = _option(
        50, "trail length (px) along the column, in the rows read after the pixel",
        "SENSEI 2020 bleeding zone along the vertical direction")
    hot_column_min_rows: int = _option(
        10, "a vertical hot-pixel group of this many rows makes its whole column hot",
        "chosen here (SENSEI/DAMIC-M mask bad columns whole)")
    column_excess_sigma: float | None = _option(
        5.0, "a column whose clean mean charge stands this many standard errors above the "
             "amplifier's median column is hot (None: off)",
        "DAMIC-M practice: hot columns flagged from excess charge per column")
    defect_seeds: bool = _option(
        False, "hot and glowing pixels seed halos and trails too (by default only charge "
               "the class mask does not call a defect: ionisation events)",
        "SENSEI 2020 halos and bleeding zones around high-energy events")
    glow_margin: int = _option(
        5, "pixels within this distance (px) of glowing pixels are masked too",
        "chosen here: the glow's tail below one read-noise sigma")
    glow_excess_sigma: float | None = _option(
        1.0, "beyond glow_margin, rings of glow_ring px around the glow are masked while "
             "their charge stands this many standard errors above the rows' field "
             "(None: off)", "chosen here: the glow's tail, measured")
    glow_ring: int = _option(4, "width (px) of those rings", "chosen here")
    # (1 standard error: a tail left at the threshold biases a rate of 0.001 e-/pixel by
    # about its own error; measured in benchmarks/electron_rate.py)
    glow_max_margin: int = _option(
        300, "the rings reach at most this far (px) from the glow", "chosen here")
    edge_width: int = _option(
        2, "pixels within this distance (px) of the image area's border are masked",
        "SENSEI 2020 edge mask (width chosen for DAMIC-M-sized amplifiers)")
    serial_min_pixels: int = _option(
        4, "one-row cluster groups of at least this many pixels are serial-register events "
           "(where no serial map is given)", "ccdnb.serial_hits.SERIAL_MIN_PIXELS")
    serial_margin: int = _option(
        0, "the serial event's row segment is widened by this many pixels on each side",
        "SENSEI 2020 serial-register hit mask (its row segment)")
    neighbour_width: int = _option(
        1, "pixels within this distance (px, square) of a cluster pixel",
        "SENSEI 2020 neighbour mask (1 px)")
    readout_rows: str = _option(
        "ascending", "'ascending': row 0 is read first; 'descending': the last row",
        "DAMIC-M files and the ccdnb simulator read row 0 first")
    readout_side: str = _option(
        "left", "'left': column 0 of each row is read first (amplifier on the left); "
                "'right': the last column", "the amplifier's side")

    def __post_init__(self):
        for name in ("halo_threshold_e", "halo_radius", "bleed_threshold_e"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value >= 0):
                raise CcdnbInputError(f"quality mask option {name}={value!r}: must be a number "
                                      f">= 0")
        for name in ("bleed_row_length", "bleed_column_length", "hot_column_min_rows",
                     "glow_margin", "glow_ring", "glow_max_margin", "edge_width",
                     "serial_min_pixels", "serial_margin", "neighbour_width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise CcdnbInputError(f"quality mask option {name}={value!r}: must be a whole "
                                      f"number >= 0")
        for name in ("column_excess_sigma", "glow_excess_sigma"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise CcdnbInputError(f"quality mask option {name}={value!r}: must be > 0 or "
                                      f"None")
        if self.glow_ring < 1:
            raise CcdnbInputError(f"quality mask option glow_ring={self.glow_ring!r}: must be "
                                  f"at least 1")
        if self.readout_rows not in ("ascending", "descending"):
            raise CcdnbInputError(f"quality mask option readout_rows={self.readout_rows!r}: "
                                  "expected 'ascending' or 'descending'")
        if self.readout_side not in ("left", "right"):
            raise CcdnbInputError(f"quality mask option readout_side={self.readout_side!r}: "
                                  "expected 'left' or 'right'")

    @classmethod
    def options(cls) -> list[dict]:
        """Every option: ``name``, ``default``, ``help``, ``source`` (a CLI builds on it)."""
        return [{"name": f.name, "default": f.default, "help": f.metadata["help"],
                 "source": f.metadata["source"]} for f in fields(cls)]

    @classmethod
    def of(cls, **options) -> MaskParameters:
        """Parameters from keyword options; an unknown name is one clear error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise CcdnbInputError(f"unknown quality mask option(s) {', '.join(unknown)}; "
                                  f"known: {', '.join(sorted(known))}")
        return cls(**options)


# --- the bits ------------------------------------------------------------------------------

def _disc_offsets(radius):
    r = int(np.floor(radius))
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    inside = dy * dy + dx * dx <= radius * radius
    return dy[inside], dx[inside]


def _halo(seeds, radius):
    """Pixels within ``radius`` of a seed (discs stamped from the seeds' outline)."""
    from scipy import ndimage

    out = seeds.copy()
    if not seeds.any() or radius <= 0:
        return out
    # the discs around every pixel of a region are the discs around its outline
    outline = seeds & ~ndimage.binary_erosion(seeds, border_value=0)
    rows, cols = np.nonzero(outline)
    dy, dx = _disc_offsets(radius)
    height, width = seeds.shape
    step = max(1, 4_000_000 // dy.size)  # bounded memory: seeds in chunks
    for start in range(0, rows.size, step):
        r = (rows[start:start + step, None] + dy[None, :]).ravel()
        c = (cols[start:start + step, None] + dx[None, :]).ravel()
        keep = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        out[r[keep], c[keep]] = True
    return out


def _trail(seeds, length, axis, forward):
    """Pixels within ``length`` after a seed along ``axis`` (``forward``: increasing index)."""
    out = np.zeros_like(seeds)
    if length <= 0 or not seeds.any():
        return out
    view = seeds if axis == 1 else seeds.T
    target = out if axis == 1 else out.T
    lines = np.flatnonzero(view.any(axis=1))
    sub = view[lines]
    if not forward:
        sub = sub[:, ::-1]
    n = sub.shape[1]
    position = np.where(sub, np.arange(n)[None, :], -n - length - 1)
    last = np.maximum.accumulate(position, axis=1)
    trail = (np.arange(n)[None, :] - last <= length) & ~sub
    if not forward:
        trail = trail[:, ::-1]
    target[lines] = trail
    return out


def _glow_tail(electrons, distance, classes, p):
    """The rings around the glow whose charge stands above the field of their rows.

    Glow falls off with distance from its source; the class mask stops where it drops
    below about one read-noise sigma, and the tail beyond holds charge a rate of
    thousandths of an electron per pixel cannot ignore. Rings of ``glow_ring`` px from
    ``glow_margin`` outwards are masked up to the first beyond which all the rings out to
    ``glow_max_margin`` together hold charge within ``glow_excess_sigma`` standard errors
    of what the field of their rows holds
    (each row's mean charge over pixels farther than ``glow_max_margin`` from the glow
    and of no class; whole electrons, clipped above the field's reach).
    """
    out = np.zeros(distance.shape, dtype=bool)
    far = (distance > p.glow_max_margin) & (classes == 0) & np.isfinite(electrons)
    if not far.any():
        return out
    charge = np.clip(np.rint(np.nan_to_num(electrons.astype(np.float32), nan=0.0)), 0, None)
    typical = float(np.mean(charge[far]))
    # a pixel above the field's reach is a cluster the class mask missed, not glow
    cap = np.float32(typical + 6.0 * np.sqrt(max(typical, 0.05)) + 2.0)
    charge = np.minimum(charge, cap)
    n = far.sum(axis=1)
    row_rate = np.where(n > 0, np.where(far, charge, 0.0).sum(axis=1) / np.maximum(n, 1), np.nan)
    rows = np.arange(row_rate.size)
    known = np.isfinite(row_rate)
    row_rate = np.interp(rows, rows[known], row_rate[known])
    ring = np.ceil((distance - p.glow_margin) / p.glow_ring).astype(np.int64)
    inside = (ring >= 1) & (distance <= p.glow_max_margin) & (classes == 0)
    inside &= np.isfinite(electrons)
    n_rings = int(np.ceil((p.glow_max_margin - p.glow_margin) / p.glow_ring)) + 1
    r_idx, c_idx = np.nonzero(inside)
    which = ring[r_idx, c_idx]
    observed = np.bincount(which, weights=charge[r_idx, c_idx], minlength=n_rings + 1)
    expected = np.bincount(which, weights=row_rate[r_idx], minlength=n_rings + 1)
    pixels = np.bincount(which, minlength=n_rings + 1)
    # the spread of a pixel's charge: the field's Poisson spread and any read noise
    spread = float(np.var(charge[far])) if far.sum() > 1 else max(typical, 1e-3)
    # the first ring beyond which the whole remaining tail holds no significant charge:
    # a long faint tail is many rings each too faint to see, and together a bias
    excess = np.cumsum((observed - expected)[::-1])[::-1]
    spread_sum = max(spread, 1e-6) * np.cumsum(pixels[::-1])[::-1]
    beyond = np.append(excess[1:], 0.0), np.append(spread_sum[1:], 0.0)
    quiet = beyond[0] <= p.glow_excess_sigma * np.sqrt(beyond[1])
    quiet[0] = False
    last = int(np.argmax(quiet[1:])) + 1 if quiet[1:].any() else n_rings
    last = last if excess[1] > p.glow_excess_sigma * np.sqrt(spread_sum[1]) else 0
    if last:
        out = (distance > p.glow_margin) & (distance <= p.glow_margin + last * p.glow_ring)
    return out


def _vertical_runs(hot, min_rows):
    """Columns holding a vertical run of at least ``min_rows`` hot pixels."""
    from scipy import ndimage

    if not hot.any() or min_rows <= 0:
        return np.zeros(hot.shape[1], dtype=bool)
    labels, n = ndimage.label(hot, structure=np.array([[0, 1, 0], [0, 1, 0], [0, 1, 0]]))
    length = np.bincount(labels.ravel(), minlength=n + 1)
    long_runs = length >= min_rows
    long_runs[0] = False
    columns = np.zeros(hot.shape[1], dtype=bool)
    rows, cols = np.nonzero(long_runs[labels])
    columns[cols] = True
    return columns


def _excess_columns(electrons, free, sigma):
    """Columns whose mean charge over ``free`` pixels stands ``sigma`` errors above the rest."""
    # free pixels are finite (NONFINITE is set before)
    e = np.where(free, np.asarray(electrons, dtype=np.float32), np.float32(0))
    n = free.sum(axis=0).astype(np.float64)
    ok = n >= 10
    if np.count_nonzero(ok) < 5:
        return np.zeros(e.shape[1], dtype=bool)
    total = e.sum(axis=0, dtype=np.float64)
    squares = np.einsum("ij,ij->j", e, e, dtype=np.float64)
    mean = np.where(ok, total / np.maximum(n, 1), np.nan)
    second = np.where(ok, squares / np.maximum(n, 1), np.nan)
    typical = float(np.nanmedian(mean))
    # the spread of one pixel's charge (read noise and Poisson), from the typical column
    spread = float(np.sqrt(max(np.nanmedian(second - mean ** 2), 1e-12)))
    z = (mean - typical) / (spread / np.sqrt(np.maximum(n, 1)))
    return ok & (z > sigma)


def _serial_segments(shape, serial, classes, min_pixels, margin):
    """Row segments of the serial-register events: ``serial``'s groups, or else the
    one-row cluster groups of at least ``min_pixels`` pixels."""
    from ..classes import class_groups, label_groups

    out = np.zeros(shape, dtype=bool)
    if serial is not None:
        labels, n = label_groups(serial)
        rows, cols = np.nonzero(labels)
        group = labels[rows, cols] - 1
    else:
        rows, cols, group, n = class_groups(classes, CLUSTER)
        if n:
            size = np.bincount(group, minlength=n)
            first = np.full(n, np.iinfo(np.int64).max)
            last = np.full(n, -1)
            np.minimum.at(first, group, rows)
            np.maximum.at(last, group, rows)
            keep = ((first == last) & (size >= min_pixels))[group]
            rows, cols, group = rows[keep], cols[keep], group[keep]
    if rows.size == 0:
        return out
    # per (group, row): the columns from the first to the last, widened by the margin
    key = group.astype(np.int64) * shape[0] + rows
    unique, inverse = np.unique(key, return_inverse=True)
    low = np.full(unique.size, np.iinfo(np.int64).max)
    high = np.full(unique.size, -1)
    np.minimum.at(low, inverse, cols)
    np.maximum.at(high, inverse, cols)
    low = np.maximum(low - margin, 0)
    high = np.minimum(high + margin, shape[1] - 1)
    for r, a, b in zip(unique % shape[0], low, high):
        out[r, a:b + 1] = True
    return out


def _defect_flags(defects, amplifier, shape):
    """Boolean map of a run's defects: a DefectMap (hot or glowing) or a boolean map."""
    from ..defects import DefectMap

    if defects is None:
        return None
    if isinstance(defects, DefectMap):
        defects.for_image(amplifier, shape)  # checks the amplifier and the shape
        label = amplifier if amplifier is not None else defects.amplifiers[0]
        return defects.flag(label) != 0
    flags = np.asarray(defects)
    if flags.shape != tuple(shape):
        raise CcdnbInputError(f"defect map of shape {flags.shape} for an image of shape "
                              f"{tuple(shape)}")
    return flags.astype(bool)


def _electrons(electrons, image, gain, pedestal, shape):
    if electrons is not None:
        e = np.asarray(electrons)
        if e.shape != tuple(shape):
            raise CcdnbInputError(f"image in electrons of shape {e.shape} for a class mask of "
                                  f"shape {tuple(shape)}")
        return e
    if image is None:
        return None
    if gain is None or pedestal is None:
        raise CcdnbInputError("quality mask from an image in ADU: give its gain (ADU per "
                              "electron) and pedestal too")
    x = np.asarray(image, dtype=np.float32)
    if x.shape != tuple(shape):
        raise CcdnbInputError(f"image of shape {x.shape} for a class mask of shape "
                              f"{tuple(shape)}")
    pedestal = np.asarray(pedestal, dtype=np.float32)
    base = pedestal[:, None] if pedestal.ndim == 1 else pedestal
    return (x - base) * np.float32(1.0 / float(gain))


def _image_columns(width, bias_columns):
    image = np.ones(width, dtype=bool)
    if bias_columns is None:
        return image
    for columns in [bias_columns] if isinstance(bias_columns, slice) else bias_columns:
        image[columns] = False
    return image


def quality_mask(classes, electrons=None, *, image=None, gain=None, pedestal=None,
                 defects=None, amplifier=None, serial=None, bias_columns=None,
                 **options) -> np.ndarray:
    """The quality bit mask of one amplifier (see the module notes for the bits).

    Parameters
    ----------
    classes : array_like of uint8, shape (H, W)
        The class mask (0 background, 1 glowing, 2 hot pixel, 3 cluster): the network's,
        or the simulation's truth.
    electrons : array_like, shape (H, W), optional
        Each pixel's charge in electrons above the zero-electron peak (halo, bleed and
        the columns' excess charge need it).
    image, gain, pedestal : optional
        Instead of ``electrons``: the image in ADU, ADU per electron and the pedestal
        (per row (H,), or (H, W)).
    defects : ccdnb.defects.DefectMap or array_like of bool, optional
        The run's defect map (its hot and glowing flags) or a boolean map.
    amplifier : str, optional
        The amplifier's label in ``defects`` (a map of one amplifier needs none).
    serial : array_like of bool, shape (H, W), optional
        The pixels of serial-register hits (those :func:`ccdnb.serial_hits.name_serial_hits`
        renamed). Without it, one-row cluster groups of ``serial_min_pixels`` or more.
    bias_columns : slice or sequence of slices, optional
        Prescan/overscan columns: OVERSCAN, and the image area's border for EDGE.
    **options
        Any field of :class:`MaskParameters`.

    Returns
    -------
    ndarray of uint16, shape (H, W)
        The bits of :data:`QUALITY_BITS`. Without ``electrons`` (or ``image`` and its
        calibration) HALO, BLEED and the columns' excess charge are not computed.

    Raises
    ------
    CcdnbInputError
        Arrays of other shapes, an unknown or invalid option, a defect map without
        the amplifier.
    """
    from scipy import ndimage

    p = MaskParameters.of(**options)
    classes = np.asarray(classes)
    if classes.ndim != 2:
        raise CcdnbInputError(f"expected a 2-D class mask, got shape {classes.shape}")
    shape = classes.shape
    height, width = shape
    e = _electrons(electrons, image, gain, pedestal, shape)
    out = np.zeros(shape, dtype=np.uint16)

    def put(name, where):
        np.bitwise_or(out, np.uint16(1 << _BIT[name]), out=out, where=where)

    cluster = classes == CLUSTER
    hot = classes == HOT_PIXEL
    glowing = classes == GLOWING
    put("CLUSTER", cluster)
    put("HOTPIX", hot)
    if p.neighbour_width > 0 and cluster.any():
        size = 2 * p.neighbour_width + 1
        put("NEIGHBOR", ndimage.maximum_filter(cluster, size=size) & ~cluster)
    if glowing.any():
        distance = ndimage.distance_transform_edt(~glowing)
        grown = distance <= p.glow_margin
        if e is not None and p.glow_excess_sigma is not None:
            grown |= _glow_tail(e, distance, classes, p)
        put("GLOW", grown)
    if e is not None:
        with np.errstate(invalid="ignore"):
            seeding = np.isfinite(e) if p.defect_seeds else np.isfinite(e) & ~hot & ~glowing
            halo_seeds = seeding & (e >= p.halo_threshold_e)
            bleed_seeds = seeding & (e >= p.bleed_threshold_e)
        put("HALO", _halo(halo_seeds, p.halo_radius))
        forward_rows = p.readout_rows == "ascending"
        forward_cols = p.readout_side == "left"
        bleed = _trail(bleed_seeds, p.bleed_row_length, axis=1, forward=forward_cols)
        bleed |= _trail(bleed_seeds, p.bleed_column_length, axis=0, forward=forward_rows)
        put("BLEED", bleed)
    hot_columns = _vertical_runs(hot, p.hot_column_min_rows)
    image_cols = _image_columns(width, bias_columns)
    finite_pixels = None
    if image is not None:
        finite_pixels = np.isfinite(np.asarray(image))
    elif e is not None:
        finite_pixels = np.isfinite(e)
    if finite_pixels is not None:
        put("NONFINITE", ~finite_pixels)
    put("SERIAL", _serial_segments(shape, None if serial is None else np.asarray(serial, bool),
                                   classes, p.serial_min_pixels, p.serial_margin))
    flags = _defect_flags(defects, amplifier, shape)
    if flags is not None:
        put("DEFECT", flags)
    # the image area's border
    if p.edge_width > 0:
        columns = np.flatnonzero(image_cols)
        edge = np.zeros(shape, dtype=bool)
        edge[:p.edge_width, :] = edge[height - p.edge_width:, :] = True
        if columns.size:
            edge[:, columns[0]:columns[0] + p.edge_width] = True
            edge[:, max(columns[-1] + 1 - p.edge_width, 0):columns[-1] + 1] = True
        put("EDGE", edge)
    overscan = ~image_cols
    if overscan.any():
        put("OVERSCAN", np.broadcast_to(overscan[None, :], shape))
    if e is not None and p.column_excess_sigma is not None:
        # the columns' charge on the pixels no other bit took
        free = (out == 0) & ~hot_columns[None, :] & image_cols[None, :]
        hot_columns |= _excess_columns(e, free, p.column_excess_sigma)
    hot_columns &= image_cols
    if hot_columns.any():
        put("HOTCOL", np.broadcast_to(hot_columns[None, :], shape))
    return out


def clean(mask) -> np.ndarray:
    """Where no bit of a quality mask is set: the pixels a search counts electrons on."""
    return np.asarray(mask) == 0


def bit_shares(mask) -> dict:
    """Share of the pixels each bit covers (bits overlap), and the clean share.

    Returns
    -------
    dict
        ``{name: share}`` for every bit of :data:`QUALITY_BITS`, and ``"clean"``.
    """
    mask = np.asarray(mask)
    n = max(mask.size, 1)
    shares = {b.name: float(np.count_nonzero(mask & np.uint16(1 << b.bit)) / n)
              for b in QUALITY_BITS}
    shares["clean"] = float(np.count_nonzero(mask == 0) / n)
    return shares


def quality_header_cards(parameters: MaskParameters | None = None, *,
                         with_charge: bool = True) -> list[tuple[str, object, str]]:
    """FITS cards naming the bits (``QBIT0 = 'CLUSTER'`` ...) and the mask's parameters.

    Parameters
    ----------
    parameters : MaskParameters, optional
        Those the mask was made with (the defaults when None).
    with_charge : bool
        Whether the charge in electrons was at hand (HALO, BLEED and the columns'
        excess charge computed); recorded as ``QCHARGE``.
    """
    p = parameters if parameters is not None else MaskParameters()
    cards = [(f"QBIT{b.bit}", b.name, b.description[:47]) for b in QUALITY_BITS]
    cards += [
        ("QCHARGE", bool(with_charge), "charge in e- known: HALO, BLEED computed"),
        ("QHALOQ", float(p.halo_threshold_e), "[e-] halo seed threshold"),
        ("QHALOR", float(p.halo_radius), "[px] halo radius"),
        ("QBLEEDQ", float(p.bleed_threshold_e), "[e-] bleed trail seed threshold"),
        ("QBLEEDR", int(p.bleed_row_length), "[px] bleed trail along the row"),
        ("QBLEEDC", int(p.bleed_column_length), "[px] bleed trail along the column"),
        ("QHOTROWS", int(p.hot_column_min_rows), "[px] vertical hot group of a hot column"),
        ("QCOLSIG", float(p.column_excess_sigma) if p.column_excess_sigma is not None
         else "off", "column excess charge threshold (sigma)"),
        ("QGLOWM", int(p.glow_margin), "[px] glow margin"),
        ("QGLOWSIG", float(p.glow_excess_sigma) if p.glow_excess_sigma is not None else "off",
         "glow tail ring threshold (sigma)"),
        ("QGLOWRNG", int(p.glow_ring), "[px] glow tail ring width"),
        ("QGLOWMAX", int(p.glow_max_margin), "[px] glow tail reach"),
        ("QDEFSEED", bool(p.defect_seeds), "hot/glow pixels seed halos and trails"),
        ("QEDGE", int(p.edge_width), "[px] edge width"),
        ("QSERMIN", int(p.serial_min_pixels), "[px] shortest serial-register event"),
        ("QSERMAR", int(p.serial_margin), "[px] serial event segment margin"),
        ("QNEIGH", int(p.neighbour_width), "[px] neighbour width"),
        ("QROWS", p.readout_rows, "row readout order (ascending: row 0 first)"),
        ("QSIDE", p.readout_side, "amplifier side of the rows"),
    ]
    return cards


def quality_hdu(mask, header=None, *, name: str | None = None,
                parameters: MaskParameters | None = None, with_charge: bool = True,
                rate=None):
    """The quality mask as an image HDU (``ccdnb predict --quality``).

    Parameters
    ----------
    mask : ndarray of uint16, shape (H, W)
        :func:`quality_mask`.
    header : astropy.io.fits.Header, optional
        The input image's header, copied (its data keywords are dropped).
    name : str, optional
        EXTNAME (e.g. ``QUALITY`` or ``CCD_A_QUALITY``).
    parameters : MaskParameters, optional
        Recorded in the header (:func:`quality_header_cards`).
    with_charge : bool
        See :func:`quality_header_cards`.
    rate : ccdnb.skipper.electron_rate.ElectronRate, optional
        The rate measured on the mask's clean pixels, recorded too.

    Returns
    -------
    astropy.io.fits.ImageHDU
        uint16 data (astropy writes it with ``BZERO = 32768``), the bits named.
    """
    from astropy.io import fits

    data = np.asarray(mask, dtype=np.uint16)
    hdu = fits.ImageHDU(data=data)
    if header is not None:
        skip = {"SIMPLE", "XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND", "PCOUNT",
                "GCOUNT", "BZERO", "BSCALE", "BLANK", "EXTNAME", "CHECKSUM", "DATASUM",
                "ZIMAGE", "ZCMPTYPE", "ZBITPIX", "ZNAXIS", "ZNAXIS1", "ZNAXIS2", "ZTILE1",
                "ZTILE2", "ZQUANTIZ", "ZVAL1", "ZVAL2", "ZNAME1", "ZNAME2"}
        for card in header.cards:
            if card.keyword and card.keyword not in skip and card.keyword not in ("COMMENT",
                                                                                   "HISTORY"):
                try:
                    hdu.header.append(card, end=True)
                except (ValueError, KeyError):
                    continue
    if name:
        hdu.header["EXTNAME"] = name
    for key, value, comment in quality_header_cards(parameters, with_charge=with_charge):
        hdu.header[key] = (value, comment)
    hdu.header["QCLEAN"] = (float(np.count_nonzero(data == 0) / max(data.size, 1)),
                            "share of pixels with no quality bit set")
    if rate is not None:
        for key, value, comment in rate.header_cards():
            hdu.header[key] = (value, comment)
    return hdu
