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
- bad frames flagged (gate: all) and good frames flagged (gate: <= 1 in 50);
- the cluster rate (issue 31): the table's clusters per Mpix, counted on masks
  settled by the run's own defect map, beside the truth's (8-connected groups of
  the simulation's cluster pixels) and beside the count on the frames' own masks
  (gate: within 20 % of the truth; see ``ccdnb.monitoring.truth.MAX_CLUSTER_RATE_ERROR``);
- the CPU time (``time.process_time``) of the monitor's second pass per frame
  (settling, quality mask, single-electron rate, statistics again; no gate: the
  speed gate is ``--speed``'s).

With ``--speed`` it instead times ``ccdnb predict`` and ``ccdnb monitor`` on the
same frames, as subprocesses, ``--runs`` times alternated (gate on the medians of the wall
clock: monitor <= 1.2 x predict; the CPU seconds of the two processes are printed beside it,
the steadier figure on a loaded machine; 50 frames of 1024 x 1024 by default)::

    python benchmarks/monitor_run.py                      # 50 frames of 512 x 512
    python benchmarks/monitor_run.py --speed --frames 50 --size 1024 --runs 3

The exit status is 0 when every gate it prints is met, else 1.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


def quality(frames: int, size: int, seed: int, work: Path, amplifiers: int) -> bool:
    """Monitor a simulated run, print issue 21's figures; True when every gate is met."""
    from ccdnb.monitoring import monitor
    from ccdnb.monitoring.truth import (
        cluster_rate,
        describe,
        describe_cluster_rate,
        evaluate_run,
        gates,
    )
    from ccdnb.simulation.run import simulate_run

    run = simulate_run(frames, size, seed, n_amplifiers=amplifiers)
    start = time.perf_counter()
    files = run.write(work / "frames", "frame")
    print(f"simulated {frames} frames of {size}x{size} x {amplifiers} amplifier(s) "
          f"in {time.perf_counter() - start:.0f} s; {len(run.defects)} defects; bad frames "
          + ", ".join(f"{i} ({b})" for i, b in enumerate(run.bad) if b))
    start = time.perf_counter()
    with second_pass_clock() as clock:
        report = monitor(files, work / "report", progress=False)
    print(f"monitored in {time.perf_counter() - start:.0f} s: {report.summary.line()}")
    print(f"second pass (settle, quality mask, rate): {clock.per_frame() * 1e3:.0f} ms CPU "
          f"per frame of {size}x{size} x {amplifiers} (process_time, {clock.frames} frames)")

    result = evaluate_run(run, report, files)
    print()
    print(describe(result, frames))
    for o in report.outliers:
        print(f"  frame {o['frame']} {o['amplifier']}: {o['reason']}"
              + (f"  [truth: {run.bad[o['frame']]}]" if run.bad[o["frame"]] else ""))
    figures = cluster_rate(report, result)
    print(describe_cluster_rate(figures))
    verdict = gates(result, frames)
    verdict["cluster rate"] = figures["met"]
    missed = [name for name, ok in verdict.items() if not ok]
    print(f"\ngates: {len(verdict) - len(missed)} of {len(verdict)} met"
          + (f"; MISSED: {', '.join(missed)}" if missed else ""))
    return not missed


class _Clock:
    """CPU time (process_time) spent in the monitor's second pass, and the frames it did."""

    def __init__(self):
        self.seconds, self.frames = 0.0, 0

    def per_frame(self) -> float:
        return self.seconds / max(self.frames, 1)


@contextlib.contextmanager
def second_pass_clock():
    """Time every second-pass frame of :class:`ccdnb.monitoring.frame.MonitorTask` (this
    process: the monitor runs without workers here)."""
    from ccdnb.monitoring.frame import MonitorTask

    clock, original = _Clock(), MonitorTask._second_pass

    def timed(self, *args, **kwargs):
        start = time.process_time()
        try:
            return original(self, *args, **kwargs)
        finally:
            clock.seconds += time.process_time() - start
            clock.frames += 1

    MonitorTask._second_pass = timed
    try:
        yield clock
    finally:
        MonitorTask._second_pass = original


#: Monitoring may take at most this many times ``ccdnb predict`` on the same frames.
MAX_SPEED_RATIO = 1.2


def _run_timed(command) -> tuple[float, float]:
    """Run ``command``; (wall seconds, CPU seconds of the child: user and system), timed as
    ``benchmarks/predict_speed.py`` times its processes."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:  # imported, not run as a script
        sys.path.insert(0, here)
    from predict_speed import run_process

    seconds, _, _, cpu = run_process(command)
    return seconds, cpu


def speed(frames: int, size: int, seed: int, work: Path, workers: int | None,
          runs: int = 1) -> bool:
    """Time predict and monitor on the same frames, ``runs`` times alternated; True when the
    speed gate is met by the medians of the wall-clock times."""
    from ccdnb.simulation.run import simulate_run

    run = simulate_run(frames, size, seed)
    files = [str(p) for p in run.write(work / "frames", "frame")]
    ccdnb = [sys.executable, "-m", "ccdnb"]
    extra = ["--workers", str(workers)] if workers else []
    commands = {
        "predict": ccdnb + ["predict", *files, "--out-dir", str(work / "masks"), "--quiet",
                            "--overwrite", *extra],
        # a fresh report directory each time: a rerun into the same one skips done frames
        "monitor": lambda k: ccdnb + ["monitor", *files, "--out-dir",
                                      str(work / f"report{k}"), "--quiet", *extra]}
    times = {"predict": [], "monitor": []}
    for k in range(runs):
        for name in ("predict", "monitor"):
            command = commands[name](k) if callable(commands[name]) else commands[name]
            times[name].append(_run_timed(command))
            wall, cpu = times[name][-1]
            print(f"ccdnb {name}: {wall:.1f} s ({cpu:.1f} s CPU) for {frames} frames of "
                  f"{size}x{size}")
    wall = {name: statistics.median(t for t, _ in got) for name, got in times.items()}
    cpu = {name: statistics.median(c for _, c in got) for name, got in times.items()}
    ratio = wall["monitor"] / wall["predict"]
    met = ratio <= MAX_SPEED_RATIO
    print(f"monitor / predict = {ratio:.2f} wall clock, {cpu['monitor'] / cpu['predict']:.2f} "
          f"CPU (medians of {runs}; gate on the wall clock <= {MAX_SPEED_RATIO}: "
          f"{'PASS' if met else 'MISS'})")
    return met


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--size", type=int, default=None,
                        help="frame side (default: 512, or 1024 with --speed)")
    parser.add_argument("--amplifiers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--speed", action="store_true", help="time monitor against predict")
    parser.add_argument("--runs", type=int, default=1,
                        help="with --speed: alternated runs of each (medians)")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--keep", default=None, metavar="DIR",
                        help="work in DIR and keep it (default: a temporary folder)")
    args = parser.parse_args(argv)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ccdnb-monitor-"))
    try:
        if args.speed:
            met = speed(args.frames, args.size or 1024, args.seed, work, args.workers,
                        args.runs)
        else:
            met = quality(args.frames, args.size or 512, args.seed, work, args.amplifiers)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
