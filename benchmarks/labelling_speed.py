"""Speed of the thesis's threshold labelling on a whole stack of simulated images.

Usage::

    .venv/bin/python benchmarks/labelling_speed.py [--n 200] [--size 256] [--repeats 5]
        [--noiseless]

Simulates ``--n`` thesis images once, then prints the median (and min/max) time of
:func:`ccdnb.label.threshold_labels` over the stack in ``--repeats`` runs, and its
agreement with the truth labels. The target: 200 images of 256x256 well under a second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from ccdnb.label import threshold_labels
from ccdnb.simulation import simulate_dataset


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="images in the stack")
    parser.add_argument("--size", default="256", help="image size, N or HxW")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--noiseless", action="store_true", help="simulate noiseless images")
    args = parser.parse_args(argv)

    data = simulate_dataset("thesis", args.n, args.size, args.seed, noiseless=args.noiseless)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        labels = threshold_labels(data.images, data.meta)
        times.append(time.perf_counter() - start)
    agreement = float(np.mean(labels == data.labels))
    n, h, w = data.images.shape
    print(f"threshold_labels on {n} images of {h}x{w} "
          f"({'noiseless' if args.noiseless else 'noisy'}): "
          f"median {statistics.median(times):.3f} s (min {min(times):.3f}, max {max(times):.3f}) "
          f"over {args.repeats} runs; {n * h * w / statistics.median(times) / 1e6:.0f} Mpixel/s; "
          f"agreement with truth {100 * agreement:.3f} %")
    return 0  # a measurement: no gate to judge


if __name__ == "__main__":
    sys.exit(main())
