"""Frames per minute of ``ccdnb.segment_files`` serially and on 1 and 2 dask workers.

Writes ``--frames`` simulated-like detector frames of ``--size`` x ``--size``
pixels (default 8 of 1024 x 1024) and times:

- *load excluded*: the model is already loaded (in this process for the serial
  row; in every worker of a running LocalCluster for the worker rows, which a
  first, untimed run warms): reading, segmenting and writing only;
- *load included*: a fresh ``ccdnb predict FRAMES... [--workers N]`` process:
  Python and TensorFlow start-up, the cluster's start, model loading and the frames.

Each figure is the median of ``--runs`` runs; the table gives frames per minute
and Mpix/s. Run it on a quiet machine (nothing else using the CPUs, e.g. no
training in the background): the workers compete for the same cores, so any
other load changes the numbers and the speed-up of 2 workers over 1::

    python benchmarks/scaleout_speed.py                       # 8 frames of 1024 x 1024
    python benchmarks/scaleout_speed.py --frames 2 --size 256 --runs 1   # a quick check

Without ``--model`` the model shipped in ``ccdnb/models/default.keras`` is used.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_frames(folder: Path, n: int, size: int) -> list:
    """``n`` float32 frames: pedestal, read noise, a hot column, a few hundred bright dots."""
    from astropy.io import fits

    paths = []
    for i in range(n):
        rng = np.random.default_rng(i)
        frame = 5000.0 + rng.normal(0.0, 3.0, (size, size))
        frame[:, rng.integers(0, size)] += 150.0
        for _ in range(size * size // 4000):
            row, col = rng.integers(1, size - 1, 2)
            frame[row - 1:row + 2, col - 1:col + 2] += rng.uniform(20, 500)
        path = folder / f"frame{i:03d}.fits"
        fits.PrimaryHDU(frame.astype(np.float32)).writeto(path, overwrite=True)
        paths.append(path)
    return paths


def timed_cli(frames, out_dir: Path, model, workers) -> float:
    """Seconds of one fresh ``ccdnb predict`` process (everything included)."""
    command = [sys.executable, "-m", "ccdnb", "predict", *map(str, frames), "--out-dir",
               str(out_dir), "--overwrite", "--quiet"]
    command += ["--model", str(model)] if model else []
    command += ["--workers", str(workers)] if workers else []
    start = time.perf_counter()
    result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"ccdnb predict failed:\n{result.stderr}")
    return seconds


def timed_runs(frames, out_dir: Path, model, runs: int, **where) -> float:
    """Median seconds of ``segment_files`` with the model already loaded where it runs."""
    import ccdnb

    ccdnb.segment_files(frames, out_dir, model=model, overwrite=True, progress=False,
                        **where)  # warm-up: loads the model, untimed
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        summary = ccdnb.segment_files(frames, out_dir, model=model, overwrite=True,
                                      progress=False, **where)
        seconds.append(time.perf_counter() - start)
        if not summary.ok:
            raise SystemExit(f"segment_files failed: {summary.failures}")
    return statistics.median(seconds)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--model", default=None, help="a shipped model name or .keras file")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from distributed import Client

    from ccdnb.scaleout import start_local_cluster

    model = args.model or "default"
    rows = []
    with tempfile.TemporaryDirectory(prefix="ccdnb-scaleout-") as tmp:
        tmp = Path(tmp)
        frames = write_frames(tmp, args.frames, args.size)
        out_dir = tmp / "masks"
        mpix = args.frames * args.size * args.size / 1e6

        excluded = timed_runs(frames, out_dir, model, args.runs)
        included = statistics.median(timed_cli(frames, out_dir, args.model, None)
                                     for _ in range(args.runs))
        rows.append(("serial (this process)", excluded, included))
        for workers in args.workers:
            cluster, tf_threads = start_local_cluster(workers)
            with Client(cluster) as client:
                excluded = timed_runs(frames, out_dir, model, args.runs, client=client)
            cluster.close()
            included = statistics.median(timed_cli(frames, out_dir, args.model, workers)
                                         for _ in range(args.runs))
            rows.append((f"{workers} worker{'s' if workers > 1 else ''} "
                         f"({tf_threads} TF thread{'s' if tf_threads > 1 else ''} each)",
                         excluded, included))

    print(f"{args.frames} frames of {args.size} x {args.size} ({mpix:.1f} Mpix), "
          f"model {model}, {os.cpu_count()} CPUs, median of {args.runs} run(s)")
    print(f"{'':32s} {'load excluded':>22s} {'load included':>22s}")
    print(f"{'':32s} {'frames/min':>11s} {'Mpix/s':>10s} {'frames/min':>11s} {'Mpix/s':>10s}")
    for name, excluded, included in rows:
        print(f"{name:32s} {60 * args.frames / excluded:11.1f} {mpix / excluded:10.2f} "
              f"{60 * args.frames / included:11.1f} {mpix / included:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
