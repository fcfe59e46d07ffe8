"""The run's figures (matplotlib PNGs) and its HTML report, which opens with no server.

``REPORT/report.html`` holds the trend plot (``trends.png``: pedestal, read
noise, single-electron rate, glow share and cluster rate per frame and
amplifier, outliers marked), the defect map (``defects.png``: per amplifier,
the share of frames each pixel is bright, defects flagged) and the outlier
list, and links the tables. Images are referenced by relative names, so the
folder can be copied or opened from disk as it is.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

__all__ = ["plot_trends", "plot_defect_map", "write_html", "TREND_PANELS", "SUMMARY_COLUMNS"]

#: (figure, axis label) of the trend plot's panels.
TREND_PANELS = (
    ("pedestal_adu", "pedestal (ADU)"),
    ("read_noise_adu", "read noise (ADU)"),
    ("dark_adu", "background charge (ADU/pixel)"),
    ("share_glowing", "glowing share"),
    ("clusters_per_mpix", "clusters per Mpix"),
)


def _time_axis(rows):
    """x values and their label: hours since the first frame when every frame has a time."""
    hours = np.array([r.get("time_h", np.nan) for r in rows], float)
    if rows and np.isfinite(hours).all():
        return hours, "hours since the first frame"
    return np.array([r["frame"] for r in rows], float), "frame (file order)"


def plot_trends(rows, outliers, path) -> Path:
    """The trend plot: one panel per figure of :data:`TREND_PANELS`, one line per amplifier."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    flagged = {(o["frame"], o["amplifier"]) for o in outliers}
    amps = sorted({r["amplifier"] for r in rows})
    fig, axes = plt.subplots(len(TREND_PANELS), 1, figsize=(9, 2.0 * len(TREND_PANELS)),
                             sharex=True, constrained_layout=True)
    for ax, (figure, label) in zip(np.atleast_1d(axes), TREND_PANELS):
        for amp in amps:
            amp_rows = sorted((r for r in rows if r["amplifier"] == amp), key=lambda r: r["frame"])
            x, xlabel = _time_axis(amp_rows)
            y = np.array([r.get(figure, np.nan) for r in amp_rows], float)
            ax.plot(x, y, ".-", lw=0.8, ms=3, label=amp)
            bad = np.array([(r["frame"], amp) in flagged for r in amp_rows], bool)
            if bad.any():
                ax.plot(x[bad], y[bad], "o", mfc="none", mec="red", ms=8)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
    np.atleast_1d(axes)[-1].set_xlabel(xlabel if rows else "frame")
    if len(amps) > 1:
        np.atleast_1d(axes)[0].legend(fontsize=7, ncol=min(len(amps), 4))
    np.atleast_1d(axes)[0].set_title("run trends (red rings: outliers)", fontsize=9)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return Path(path)


def plot_defect_map(defect_map, path) -> Path:
    """Per amplifier: the share of frames each pixel is bright, and the flagged defects."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..classes import GLOWING, HOT_PIXEL

    amps = defect_map.amplifiers or ["none"]
    fig, axes = plt.subplots(2, len(amps), figsize=(3.6 * len(amps), 7), squeeze=False,
                             constrained_layout=True)
    for column, amp in enumerate(amps):
        top, bottom = axes[0, column], axes[1, column]
        if amp not in defect_map.hot_share:
            top.set_axis_off()
            bottom.set_axis_off()
            continue
        shown = top.imshow(defect_map.hot_share[amp], origin="lower", cmap="magma", vmin=0,
                           vmax=1, interpolation="nearest")
        top.set_title(f"{amp}: share of frames bright", fontsize=8)
        flags = defect_map.flag(amp)
        rgb = np.zeros(flags.shape + (3,))
        rgb[flags == GLOWING] = (0.35, 1.0, 0.25)
        rgb[flags == HOT_PIXEL] = (0.0, 0.5, 1.0)
        bottom.imshow(rgb, origin="lower", interpolation="nearest")
        bottom.set_title(f"{amp}: {int((flags == HOT_PIXEL).sum())} defect pixels (blue), "
                         f"{int((flags == GLOWING).sum())} glowing (green)", fontsize=8)
        fig.colorbar(shown, ax=top, shrink=0.8)
    fig.suptitle(f"run defect map: {defect_map.n_frames} frames, defect when bright in "
                 f">= {defect_map._threshold():.0%} of them", fontsize=9)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return Path(path)


def _table(rows, columns) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c, "")
            if isinstance(value, float):
                value = f"{value:.4g}"
            cells.append(f"<td>{html.escape(str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


SUMMARY_COLUMNS = ("frame", "file", "amplifier", "status", "date_obs", "pedestal_adu",
                   "read_noise_adu", "rate_e_per_pix", "rate_method", "share_glowing",
                   "hot_pixels", "clusters", "clusters_per_mpix")


def write_html(report_dir, rows, outliers, defect_map, *, failures=(), notes=(),
               title="ccdnb run report"):
    """Write ``REPORT/report.html`` (the PNGs must be there already); return its path.

    ``failures`` are ``(file, reason)`` of the files that could not be read;
    ``notes`` the :class:`ccdnb.monitoring.notes.RunNote` of what the run held.
    """
    from .. import __version__
    from ..io_utils import write_text_atomic

    n_frames = len({r["file"] for r in rows})
    amps = sorted({r["amplifier"] for r in rows})
    bad_frames = sorted({o["frame"] for o in outliers})
    failed = "".join(f"<li>{html.escape(f)}: {html.escape(str(e))}</li>" for f, e in failures)
    noted = "".join(f'<li class="note" data-kind="{html.escape(n.kind)}">'
                    f"{html.escape(n.text)}</li>" for n in notes)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; max-width: 1200px; }}
table {{ border-collapse: collapse; font-size: 12px; }}
td, th {{ border: 1px solid #ccc; padding: 2px 6px; text-align: right; }}
th {{ background: #eee; }} img {{ max-width: 100%; }}
</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>{n_frames} frames, amplifiers {html.escape(", ".join(amps))};
{len(bad_frames)} frames flagged as outliers; defect map from {defect_map.n_frames} frames.
Tables: <a href="frames.csv">frames.csv</a> (also <a href="frames.fits">frames.fits</a>),
<a href="outliers.csv">outliers.csv</a>; defect map: <a href="defects.fits">defects.fits</a>.
Made by ccdnb {html.escape(__version__)}.</p>
{f'<h2>What the run holds</h2><ul id="notes">{noted}</ul>' if noted else ""}
{f"<h2>Files that failed</h2><ul>{failed}</ul>" if failed else ""}
<h2>Trends</h2>
<img id="trends" src="trends.png" alt="trend plot: pedestal, noise, rate, glow, clusters">
<h2>Defect map</h2>
<img id="defect-map" src="defects.png" alt="run defect map">
<h2>Outliers</h2>
{_table(outliers, ("frame", "file", "amplifier", "time", "reason")) if outliers
 else "<p>No frame is out of line.</p>"}
<h2>Frames</h2>
{_table(rows, SUMMARY_COLUMNS)}
</body></html>
"""
    return write_text_atomic(Path(report_dir) / "report.html", page)
