"""Time ``ccdnb predict`` on a simulated full detector frame, beside L.A.Cosmic and the roofline.

On one 4096 x 4096 frame, in one run, with medians of ``--runs`` alternated runs:

- the whole ``ccdnb predict`` process (start-up, model loading, FITS I/O,
  background, tiled prediction, writing) and its peak memory;
- start-up alone: the same command on a 32 x 32 frame (everything but the pixels);
- in-process :meth:`ccdnb.Segmenter.segment` of the frame (model loaded once), Mpix/s;
- ``astroscrappy.detect_cosmics`` (L.A.Cosmic, the usual non-learned masker) as a
  whole process (read, detect, write the mask) and in-process; the ratios;
- the share of the FLOP roofline reached in-process: the network's convolution
  FLOPs per frame pixel (:func:`ccdnb.model.conv_flops`, overlap of the tiles
  *not* counted, so recomputed margins count as lost time) over the time,
  against this machine's measured FP32 peak (the best of large float32 matrix
  products through ONNX Runtime, OpenVINO and NumPy's BLAS on every core);
- peak memory of one ``ccdnb predict`` process on a 4096 x 6144 frame (a DAMIC-M CCD);
- many-file mode (``--many N``): frames per minute for a directory of N frames in
  one ``ccdnb predict`` call (model loaded once, reading overlapped with compute);
- ``--catalog``: the whole process again with ``--catalog`` (gain fit, cluster
  measurements, particle names, DS9 regions), alternated with the plain runs, and
  what the catalog adds.
- ``--quality``: the whole process again with ``--quality`` (the quality bit mask and the
  single-electron rate, issue 31), alternated with the plain runs, and what it adds
  (gate: at most +10 %; the exit status is 1 on a miss). ``benchmarks/quality_speed.py``
  times the stage alone, in CPU seconds.
- ``--baseline-tree DIR``: the whole process again with the ``ccdnb`` package of another
  checkout (``git worktree add DIR <commit>``; same virtual environment, DIR first on
  ``PYTHONPATH``), alternated with the plain runs: a change's cost measured in the same run
  (gate: at most +3 %, issue 32).

::

    python benchmarks/predict_speed.py --runs 3 --many 20
    python benchmarks/predict_speed.py --runs 5 --skip-memory --catalog
    python benchmarks/predict_speed.py --runs 5 --skip-memory --quality
    python benchmarks/predict_speed.py --runs 7 --skip-memory --baseline-tree /tmp/base
    python benchmarks/predict_speed.py --runtime keras --tile 256   # the previous release's path
    python benchmarks/predict_speed.py --runs 3 --skip-memory --sweep-tiles 256 384 512 768 1024

Without ``--model`` the shipped default model is used. Run it on a quiet machine. The
exit status is 1 when a gate printed is missed (the whole process at most half of
astroscrappy's, 50 % of the FP32 roofline, and with their options: ``--catalog`` adding
at most 10 %, peak memory on the 4096 x 6144 frame at most 2048 MiB), else 0; the gates
missed are named on stderr.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

#: The gates printed beside the figures (exit status 1 when one is missed).
COSMICS_RATIO_GATE = 0.5     # whole ccdnb predict process over astroscrappy's, at most
ROOFLINE_GATE = 0.5          # share of the FP32 peak reached in process, at least
CATALOG_GATE = 0.10          # what --catalog adds to the whole process, at most
MEMORY_GATE_MIB = 2048       # peak RSS of ccdnb predict on the 4096 x 6144 frame, at most

BENCH_SHAPE = (4096, 4096)
MEMORY_SHAPE = (4096, 6144)
STARTUP_SHAPE = (32, 32)
#: What ``--quality`` may add to the whole process (issue 31).
QUALITY_GATE = 0.10
#: How much slower than the ``--baseline-tree`` checkout the whole process may be (issue 32).
BASELINE_GATE = 0.03

ASTROSCRAPPY_SCRIPT = textwrap.dedent("""
    import sys
    import astroscrappy
    import numpy as np
    from astropy.io import fits
    data = fits.getdata(sys.argv[1]).astype(np.float32)
    mask, _ = astroscrappy.detect_cosmics(data, gain=1.0, readnoise=2.0)
    fits.PrimaryHDU(mask.astype(np.uint8)).writeto(sys.argv[2], overwrite=True)
