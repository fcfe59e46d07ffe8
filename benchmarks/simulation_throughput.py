"""Throughput of the CCD simulator: images per second with truth, per preset.

Usage::

    .venv/bin/python benchmarks/simulation_throughput.py [--n 100] [--repeats 5]
        [--size 256] [--presets thesis random] [--frame]

Prints, for every preset, the median (and min/max) images per second over
``--repeats`` runs of ``--n`` images each (one process, one thread), and with
``--frame`` the time of a 4096x4096 x 4-amplifier DAMIC frame.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from ccdnb.simulation import simulate_frame, simulate_image


def images_per_second(preset, n, size, seed):
    """Return the rate of :func:`simulate_image` over ``n`` consecutive seeds."""
    start = time.perf_counter()
    for i in range(n):
        simulate_image(preset, size, seed=seed + i)
    return n / (time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="images per run")
    parser.add_argument("--repeats", type=int, default=5, help="runs per preset")
    parser.add_argument("--size", default="256", help="image size, N or HxW")
    parser.add_argument("--presets", nargs="+", default=["thesis", "thesis-balanced", "random"])
    parser.add_argument("--frame", action="store_true",
                        help="also time a 4096x4096 frame with 4 amplifiers (damic)")
    args = parser.parse_args(argv)

    for preset in args.presets:
        simulate_image(preset, args.size, seed=0)  # warm caches and imports
        rates = [images_per_second(preset, args.n, args.size, seed=1000 * r)
                 for r in range(args.repeats)]
        print(f"{preset:14s} {args.size}: {statistics.median(rates):7.1f} images/s "
              f"(median of {args.repeats} x {args.n}; min {min(rates):.1f}, max {max(rates):.1f})")
    if args.frame:
        start = time.perf_counter()
        simulate_frame((4096, 4096), n_amplifiers=4, seed=0)
        print(f"damic frame 4096x4096 x 4 amplifiers: {time.perf_counter() - start:.2f} s")
    return 0  # a measurement: no gate to judge


if __name__ == "__main__":
    sys.exit(main())
