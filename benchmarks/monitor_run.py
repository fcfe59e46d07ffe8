"""The gates of ``ccdnb monitor`` on a simulated run (issue 21), printed as numbers.

Simulates a run (:func:`ccdnb.simulation.run.simulate_run`: persistent and
intermittent defects, drift, bad frames, fresh hits), monitors it with the
shipped model and prints:

- the defect map against the truth: the share of the defect pixels on in at
  least 30 % of the frames that it flags (gate >= 99 %), and the share of its
  flagged pixels that are no defect at all (gate <= 0.1 %);
- false clusters (predicted cluster groups touching no true cluster) and true
  clusters found as cluster, single frames against frames settled with the
  map (gate: false clusters fall >= 10-fold, found clusters stay or rise);
- bad frames flagged (gate: all) and good frames flagged (gate: <= 1 in 50).

With ``--speed`` it instead times ``ccdnb predict`` and ``ccdnb monitor`` on the
same frames, as subprocesses (gate: monitor <= 1.2 x predict; 50 frames of
1024 x 1024 by default)::

    python benchmarks/monitor_run.py                      # 50 frames of 512 x 512
    python benchmarks/monitor_run.py --speed --frames 50 --size 1024
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def quality(frames: int, size: int, seed: int, work: Path, amplifiers: int) -> dict:
    from astropy.io import fits

    from ccdnb.classes import CLUSTER
    from ccdnb.defects import settle_with_defects
    from ccdnb.evaluation.events import cluster_detection, false_cluster_components
    from ccdnb.fitsio import masks_path
    from ccdnb.monitoring import monitor
    from ccdnb.simulation.run import simulate_run

    run = simulate_run(frames, size, seed, n_amplifiers=amplifiers)
    start = time.perf_counter()
    files = run.write(work / "frames", "frame")
    print(f"simulated {frames} frames of {size}x{size} x {amplifiers} amplifier(s) "
          f"in {time.perf_counter() - start:.0f} s; {len(run.defects)} defects; bad frames "
          + ", ".join(f"{i} ({b})" for i, b in enumerate(run.bad) if b))
    start = time.perf_counter()
    report = monitor(files, work / "report", progress=False)
    print(f"monitored in {time.perf_counter() - start:.0f} s: {report.summary.line()}")

    dmap = report.defect_map
    recall_found = recall_total = false_flags = flags = 0
    for k, amp in enumerate(dmap.amplifiers):
        flagged = dmap.hot(amp)
        wanted = run.defect_pixels(k, min_presence=0.3)
        anywhere = run.defect_pixels(k)
        recall_found += int((flagged & wanted).sum())
        recall_total += int(wanted.sum())
        false_flags += int((flagged & ~anywhere).sum())
        flags += int(flagged.sum())
    recall = recall_found / max(recall_total, 1)
    false_share = false_flags / max(flags, 1)

    bad = {i for i, b in enumerate(run.bad) if b}
    flagged_frames = {o["frame"] for o in report.outliers}
    good_false = [0, 0]
    false_single = false_settled = found_single = found_settled = n_clusters = 0
    for i, path in enumerate(files):
        truth = run.frame(i)
        with fits.open(masks_path(path, report.paths["masks"])) as hdul:
            images = [h for h in hdul if h.data is not None]
            for k, (sim, hdu) in enumerate(zip(truth, images)):
                single = np.asarray(hdu.data)
                settled = settle_with_defects(single, dmap.hot(dmap.amplifiers[k]))
                before = false_cluster_components(single, sim.instances, sim.objects)
                after = false_cluster_components(settled, sim.instances, sim.objects)
                false_single, false_settled = false_single + before, false_settled + after
                if i not in flagged_frames:
                    good_false = [good_false[0] + before, good_false[1] + after]
                found, _ = cluster_detection(single, sim.instances, sim.objects,
                                             as_classes=(CLUSTER,))
                found_single += int(found.sum())
                found_settled += int(cluster_detection(settled, sim.instances, sim.objects)[0]
                                     .sum())
                n_clusters += found.size

    missed = sorted(bad - flagged_frames)
    false_frames = sorted(flagged_frames - bad)
    fall = false_single / max(false_settled, 1)
    print()
    print(f"defect map: flags {flags} pixels; finds {recall_found}/{recall_total} = "
          f"{recall:.2%} of the defect pixels on in >= 30 % of frames (gate >= 99 %); "
          f"{false_flags} flagged pixels are no defect = {false_share:.3%} (gate <= 0.1 %)")
    print(f"false clusters: {false_single} in single frames, {false_settled} with the map: "
          f"{fall:.1f}-fold fewer (gate >= 10); true clusters found as cluster: "
          f"{found_single}/{n_clusters} single, {found_settled}/{n_clusters} with the map "
          f"(gate: stay or rise)")
    print(f"  on the {frames - len(flagged_frames)} frames not flagged as outliers: "
          f"{good_false[0]} -> {good_false[1]} false clusters, "
          f"{good_false[0] / max(good_false[1], 1):.1f}-fold fewer")
    print(f"bad frames: {len(bad) - len(missed)}/{len(bad)} flagged (missed {missed}); "
          f"{len(false_frames)} good frames flagged {false_frames} (gate <= 1 in 50)")
    for o in report.outliers:
        print(f"  frame {o['frame']} {o['amplifier']}: {o['reason']}"
              + (f"  [truth: {run.bad[o['frame']]}]" if run.bad[o["frame"]] else ""))
    return {"recall": recall, "false_share": false_share, "false_single": false_single,
            "false_settled": false_settled, "found_single": found_single,
            "found_settled": found_settled, "missed": missed, "false_frames": false_frames}


def speed(frames: int, size: int, seed: int, work: Path, workers: int | None) -> None:
    from ccdnb.simulation.run import simulate_run

    run = simulate_run(frames, size, seed)
    files = [str(p) for p in run.write(work / "frames", "frame")]
    ccdnb = [sys.executable, "-m", "ccdnb"]
    extra = ["--workers", str(workers)] if workers else []
    times = {}
    for name, command in (
            ("predict", ccdnb + ["predict", *files, "--out-dir", str(work / "masks"),
                                 "--quiet", *extra]),
            ("monitor", ccdnb + ["monitor", *files, "--out-dir", str(work / "report"),
                                 "--quiet", *extra])):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times[name] = time.perf_counter() - start
        print(f"ccdnb {name}: {times[name]:.1f} s for {frames} frames of {size}x{size}")
    print(f"monitor / predict = {times['monitor'] / times['predict']:.2f} (gate <= 1.2)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--size", type=int, default=None,
                        help="frame side (default: 512, or 1024 with --speed)")
    parser.add_argument("--amplifiers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--speed", action="store_true", help="time monitor against predict")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--keep", default=None, metavar="DIR",
                        help="work in DIR and keep it (default: a temporary folder)")
    args = parser.parse_args(argv)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ccdnb-monitor-"))
    try:
        if args.speed:
            speed(args.frames, args.size or 1024, args.seed, work, args.workers)
        else:
            quality(args.frames, args.size or 512, args.seed, work, args.amplifiers)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
