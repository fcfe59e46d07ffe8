"""Memory of ``ccdnb.monitor`` over a long run in one process (issue 21's gate), with gates.

Simulates ``--frames`` frames (default 200 of 512 x 512), monitors them in this
process and prints

- the peak RSS after frame 20 and after the last frame (issue 21's gate: within 10 %);
- the growth of the resident memory per frame over the second half of the run,
  a linear fit (gate: at most a third of one frame's float32 image per frame,
  so that a leak of one image per frame is seen; the first half is the
  warm-up that takes the one-off steps: lazy imports, the heaviest frame's
  working set)::

    python benchmarks/monitor_memory.py --frames 200 --size 512

The exit status is 0 when both gates are met, else 1.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

#: Issue 21: peak RSS after the last frame within this factor of the peak after frame 20.
MAX_PEAK_RATIO = 1.10
#: Frames before the growth fit and the first peak.
WARM_UP = 20


def resident_kib() -> float:
    """The resident memory of this process now (KiB), or NaN where /proc is missing."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024.0
    except OSError:
        return float("nan")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    if args.frames < WARM_UP + 10:
        parser.error(f"--frames: at least {WARM_UP + 10} (a warm-up of {WARM_UP} and a fit)")

    import ccdnb
    from ccdnb.simulation.run import simulate_run

    work = Path(tempfile.mkdtemp(prefix="ccdnb-memory-"))
    try:
        files = simulate_run(args.frames, args.size, args.seed).write(work / "frames", "f")
        peaks, resident = [], []

        def note(result):
            peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
            resident.append(resident_kib())

        report = ccdnb.monitor(files, work / "report", progress=False, callback=note)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    early = peaks[WARM_UP - 1]
    ratio = peaks[-1] / early
    half = len(resident) // 2
    after = np.asarray(resident[half:])
    growth = float(np.polyfit(np.arange(after.size), after, 1)[0])
    max_growth = args.size * args.size * 4 / 1024.0 / 3.0
    ratio_met, growth_met = ratio <= MAX_PEAK_RATIO, growth <= max_growth
    print(report.summary.line())
    print(f"peak RSS after frame {WARM_UP}: {early:.0f} MiB; after frame {len(peaks)}: "
          f"{peaks[-1]:.0f} MiB (ratio {ratio:.3f}, gate <= {MAX_PEAK_RATIO}: "
          f"{'PASS' if ratio_met else 'MISS'})")
    print(f"resident memory after frame {half + 1}: {after[0] / 1024:.0f} MiB, after frame "
          f"{len(resident)}: {after[-1] / 1024:.0f} MiB; growth {growth:.1f} KiB per frame "
          f"(gate <= {max_growth:.0f}, a third of one frame's image: "
          f"{'PASS' if growth_met else 'MISS'})")
    return 0 if ratio_met and growth_met else 1


if __name__ == "__main__":
    sys.exit(main())