""")


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
    for _ in range(int(2000 * height * width / 4096**2)):
        row, col = rng.integers(2, height - 2), rng.integers(2, width - 2)
        frame[row - 1:row + 2, col - 1:col + 2] += rng.uniform(5, 200) * noise
    fits.PrimaryHDU(frame).writeto(path, overwrite=True)
    return path


def run_process(command, env=None) -> tuple[float, float, str, float]:
    """Run ``command`` (in ``env``, default this process's); return (seconds, peak RSS of
    the child in MiB, its stderr, its CPU seconds: user and system, all its threads)."""
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: a full pipe would block
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=env)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage
        seconds = time.perf_counter() - start
        log.seek(0)
        stderr = log.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code:
        sys.exit(f"{command[2:4]} failed ({code}): {stderr[-800:]}")
    # ru_maxrss is in KiB on Linux
    return seconds, usage.ru_maxrss / 1024.0, stderr, usage.ru_utime + usage.ru_stime


def predict_command(frames, out_dir: Path, args, catalog: bool = False,
                    quality: bool = False) -> list[str]:
    command = [sys.executable, "-m", "ccdnb", "predict", *map(str, frames), "--out-dir",
               str(out_dir), "--overwrite", "--quiet", "--runtime", args.runtime]
    if catalog:
        command.append("--catalog")
    if quality:
        command.append("--quality")
    if args.batch_size:
        command += ["--batch-size", str(args.batch_size)]
    if args.tile:
        command += ["--tile", str(args.tile)]
    if args.model is not None:
        command += ["--model", str(args.model)]
    return command


def median_time(call, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _best_seconds(call, runs: int) -> float:
    call()  # warm-up: threads started, pages touched
    return min(median_time(call, 1) for _ in range(runs))


def fp32_peak_gflops(size: int = 2048, runs: int = 5) -> tuple[float, str]:
    """This machine's FP32 peak: the best GFLOP/s of ``size``-square matrix products.

    Tried through ONNX Runtime's and OpenVINO's MatMul (their kernels use AVX-512
    where the CPU has it) and NumPy's BLAS (whose build may not); the fastest is the peak.

    Returns
    -------
    (float, str)
        GFLOP/s and which library reached it.
    """
    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    flop = 2.0 * size**3
    best = {"numpy": flop / _best_seconds(lambda: a @ b, runs) / 1e9}
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper

        spec = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [size, size])
                for n in "ABC"]
        graph = helper.make_graph([helper.make_node("MatMul", ["A", "B"], ["C"])], "matmul",
                                  spec[:2], spec[2:])
        proto = helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", 17)])
        proto.ir_version = 9
        options = ort.SessionOptions()
        options.intra_op_num_threads = len(os.sched_getaffinity(0))
        session = ort.InferenceSession(proto.SerializeToString(), options,
                                       providers=["CPUExecutionProvider"])
        best["onnxruntime"] = flop / _best_seconds(
            lambda: session.run(None, {"A": a, "B": b}), runs) / 1e9
    except ImportError:  # no onnx package to build the graph: NumPy's figure only
        pass
    try:
        import openvino as ov
        import openvino.opset13 as ops
    except ImportError:
        pass
    else:
        inputs = [ops.parameter([size, size], np.float32, name=n) for n in "AB"]
        compiled = ov.Core().compile_model(
            ov.Model([ops.matmul(*inputs, False, False)], inputs, "matmul"), "CPU",
            {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": len(os.sched_getaffinity(0))})
        request = compiled.create_infer_request()
        best["openvino"] = flop / _best_seconds(lambda: request.infer([a, b]), runs) / 1e9
    library = max(best, key=best.get)
    return best[library], library


def flops_per_pixel(model_path) -> float:
    """Convolution FLOPs per pixel of the model (a 256-pixel tile's count over its pixels)."""
    from ccdnb.model import conv_flops, load_model_file

    model, _ = load_model_file(model_path)
    return conv_flops(model, 256) / 256**2


def main(argv=None) -> int:
    from ccdnb.runtime import RUNTIMES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="a .keras model (default: the shipped default model)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measurement")
    parser.add_argument("--runtime", choices=RUNTIMES, default="auto")
    parser.add_argument("--tile", type=int, default=None,
                        help="tile side (default: ccdnb predict's, sized to the frame)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="tiles per model call (default: as ccdnb predict, by pixels)")
    parser.add_argument("--shape", type=int, nargs=2, default=list(BENCH_SHAPE),
                        metavar=("H", "W"), help="the benchmark frame (default 4096 4096)")
    parser.add_argument("--many", type=int, default=0, metavar="N",
                        help="also time one ccdnb predict call over N frames")
    parser.add_argument("--many-shape", type=int, nargs=2, default=list(BENCH_SHAPE),
                        metavar=("H", "W"), help="frame shape of the many-file run")
    parser.add_argument("--sweep-tiles", type=int, nargs="+", default=[], metavar="N",
                        help="also time in-process segmentation with each of these tile sides")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where frames and masks go (default: a temporary directory)")
    parser.add_argument("--catalog", action="store_true",
                        help="also time the whole process with --catalog")
    parser.add_argument("--quality", action="store_true",
                        help="also time the whole process with --quality (gate: <= +10 %%)")
    parser.add_argument("--skip-memory", action="store_true",
                        help="skip the 4096 x 6144 peak-memory run")
    parser.add_argument("--baseline-tree", type=Path, default=None, metavar="DIR",
                        help="also time the whole process with DIR's ccdnb package (a git "
                             "worktree of an earlier commit), alternated (gate: <= +3 %%)")
    args = parser.parse_args(argv)
    baseline_env = None
    if args.baseline_tree is not None:
        if not (args.baseline_tree / "ccdnb" / "__init__.py").is_file():
            sys.exit(f"--baseline-tree {args.baseline_tree}: no ccdnb package there")
        baseline_env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(args.baseline_tree.resolve())] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
        # -P: the working directory must not come before PYTHONPATH (it may hold ccdnb)
        found = subprocess.run([sys.executable, "-P", "-c", "import ccdnb; print(ccdnb.__file__)"],
                               env=baseline_env, capture_output=True, text=True).stdout.strip()
        if not Path(found).resolve().is_relative_to(args.baseline_tree.resolve()):
            sys.exit(f"--baseline-tree {args.baseline_tree}: Python imports ccdnb from "
                     f"{found or 'nowhere'} instead")

    from ccdnb.model import DEFAULT_MODEL

    model_path = args.model or DEFAULT_MODEL
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work_dir or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        shape = tuple(args.shape)
        frame = write_frame(work / "bench_frame.fits", shape)
        tiny = write_frame(work / "bench_32x32.fits", STARTUP_SHAPE)
        megapixels = shape[0] * shape[1] / 1e6
        out = work / "out"
        cosmics_command = [sys.executable, "-c", ASTROSCRAPPY_SCRIPT, str(frame),
                           str(work / "cosmics_mask.fits")]

        # Whole processes first, while this process is small: on Linux a child's peak
        # RSS (ru_maxrss) starts from its parent's at fork, so a parent grown by the
        # in-process part would inflate the children's figures.
        # whole processes, alternated so that drifts hit both alike
        ours, theirs, startup, with_catalog, with_quality = [], [], [], [], []
        ours_cpu, quality_cpu, baseline = [], [], []
        for _ in range(args.runs):
            plain = run_process(predict_command([frame], out, args))
            ours.append(plain[:2])
            ours_cpu.append(plain[3])
            if baseline_env is not None:
                command = predict_command([frame], work / "baseline_out", args)
                command.insert(1, "-P")
                timed = run_process(command, env=baseline_env)
                baseline.append((timed[0], timed[3]))
            theirs.append(run_process(cosmics_command)[0])
            startup.append(run_process(predict_command([tiny], out, args))[0])
            if args.catalog:
                with_catalog.append(run_process(predict_command([frame], out, args,
                                                                catalog=True))[0])
            if args.quality:
                run = run_process(predict_command([frame], out, args, quality=True))
                with_quality.append(run[0])
                quality_cpu.append(run[3])
        whole = statistics.median(t for t, _ in ours)
        whole_cosmics = statistics.median(theirs)

        later = []  # printed after the main figures
        missed = []  # the gates printed and missed
        if baseline:
            before = statistics.median(b for b, _ in baseline)
            slower = whole / before - 1
            if slower > BASELINE_GATE:
                missed.append(f"{100 * slower:+.1f} % against {args.baseline_tree}")
            later.append(f"ccdnb predict, whole process: {whole:.2f} s against {before:.2f} s "
                         f"with {args.baseline_tree}'s ccdnb (medians of {args.runs} alternated "
                         "runs: " + ", ".join(f"{p:.2f}/{b:.2f}" for (p, _), (b, _) in
                                              zip(ours, baseline))
                         + f"), {100 * slower:+.1f} %   (gate: <= +{100 * BASELINE_GATE:.0f} %)"
                         f" -> {'MISS' if slower > BASELINE_GATE else 'PASS'}")
            pairs = statistics.median(p / b for (p, _), (b, _) in zip(ours, baseline))
            cpu, cpu_before = statistics.median(ours_cpu), statistics.median(c for _, c in baseline)
            later.append(f"  median of the paired ratios {100 * (pairs - 1):+.1f} %; CPU seconds "
                         f"of the process (all threads) {cpu:.2f} against {cpu_before:.2f}, "
                         f"{100 * (cpu / cpu_before - 1):+.1f} %")
        if args.quality:
            qualified = statistics.median(with_quality)
            added = qualified / whole - 1
            if added > QUALITY_GATE:
                missed.append(f"--quality adds {100 * added:+.1f} %")
            later.append(f"ccdnb predict --quality, whole process: {qualified:.2f} s against "
                         f"{whole:.2f} s plain (medians of {args.runs} alternated runs: "
                         + ", ".join(f"{q:.2f}/{p:.2f}" for q, (p, _) in zip(with_quality, ours))
                         + f"), {100 * added:+.1f} %   (gate: <= +{100 * QUALITY_GATE:.0f} %) -> "
                         f"{'MISS' if added > QUALITY_GATE else 'PASS'}")
            cpu, cpu_plain = statistics.median(quality_cpu), statistics.median(ours_cpu)
            later.append(f"  CPU seconds of the process (all threads): {cpu:.2f} against "
                         f"{cpu_plain:.2f}, {100 * (cpu / cpu_plain - 1):+.1f} %   (on a loaded "
                         "machine the steadier figure)")
        if args.catalog:
            catalogued = statistics.median(with_catalog)
            if catalogued / whole - 1 > CATALOG_GATE:
                missed.append(f"--catalog adds {100 * (catalogued / whole - 1):+.1f} %")
            later.append(f"ccdnb predict --catalog, whole process: {catalogued:.2f} s against "
                         f"{whole:.2f} s plain, {100 * (catalogued / whole - 1):+.1f} %   "
                         f"(gate: <= +10 %)")
        if not args.skip_memory:
            big = write_frame(work / "bench_4096x6144.fits", MEMORY_SHAPE, seed=1)
            big_seconds, big_peak = run_process(predict_command([big], out, args))[:2]
            later.append(f"frame {MEMORY_SHAPE[0]}x{MEMORY_SHAPE[1]}: ccdnb predict "
                         f"{big_seconds:.2f} s, peak RSS {big_peak:.0f} MiB   (gate: <= 2048 MiB)")
            big.unlink()
            if big_peak > MEMORY_GATE_MIB:
                missed.append(f"peak RSS {big_peak:.0f} MiB on {MEMORY_SHAPE[0]}x"
                              f"{MEMORY_SHAPE[1]}")

        if args.many:
            folder = work / "many"
            folder.mkdir(exist_ok=True)
            frames = [write_frame(folder / f"frame_{k:03d}.fits", tuple(args.many_shape),
                                  seed=100 + k) for k in range(args.many)]
            seconds, many_peak = run_process(predict_command(frames, work / "many_out",
                                                             args))[:2]
            pixels = args.many * args.many_shape[0] * args.many_shape[1] / 1e6
            later.append(f"many files: {args.many} frames of {args.many_shape[0]}x"
                         f"{args.many_shape[1]} in one ccdnb predict: {seconds:.1f} s, "
                         f"{60 * args.many / seconds:.1f} frames/min, {pixels / seconds:.2f} "
                         f"Mpix/s, peak RSS {many_peak:.0f} MiB")

        # in-process: the model loaded once, the frame in memory
        import astroscrappy
        from astropy.io import fits

        import ccdnb
        from ccdnb.predict import tile_for
        from ccdnb.tiling import auto_batch_size

        data = fits.getdata(frame).astype(np.float32)
        segmenter = ccdnb.Segmenter(model_path, runtime=args.runtime)
        segmenter.segment(data, tile=args.tile, batch_size=args.batch_size)  # warm-up
        ours_in, theirs_in = [], []
        for _ in range(args.runs):
            ours_in.append(median_time(lambda: segmenter.segment(
                data, tile=args.tile, batch_size=args.batch_size), 1))
            theirs_in.append(median_time(lambda: astroscrappy.detect_cosmics(
                data, gain=1.0, readnoise=2.0), 1))
        inproc, inproc_cosmics = statistics.median(ours_in), statistics.median(theirs_in)

        flop_px = flops_per_pixel(model_path)
        peak, peak_library = fp32_peak_gflops()
        reached = flop_px * megapixels * 1e6 / inproc / 1e9

        tile = args.tile or tile_for(segmenter.model, shape)
        print(f"machine: {os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable); "
              f"model {model_path.name} on {segmenter.runtime}; tile {tile}"
              f"{'' if args.tile else ' (auto)'}, margin 32, batch "
              f"{args.batch_size or auto_batch_size(tile)}; "
              f"medians of {args.runs} alternated runs")
        print(f"frame {shape[0]}x{shape[1]} ({megapixels:.1f} Mpix)")
        print(f"  ccdnb predict, whole process      {whole:7.2f} s  "
              f"peak RSS {max(m for _, m in ours):5.0f} MiB")
        print(f"  start-up alone (32x32 frame)      {statistics.median(startup):7.2f} s")
        print(f"  ccdnb segment, in process         {inproc:7.2f} s  "
              f"{megapixels / inproc:6.2f} Mpix/s")
        print(f"  astroscrappy, whole process       {whole_cosmics:7.2f} s")
        print(f"  astroscrappy, in process          {inproc_cosmics:7.2f} s  "
              f"{megapixels / inproc_cosmics:6.2f} Mpix/s")
        print(f"  ratio to astroscrappy             whole process {whole / whole_cosmics:.2f}, "
              f"in process {inproc / inproc_cosmics:.2f}   (gate: whole process <= 0.5)")
        print(f"  roofline: {flop_px / 1e3:.1f} kFLOP/pixel, {reached:.0f} GFLOP/s reached of "
              f"{peak:.0f} GFLOP/s FP32 peak ({peak_library} matrix product) = {reached / peak:.0%}"
              "   (gate: >= 50 %)")

        for side in args.sweep_tiles:
            seconds = median_time(lambda side=side: segmenter.segment(
                data, tile=side, batch_size=args.batch_size), args.runs)
            print(f"  in process with {side}-pixel tiles       {seconds:7.2f} s  "
                  f"{megapixels / seconds:6.2f} Mpix/s")

        for line in later:
            print(line)
    if whole / whole_cosmics > COSMICS_RATIO_GATE:
        missed.append(f"whole process {whole / whole_cosmics:.2f} x astroscrappy's")
    if reached / peak < ROOFLINE_GATE:
        missed.append(f"roofline {reached / peak:.0%}")
    if missed:
        print(f"gates missed: {'; '.join(missed)}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
