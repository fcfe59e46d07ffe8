"""The run table: one row per frame and amplifier, every column with one type.

A run from an archive holds frames that lack keywords, amplifiers that are
dead, gains known on some frames only. The table still has a fixed type per
column (:data:`COLUMNS`): an unknown number is NaN, an unknown text is empty,
and the ``*_method`` columns (and ``status``) say why. So it always writes to
CSV and to a FITS binary table (:func:`write_frame_table`), whatever the run
holds. Columns this module does not know (a later figure) get a type from
their values: numbers (NaN where missing) when every known value is a number,
else text.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["COLUMNS", "frame_table", "typed_row", "write_frame_table"]

#: Column name -> kind: ``f`` float64 (NaN when unknown), ``i`` int64 (always known),
#: ``U`` text (empty when unknown). In this order in the files.
COLUMNS = {
    "frame": "i", "time": "U", "time_h": "f", "time_method": "U",
    "file": "U", "amplifier": "U", "extname": "U", "hdu": "i", "status": "U",
    "input_type": "U", "samples_averaged": "i",
    "date_obs": "U", "exposure_s": "f", "exposure_method": "U",
    "height": "i", "width": "i",
    "pedestal_adu": "f", "read_noise_adu": "f", "background_method": "U",
    "gain_adu_per_e": "f", "gain_method": "U",
    "dark_adu": "f",
    # the clean exposure and the single-electron rate (ccdnb.monitoring.exposure)
    "rate_e_per_pix": "f", "rate_error": "f", "rate_method": "U",
    "rate_slope_per_krow": "f", "rate_slope_error": "f", "noise_e": "f",
    "clean_pixels": "i", "clean_share": "f", "readout_s": "f", "pixel_days": "f",
    "pixels_0e": "f", "pixels_1e": "f", "pixels_2e": "f", "pixels_3e_plus": "f",
    "share_background": "f", "share_glowing": "f", "share_hot": "f", "share_cluster": "f",
    "hot_pixels": "i", "hot_columns": "i", "glow_pixels": "i", "clusters": "i",
    "clusters_single_frame": "i", "masks_method": "U",
    "clusters_per_mpix": "f", "clusters_per_mpix_hour": "f",
    "cluster_charge_adu": "f", "cluster_energy_kev": "f",
    "nonfinite": "i",
}


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _float(value) -> float:
    """``value`` as a float; None, text and other unknowns are NaN (inf stays inf)."""
    if _is_number(value):
        return float(value)
    if isinstance(value, (str, bytes)):
        try:
            return float(value)
        except ValueError:
            return math.nan
    return math.nan


def _int(value, column: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if _is_number(value) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    raise ValueError(f"run table column {column!r}: {value!r} is not a whole number")


def _text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _kind(column: str, values) -> str:
    kind = COLUMNS.get(column)
    if kind is not None:
        return kind
    known = [v for v in values if v is not None]
    return "f" if all(_is_number(v) or isinstance(v, bool) for v in known) else "U"


def typed_row(row: dict) -> dict:
    """``row`` with the columns of :data:`COLUMNS` in their type: None is NaN or ""."""
    out = dict(row)
    for name, value in row.items():
        kind = COLUMNS.get(name)
        if kind == "f":
            out[name] = _float(value)
        elif kind == "U":
            out[name] = _text(value)
    return out


def frame_table(rows):
    """The run table of ``rows`` as an :class:`astropy.table.Table` with one type per column.

    Parameters
    ----------
    rows : list of dict
        One per frame and amplifier; a missing key or None is unknown.

    Returns
    -------
    astropy.table.Table
        The columns of :data:`COLUMNS` that any row has, in that order, then
        the others in the order met: float64 (NaN for unknown), int64, or
        text ("" for unknown). An integer column that some row lacks (rows
        of a report written by an older ccdnb, read back on a rerun) is
        float64 with NaN there.

    Raises
    ------
    ValueError
        An integer column of :data:`COLUMNS` holds something other than a
        whole number (a bug of the code that made the row, not of the input).
    """
    from astropy.table import Table

    present = list(dict.fromkeys(key for row in rows for key in row))
    names = [c for c in COLUMNS if c in present] + [c for c in present if c not in COLUMNS]
    if not names:
        names = ["frame"]
    table = Table()
    for name in names:
        values = [row.get(name) for row in rows]
        kind = _kind(name, values)
        if kind == "i" and any(v is None for v in values):
            kind = "f"  # a row written before the column existed (a rerun): NaN there
        if kind == "f":
            table[name] = np.array([_float(v) for v in values], np.float64)
        elif kind == "i":
            table[name] = np.array([_int(v, name) for v in values], np.int64)
        else:
            texts = [_text(v) for v in values]
            # at least one character wide: FITS has no zero-width text column
            width = max([1] + [len(t) for t in texts])
            table[name] = np.array(texts, dtype=f"U{width}")
    return table


def write_frame_table(table, csv_path, fits_path) -> None:
    """Write ``table`` (:func:`frame_table`) to ``csv_path`` and ``fits_path``, each atomically."""
    from ..io.atomic import atomic_path

    with atomic_path(csv_path, suffix=".csv") as tmp:
        table.write(tmp, format="ascii.csv", overwrite=True)
    with atomic_path(fits_path, suffix=".fits") as tmp:
        table.write(tmp, format="fits", overwrite=True)
