"""Time ``ccdnb predict`` on a simulated full detector frame.

Runs the whole command (a fresh Python process each time: start-up, model
loading, FITS I/O, normalisation, tiled prediction, writing) several times on a
4096 x 4096 frame and prints the median seconds and megapixels per second; the
same frame through ``astroscrappy.detect_cosmics`` (L.A.Cosmic, the usual
non-learned cosmic-ray masker) for comparison; and the peak resident memory of
one ``ccdnb predict`` process on a 4096 x 6144 frame (a DAMIC-M CCD)::

    python benchmarks/predict_speed.py --model runs/quick/model/model.keras --runs 3

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

BENCH_SHAPE = (4096, 4096)
MEMORY_SHAPE = (4096, 6144)


def write_frame(path: Path, shape, seed: int = 0) -> Path:
    """Write a detector-like float32 frame: drifting pedestal, noise, hot columns, clusters."""
    from astropy.io import fits

    rng = np.random.default_rng(seed)
    height, width = shape
    noise = 2.0
    frame = rng.normal(0.0, noise, shape).astype(np.float32)
    frame += (10_000.0 + np.linspace(0.0, 30.0, height, dtype=np.float32))[:, None]
    for col in rng.integers(0, width, 8):
        frame[rng.integers(0, height // 2):, col] += 50 * noise
    for _ in range(2000):
        row, col = rng.integers(2, height - 2), rng.integers(2, width - 2)
        frame[row - 1:row + 2, col - 1:col + 2] += rng.uniform(5, 200) * noise
    fits.PrimaryHDU(frame).writeto(path, overwrite=True)
    return path


def run_predict(frame: Path, out_dir: Path, model: Path | None, tile: int, batch_size: int):
    """Run ``ccdnb predict`` once; return (seconds, peak RSS of the child in MiB)."""
    command = [sys.executable, "-m", "ccdnb", "predict", str(frame), "--out-dir", str(out_dir),
               "--overwrite", "--tile", str(tile), "--batch-size", str(batch_size)]
    if model is not None:
        command += ["--model", str(model)]
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: a full pipe would block
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        stderr = log.read().decode(errors="replace")
    if child.returncode:
        errors = [line for line in stderr.splitlines() if line.startswith("ccdnb")]
        sys.exit(f"ccdnb predict failed ({child.returncode}): {errors[-1:] or stderr[-500:]}")
    return seconds, usage.ru_maxrss / 1024.0  # ru_maxrss is in KiB on Linux


def time_astroscrappy(frame: Path, runs: int) -> float:
    """Median seconds of ``astroscrappy.detect_cosmics`` on the frame (read once)."""
    import astroscrappy
    from astropy.io import fits

    data = fits.getdata(frame).astype(np.float32)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        astroscrappy.detect_cosmics(data, gain=1.0, readnoise=2.0)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="a .keras model (default: the shipped default model)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measurement")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where frames and masks go (default: a temporary directory)")
    parser.add_argument("--skip-memory", action="store_true",
                        help="skip the 4096 x 6144 peak-memory run")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        work = args.work_dir or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        frame = write_frame(work / "bench_4096x4096.fits", BENCH_SHAPE)
        megapixels = BENCH_SHAPE[0] * BENCH_SHAPE[1] / 1e6
        runs = [run_predict(frame, work / "out", args.model, args.tile, args.batch_size)
                for _ in range(args.runs)]
        seconds = statistics.median(t for t, _ in runs)
        print(f"ccdnb predict {BENCH_SHAPE[0]}x{BENCH_SHAPE[1]} (tile {args.tile}, batch "
              f"{args.batch_size}, median of {args.runs}): {seconds:.2f} s, "
              f"{megapixels / seconds:.2f} Mpix/s, peak RSS {max(m for _, m in runs):.0f} MiB")
        cosmics = time_astroscrappy(frame, args.runs)
        print(f"astroscrappy.detect_cosmics same frame (median of {args.runs}): "
              f"{cosmics:.2f} s, {megapixels / cosmics:.2f} Mpix/s")
        if not args.skip_memory:
            big = write_frame(work / "bench_4096x6144.fits", MEMORY_SHAPE, seed=1)
            big_seconds, peak = run_predict(big, work / "out", args.model, args.tile,
                                            args.batch_size)
            print(f"ccdnb predict {MEMORY_SHAPE[0]}x{MEMORY_SHAPE[1]}: {big_seconds:.2f} s, "
                  f"peak RSS {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
