"""A monitored simulated run against its truth: the defect map, settling, bad frames.

:func:`evaluate_run` compares what :func:`ccdnb.monitor` made of a run drawn by
:func:`ccdnb.simulation.run.simulate_run` with the run's truth; notebook 07 and
``benchmarks/monitor_run.py`` print its figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["evaluate_run", "gates", "describe", "fall_factor", "plot_settling"]


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
        (good frames flagged).
    """
    from astropy.io import fits

    from ..defects import settle_with_defects
    from ..evaluation.events import cluster_detection, false_cluster_components
    from ..fitsio import masks_path

    dmap = report.defect_map
    out = dict.fromkeys(("found", "wanted", "false_flags", "flags", "false_single",
                         "false_settled", "false_single_good", "false_settled_good",
                         "found_single", "found_settled", "n_clusters"), 0)
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
