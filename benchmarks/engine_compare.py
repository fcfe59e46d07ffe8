"""Compare inference engines on the shipped model's frozen export: Mpix/s per tile size.

Times one batch of normalised tiles through each engine that is installed:
ONNX Runtime (what ``ccdnb predict`` uses), OpenVINO in FP32 and with its
bfloat16 hint (not in ``requirements.txt``: install it into a scratch
environment to include it), and TensorFlow/Keras. Prints the median Mpix/s of
``--runs`` calls per engine and tile side, and the share of pixels whose class
agrees with ONNX Runtime's (bfloat16 changes a few)::

    python benchmarks/engine_compare.py --tiles 256 480 1024 --runs 5

Run it on a quiet machine; the numbers are the network alone (no tiling overlap,
no I/O), to choose an engine, not to quote a whole-frame speed
(``benchmarks/predict_speed.py`` does that).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def _median_seconds(call, x, runs):
    call(x)  # warm-up: kernels chosen, memory allocated
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def engines(onnx_file: Path, keras_file: Path, threads: int):
    """Name -> callable(batch (B, T, T, 1)) -> probabilities (B, T, T, 4), for those installed."""
    found = {}
    from ccdnb.runtime import OnnxModel

    found["onnxruntime"] = OnnxModel(onnx_file, threads=threads).predict_on_batch
    try:
        import openvino as ov
    except ImportError:
        print("openvino not installed: skipped", file=sys.stderr)
    else:
        core = ov.Core()
        model = core.read_model(str(onnx_file))
        for precision in ("f32", "bf16"):
            compiled = core.compile_model(model, "CPU", {
                "INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY",
                "INFERENCE_NUM_THREADS": threads})
            request = compiled.create_infer_request()
            found[f"openvino {precision}"] = (
                lambda x, request=request: next(iter(request.infer({0: x}).values())))
    try:
        from ccdnb.model import load_model_file
        from ccdnb.quiet_tensorflow import import_tensorflow_quietly

        import_tensorflow_quietly()
        keras_model, _ = load_model_file(keras_file)
        found["keras"] = lambda x: np.asarray(keras_model.predict_on_batch(x))
    except ImportError:
        print("tensorflow not installed: skipped", file=sys.stderr)
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="a .keras model with its .onnx export beside it (default: shipped)")
    parser.add_argument("--tiles", type=int, nargs="+", default=[256, 480, 1024])
    parser.add_argument("--pixels-per-batch", type=float, default=2.0,
                        help="Mpix per call: the batch is this many tiles' worth (at least 1)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    from ccdnb.model import DEFAULT_MODEL
    from ccdnb.onnx_export import onnx_path
    from ccdnb.runtime import available_cores

    keras_file = args.model or DEFAULT_MODEL
    threads = available_cores()
    found = engines(onnx_path(keras_file), keras_file, threads)
    print(f"{keras_file.name}, {threads} threads; Mpix/s (median of {args.runs}), "
          f"agreement of the class with onnxruntime's")
    rng = np.random.default_rng(0)
    for tile in args.tiles:
        batch = max(1, int(args.pixels_per_batch * 1e6 // tile**2))
        x = rng.normal(size=(batch, tile, tile, 1)).astype(np.float32)
        x[:, ::37, ::41] += 20.0  # bright pixels, so that every class occurs
        reference = found["onnxruntime"](x).argmax(-1)
        cells = []
        for name, call in found.items():
            seconds = _median_seconds(call, x, args.runs)
            agree = float(np.mean(call(x).argmax(-1) == reference))
            cells.append(f"{name} {batch * tile * tile / 1e6 / seconds:5.2f} ({agree:.5f})")
        print(f"tile {tile:5d} x {batch:2d}: " + "; ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
