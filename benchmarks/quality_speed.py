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
functions of the two modules). ``--baseline COMMIT`` times the two modules as they were at
``COMMIT`` too (loaded with ``git show``), alternated with the current ones, and says
whether they give the same bits and rate. The gate the stage serves: ``ccdnb predict
--quality`` adds at most 10 % to the benchmark frame's time (about 3.5 s on a quiet
machine), i.e. the stage takes about 0.3 s or less. ::

    python benchmarks/quality_speed.py [--repeats 5] [--frames benchmark skipper] [--profile]
    python benchmarks/quality_speed.py --baseline d5d62b0   # before/after, same run
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


MODULES = {"quality_mask": ("ccdnb.objects.quality_mask", "ccdnb/objects/quality_mask.py"),
           "measure_electron_rate": ("ccdnb.skipper.electron_rate",
                                     "ccdnb/skipper/electron_rate.py")}


def baseline_modules(commit: str) -> dict:
    """The two modules as they were at ``commit`` (``git show``), loaded beside the current
    ones: ``{module name: module}``."""
    import importlib
    import subprocess
    import types

    loaded = {}
    for name, path in MODULES.values():
        importlib.import_module(name)
        source = subprocess.run(["git", "-C", str(HERE.parent), "show", f"{commit}:{path}"],
                                capture_output=True, text=True, check=True).stdout
        module = types.ModuleType(name)
        module.__package__, module.__file__ = name.rsplit(".", 1)[0], f"{commit}:{path}"
        current = sys.modules[name]
        sys.modules[name] = module  # dataclasses look their module up while it runs
        try:
            exec(compile(source, module.__file__, "exec"), module.__dict__)
        finally:
            sys.modules[name] = current
        loaded[name] = module
    return loaded


def time_stage(states, repeats: int, modules=None) -> dict:
    """Median CPU seconds (over ``repeats``) of the stage over all ``states``, per part;
    with ``modules`` (:func:`baseline_modules`) in place of the current ones."""
    import importlib

    from ccdnb.predict.pipeline import make_quality_mask

    names = [name for name, _ in MODULES.values()]
    current = {name: importlib.import_module(name) for name in names}
    use = {name: (modules or current)[name] for name in names}
    original = {part: getattr(use[name], part) for part, (name, _) in MODULES.items()}
    parts = {"quality_mask": [], "measure_electron_rate": [], "stage": []}
    try:
        sys.modules.update(use)  # where the stage imports them from
        for _ in range(repeats):
            timed = {part: _Timed(function) for part, function in original.items()}
            for part, (name, _) in MODULES.items():
                setattr(use[name], part, timed[part])
            start = time.process_time()
            for state in states:
                make_quality_mask(state)
            parts["stage"].append(time.process_time() - start)
            for part in timed:
                parts[part].append(timed[part].seconds)
    finally:
        for part, (name, _) in MODULES.items():
            setattr(use[name], part, original[part])
        sys.modules.update(current)
    return {name: statistics.median(values) for name, values in parts.items()}


def outputs(states) -> list:
    """Each state's quality mask and rate figures (to compare two versions)."""
    return [(state.quality.copy(), np.array([state.rate.rate, state.rate.error,
                                             state.rate.slope_per_krow])) for state in states]


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
    parser.add_argument("--baseline", metavar="COMMIT", default=None,
                        help="also time the two modules as they were at this commit, "
                             "alternated with the current ones, and compare their output")
    parser.add_argument("--profile", action="store_true",
                        help="also print cProfile's CPU-time breakdown per frame")
    args = parser.parse_args(argv)

    makers = {"benchmark": benchmark_states, "skipper": skipper_states}
    baseline = baseline_modules(args.baseline) if args.baseline else None
    missed = False
    for name in args.frames:
        labelled = list(makers[name]())
        states = [state for _, state in labelled]
        runs, old_runs = [], []
        for _ in range(args.repeats):  # alternated, so that the load hits both alike
            runs.append(time_stage(states, 1))
            if baseline:
                new_out = outputs(states)
                old_runs.append(time_stage(states, 1, baseline))
        times = {part: statistics.median(r[part] for r in runs) for part in runs[0]}
        print(f"{name} frame ({len(states)} image(s)); CPU seconds, median of "
              f"{args.repeats} runs of the stage" + (f" (baseline: {args.baseline})"
                                                     if baseline else "") + ":")
        for part in ("quality_mask", "measure_electron_rate", "stage"):
            line = f"  {part if part != 'stage' else 'whole stage':24s}{times[part]:7.3f} s"
            if baseline:
                old = statistics.median(r[part] for r in old_runs)
                line += f"   baseline {old:7.3f} s   ({old / max(times[part], 1e-9):.1f} x)"
            print(line)
        if baseline:
            old_out = outputs(states)
            same = all(np.array_equal(a[0], b[0]) for a, b in zip(new_out, old_out))
            with np.errstate(invalid="ignore", divide="ignore"):
                rel = max(float(np.nanmax(np.abs(a[1] / b[1] - 1.0), initial=0.0))
                          for a, b in zip(new_out, old_out))
            print(f"  same quality bits as the baseline: {'yes' if same else 'NO'}; "
                  f"rate, error, slope: largest relative difference {rel:.1e}")
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
