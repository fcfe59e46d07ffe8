"""CPU time of ``ccdnb predict``'s quality stage alone, part by part (issue 31's speed gate).

The stage (:func:`ccdnb.predict.pipeline.make_quality_mask`) makes the quality bit mask
(:func:`ccdnb.objects.quality_mask.quality_mask`) and measures the single-electron rate on
its clean pixels (:func:`ccdnb.skipper.electron_rate.measure_electron_rate`). Here the
pipeline runs once up to the stage (the network included, skipping ``quality``), and the
stage is then run ``--repeats`` times on that state, its two parts timed by wrapping them
where the stage finds them. Times are CPU seconds of this process
(:func:`time.process_time`): on a machine loaded by other jobs they hold where wall time
does not. The frames:

- ``benchmark``: ``benchmarks/predict_speed.py``'s 4096 x 4096 conventional frame (read
  noise 2 ADU, hot columns, clusters; no electrons resolved);
- ``skipper``: a 4-amplifier ``skipper-dense`` frame of 320 x 640 per amplifier (the
  DAMIC-M layout), each amplifier a stage of its own (times summed over the 4).

``--profile`` adds :mod:`cProfile`'s CPU-time breakdown of one run of the stage (the
functions of the two modules). The gate the stage serves: ``ccdnb predict --quality`` adds
at most 10 % to the benchmark frame's time (about 3.5 s on a quiet machine), i.e. the stage
takes about 0.3 s or less. ::

    python benchmarks/quality_speed.py [--repeats 5] [--frames benchmark skipper] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SKIPPER_SHAPE = (320, 640)
#: CPU seconds of the stage on the benchmark frame: 10 % of about 3.5 s, less what the
#: header cards and the extra HDU's writing take.
STAGE_BUDGET_S = 0.3


def benchmark_states(seed: int = 0):
    """(label, FrameState) of predict_speed.py's frame, up to the quality stage."""
    sys.path.insert(0, str(HERE))
    from astropy.io import fits
    from predict_speed import BENCH_SHAPE, write_frame

    with tempfile.TemporaryDirectory() as scratch:
        path = write_frame(Path(scratch) / "frame.fits", BENCH_SHAPE, seed=seed)
        image = fits.getdata(path).astype(np.float32)
    yield "4096x4096", _state(image, {})


def skipper_states(seed: int = 31):
    """(label, FrameState) of each amplifier of a 4-amplifier skipper-dense frame."""
    from ccdnb.simulation import simulate_frame

    for sim in simulate_frame(SKIPPER_SHAPE, 4, seed=seed, preset="skipper-dense"):
        options = {"readout_side": sim.meta["readout_edge"]}
        yield f"amp {sim.meta['amplifier']}", _state(sim.image, options)


def _state(image, options):
    from ccdnb.api import get_segmenter
    from ccdnb.predict.pipeline import predict_image

    model = get_segmenter("default").model
    return predict_image(model, image, quality=options, skip_stages=("quality",),
                         return_state=True)


class _Timed:
    """A function that adds its calls' CPU seconds to ``seconds``."""

    def __init__(self, function):
        self.function, self.seconds = function, 0.0

    def __call__(self, *args, **kwargs):
        start = time.process_time()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.seconds += time.process_time() - start


def time_stage(states, repeats: int) -> dict:
    """Median CPU seconds (over ``repeats``) of the stage over all ``states``, per part."""
    import ccdnb.objects.quality_mask as mask_module
    import ccdnb.skipper.electron_rate as rate_module
    from ccdnb.predict.pipeline import make_quality_mask

    parts = {"quality_mask": [], "measure_electron_rate": [], "stage": []}
    original = mask_module.quality_mask, rate_module.measure_electron_rate
    try:
        for _ in range(repeats):
            mask_module.quality_mask = timed_mask = _Timed(original[0])
            rate_module.measure_electron_rate = timed_rate = _Timed(original[1])
            start = time.process_time()
            for state in states:
                make_quality_mask(state)
            parts["stage"].append(time.process_time() - start)
            parts["quality_mask"].append(timed_mask.seconds)
            parts["measure_electron_rate"].append(timed_rate.seconds)
    finally:
        mask_module.quality_mask, rate_module.measure_electron_rate = original
    return {name: statistics.median(values) for name, values in parts.items()}


def profile_stage(states, top: int = 14) -> str:
    """cProfile's CPU-time table of one run of the stage over ``states``."""
    import io

    from ccdnb.predict.pipeline import make_quality_mask

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for state in states:
        make_quality_mask(state)
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("cumulative").print_stats(r"quality_mask|electron_rate", top)
    return text.getvalue()


def describe(states) -> str:
    """What the stage has to work with: charge known, and the classes' pixel counts."""
    parts = []
    for label, state in states:
        counts = np.bincount(state.mask.ravel(), minlength=4)
        parts.append(f"{label}: charge {'yes' if state.electrons is not None else 'no'}, "
                     f"glowing {counts[1]}, hot {counts[2]}, cluster {counts[3]} px; "
                     f"rate {state.rate.rate:.4g} ({state.rate.method[:40]})"
                     if state.rate is not None else label)
    return "\n    ".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of the stage (median)")
    parser.add_argument("--frames", nargs="+", choices=("benchmark", "skipper"),
                        default=["benchmark", "skipper"])
    parser.add_argument("--profile", action="store_true",
                        help="also print cProfile's CPU-time breakdown per frame")
    args = parser.parse_args(argv)

    makers = {"benchmark": benchmark_states, "skipper": skipper_states}
    missed = False
    for name in args.frames:
        labelled = list(makers[name]())
        states = [state for _, state in labelled]
        times = time_stage(states, args.repeats)
        print(f"{name} frame ({len(states)} image(s)); CPU seconds, median of "
              f"{args.repeats} runs of the stage:")
        print(f"  quality_mask            {times['quality_mask']:7.3f} s")
        print(f"  measure_electron_rate   {times['measure_electron_rate']:7.3f} s")
        print(f"  whole stage             {times['stage']:7.3f} s")
        print(f"    {describe(labelled)}")
        if name == "benchmark":
            ok = times["stage"] <= STAGE_BUDGET_S
            missed |= not ok
            print(f"  stage <= {STAGE_BUDGET_S} s CPU on the benchmark frame -> "
                  f"{'PASS' if ok else 'MISS'}")
        if args.profile:
            print(profile_stage(states))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
