"""A monitored simulated run against its truth: the defect map, settling, bad frames.

:func:`evaluate_run` compares what :func:`ccdnb.monitor` made of a run drawn by
:func:`ccdnb.simulation.run.simulate_run` with the run's truth; notebook 07 and
``benchmarks/monitor_run.py`` print its figures. :func:`cluster_rate` sets the
monitor's clusters per Mpix (on masks settled by the run's defect map, and on the
frames' own masks) beside the truth's; :func:`rate_against_truth` its single-electron
rate beside the rate the simulator drew the field from, on the same clean pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["evaluate_run", "gates", "describe", "fall_factor", "plot_settling", "cluster_rate",
           "describe_cluster_rate", "rate_against_truth", "MAX_CLUSTER_RATE_ERROR"]


def evaluate_run(run, report, files) -> dict:
    """The figures of issue 21's gates for one monitored simulated run.

    Parameters
    ----------
    run : ccdnb.simulation.run.SimulatedRun
    report : ccdnb.monitoring.MonitorReport
        Of the frames ``files`` (frame ``i`` of the run in ``files[i]``), without
        ``rewrite_masks`` (its masks are the single-frame ones).
    files : list of path

    Returns
    -------
    dict
        ``recall`` (share of the defect pixels on in >= 30 % of the frames that the
        map flags), ``found``/``wanted``, ``false_flags``/``flags`` and
        ``false_share`` (flagged pixels that are no defect); ``false_single`` and
        ``false_settled`` (false cluster groups, single frames against frames
        settled with the map), the same on the frames not flagged as outliers
        (``false_single_good``, ``false_settled_good``), ``found_single`` and
        ``found_settled`` (true clusters found as cluster) of ``n_clusters``;
        ``bad`` (the bad frames), ``missed`` (not flagged) and ``false_frames``
        (good frames flagged); ``truth_groups`` (8-connected groups of the
        truth's cluster pixels, what the monitor counts) and ``mpix`` (the
        pixels of all frames and amplifiers, millions).
    """
    from astropy.io import fits

    from ..classes import CLUSTER
    from ..defects import settle_with_defects
    from ..evaluation.events import cluster_detection, false_cluster_components
    from ..io.fits import masks_path
    from ..objects.groups import label_groups

    dmap = report.defect_map
    out = dict.fromkeys(("found", "wanted", "false_flags", "flags", "false_single",
                         "false_settled", "false_single_good", "false_settled_good",
                         "found_single", "found_settled", "n_clusters", "truth_groups"), 0)
    out["mpix"] = 0.0
    for k, amp in enumerate(dmap.amplifiers):
        flagged = dmap.hot(amp)
        wanted = run.defect_pixels(k, min_presence=0.3)
        out["found"] += int((flagged & wanted).sum())
        out["wanted"] += int(wanted.sum())
        out["false_flags"] += int((flagged & ~run.defect_pixels(k)).sum())
        out["flags"] += int(flagged.sum())
    flagged_frames = {o["frame"] for o in report.outliers}
    for i, path in enumerate(files):
        with fits.open(masks_path(path, Path(report.paths["masks"]))) as hdul:
            masks = [np.asarray(h.data) for h in hdul if h.data is not None]
        for k, (sim, single) in enumerate(zip(run.frame(i), masks)):
            settled = settle_with_defects(single, dmap.hot(dmap.amplifiers[k]))
            before = false_cluster_components(single, sim.instances, sim.objects)
            after = false_cluster_components(settled, sim.instances, sim.objects)
            out["false_single"] += before
            out["false_settled"] += after
            if i not in flagged_frames:
                out["false_single_good"] += before
                out["false_settled_good"] += after
            found, _ = cluster_detection(single, sim.instances, sim.objects)
            out["found_single"] += int(found.sum())
            out["found_settled"] += int(cluster_detection(settled, sim.instances,
                                                          sim.objects)[0].sum())
            out["n_clusters"] += found.size
            out["truth_groups"] += label_groups(sim.label == CLUSTER)[1]
            out["mpix"] += sim.label.size / 1e6
    bad = {i for i, b in enumerate(run.bad) if b}
    out.update(recall=out["found"] / max(out["wanted"], 1),
               false_share=out["false_flags"] / max(out["flags"], 1),
               bad=sorted(bad), missed=sorted(bad - flagged_frames),
               false_frames=sorted(flagged_frames - bad))
    return out


#: Issue 21's gates on a monitored simulated run.
MIN_RECALL = 0.99          # defect pixels on in >= 30 % of frames that the map flags
MAX_FALSE_SHARE = 0.001    # flagged pixels that are no defect
MIN_FALL = 10.0            # false clusters, single frames over settled frames
FALSE_FRAMES_PER_50 = 1    # good frames flagged as outliers, per 50 frames


def fall_factor(result: dict) -> float:
    """False clusters in single frames over false clusters with the map (inf when none are
    left and some were there; NaN when there were none)."""
    single, settled = result["false_single"], result["false_settled"]
    if settled == 0:
        return float("inf") if single else float("nan")
    return single / settled


def gates(result: dict, n_frames: int) -> dict:
    """Issue 21's gates on :func:`evaluate_run`'s figures: gate name -> met (bool).

    ``defect recall`` (>= :data:`MIN_RECALL`), ``defect false share`` (<=
    :data:`MAX_FALSE_SHARE`), ``false clusters fall`` (>= :data:`MIN_FALL`, or
    none left with the map),
    ``hits found`` (settled frames find at least as many true clusters as single
    ones), ``bad frames flagged`` (all), ``good frames flagged`` (at most
    :data:`FALSE_FRAMES_PER_50` in 50 frames, at least 1 allowed).
    """
    allowed = max(1, (FALSE_FRAMES_PER_50 * n_frames) // 50)
    return {
        "defect recall": result["recall"] >= MIN_RECALL,
        "defect false share": result["false_share"] <= MAX_FALSE_SHARE,
        # none left with the map is met, whatever there was before
        "false clusters fall": result["false_settled"] == 0 or fall_factor(result) >= MIN_FALL,
        "hits found": result["found_settled"] >= result["found_single"],
        "bad frames flagged": not result["missed"],
        "good frames flagged": len(result["false_frames"]) <= allowed,
    }


def describe(result: dict, n_frames: int) -> str:
    """:func:`evaluate_run`'s figures as lines of text, each beside its gate and verdict."""
    r = result
    met = {name: "PASS" if ok else "MISS" for name, ok in gates(r, n_frames).items()}
    fall = fall_factor(r)
    fall_good = r["false_single_good"] / max(r["false_settled_good"], 1)
    return "\n".join([
        f"defect map: flags {r['flags']} pixels; finds {r['found']}/{r['wanted']} = "
        f"{r['recall']:.2%} of the defect pixels on in >= 30 % of frames (gate >= 99 %: "
        f"{met['defect recall']}); {r['false_flags']} flagged pixels are no defect = "
        f"{r['false_share']:.3%} (gate <= 0.1 %: {met['defect false share']})",
        f"false clusters: {r['false_single']} in single frames, {r['false_settled']} with the "
        f"map: {fall:.1f}-fold fewer (gate >= 10: {met['false clusters fall']}); on the frames "
        f"not flagged as outliers {r['false_single_good']} -> {r['false_settled_good']}: "
        f"{fall_good:.1f}-fold",
        f"true clusters found as cluster: {r['found_single']}/{r['n_clusters']} single, "
        f"{r['found_settled']}/{r['n_clusters']} with the map (gate: stay or rise: "
        f"{met['hits found']})",
        f"bad frames: {len(r['bad']) - len(r['missed'])}/{len(r['bad'])} flagged (missed "
        f"{r['missed']}: {met['bad frames flagged']}); {len(r['false_frames'])} good frames of "
        f"{n_frames} flagged {r['false_frames']} (gate <= 1 in 50: "
        f"{met['good frames flagged']})"])


