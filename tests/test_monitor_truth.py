"""``ccdnb.monitoring.truth``: the figures of issue 21's gates against a simulated run's truth.

The monitor's output is stood in for by hand (masks files, a defect map, the
outliers), so that every figure has a value known in advance: a perfect
monitor, then one with counted mistakes.
"""

from types import SimpleNamespace

import numpy as np
import pytest
from astropy.io import fits

from ccdnb.classes import BACKGROUND, CLUSTER, HOT_PIXEL, label_groups
from ccdnb.defects import DefectMap
from ccdnb.fitsio import masks_path
from ccdnb.monitoring.truth import describe, evaluate_run, fall_factor, gates
from ccdnb.simulation.run import simulate_run

N_FRAMES, SIZE = 6, 96


@pytest.fixture(scope="module")
def run():
    return simulate_run(N_FRAMES, SIZE, seed=12, defect_pixels=150.0, defect_segments=30.0,
                        intermittent_share=0.0, bad_share=0.34, n_hits=60.0)


def fake_report(run, folder, masks, hot, outliers):
    """What ``ccdnb.monitor`` would return: masks files, a defect map of ``hot``, outliers."""
    files = [str(folder / f"f_{i:04d}.fits") for i in range(run.n_frames)]
    (folder / "masks").mkdir()
    for path, mask in zip(files, masks):
        fits.HDUList([fits.PrimaryHDU(mask.astype(np.uint8))]).writeto(
            masks_path(path, folder / "masks"))
    share = hot.astype(np.float32)
    dmap = DefectMap(hot_share={"PRIMARY": share}, glow_share={"PRIMARY": np.zeros_like(share)},
                     n_frames=run.n_frames)
    return SimpleNamespace(defect_map=dmap, paths={"masks": folder / "masks"},
                           outliers=[{"frame": i} for i in outliers]), files


def far_from_objects(sim, count):
    """``count`` pixels at least 3 pixels away from every true object and defect."""
    from scipy import ndimage

    busy = ndimage.binary_dilation(sim.label != BACKGROUND, iterations=3)
    rows, cols = np.nonzero(~busy)
    picks = np.linspace(0, rows.size - 1, count * 7).astype(int)[::7]
    return list(zip(rows[picks], cols[picks]))


def test_a_perfect_monitor_meets_every_gate(run, tmp_path):
    truth = [run.frame(i)[0].label for i in range(run.n_frames)]
    bad = [i for i, b in enumerate(run.bad) if b]
    report, files = fake_report(run, tmp_path, truth, run.defect_pixels(0), bad)
    result = evaluate_run(run, report, files)
    defects = run.defect_pixels(0, min_presence=0.3)
    assert result["wanted"] == defects.sum() > 20 and result["found"] == result["wanted"]
    assert result["recall"] == 1.0 and result["false_flags"] == 0 == result["false_share"]
    assert result["false_single"] == result["false_settled"] == 0
    assert result["found_single"] == result["found_settled"] > 0
    assert result["bad"] == bad and len(bad) == 2 and result["missed"] == []
    assert result["false_frames"] == []
    assert all(gates(result, run.n_frames).values())
    assert "MISS" not in describe(result, run.n_frames)


