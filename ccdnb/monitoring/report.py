"""The run's figures (matplotlib PNGs) and its HTML report, which opens with no server.

``REPORT/report.html`` holds the trend plot (``trends.png``: pedestal, read
noise, the single-electron rate on the clean pixels with its error bars,
background charge, glow share and cluster rate per frame and amplifier, in
frame time order, outliers marked), the defect map (``defects.png``: per
amplifier, the share of frames each pixel is bright, defects flagged) and the
outlier list, and links the tables. Images are referenced by relative names,
so the folder can be copied or opened from disk as it is.
:func:`plot_quality_mask` draws one amplifier's quality bit mask (notebook 07).
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

__all__ = ["plot_trends", "plot_rate_trend", "plot_defect_map", "plot_quality_mask",
           "write_html", "warm_up_report", "TREND_PANELS", "SUMMARY_COLUMNS", "BIT_COLOURS",
           "DEFECT_PLOT_PIXELS"]

#: (figure, axis label, its error's column or None) of the trend plot's panels.
TREND_PANELS = (
    ("pedestal_adu", "pedestal (ADU)", None),
    ("read_noise_adu", "read noise (ADU)", None),
    ("rate_e_per_pix", "single-electron rate\n(e-/pixel, clean pixels)", "rate_error"),
    ("dark_adu", "background charge (ADU/pixel)", None),
    ("share_glowing", "glowing share", None),
    ("clusters_per_mpix", "clusters per Mpix", None),
)


def _time_axis(rows):
    """x values and their label: hours since the first frame when every frame has a time."""
    hours = np.array([r.get("time_h", np.nan) for r in rows], float)
    if rows and np.isfinite(hours).all():
        return hours, "hours since the first frame"
    return np.array([r["frame"] for r in rows], float), "frame (file order)"


def _amplifier_rows(rows, amp):
    return sorted((r for r in rows if r["amplifier"] == amp), key=lambda r: r["frame"])


def _no_rate_note(ax, rows) -> None:
    """Where no frame has a rate: say why in the panel (the commonest reason)."""
    from collections import Counter

    reasons = Counter(str(r.get("rate_method", "")) for r in rows
                      if not np.isfinite(r.get("rate_e_per_pix", np.nan)))
    if reasons:
        text = reasons.most_common(1)[0][0]
        if text.startswith("none (") and text.endswith(")"):
            text = text[len("none ("):-1]
        ax.text(0.5, 0.5, f"not measured: {text}", transform=ax.transAxes, ha="center",
                va="center", fontsize=7, wrap=True, color="0.3")


def _panel(ax, rows, amps, flagged, figure, label, error):
    xlabel = "frame"
    for amp in amps:
        amp_rows = _amplifier_rows(rows, amp)
        x, xlabel = _time_axis(amp_rows)
        y = np.array([r.get(figure, np.nan) for r in amp_rows], float)
        if error is not None:
            err = np.array([r.get(error, np.nan) for r in amp_rows], float)
            ax.errorbar(x, y, yerr=np.where(np.isfinite(err), err, 0.0), fmt=".-", lw=0.8,
                        ms=3, capsize=2, elinewidth=0.8, label=amp)
        else:
            ax.plot(x, y, ".-", lw=0.8, ms=3, label=amp)
        bad = np.array([(r["frame"], amp) in flagged for r in amp_rows], bool)
        if bad.any():
            ax.plot(x[bad], y[bad], "o", mfc="none", mec="red", ms=8)
    if error is not None and not any(np.isfinite(r.get(figure, np.nan)) for r in rows):
        _no_rate_note(ax, rows)
    ax.set_ylabel(label, fontsize=8)
    ax.tick_params(labelsize=7)
    return xlabel


def plot_trends(rows, outliers, path) -> Path:
    """The trend plot: one panel per figure of :data:`TREND_PANELS`, one line per amplifier
    in frame time order (the rate with its error bars)."""
    flagged = {(o["frame"], o["amplifier"]) for o in outliers}
    amps = sorted({r["amplifier"] for r in rows})
    fig = _report_figure((9, 2.0 * len(TREND_PANELS)))
    axes = fig.subplots(len(TREND_PANELS), 1, sharex=True)
    # fixed margins: a constrained layout costs a second drawing of the figure
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.045, top=0.975, hspace=0.12)
    xlabel = "frame"
    for ax, (figure, label, error) in zip(np.atleast_1d(axes), TREND_PANELS):
        xlabel = _panel(ax, rows, amps, flagged, figure, label, error)
    np.atleast_1d(axes)[-1].set_xlabel(xlabel if rows else "frame")
    if len(amps) > 1:
        np.atleast_1d(axes)[0].legend(fontsize=7, ncol=min(len(amps), 4))
    np.atleast_1d(axes)[0].set_title("run trends (red rings: outliers)", fontsize=9)
    fig.savefig(path, dpi=90)
    return Path(path)


def _report_figure(size):
    """A figure of the run report: matplotlib's object alone, without pyplot (no global
    figure registry to import and close, and safe beside other threads)."""
    from matplotlib.figure import Figure

    return Figure(figsize=size)


def _warm_up() -> None:
    import io

    from astropy.table import Table  # noqa: F401  (the run tables)

    fig = _report_figure((1, 1))
    fig.add_subplot().set_title("0123456789 (e-/pixel)", fontsize=8)
    fig.savefig(io.BytesIO(), format="png", dpi=20)


def warm_up_report():
    """Import matplotlib and astropy's tables and draw a tiny figure on a thread of its own,
    so that the report at the end of a run does not wait for them (about a second on a
    2-core machine). Call it while the network runs: its threads release the GIL and leave
    CPU idle. Returns the thread; join it before drawing the report.

    A failure here is left for the report itself to raise, where it says what failed."""
    import threading

    def run():
        try:
            _warm_up()
        except Exception:  # noqa: BLE001  the report draws again and raises there
            pass

    thread = threading.Thread(target=run, name="ccdnb-report-warm-up", daemon=True)
    thread.start()
    return thread


def _finish(fig, ax, own, path):
    """What a plot function returns: ``ax`` when drawn on the caller's axes, else the figure,
    or, with ``path``, the file it was saved to (the figure closed)."""
    if not own:
        return ax
    if path is None:
        return fig
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=90)
    plt.close(fig)
    return Path(path)


def plot_rate_trend(rows, outliers=(), path=None, *, truth=None, ax=None):
    """The single-electron rate per amplifier in frame time order, with its error bars.

    Parameters
    ----------
    rows : list of dict
        The run table (:attr:`ccdnb.monitoring.MonitorReport.rows`).
    outliers : list of dict
        Flagged frames (red rings).
    path : str or Path, optional
        Write the figure there (PNG) and return the path; else return the figure.
    truth : dict, optional
        Amplifier -> (n_frames,) the true rate of each frame (a simulated run), drawn
        as a line.
    ax : matplotlib Axes, optional
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(8, 3), constrained_layout=True)
    else:
        fig = ax.figure
    amps = sorted({r["amplifier"] for r in rows})
    flagged = {(o["frame"], o["amplifier"]) for o in outliers}
    xlabel = _panel(ax, rows, amps, flagged, "rate_e_per_pix",
                    "single-electron rate (e-/pixel)", "rate_error")
    for amp, values in (truth or {}).items():
        amp_rows = _amplifier_rows(rows, amp)
        x, _ = _time_axis(amp_rows)
        ax.plot(x, np.asarray(values, float)[[r["frame"] for r in amp_rows]], "k--", lw=0.8,
                label=f"{amp} truth")
    ax.set_xlabel(xlabel)
    ax.set_title("single-electron rate on the clean pixels (error bars: one standard error)",
                 fontsize=9)
    if amps:
        ax.legend(fontsize=7)
    return _finish(fig, ax, own, path)


