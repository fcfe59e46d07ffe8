"""Training throughput of the U-Net architectures: images per second at 256 x 256.

For each architecture, builds the model, compiles it as :func:`ccdnb.training.train.train_model`
does (weighted cross-entropy, Adam, the training metrics), runs a few warm-up
steps on a fixed random batch, then times single training steps and prints the
median (data loading and augmentation are not included: this is the network's
cost). Also prints the model's size and its convolution FLOPs per 256x256 tile,
and the median inference time per tile::

    python benchmarks/training_throughput.py --architectures thesis small --steps 5

Use the numbers to size a profile: an epoch costs about
``steps_per_epoch * batch_size / (images per second)`` seconds plus validation.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TILE = 256


def time_calls(call, repeats):
    """Median seconds of ``repeats`` calls of ``call()``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(architecture, *, batch_size, steps, warmup, seed=0):
    """Return a dict of the architecture's size and measured speeds."""
    import keras

    from ccdnb.classes import N_CLASSES
    from ccdnb.model import build_unet, conv_flops
    from ccdnb.training.losses import make_loss, make_optimizer
    from ccdnb.training.train import segmentation_metrics

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch_size, TILE, TILE, 1)).astype("float32")
    y = np.eye(N_CLASSES, dtype="float32")[rng.integers(0, N_CLASSES, (batch_size, TILE, TILE))]
    model = build_unet(architecture)
    model.compile(optimizer=make_optimizer("adam"), loss=make_loss("weighted_cce", [1.0] * 4),
                  metrics=segmentation_metrics())
    for _ in range(warmup):
        model.train_on_batch(x, y)
    step = time_calls(lambda: model.train_on_batch(x, y), steps)
    model.predict_on_batch(x)
    infer = time_calls(lambda: model.predict_on_batch(x), steps)
    return {"architecture": architecture, "parameters": model.count_params(),
            "gflop_per_tile": conv_flops(model, TILE) / 1e9, "step_s": step,
            "train_images_per_s": batch_size / step, "infer_s_per_tile": infer / batch_size}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architectures", nargs="+", default=["thesis", "small"])
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5, help="timed steps (median reported)")
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args(argv)
    print(f"{'architecture':<12} {'params':>10} {'GFLOP/tile':>10} {'s/step':>8} "
          f"{'train img/s':>11} {'infer s/tile':>12}   (batch {args.batch_size}, {TILE}x{TILE})")
    for name in args.architectures:
        r = measure(name, batch_size=args.batch_size, steps=args.steps, warmup=args.warmup)
        print(f"{r['architecture']:<12} {r['parameters']:>10,} {r['gflop_per_tile']:>10.2f} "
              f"{r['step_s']:>8.2f} {r['train_images_per_s']:>11.2f} "
              f"{r['infer_s_per_tile']:>12.4f}", flush=True)


if __name__ == "__main__":
    main()