def test_counted_mistakes_give_their_figures_and_miss_their_gates(run, tmp_path):
    sims = [run.frame(i)[0] for i in range(run.n_frames)]
    masks = [sim.label.copy() for sim in sims]
    # 3 false one-pixel clusters per frame, far from everything: the map cannot settle them
    for mask, sim in zip(masks, sims):
        for y, x in far_from_objects(sim, 3):
            mask[y, x] = CLUSTER
    # frame 0: one defect pixel called a cluster, which the map settles into a hot pixel
    defects = run.defect_pixels(0)
    y, x = np.argwhere(defects & (masks[0] == HOT_PIXEL))[0]
    masks[0][y, x] = CLUSTER
    # the map misses 5 defect pixels inside column segments (settling keeps them hot: the
    # rest of their segment is on the map) and flags 4 pixels that are no defect, away
    # from every true object and from the false clusters
    wanted = run.defect_pixels(0, min_presence=0.3)
    inside = wanted & np.roll(wanted, 1, axis=0) & np.roll(wanted, -1, axis=0)
    inside[[0, -1]] = False
    missed_pixels = np.argwhere(inside)[:5]
    assert len(missed_pixels) == 5
    hot = defects.copy()
    hot[tuple(missed_pixels.T)] = False
    painted = {p for sim in sims for p in far_from_objects(sim, 3)}
    fakes = [p for p in far_from_objects(sims[0], 9) if p not in painted][:4]
    for yy, xx in fakes:
        hot[yy, xx] = True
    bad = [i for i, b in enumerate(run.bad) if b]
    good = [i for i in range(run.n_frames) if i not in bad]
    # one bad frame missed, two good frames flagged
    report, files = fake_report(run, tmp_path, masks, hot, bad[1:] + good[:2])
    result = evaluate_run(run, report, files)
    assert result["found"] == result["wanted"] - 5
    assert result["false_flags"] == 4 and result["flags"] == hot.sum()
    assert result["false_share"] == pytest.approx(4 / hot.sum())
    # the settled frames lose the defect cluster of frame 0 (a cluster on a true hot pixel
    # touches no true cluster, so it is false), and keep the 18 far from everything
    assert result["false_single"] == 3 * N_FRAMES + 1
    assert result["false_settled"] == 3 * N_FRAMES
    assert fall_factor(result) == pytest.approx((3 * N_FRAMES + 1) / (3 * N_FRAMES))
    assert result["missed"] == bad[:1] and result["false_frames"] == good[:2]
    verdict = gates(result, run.n_frames)
    assert verdict == {"defect recall": False, "defect false share": False,
                       "false clusters fall": False, "hits found": True,
                       "bad frames flagged": False, "good frames flagged": False}
    assert describe(result, run.n_frames).count("MISS") == 5


def test_the_gates_at_their_edges():
    base = {"recall": 0.99, "false_share": 0.001, "false_single": 100, "false_settled": 10,
            "found_single": 5, "found_settled": 5, "missed": [], "false_frames": [3]}
    assert all(gates(base, 50).values())
    assert not gates(dict(base, recall=0.9899), 50)["defect recall"]
    assert not gates(dict(base, false_share=0.0011), 50)["defect false share"]
    assert not gates(dict(base, false_settled=11), 50)["false clusters fall"]
    assert not gates(dict(base, found_settled=4), 50)["hits found"]
    assert not gates(dict(base, false_frames=[3, 7]), 50)["good frames flagged"]
    assert gates(dict(base, false_frames=[3, 7]), 100)["good frames flagged"]  # 1 in 50
    assert fall_factor(dict(base, false_settled=0)) == float("inf")
    assert np.isnan(fall_factor(dict(base, false_single=0, false_settled=0)))
    assert gates(dict(base, false_single=0, false_settled=0), 50)["false clusters fall"]


def test_the_cluster_rate_against_the_truth(run, tmp_path):
    from ccdnb.monitoring.truth import MAX_CLUSTER_RATE_ERROR, cluster_rate, describe_cluster_rate

    truth = [run.frame(i)[0].label for i in range(run.n_frames)]
    report, files = fake_report(run, tmp_path, truth, run.defect_pixels(0), [])
    result = evaluate_run(run, report, files)
    groups = [label_groups(mask == CLUSTER)[1] for mask in truth]
    assert result["truth_groups"] == sum(groups) > 0
    assert result["mpix"] == pytest.approx(run.n_frames * SIZE * SIZE / 1e6)
    # a monitor that counts the truth's groups, and twice as many on the frames' own masks
    report.rows = [{"clusters": n, "clusters_single_frame": 2 * n} for n in groups]
    figures = cluster_rate(report, result)
    assert figures["settled"] == pytest.approx(sum(groups) / result["mpix"])
    assert figures["single"] == pytest.approx(2 * figures["truth"])
    assert figures["error"] == 0.0 and figures["met"]
    assert "PASS" in describe_cluster_rate(figures)
    # one cluster too many per frame: beyond the gate when that is more than 20 %
    report.rows = [{"clusters": n + 1, "clusters_single_frame": n + 1} for n in groups]
    figures = cluster_rate(report, result)
    assert figures["error"] == pytest.approx(run.n_frames / sum(groups))
    assert figures["met"] == (run.n_frames / sum(groups) <= MAX_CLUSTER_RATE_ERROR)
    report.rows = [{"clusters": round(n * 1.25), "clusters_single_frame": n} for n in groups]
    assert not cluster_rate(report, result)["met"]
    assert "MISS" in describe_cluster_rate(cluster_rate(report, result))