#: A colour per bit of the quality mask (:data:`ccdnb.objects.quality_mask.QUALITY_BITS`),
#: drawn in this order (a pixel of several bits shows the last).
BIT_COLOURS = {
    "EDGE": (0.55, 0.55, 0.55), "OVERSCAN": (0.35, 0.35, 0.35), "NONFINITE": (1.0, 1.0, 1.0),
    "GLOW": (0.35, 1.0, 0.25), "HALO": (1.0, 0.85, 0.3), "BLEED": (1.0, 0.55, 0.0),
    "HOTCOL": (0.0, 0.3, 0.7), "DEFECT": (0.6, 0.3, 1.0), "HOTPIX": (0.0, 0.5, 1.0),
    "SERIAL": (1.0, 0.4, 0.8), "LOOSE": (0.95, 0.6, 0.5), "NEIGHBOR": (0.7, 0.1, 0.1),
    "CLUSTER": (1.0, 0.2, 0.2),
}


def plot_quality_mask(quality, path=None, *, title="quality mask", ax=None):
    """One amplifier's quality bit mask: each bit its colour, clean pixels black, a legend
    with the share of the pixels each bit takes.

    Parameters
    ----------
    quality : ndarray (H, W) uint16
        :func:`ccdnb.objects.quality_mask.quality_mask`.
    path : str or Path, optional
        Write the figure there (PNG) and return the path; else return the figure.
    title : str
    ax : matplotlib Axes, optional
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from ..objects.quality_mask import QUALITY_BITS, bit_shares

    quality = np.asarray(quality)
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(7.5, 5), constrained_layout=True)
    else:
        fig = ax.figure
    rgb = np.zeros(quality.shape + (3,))
    bits = {b.name: b.bit for b in QUALITY_BITS}
    shares = bit_shares(quality)
    handles = []
    for name, colour in BIT_COLOURS.items():
        on = (quality & np.uint16(1 << bits[name])) != 0
        rgb[on] = colour
        if shares[name] > 0:
            handles.append(Patch(color=colour, label=f"{name} {shares[name]:.1%}"))
    handles.append(Patch(color="black", label=f"clean {shares['clean']:.1%}"))
    ax.imshow(rgb, origin="lower", interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              title="bit, share of pixels", title_fontsize=7)
    return _finish(fig, ax, own, path)


#: The defect map's panels show at most this many pixels along a side (blocks by their
#: largest value beyond it).
DEFECT_PLOT_PIXELS = 512


def _block_max(a, factor):
    """``a`` in blocks of ``factor`` x ``factor`` pixels, each its largest value (edges padded
    with the smallest)."""
    a = np.asarray(a)
    if factor <= 1:
        return a
    h, w = -(-a.shape[0] // factor) * factor, -(-a.shape[1] // factor) * factor
    padded = np.full((h, w), a.min() if a.size else 0, dtype=a.dtype)
    padded[:a.shape[0], :a.shape[1]] = a
    return padded.reshape(h // factor, factor, w // factor, factor).max(axis=(1, 3))


def plot_defect_map(defect_map, path) -> Path:
    """Per amplifier: the share of frames each pixel is bright, and the flagged defects."""
    from ..classes import GLOWING, HOT_PIXEL

    amps = defect_map.amplifiers or ["none"]
    width = max(3.6 * len(amps), 4.2)
    fig = _report_figure((width, 7))
    axes = fig.subplots(2, len(amps), squeeze=False)
    # margins in inches: room for four-digit tick labels and the two-line title
    fig.subplots_adjust(left=0.55 / width, right=1 - 0.15 / width, bottom=0.04, top=0.89,
                        hspace=0.25, wspace=0.45)
    for column, amp in enumerate(amps):
        top, bottom = axes[0, column], axes[1, column]
        if amp not in defect_map.hot_share:
            top.set_axis_off()
            bottom.set_axis_off()
            continue
        share = defect_map.hot_share[amp]
        # drawn a few hundred pixels wide: blocks of pixels by their largest value, so
        # that a one-pixel defect stays visible (and Agg resamples less)
        factor = max(1, -(-max(share.shape) // DEFECT_PLOT_PIXELS))
        shown = top.imshow(_block_max(share, factor), origin="lower", cmap="magma", vmin=0,
                           vmax=1, interpolation="nearest",
                           extent=(-0.5, share.shape[1] - 0.5, -0.5, share.shape[0] - 0.5))
        top.set_title(f"{amp}: share of frames bright", fontsize=8)
        flags = defect_map.flag(amp)
        glowing, hot = _block_max(flags == GLOWING, factor), _block_max(flags == HOT_PIXEL, factor)
        rgb = np.zeros(hot.shape + (3,))
        rgb[glowing] = (0.35, 1.0, 0.25)
        rgb[hot] = (0.0, 0.5, 1.0)
        bottom.imshow(rgb, origin="lower", interpolation="nearest",
                      extent=(-0.5, flags.shape[1] - 0.5, -0.5, flags.shape[0] - 0.5))
        bottom.set_title(f"{amp}: {int((flags == HOT_PIXEL).sum())} defect pixels (blue), "
                         f"{int((flags == GLOWING).sum())} glowing (green)", fontsize=8)
        fig.colorbar(shown, ax=top, shrink=0.8)
    fig.suptitle(f"run defect map: {defect_map.n_frames} frames,\ndefect when bright in "
                 f">= {defect_map._threshold():.0%} of them", fontsize=9)
    fig.savefig(path, dpi=90)
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
                   "read_noise_adu", "rate_e_per_pix", "rate_error", "rate_method",
                   "clean_share", "share_glowing", "hot_pixels", "clusters",
                   "clusters_per_mpix")


def write_html(report_dir, rows, outliers, defect_map, *, failures=(), notes=(),
               title="ccdnb run report"):
    """Write ``REPORT/report.html`` (the PNGs must be there already); return its path.

    ``failures`` are ``(file, reason)`` of the files that could not be read;
    ``notes`` the :class:`ccdnb.monitoring.notes.RunNote` of what the run held.
    """
    from .. import __version__
    from ..io.atomic import write_text_atomic

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
<img id="trends" src="trends.png" alt="trend plot: pedestal, noise, single-electron rate with
error bars, background charge, glow, clusters">
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
