"""Peak memory of ``ccdnb.monitor`` over a long run in one process (issue 21's gate).

Simulates ``--frames`` frames (default 200 of 512 x 512), monitors them in this
process and prints the peak RSS after frame 20 and after the last frame (gate:
within 10 %)::

    python benchmarks/monitor_memory.py --frames 200 --size 512
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)

    import ccdnb
    from ccdnb.simulation.run import simulate_run

    work = Path(tempfile.mkdtemp(prefix="ccdnb-memory-"))
    try:
        files = simulate_run(args.frames, args.size, args.seed).write(work / "frames", "f")
        peaks = []

        def note(result):
            peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)

        report = ccdnb.monitor(files, work / "report", progress=False, callback=note)
        early = peaks[min(19, len(peaks) - 1)]
        print(f"{report.summary.line()}")
        print(f"peak RSS after frame {min(20, len(peaks))}: {early:.0f} MiB; after frame "
              f"{len(peaks)}: {peaks[-1]:.0f} MiB; after the report: "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0:.0f} MiB "
              f"(ratio {peaks[-1] / early:.3f}, gate <= 1.10)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
