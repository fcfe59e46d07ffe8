"""The quality mask: which pixels of an amplifier a search for few-electron events keeps.

A search for events of a few electrons counts electrons only where nothing else put
charge (the design's "clean exposure"). SENSEI's searches (SENSEI 2020,
arXiv:2004.11378, and its data releases) and DAMIC-M's (arXiv:2302.02372,
arXiv:2503.14617) mask every pixel that a known source of charge may have reached;
the single-electron rate is measured on what is left
(:func:`ccdnb.skipper.electron_rate.measure_electron_rate`). Which defaults are
published values and which are this project's choices: :class:`MaskParameters`.

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
12    LOOSE        in a loose cluster, or within ``loose_margin`` px of one: an
                   8-connected group of background pixels of one electron or more
                   holding more charge than the single-electron field puts in as
                   many pixels with a chance of ``loose_false_rate``, in rows
                   of a field of at most ``loose_max_rate`` e-/pixel (needs the
                   field's rate: frames that resolve electrons)
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

from ..background.core import image_columns
from ..classes import CLUSTER, GLOWING, HOT_PIXEL
from ..errors import CcdnbInputError
from .groups import flat_groups

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
               "ccdnb classes (SENSEI's and DAMIC-M's searches mask ionisation clusters)"),
    QualityBit("HALO", 1, "within halo_radius px of a pixel of halo_threshold_e e- or more",
               ("halo_threshold_e", "halo_radius"), "SENSEI's high-energy (halo) mask"),
    QualityBit("BLEED", 2, "charge-transfer trail: bleed_row_length px along the row and "
               "bleed_column_length px along the column, read after a pixel of "
               "bleed_threshold_e e- or more",
               ("bleed_threshold_e", "bleed_row_length", "bleed_column_length",
                "readout_rows", "readout_side"),
               "SENSEI's bleeding (charge-transfer inefficiency) mask"),
    QualityBit("HOTPIX", 3, "hot pixel of the class mask", (),
               "SENSEI's bad-pixel mask"),
    QualityBit("HOTCOL", 4, "hot column: a vertical hot-pixel group of hot_column_min_rows "
               "rows or more, or excess charge column_excess_sigma standard errors above the "
               "amplifier's", ("hot_column_min_rows", "column_excess_sigma"),
               "SENSEI's bad-column mask (an excess of single electrons per column)"),
    QualityBit("GLOW", 5, "glowing in the class mask, within glow_margin px of it, or in "
               "its tail (rings whose charge stands above the field's)",
               ("glow_margin", "glow_excess_sigma", "glow_ring", "glow_band",
                "glow_max_margin"),
               "ccdnb classes (amplifier and edge glow)"),
    QualityBit("EDGE", 6, "within edge_width px of the image area's border", ("edge_width",),
               "SENSEI's edge mask"),
    QualityBit("SERIAL", 7, "row segment of a serial-register event",
               ("serial_min_pixels", "serial_margin"),
               "ccdnb serial-register hits (a SENSEI 2020 mask, recalled, not checked)"),
    QualityBit("DEFECT", 8, "flagged by the run's defect map (hot or glowing)", (),
               "ccdnb.defects run defect map (SENSEI's and DAMIC-M's masks from many images)"),
    QualityBit("NEIGHBOR", 9, "within neighbour_width px of a cluster pixel",
               ("neighbour_width",), "after SENSEI's one-pixel-cluster (neighbour) cut"),
    QualityBit("OVERSCAN", 10, "prescan or overscan column (no exposure)", (), "BIASSEC"),
    QualityBit("NONFINITE", 11, "NaN or infinite pixel value", (), "ccdnb FITS input"),
    QualityBit("LOOSE", 12, "loose cluster: 8-connected background pixels of >= 1 e- holding "
               "more charge than the field puts there with a chance of loose_false_rate, "
               "and loose_margin px around them (rows of a field of at most loose_max_rate)",
               ("loose_false_rate", "loose_margin", "loose_max_rate"),
               "SENSEI's loose-cluster mask (data release); the chance test of "
               "ccdnb.skipper.field (release_chance_groups)"),
)
_BIT = {b.name: b.bit for b in QUALITY_BITS}


def _option(default, help_text, source):
    return field(default=default, metadata={"help": help_text, "source": source})


@dataclass(frozen=True)
class MaskParameters:
    """Every option of :func:`quality_mask`, with its default, meaning and source.

    What the sources say, and what was checked (2026-12-07):

    - The kinds of mask are SENSEI's. The collaboration's data release
      (github.com/sensei-skipper/DataReleases, README of ``Snolab_binned_1``) lists the
      masks its single-electron analysis applies: a one-pixel-cluster cut (a neighbour
      above 0.5 e-), bleeding (charge-transfer inefficiency), high-energy halo,
      cross-talk, noisy row, edge, bad pixel and bad column (an excess of single
      electrons over a dataset). SENSEI 2020 is arXiv:2004.11378 ("SENSEI:
      Direct-Detection Results on sub-GeV Dark Matter from a New Skipper-CCD").
    - DAMIC-M 2023 is arXiv:2302.02372 ("First Constraints from DAMIC-M on Sub-GeV
      Dark-Matter Particles Interacting with Electrons") and DAMIC-M 2025 is
      arXiv:2503.14617 ("Probing Benchmark Models of Hidden-Sector Dark Matter with
      DAMIC-M"); titles checked, their masks' numbers not (only their abstracts
      could be read).
    - The numbers are not checked against any paper's text. The 100 e- seed of the
      halo and bleed masks is the value recalled from SENSEI 2020, unverified; every
      other default is this project's choice, made so that the mask keeps most of a
      DAMIC-M-like amplifier (tens of clusters on 320 x 640 pixels where SENSEI's images
      hold a few) and removes the bias glow and clusters put in the rate
      (``benchmarks/electron_rate.py`` measures both). Each field's ``source`` says
      which it is.
    """

    halo_threshold_e: float = _option(
        100.0, "pixels of at least this many electrons seed the halo",
        "SENSEI's high-energy (halo) mask; 100 e- recalled from SENSEI 2020, not checked")
    halo_radius: float = _option(
        20.0, "radius (px) of the halo disc around each seed pixel",
        "project's choice, for DAMIC-M-sized amplifiers (SENSEI's radius not checked)")
    bleed_threshold_e: float = _option(
        100.0, "pixels of at least this many electrons leave a charge-transfer trail",
        "SENSEI's bleeding (CTI) mask; 100 e- recalled from SENSEI 2020, not checked")
    bleed_row_length: int = _option(
        100, "trail length (px) along the row, on the side read after the pixel",
        "project's choice (SENSEI's bleeding mask; its length not checked)")
    bleed_column_length: int = _option(
        50, "trail length (px) along the column, in the rows read after the pixel",
        "project's choice (SENSEI's bleeding mask; its length not checked)")
    hot_column_min_rows: int = _option(
        10, "a vertical hot-pixel group of this many rows makes its whole column hot",
        "project's choice (SENSEI masks bad columns whole)")
    column_excess_sigma: float | None = _option(
        5.0, "a column whose clean mean charge stands this many standard errors above the "
             "amplifier's median column is hot (None: off)",
        "project's choice, after SENSEI's bad-column mask (an excess of single "
        "electrons per column, there over a dataset)")
    defect_seeds: bool = _option(
        False, "hot and glowing pixels seed halos and trails too (by default only charge "
               "the class mask does not call a defect: ionisation events)",
        "project's choice (SENSEI's halo and bleeding masks follow high-energy events)")
    glow_margin: int = _option(
        5, "pixels within this distance (px) of glowing pixels are masked too",
        "project's choice: the glow's tail below one read-noise sigma")
    glow_excess_sigma: float | None = _option(
        1.0, "beyond glow_margin, rings of glow_ring px around the glow are masked one after "
             "the other while the glow_band px from the ring outwards hold more charge than "
             "the field of their rows, at this many (one-sided) standard errors in Poisson "
             "terms (None: off)", "project's choice: the glow's tail, measured")
    glow_ring: int = _option(4, "width (px) of those rings", "project's choice")
    glow_band: int = _option(
        16, "least width (px) of the band from a ring outwards whose charge decides whether "
            "the ring is masked (the band is as wide as the ring's distance from the glow "
            "where that is more)",
        "project's choice: wider than the tail's fall-off, so that what the band leaves "
        "is small")
    # (1 standard error, bands of 16 px: on a 0.05 e-/pixel field with glow at an edge the
    # tail left beyond the bit biases the rate by a few tenths of its error; measured in
    # tests/test_monitor_rate.py and benchmarks/electron_rate.py)
    glow_max_margin: int = _option(
        300, "the rings reach at most this far (px) from the glow", "project's choice")
    edge_width: int = _option(
        2, "pixels within this distance (px) of the image area's border are masked",
        "SENSEI's edge mask; the width is the project's choice")
    serial_min_pixels: int = _option(
        4, "one-row cluster groups of at least this many pixels are serial-register events "
           "(where no serial map is given)", "ccdnb.serial_hits.SERIAL_MIN_PIXELS")
    serial_margin: int = _option(
        0, "the serial event's row segment is widened by this many pixels on each side",
        "project's choice (a serial-register hit mask recalled from SENSEI 2020, not "
        "checked)")
    neighbour_width: int = _option(
        1, "pixels within this distance (px, square) of a cluster pixel",
        "project's choice, after SENSEI's one-pixel-cluster cut (there: pixels next to "
        "any pixel above 0.5 e-)")
    loose_false_rate: float | None = _option(
        1e-6, "a group of background pixels of one electron or more (8-connected) is a loose "
              "cluster when the single-electron field puts its charge or more in as many "
              "pixels with a chance below this (None: off)",
        "ccdnb.skipper.field.FIELD_FALSE_RATE, the chance level of the field's own groups; "
        "SENSEI's data release masks loose clusters. A chance of 1e-4 biases a 0.05 "
        "e-/pixel field's rate low by up to 2.4 standard errors (tests/test_monitor_rate.py)")
    loose_margin: int = _option(
        1, "pixels within this distance (px, square) of a loose cluster are masked too",
        "project's choice, as neighbour_width")
    loose_max_rate: float = _option(
        0.1, "loose clusters are looked for only in rows whose field rate (e-/pixel) is at "
             "most this: denser fields join pixels of one electron into groups by chance, "
             "so a group's size tells nothing there",
        "project's choice: on a pure field the bit takes 0.4 % of the charge at 0.05 "
        "e-/pixel, 1.3 % at 0.1, 8 % at 0.2 (the rate on the rest reads 0.4 %, 0.9 %, 3 % "
        "low)")
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
                     "glow_margin", "glow_ring", "glow_band", "glow_max_margin", "edge_width",
                     "serial_min_pixels", "serial_margin", "neighbour_width", "loose_margin"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise CcdnbInputError(f"quality mask option {name}={value!r}: must be a whole "
                                      f"number >= 0")
        for name in ("column_excess_sigma", "glow_excess_sigma"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise CcdnbInputError(f"quality mask option {name}={value!r}: must be > 0 or "
                                      f"None")
        if not (isinstance(self.loose_max_rate, (int, float))
                and np.isfinite(self.loose_max_rate) and self.loose_max_rate >= 0):
            raise CcdnbInputError(f"quality mask option loose_max_rate="
                                  f"{self.loose_max_rate!r}: must be a number >= 0")
        value = self.loose_false_rate
        if value is not None and not (isinstance(value, (int, float)) and 0 < value < 1):
            raise CcdnbInputError(f"quality mask option loose_false_rate={value!r}: must be "
                                  f"in (0, 1) or None")
        for name in ("glow_ring", "glow_band"):
            if getattr(self, name) < 1:
                raise CcdnbInputError(f"quality mask option {name}={getattr(self, name)!r}: "
                                      f"must be at least 1")
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
#
# Clusters, hot pixels and glow are a small share of a frame, and most bits derive from
# them: those bits are built from the flat indices of their pixels (runs along the rows,
# painted as row segments), never by filters or distance transforms over the whole frame.
# The glow's tail takes its distance transform in boxes around the glow only; the passes
# over every pixel (the glow tail's field, the columns' excess charge) go block by block.

#: Pixels per block of rows of the whole-frame passes.
_BLOCK_PIXELS = 1 << 20
#: Side (px) of the coarse blocks that find the boxes around the glow.
_GLOW_BLOCK = 32
#: Rings of the glow's tail tested first, and the factor their number grows by where the tail
#: goes on beyond them (the rings found do not depend on either: only the work does).
_GLOW_FIRST_RINGS = 16
_GLOW_RINGS_GROWTH = 2
#: Largest table of ring numbers by squared distance (:func:`_ring_numbers`).
_RING_TABLE_SIZE = 1 << 22


def _flat_nonzero(a):
    """``np.flatnonzero`` of a bool or uint8 array, skipping eight zero bytes at a time."""
    flat = np.ascontiguousarray(a).reshape(-1)
    if flat.dtype == bool:
        flat = flat.view(np.uint8)
    if flat.dtype != np.uint8 or flat.size % 8:
        return np.flatnonzero(flat)
    words = np.flatnonzero(flat.view(np.uint64))
    word, byte = np.nonzero(flat.reshape(-1, 8)[words])
    return words[word] * 8 + byte


def _in_sorted(values, reference):
    """Whether each of ``values`` is in the ascending array ``reference``."""
    if reference.size == 0:
        return np.zeros(values.shape, dtype=bool)
    at = np.minimum(np.searchsorted(reference, values), reference.size - 1)
    return reference[at] == values


def _runs(lines, positions):
    """Runs of consecutive pixels along lines, given in (line, position) order:
    (line, first, last) of each run."""
    if lines.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    breaks = np.flatnonzero((np.diff(lines) != 0) | (np.diff(positions) != 1)) + 1
    first = np.concatenate([[0], breaks])
    last = np.concatenate([breaks - 1, [lines.size - 1]])
    return lines[first], positions[first], positions[last]


def _segments(shape, row, low, high):
    """Flat indices (ascending, unique) of the union of the row segments ``low..high``
    (inclusive) on rows ``row``, cut to the image."""
    height, width = shape
    row = np.asarray(row, dtype=np.int64)
    low = np.maximum(low, 0)
    high = np.minimum(high, width - 1)
    keep = (row >= 0) & (row < height) & (low <= high)
    start = (row * width + low)[keep]
    stop = (row * width + high + 1)[keep]
    if start.size == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(start, kind="stable")
    start, stop = start[order], stop[order]
    # merged: a segment opens an interval where it starts after every earlier one stopped
    reach = np.maximum.accumulate(stop)
    opens = np.ones(start.size, dtype=bool)
    opens[1:] = start[1:] > reach[:-1]
    first = np.flatnonzero(opens)
    begin = start[first]
    length = reach[np.append(first[1:] - 1, start.size - 1)] - begin
    return np.repeat(begin - np.cumsum(length) + length, length) + np.arange(int(length.sum()))


def _disc_offsets(radius):
    r = int(np.floor(radius))
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    inside = dy * dy + dx * dx <= radius * radius
    return dy[inside], dx[inside]


def _disc_half_widths(radius):
    """Half-width of each row (``dy = -r..r``) of the disc of ``radius`` px."""
    dy, dx = _disc_offsets(radius)
    r = int(np.floor(radius))
    widths = np.zeros(2 * r + 1, dtype=np.int64)
    np.maximum.at(widths, dy + r, dx)
    return widths


def _dilate(index, shape, half_widths):
    """Flat indices of the pixels a stamp centred on any pixel of ``index`` (flat,
    ascending) covers: row ``dy`` of the stamp (``-r..r``) spans ``half_widths[dy + r]``
    px either side. A run of pixels along a row stamps one segment per row of the stamp."""
    rows, cols = np.divmod(index, shape[1])
    row, low, high = _runs(rows, cols)
    widths = np.asarray(half_widths, dtype=np.int64)
    dy = np.arange(widths.size) - widths.size // 2
    return _segments(shape, (row[:, None] + dy[None, :]).ravel(),
                     (low[:, None] - widths[None, :]).ravel(),
                     (high[:, None] + widths[None, :]).ravel())


def _trail(index, shape, length, axis, forward):
    """Flat indices within ``length`` px after (``forward``: increasing index) or before a
    pixel of ``index`` (flat, ascending) along ``axis`` (1: the row, 0: the column), those
    pixels themselves left out."""
    if length <= 0 or index.size == 0:
        return np.zeros(0, dtype=np.int64)
    height, width = shape
    rows, cols = np.divmod(index, width)
    if axis == 0:  # the columns, as the rows of the transposed image
        order = np.lexsort((rows, cols))
        line, first, last = _runs(cols[order], rows[order])
        line_shape = (width, height)
    else:
        line, first, last = _runs(rows, cols)
        line_shape = shape
    low, high = (last + 1, last + length) if forward else (first - length, first - 1)
    painted = _segments(line_shape, line, low, high)
    if axis == 0:
        col, row = np.divmod(painted, height)
        painted = row * width + col
    return painted[~_in_sorted(painted, index)]


def _glow_boxes(glow, shape, reach):
    """Boxes around the glowing pixels ``glow`` (flat) that hold every pixel within
    ``reach`` px of them: ``(rows, cols, own)`` each, ``own`` the box's pixels it
    answers for (each such pixel in one box). A box holds the glowing pixels any of its
    own pixels is within ``reach`` of, so a distance transform in it is exact there."""
    from scipy import ndimage

    block = _GLOW_BLOCK
    height, width = shape
    rows, cols = np.divmod(glow, width)
    coarse = np.zeros((-(-height // block), -(-width // block)), dtype=bool)
    coarse[rows // block, cols // block] = True
    # a pixel within reach of a glowing pixel is within this many blocks of its block
    near = int(reach) // block + 1
    coarse = ndimage.maximum_filter(coarse, size=2 * near + 1, mode="constant")
    labels, _ = ndimage.label(coarse)
    for number, box in enumerate(ndimage.find_objects(labels), start=1):
        r = slice(box[0].start * block, min(box[0].stop * block, height))
        c = slice(box[1].start * block, min(box[1].stop * block, width))
        own = np.repeat(np.repeat(labels[box] == number, block, axis=0), block, axis=1)
        yield r, c, own[:r.stop - r.start, :c.stop - c.start]


def _clean_charge(electrons, out, cap=None):
    """Per row, the clean pixels (no bit set in ``out``, finite charge) and the sum of
    their charge in whole electrons (at least 0, at most ``cap``); with ``cap``, also the
    sum of its squares over the frame. Block by block of rows."""
    height, width = out.shape
    count, total, squares = np.zeros(height), np.zeros(height), 0.0
    top = np.float32(np.finfo(np.float32).max if cap is None else cap)
    step = max(1, _BLOCK_PIXELS // max(width, 1))
    for r0 in range(0, height, step):
        rows = slice(r0, min(r0 + step, height))
        x = np.asarray(electrons[rows], dtype=np.float32)
        use = (out[rows] == 0) & np.isfinite(x)
        # NaN to 0 and inf to the top (fmax, fmin), then the pixels not used to 0: no
        # masked writes, which cost more on scattered pixels
        charge = np.rint(x)
        np.fmax(charge, np.float32(0), out=charge)
        np.fmin(charge, top, out=charge)
        charge *= use
        count[rows] = use.view(np.uint8).sum(axis=1, dtype=np.int64)
        total[rows] = charge.sum(axis=1, dtype=np.float64)
        if cap is not None:
            squares += float(np.einsum("ij,ij->", charge, charge, dtype=np.float64))
    return count, total, squares


def _ring_table(margin, ring_width, reach):
    """The ring of every squared distance ``0..floor(reach**2) + 1`` (see :func:`_ring_numbers`),
    or None where that table would pass ``_RING_TABLE_SIZE`` entries."""
    top = int(np.floor(reach * reach))
    if top + 2 > _RING_TABLE_SIZE:
        return None
    return _rings_of(np.sqrt(np.arange(top + 2, dtype=np.float64)), margin, ring_width, reach)


def _rings_of(distance, margin, ring_width, reach):
    ring = np.ceil((distance - margin) / ring_width).astype(np.int32)
    ring[(distance <= margin) | (distance > reach)] = 0
    return ring


def _ring_numbers(squared, margin, ring_width, reach, table=None):
    """The ring ``ceil((distance - margin) / ring_width)`` of each squared distance (px^2),
    where ``margin < distance <= reach``, else 0 (int32). By ``table`` (:func:`_ring_table`,
    made once for every box of a frame: the float distances of a whole box cost as much as
    its distance transform) where one is given, else by the formula; the two agree bit for
    bit."""
    if table is not None:
        return table[np.minimum(squared, len(table) - 1)]
    return _rings_of(np.sqrt(squared.astype(np.float64)), margin, ring_width, reach)


def _glow_rings(classes, glow, reach, margin, ring_width):
    """The rings around the glowing pixels ``glow`` (flat) out to ``reach`` px, in boxes
    around the glow (distance transforms there only): ``(rows, cols, ring, squared)`` per
    box, ``squared`` the squared distance (px^2) of each pixel of the box to the nearest
    glowing pixel and ``ring`` (the box's shape) its ring (:func:`_ring_numbers`) where the
    box answers for the pixel, else 0."""
    from scipy import ndimage

    boxes = []
    table = _ring_table(margin, ring_width, reach)
    for rows, cols, own in _glow_boxes(glow, classes.shape, reach):
        nearest = ndimage.distance_transform_edt(classes[rows, cols] != GLOWING,
                                                 return_distances=False, return_indices=True)
        # squared distances in int32 while they fit (box sides below 2**15)
        kind = np.int32 if max(nearest.shape[1:]) < 1 << 15 else np.int64
        squared = nearest[0].astype(kind, copy=False)
        squared -= np.arange(squared.shape[0], dtype=kind)[:, None]
        squared *= squared
        across = nearest[1].astype(kind, copy=False)
        across -= np.arange(across.shape[1], dtype=kind)[None, :]
        across *= across
        squared += across
        ring = _ring_numbers(squared, margin, ring_width, reach, table)
        ring *= own
        boxes.append((rows, cols, ring, squared))
    return boxes


def _band_significance(count, total, near_count, near_total, last, dispersion):
    """Per ring ``k`` (``1..K``): the one-sided Poisson probability that the field alone
    puts the charge seen in rings ``k..last[k - 1]`` there (its band).

    ``near_count`` and ``near_total`` ((J + 1, H), ring ``0..J`` by row, ``J >=
    last.max()``) are the clean pixels and their charge per ring and row; ``count`` and
    ``total`` (H,) those of whole rows. The field each row expects is its charge per
    clean pixel beyond the band (rows with none: interpolated between rows); observed
    and expected are in units of ``dispersion`` (the pixels' variance over their mean,
    at least 1), so that a Poisson law holds for them."""
    from scipy.special import gammainc

    n_rings = last.size
    inside_n = np.cumsum(near_count, axis=0)
    inside_q = np.cumsum(near_total, axis=0)
    # ring k's band: the pixels out to its last ring less those before ring k
    pixels = inside_n[last] - inside_n[:n_rings]
    observed = (inside_q[last] - inside_q[:n_rings]).sum(axis=1)
    far_n = count[None, :] - inside_n[last]
    far_q = total[None, :] - inside_q[last]
    with np.errstate(invalid="ignore", divide="ignore"):
        field = far_q / far_n
    lines = np.arange(count.size)
    for k in np.flatnonzero((far_n <= 0).any(axis=1)):
        known = far_n[k] > 0
        field[k] = np.interp(lines, lines[known], field[k][known]) if known.any() else np.nan
    expected = np.einsum("kh,kh->k", pixels, np.nan_to_num(field, nan=np.inf))
    chance = np.ones(n_rings)
    excess = np.isfinite(expected) & (observed > expected)
    # P(N >= observed) for N ~ Poisson(expected): the regularised lower incomplete gamma
    chance[excess] = gammainc(observed[excess] / dispersion, expected[excess] / dispersion)
    return chance


def _glow_tail(electrons, out, classes, glow, p):
    """The rings around the glow where it still adds charge measurably (flat indices of
    their pixels).

    Glow falls off with distance from its source; the class mask stops where it drops
    below about one read-noise sigma, and its tail beyond holds charge a field of
    hundredths of an electron per pixel cannot ignore. Rings of ``glow_ring`` px
    from ``glow_margin`` outwards are masked, one after the other, while the band that
    starts at the ring (``glow_band`` px wide, or as wide as the ring's distance from the
    glow where that is more: a slowly falling tail is tested on a wide band) holds more
    charge than the field of its rows does, at ``glow_excess_sigma`` one-sided Gaussian
    standard errors in Poisson terms:
    the chance that the field alone puts that much charge there is at most
    ``Phi(-glow_excess_sigma)``. The pixels counted are the clean ones (no bit set in
    ``out``), their charge in whole electrons clipped to ``[0, cap]`` (``cap`` above the
    field's reach: a pixel beyond it is a cluster the class mask missed, not glow); the
    field of a row is its clean pixels' mean charge beyond the band. The rings reach at
    most ``glow_max_margin`` px from the glow.
    """
    from scipy.special import ndtr

    empty = np.zeros(0, dtype=np.int64)
    height, width = out.shape
    n_rings = int(np.ceil((p.glow_max_margin - p.glow_margin) / p.glow_ring))
    if n_rings < 1:
        return empty
    # the band of ring k: glow_band px, or as wide as the distance of its inner edge from
    # the glow where that is more (a tail that falls off slowly is tested on a wide band)
    inner = p.glow_margin + p.glow_ring * np.arange(n_rings)
    band_last = np.arange(1, n_rings + 1) - 1 + np.ceil(
        np.maximum(p.glow_band, inner) / p.glow_ring).astype(np.int64)
    count, total, _ = _clean_charge(electrons, out)
    if not count.sum() > 0:
        return empty
    typical = float(total.sum() / count.sum())
    cap = np.float32(np.floor(typical + 6.0 * np.sqrt(max(typical, 0.05)) + 2.0))
    count, total, squares = _clean_charge(electrons, out, cap)
    mean = float(total.sum() / count.sum())
    variance = float(squares / count.sum()) - mean * mean
    dispersion = max(variance / mean, 1.0) if mean > 0 else 1.0
    threshold = float(ndtr(-p.glow_excess_sigma))
    # rings to test: a first reach, widened where the tail goes on beyond it
    tested = min(n_rings, _GLOW_FIRST_RINGS)
    while True:
        last_ring = int(band_last[tested - 1])
        reach = p.glow_margin + last_ring * p.glow_ring
        boxes = _glow_rings(classes, glow, reach, p.glow_margin, p.glow_ring)
        size = (last_ring + 1) * height
        near_count, near_total = np.zeros(size), np.zeros(size)
        for rows, cols, ring, _ in boxes:
            # the clean pixels of the rings with a finite charge, keyed by ring and row
            charge = np.asarray(electrons[rows, cols], dtype=np.float32)
            use = (ring > 0) & (out[rows, cols] == 0) & np.isfinite(charge)
            line = np.broadcast_to(np.arange(rows.start, rows.stop)[:, None], use.shape)
            key = ring[use].astype(np.int64) * height + line[use]
            charge = np.minimum(np.maximum(np.rint(charge[use]), np.float32(0)), cap)
            near_count += np.bincount(key, minlength=size)
            near_total += np.bincount(key, weights=charge, minlength=size)
        chance = _band_significance(count, total, near_count.reshape(-1, height),
                                    near_total.reshape(-1, height), band_last[:tested],
                                    dispersion)
        quiet = ~(chance <= threshold)
        if quiet.any() or tested == n_rings:
            last = int(np.argmax(quiet)) if quiet.any() else tested
            break
        tested = min(n_rings, _GLOW_RINGS_GROWTH * tested)
    outer = min(p.glow_margin + last * p.glow_ring, p.glow_max_margin)
    index = [empty]
    for rows, cols, ring, squared in boxes:
        r, c = np.nonzero((ring > 0) & (squared <= outer * outer))
        index.append((r + rows.start) * width + (c + cols.start))
    return np.concatenate(index)


def _vertical_runs(hot, shape, min_rows):
    """Columns holding a vertical run of at least ``min_rows`` of the pixels ``hot`` (flat)."""
    columns = np.zeros(shape[1], dtype=bool)
    if hot.size == 0 or min_rows <= 0:
        return columns
    rows, cols = np.divmod(hot, shape[1])
    order = np.lexsort((rows, cols))
    col, first, last = _runs(cols[order], rows[order])
    columns[col[last - first + 1 >= min_rows]] = True
    return columns


def _excess_columns(electrons, out, columns, sigma):
    """Columns (of ``columns``) whose mean charge over the pixels ``out`` leaves free
    stands ``sigma`` errors above the rest: sums per column, block by block of rows."""
    # free pixels are finite (NONFINITE is set before)
    height, width = out.shape
    n, total, squares = np.zeros(width), np.zeros(width), np.zeros(width)
    step = max(1, _BLOCK_PIXELS // max(width, 1))
    for r0 in range(0, height, step):
        rows = slice(r0, min(r0 + step, height))
        free = out[rows] == 0
        e = np.where(free, np.asarray(electrons[rows], dtype=np.float32), np.float32(0))
        n += np.count_nonzero(free, axis=0)
        total += e.sum(axis=0, dtype=np.float64)
        squares += np.einsum("ij,ij->j", e, e, dtype=np.float64)
    n[~columns] = 0
    ok = n >= 10
    if np.count_nonzero(ok) < 5:
        return np.zeros(width, dtype=bool)
    mean = np.where(ok, total / np.maximum(n, 1), np.nan)
    second = np.where(ok, squares / np.maximum(n, 1), np.nan)
    typical = float(np.nanmedian(mean))
    # the spread of one pixel's charge (read noise and Poisson), from the typical column
    spread = float(np.sqrt(max(np.nanmedian(second - mean ** 2), 1e-12)))
    z = (mean - typical) / (spread / np.sqrt(np.maximum(n, 1)))
    return ok & (z > sigma)


def _serial_segments(shape, serial, cluster, min_pixels, margin):
    """Flat indices of the row segments of the serial-register events: the groups of
    ``serial``'s pixels, or else the one-row groups of at least ``min_pixels`` of the
    cluster pixels ``cluster`` (flat, ascending)."""
    pixels = _flat_nonzero(serial) if serial is not None else cluster
    if pixels.size == 0:
        return pixels
    group, n = flat_groups(pixels, shape[1])
    rows, cols = np.divmod(pixels, shape[1])
    if serial is None:
        size = np.bincount(group, minlength=n)
        first = np.full(n, np.iinfo(np.int64).max)
        last = np.full(n, -1)
        np.minimum.at(first, group, rows)
        np.maximum.at(last, group, rows)
        keep = ((first == last) & (size >= min_pixels))[group]
        rows, cols, group = rows[keep], cols[keep], group[keep]
        if rows.size == 0:
            return rows
    # per (group, row): the columns from the first to the last, widened by the margin
    key = group.astype(np.int64) * shape[0] + rows
    unique, inverse = np.unique(key, return_inverse=True)
    low = np.full(unique.size, np.iinfo(np.int64).max)
    high = np.full(unique.size, -1)
    np.minimum.at(low, inverse, cols)
    np.maximum.at(high, inverse, cols)
    return _segments(shape, unique % shape[0], low - margin, high + margin)


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


def _loose_clusters(e, class_of, field_rate, image_cols, p) -> np.ndarray:
    """Flat indices of LOOSE: background pixels of one whole electron or more in rows of a
    sparse field (``loose_max_rate``), grouped 8-connected, whose group's charge the field
    (Poisson at the group's pixel count times its rows' rate) reaches with a chance below
    ``loose_false_rate`` (:func:`ccdnb.skipper.field.field_charge_chance`); and
    ``loose_margin`` px around them."""
    from ..skipper.field import field_charge_chance

    height, width = e.shape
    rate = np.asarray(field_rate, dtype=np.float64).reshape(-1)
    if rate.shape != (height,):
        raise CcdnbInputError(f"field rate of {rate.size} rows for a mask of {height} rows")
    with np.errstate(invalid="ignore"):
        seeds = np.asarray(e) >= 0.5  # one whole electron or more; NaN is not
    seeds &= (class_of == 0).reshape(e.shape)
    seeds &= image_cols[None, :]
    seeds &= (rate <= p.loose_max_rate)[:, None]
    where = _flat_nonzero(seeds)
    if where.size == 0:
        return where
    group, n = flat_groups(where, width)
    charge = np.rint(np.asarray(e, dtype=np.float64).reshape(-1)[where])
    q = np.bincount(group, weights=charge, minlength=n)
    expected = np.bincount(group, weights=np.nan_to_num(rate)[where // width], minlength=n)
    loose = field_charge_chance(q, expected) < p.loose_false_rate
    pixels = where[loose[group]]
    if p.loose_margin > 0 and pixels.size:
        pixels = _dilate(pixels, e.shape, [p.loose_margin] * (2 * p.loose_margin + 1))
    return pixels


def quality_mask(classes, electrons=None, *, image=None, gain=None, pedestal=None,
                 defects=None, amplifier=None, serial=None, bias_columns=None,
                 field_rate=None, **options) -> np.ndarray:
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
    field_rate : array_like, shape (H,), optional
        The single-electron field's rate per row (e-/pixel,
        :attr:`ccdnb.skipper.field.ElectronField.rate`), where the frame resolves
        electrons: LOOSE is computed only with it (and the charge in electrons).
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
    p = MaskParameters.of(**options)
    classes = np.asarray(classes)
    if classes.ndim != 2:
        raise CcdnbInputError(f"expected a 2-D class mask, got shape {classes.shape}")
    shape = classes.shape
    height, width = shape
    e = _electrons(electrons, image, gain, pedestal, shape)
    out = np.zeros(shape, dtype=np.uint16)
    flat = out.reshape(-1)

    def put(name, where):
        np.bitwise_or(out, np.uint16(1 << _BIT[name]), out=out, where=where)

    def put_at(name, index):
        flat[index] |= np.uint16(1 << _BIT[name])

    # the pixels of each class, as flat indices (a small share of the frame)
    class_of = np.ascontiguousarray(classes).reshape(-1)
    labelled = _flat_nonzero(class_of)
    kind = class_of[labelled]
    cluster = labelled[kind == CLUSTER]
    hot = labelled[kind == HOT_PIXEL]
    glowing = labelled[kind == GLOWING]
    put_at("CLUSTER", cluster)
    put_at("HOTPIX", hot)
    if p.neighbour_width > 0 and cluster.size:
        around = _dilate(cluster, shape, [p.neighbour_width] * (2 * p.neighbour_width + 1))
        put_at("NEIGHBOR", around[class_of[around] != CLUSTER])
    if glowing.size:
        put_at("GLOW", _dilate(glowing, shape, _disc_half_widths(p.glow_margin)))
    if e is not None:
        # seeds: pixels of at least the thresholds' charge (finite; by default no defect)
        with np.errstate(invalid="ignore"):
            above = _flat_nonzero(e >= min(p.halo_threshold_e, p.bleed_threshold_e))
        charge = e[np.divmod(above, width)]
        seeding = np.isfinite(charge)
        if not p.defect_seeds:
            seeding &= (class_of[above] != HOT_PIXEL) & (class_of[above] != GLOWING)
        halo_seeds = above[seeding & (charge >= p.halo_threshold_e)]
        bleed_seeds = above[seeding & (charge >= p.bleed_threshold_e)]
        if halo_seeds.size:
            put_at("HALO", _dilate(halo_seeds, shape, _disc_half_widths(p.halo_radius)))
        forward_rows = p.readout_rows == "ascending"
        forward_cols = p.readout_side == "left"
        put_at("BLEED", _trail(bleed_seeds, shape, p.bleed_row_length, axis=1,
                               forward=forward_cols))
        put_at("BLEED", _trail(bleed_seeds, shape, p.bleed_column_length, axis=0,
                               forward=forward_rows))
    hot_columns = _vertical_runs(hot, shape, p.hot_column_min_rows)
    image_cols = image_columns(width, bias_columns)
    charged = image if image is not None else e
    if charged is not None:
        finite = np.isfinite(np.asarray(charged))
        if not finite.all():
            put("NONFINITE", ~finite)
    if serial is not None:
        serial = np.asarray(serial, dtype=bool)
        if serial.shape != shape:
            raise CcdnbInputError(f"serial-register pixel map of shape {serial.shape} for a "
                                  f"class mask of shape {shape}")
    put_at("SERIAL", _serial_segments(shape, serial, cluster, p.serial_min_pixels,
                                      p.serial_margin))
    flags = _defect_flags(defects, amplifier, shape)
    if flags is not None:
        put("DEFECT", flags)
    edge = np.uint16(1 << _BIT["EDGE"])
    if p.edge_width > 0:  # the image area's border
        out[:p.edge_width, :] |= edge
        out[max(height - p.edge_width, 0):, :] |= edge
        columns = np.flatnonzero(image_cols)
        if columns.size:
            out[:, columns[0]:columns[0] + p.edge_width] |= edge
            out[:, max(columns[-1] + 1 - p.edge_width, 0):columns[-1] + 1] |= edge
    if not image_cols.all():
        out[:, ~image_cols] |= np.uint16(1 << _BIT["OVERSCAN"])
    hot_columns &= image_cols
    if hot_columns.any():
        out[:, hot_columns] |= np.uint16(1 << _BIT["HOTCOL"])
    if glowing.size and e is not None and p.glow_excess_sigma is not None:
        # the glow's tail, measured on the pixels every other bit leaves (the columns'
        # excess charge after it: a glow's tail is no hot column)
        put_at("GLOW", _glow_tail(e, out, classes, glowing, p))
    if e is not None and field_rate is not None and p.loose_false_rate is not None:
        put_at("LOOSE", _loose_clusters(e, class_of, field_rate, image_cols, p))
    if e is not None and p.column_excess_sigma is not None:
        # the columns' charge on the pixels no other bit took
        hot_columns |= _excess_columns(e, out, image_cols & ~hot_columns,
                                       p.column_excess_sigma)
    hot_columns &= image_cols
    if hot_columns.any():
        out[:, hot_columns] |= np.uint16(1 << _BIT["HOTCOL"])
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
        ("QGLOWBND", int(p.glow_band), "[px] glow tail band tested beyond a ring"),
        ("QGLOWMAX", int(p.glow_max_margin), "[px] glow tail reach"),
        ("QDEFSEED", bool(p.defect_seeds), "hot/glow pixels seed halos and trails"),
        ("QEDGE", int(p.edge_width), "[px] edge width"),
        ("QSERMIN", int(p.serial_min_pixels), "[px] shortest serial-register event"),
        ("QSERMAR", int(p.serial_margin), "[px] serial event segment margin"),
        ("QNEIGH", int(p.neighbour_width), "[px] neighbour width"),
        ("QLOOSEP", float(p.loose_false_rate) if p.loose_false_rate is not None else "off",
         "loose cluster: field's chance level"),
        ("QLOOSEM", int(p.loose_margin), "[px] loose cluster margin"),
        ("QLOOSER", float(p.loose_max_rate), "[e-/px] densest field rows searched"),
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
