"""Compare inference engines on the shipped model's frozen export: speed and agreement.

Every engine of :mod:`ccdnb.runtime` that is installed: OpenVINO in FP32 (what
``ccdnb predict`` uses) and in bfloat16, ONNX Runtime, and TensorFlow/Keras.

Speed: the median Mpix/s of ``--runs`` calls per engine and tile side on one
batch of normalised tiles, with the share of pixels whose class agrees with the
reference engine's (``--reference``, default ONNX Runtime)::

    python benchmarks/engine_compare.py --tiles 256 480 1088 --runs 5

Agreement on the held-out sets (``--heldout``): the final masks
(:func:`ccdnb.predict.predict_image`, signal floor included, the same tiles for
every engine) of every held-out set of ``benchmarks/heldout_evaluation.py``,
the share of pixels whose class equals the reference engine's, per set and
over all (bfloat16 becomes a default only at 99.99 % or more)::

    python benchmarks/engine_compare.py --heldout [--quick] --skip keras

Run it on a quiet machine; the speeds are the network alone (no tiling overlap,
no I/O), to choose an engine, not to quote a whole-frame speed
(``benchmarks/predict_speed.py`` does that).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmark scripts
from predict_speed import median_time  # noqa: E402


def engines(keras_file: Path, threads: int, skip=()):
    """Runtime name -> predictor (``predict_on_batch``), for every engine installed."""
    from ccdnb.errors import CcdnbInputError
    from ccdnb.runtime import RUNTIMES, engine_available, load_predictor

    found = {}
    for runtime in RUNTIMES:
        if runtime == "auto" or runtime in skip:
            continue
        if runtime != "keras" and not engine_available(runtime):
            print(f"{runtime}: not installed, skipped", file=sys.stderr)
            continue
        try:
            found[runtime] = load_predictor(keras_file, runtime, threads=threads)[0]
        except (CcdnbInputError, ImportError) as err:
            print(f"{runtime}: skipped ({err})", file=sys.stderr)
    return found


def speed_table(found, reference, tiles, pixels_per_batch, runs):
    """Print Mpix/s and class agreement per engine and tile side."""
    rng = np.random.default_rng(0)
    for tile in tiles:
        batch = max(1, int(pixels_per_batch * 1e6 // tile**2))
        x = rng.normal(size=(batch, tile, tile, 1)).astype(np.float32)
        x[:, ::37, ::41] += 20.0  # bright pixels, so that every class occurs
        expected = np.asarray(found[reference].predict_on_batch(x)).argmax(-1)
        cells = []
        for name, engine in found.items():
            call = engine.predict_on_batch
            call(x)  # warm-up: kernels chosen, memory allocated
            seconds = median_time(lambda call=call, x=x: call(x), runs)
            agree = float(np.mean(np.asarray(call(x)).argmax(-1) == expected))
            cells.append(f"{name} {batch * tile * tile / 1e6 / seconds:5.2f} ({agree:.5f})")
        print(f"tile {tile:5d} x {batch:2d}: " + "; ".join(cells), flush=True)


def heldout_agreement(found, reference, quick: bool):
    """Print, per held-out set, the share of mask pixels equal to the reference engine's."""
    from heldout_evaluation import SETS, make_set

    from ccdnb.normalize import estimate_background
    from ccdnb.predict import predict_image, tile_for

    same = {name: 0 for name in found}
    total = 0
    for spec in SETS:
        data = make_set(spec, quick)
        images = [sim.image for sim in data] if spec.frame else list(data.images)
        agree = {name: 0 for name in found}
        pixels = 0
        for image in images:
            background = estimate_background(image)
            tile = tile_for(found[reference], image.shape)  # one tiling for every engine
            masks = {name: predict_image(engine, image, tile=tile, background=background)
                     for name, engine in found.items()}
            for name in found:
                agree[name] += int(np.count_nonzero(masks[name] == masks[reference]))
            pixels += image.size
        for name in found:
            same[name] += agree[name]
        total += pixels
        print(f"{spec.name:16s} {pixels / 1e6:6.2f} Mpix: " + "; ".join(
            f"{name} {agree[name] / pixels:.6f}" for name in found if name != reference),
            flush=True)
    print(f"{'all sets':16s} {total / 1e6:6.2f} Mpix: " + "; ".join(
        f"{name} {same[name] / total:.6f} ({total - same[name]} pixels differ)"
        for name in found if name != reference))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="a .keras model with its .onnx export beside it (default: shipped)")
    parser.add_argument("--tiles", type=int, nargs="+", default=[256, 480, 1088])
    parser.add_argument("--pixels-per-batch", type=float, default=2.0,
                        help="Mpix per call: the batch is this many tiles' worth (at least 1)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reference", default="onnx",
                        help="the engine others are compared with (default: onnx)")
    parser.add_argument("--skip", nargs="+", default=[], metavar="RUNTIME",
                        help="engines left out, e.g. keras")
    parser.add_argument("--heldout", action="store_true",
                        help="mask agreement on the held-out sets instead of speed")
    parser.add_argument("--quick", action="store_true", help="with --heldout: small sets")
    args = parser.parse_args(argv)

    from ccdnb.model import DEFAULT_MODEL
    from ccdnb.runtime import available_cores

    keras_file = args.model or DEFAULT_MODEL
    threads = available_cores()
    found = engines(keras_file, threads, args.skip)
    if args.reference not in found:
        parser.error(f"the reference engine {args.reference!r} is not available")
    print(f"{keras_file.name}, {threads} threads; reference: {args.reference}")
    if args.heldout:
        heldout_agreement(found, args.reference, args.quick)
    else:
        print(f"Mpix/s (median of {args.runs}), agreement of the class with the reference's")
        speed_table(found, args.reference, args.tiles, args.pixels_per_batch, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
