"""Frames out of line with the run: each figure against the running median of its neighbours.

Detectors drift slowly (pedestal, noise, dark current); a bad frame jumps. For
each amplifier, in time order, every figure of :data:`CHECKS` is compared with
the median of the same figure in the ``window`` frames on either side (the
frame itself left out), so a slow drift follows along and a single jump
stands out. A frame is flagged when the difference is more than
``sigmas`` robust standard deviations of those differences over the run
(1.4826 times their median absolute value) *and* more than the check's floor,
which keeps tiny but steady figures (a noise that hardly moves) from flagging
on nothing. An amplifier whose ``status`` is not ``ok`` (dead: no finite
pixel; constant: every pixel on one level) is flagged with it, in a run of
any length.
"""

from __future__ import annotations

import numpy as np

__all__ = ["find_outliers", "running_reference", "CHECKS", "DEFAULT_SIGMAS", "DEFAULT_WINDOW"]

#: Robust standard deviations a frame must stand out by.
DEFAULT_SIGMAS = 6.0
#: Neighbours on each side that make the running median.
DEFAULT_WINDOW = 3


def _noise_floor(values, reference, row):
    return 0.15 * reference


def _pedestal_floor(values, reference, row):
    return 0.5 * row["read_noise_adu"]


def _glow_floor(values, reference, row):
    return max(1.5 * reference, 0.01)  # 2.5 times the usual share, and 1 % of the pixels


def _cluster_floor(values, reference, row):
    mpix = row["height"] * row["width"] / 1e6
    return max(5.0 * np.sqrt(max(reference, 1.0 / mpix) / mpix), reference)  # Poisson, and 2x


def _dark_floor(values, reference, row):
    return 0.05 * row["read_noise_adu"]


def _rate_floor(values, reference, row):
    # five of its own standard errors (a frame's statistics), and 5 % of the rate
    error = row.get("rate_error", np.nan)
    return max(5.0 * error if np.isfinite(error) else 0.0, 0.05 * reference)


#: (figure, direction, floor, reason): direction +1 flags rises only, 0 both ways.
CHECKS = (
    ("read_noise_adu", 0, _noise_floor, "noise jump"),
    ("pedestal_adu", 0, _pedestal_floor, "pedestal jump"),
    ("share_glowing", +1, _glow_floor, "light leak or glow burst"),
    ("clusters_per_mpix", +1, _cluster_floor, "cluster-rate burst"),
    ("dark_adu", 0, _dark_floor, "background charge out of line"),
    ("rate_e_per_pix", 0, _rate_floor, "single-electron rate out of line"),
)


def running_reference(values, window: int = DEFAULT_WINDOW) -> np.ndarray:
    """Median of the ``window`` values on either side of each, the value itself left out."""
    values = np.asarray(values, float)
    out = np.full(values.size, np.nan)
    for i in range(values.size):
        around = np.concatenate([values[max(0, i - window):i], values[i + 1:i + 1 + window]])
        around = around[np.isfinite(around)]
        if around.size:
            out[i] = np.median(around)
    return out


def find_outliers(rows, *, sigmas: float = DEFAULT_SIGMAS, window: int = DEFAULT_WINDOW) -> list:
    """Flag the frames of each amplifier that are out of line with the run.

    Parameters
    ----------
    rows : list of dict
        The run table (one row per frame and amplifier, :func:`ccdnb.monitoring.frame.
        amplifier_statistics` plus ``frame``, ``file``, ``amplifier``), in any order.
    sigmas : float
    window : int

    Returns
    -------
    list of dict
        One per flagged frame and amplifier: ``frame``, ``file``, ``amplifier``,
        ``time``, ``reason`` (the reasons joined by ``"; "``, each with the
        figure, its value and the run's reference).
    """
    by_amp: dict = {}
    for row in rows:
        by_amp.setdefault(row["amplifier"], []).append(row)
    flagged = []
    for amp_rows in by_amp.values():
        amp_rows = sorted(amp_rows, key=lambda r: r["frame"])
        # an amplifier that is dead or constant in a frame is out of line whatever the run
        reasons = [[] if r.get("status", "ok") == "ok" else [f"amplifier {r['status']}"]
                   for r in amp_rows]
        for figure, direction, floor, reason in CHECKS:
            if len(amp_rows) < 3:
                break  # nothing to compare with
            values = np.array([r.get(figure, np.nan) for r in amp_rows], float)
            if not np.isfinite(values).any():
                continue
            reference = running_reference(values, window)
            diff = values - reference
            finite = np.isfinite(diff)
            spread = 1.4826 * np.median(np.abs(diff[finite])) if finite.any() else np.nan
            for i, row in enumerate(amp_rows):
                if not finite[i]:
                    continue
                size = diff[i] if direction > 0 else abs(diff[i])
                limit = max(sigmas * spread, floor(values, abs(reference[i]), row))
                if size > limit:
                    reasons[i].append(f"{reason} ({figure} {values[i]:.4g} against "
                                      f"{reference[i]:.4g})")
        for row, why in zip(amp_rows, reasons):
            if why:
                flagged.append({"frame": row["frame"], "file": row["file"],
                                "amplifier": row["amplifier"], "time": row.get("time", ""),
                                "reason": "; ".join(why)})
    return sorted(flagged, key=lambda r: (r["frame"], r["amplifier"]))