#: The monitor's clusters per Mpix may differ from the truth's by at most this share.
MAX_CLUSTER_RATE_ERROR = 0.2


def cluster_rate(report, result: dict) -> dict:
    """The monitor's clusters per Mpix beside the truth's, over a whole simulated run.

    Parameters
    ----------
    report : ccdnb.monitoring.MonitorReport
    result : dict
        :func:`evaluate_run` of the same run (its ``truth_groups`` and ``mpix``).

    Returns
    -------
    dict
        ``settled`` (the table's ``clusters``: masks settled by the run's defect
        map), ``single`` (``clusters_single_frame``: each frame's own masks) and
        ``truth`` (8-connected groups of the truth's cluster pixels), each per
        Mpix of all frames and amplifiers; ``error`` (settled over truth, minus 1)
        and ``met`` (its size at most :data:`MAX_CLUSTER_RATE_ERROR`).
    """
    mpix = result["mpix"]
    settled = sum(int(r["clusters"]) for r in report.rows) / mpix
    single = sum(int(r.get("clusters_single_frame", r["clusters"])) for r in report.rows) / mpix
    truth = result["truth_groups"] / mpix
    error = settled / truth - 1.0 if truth else float("nan")
    return {"settled": settled, "single": single, "truth": truth, "error": error,
            "met": bool(abs(error) <= MAX_CLUSTER_RATE_ERROR)}


def describe_cluster_rate(figures: dict) -> str:
    """:func:`cluster_rate`'s figures as one line, beside its gate and verdict."""
    return (f"cluster rate: {figures['settled']:.0f} clusters per Mpix on masks settled by the "
            f"run's defect map ({figures['single']:.0f} on the frames' own masks), truth "
            f"{figures['truth']:.0f}: {figures['error']:+.1%} (gate within "
            f"{MAX_CLUSTER_RATE_ERROR:.0%}: {'PASS' if figures['met'] else 'MISS'})")


def _truth_slope(per_row, rows_used, profile) -> float:
    """The truth's slope per 1000 rows, fitted as the rate's profile is: a line through the
    row bands' means over the clean pixels, weighted by their clean pixels."""
    centres, means, weights = [], [], []
    for a, b in zip(profile.start, profile.stop):
        n = rows_used[a:b]
        if n.sum():
            centres.append(np.average(np.arange(a, b), weights=n))
            means.append(np.nansum(per_row[a:b] * n) / n.sum())
            weights.append(np.sqrt(n.sum()))
    if len(centres) < 2:
        return float("nan")
    return float(np.polyfit(centres, means, 1, w=weights)[0]) * 1e3


def rate_against_truth(run, report, files) -> list:
    """The monitor's single-electron rate of every frame and amplifier beside the truth.

    The truth is the rate map the simulator drew the field from
    (:meth:`ccdnb.simulation.run.SimulatedRun.rate_map`), averaged over the pixels
    the rate was measured on (the clean pixels of the frame's quality mask, made
    again as the monitor made it: :func:`ccdnb.monitoring.frame.frame_exposure`),
    and over the whole amplifier.

    Returns
    -------
    list of dict
        Per row of the report with a rate: ``frame``, ``amplifier``, ``rate``,
        ``error``, ``truth`` (clean pixels), ``truth_all`` (every pixel),
        ``slope`` and ``slope_error`` (per 1000 rows in readout order) and
        ``truth_slope`` (the clean pixels' truth, fitted the same way).
    """
    from ..objects.quality_mask import clean
    from .frame import frame_exposure

    out = []
    for row in report.rows:
        if not np.isfinite(row["rate_e_per_pix"]):
            continue
        i = int(row["frame"])
        exposure = frame_exposure(files[i], report.report_dir, row["extname"])
        keep = clean(exposure.quality)
        truth_map = run.rate_map(i, _amplifier_index(run, report.rows, row))
        rows_used = keep.sum(axis=1)
        per_row = (truth_map * keep).sum(axis=1) / np.maximum(rows_used, 1)
        profile = exposure.rate.rows
        out.append({"frame": i, "amplifier": row["amplifier"], "rate": row["rate_e_per_pix"],
                    "error": row["rate_error"], "truth": float(truth_map[keep].mean()),
                    "truth_all": float(truth_map.mean()),
                    "slope": row["rate_slope_per_krow"], "slope_error": row["rate_slope_error"],
                    "truth_slope": (_truth_slope(per_row, rows_used, profile)
                                    if profile is not None else float("nan"))})
    return out


def _amplifier_index(run, rows, row) -> int:
    """The run's amplifier number of a row: its place among its frame's image HDUs."""
    if run.n_amplifiers == 1:
        return 0
    return sorted({r["hdu"] for r in rows if r["frame"] == row["frame"]}).index(row["hdu"])


def plot_settling(result: dict, path) -> Path:
    """Bars: false clusters and true clusters found, single frames against settled frames."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3), constrained_layout=True)
    left.bar(["single frames", "with the run's map"],
             [result["false_single"], result["false_settled"]], color=["0.6", "tab:blue"])
    left.set_title("false clusters (groups touching no true cluster)", fontsize=9)
    right.bar(["single frames", "with the run's map"],
              [result["found_single"], result["found_settled"]], color=["0.6", "tab:red"])
    right.axhline(result["n_clusters"], color="k", lw=0.8, ls="--")
    right.set_title(f"true clusters found as cluster (of {result['n_clusters']})", fontsize=9)
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
    return Path(path)
