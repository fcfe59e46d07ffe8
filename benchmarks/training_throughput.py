"""Training throughput of the U-Net architectures: images per second at 256 x 256.

For each architecture, builds the model, compiles it as :func:`ccdnb.training.train.train_model`
does (weighted cross-entropy, Adam, the training metrics), runs a few warm-up
steps on a fixed random batch, then times single training steps and prints the
median (data loading and augmentation are not included: this is the network's
cost). Also prints the model's size and its convolution FLOPs per 256x256 tile,
and the median inference time per tile::

    python benchmarks/training_throughput.py --architectures thesis small --steps 5

``--pipeline`` also measures the full input pipeline on simulated 256 x 256
thesis images: the one-off background estimates of
:class:`ccdnb.training.augment.AugmentedSequence`, its augmented batches alone
(default augmentation; ms per image), and a short real ``model.fit`` over the
sequence (s per step, the first epoch's tracing left out) beside the
network-only step, with their ratio::

    python benchmarks/training_throughput.py --architectures small --batch-size 8 --pipeline

``--estimate PROFILE`` prints the network-only estimate of notebook 04 for a
profile of :mod:`ccdnb.reproduce.profiles` (epochs x images per epoch / network
images per second, plus the validation passes), measured at the profile's image
size and batch size; with ``--manifest`` (a figures folder's ``manifest.json``)
and/or ``--card`` (the run's ``model.card.json``) it also prints the measured
times and their ratio to the estimate (issue 23's gate: notebook 04 within 1.3x)::

    python benchmarks/training_throughput.py --estimate quick \
        --manifest figures/quick/manifest.json --card runs/quick/model/model.card.json

Use the numbers to size a profile: an epoch costs about
``steps_per_epoch * batch_size / (images per second)`` seconds plus validation. The exit
status is 1 when the gate printed (notebook 04 within 1.3x the estimate, with
``--manifest``) is missed, else 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TILE = 256
#: Issue 23's gate: notebook 04's measured time over the estimate, at most.
ESTIMATE_RATIO_GATE = 1.3


def time_calls(call, repeats):
    """Median seconds of ``repeats`` calls of ``call()``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _compiled_model(architecture):
    """The U-Net compiled as train_model compiles it (weights seeded by the caller)."""
    from ccdnb.model import build_unet
    from ccdnb.training.losses import make_loss, make_optimizer
    from ccdnb.training.train import segmentation_metrics

    model = build_unet(architecture)
    model.compile(optimizer=make_optimizer("adam"), loss=make_loss("weighted_cce", [1.0] * 4),
                  metrics=segmentation_metrics())
    return model


def measure(architecture, *, batch_size, steps, warmup, seed=0, tile=TILE):
    """Return a dict of the architecture's size and measured speeds (network only)."""
    import keras

    from ccdnb.classes import N_CLASSES
    from ccdnb.model import conv_flops

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch_size, tile, tile, 1)).astype("float32")
    y = np.eye(N_CLASSES, dtype="float32")[rng.integers(0, N_CLASSES, (batch_size, tile, tile))]
    model = _compiled_model(architecture)
    for _ in range(warmup):
        model.train_on_batch(x, y)
    step = time_calls(lambda: model.train_on_batch(x, y), steps)
    model.predict_on_batch(x)
    infer = time_calls(lambda: model.predict_on_batch(x), steps)
    return {"architecture": architecture, "parameters": model.count_params(),
            "gflop_per_tile": conv_flops(model, TILE) / 1e9, "step_s": step,
            "train_images_per_s": batch_size / step, "infer_s_per_tile": infer / batch_size}


def measure_pipeline(architecture, *, batch_size, steps, n_images, seed=0):
    """Time the input pipeline alone and a real ``model.fit`` over it.

    Parameters
    ----------
    architecture : str
    batch_size : int
    steps : int
        Batches per epoch, for the batch timing and for each of the two fit epochs.
    n_images : int
        Simulated 256 x 256 thesis images the sequence draws from.
    seed : int

    Returns
    -------
    dict
        ``prepare_ms_per_image`` (the background estimates, once per image),
        ``batch_ms_per_image`` (augmented batches alone, single thread) and
        ``fit_step_s`` (mean step of the second epoch of ``model.fit``).
    """
    import keras

    from ccdnb.simulation import simulate_dataset
    from ccdnb.training.augment import AugmentedSequence, build_augmenter

    data = simulate_dataset("thesis", n_images, TILE, seed)

    def sequence():
        return AugmentedSequence(data.images, data.labels, batch_size=batch_size,
                                 augmenter=build_augmenter("default", seed=seed),
                                 steps_per_epoch=steps, shuffle=True, seed=seed)

    start = time.perf_counter()
    seq = sequence()
    prepare = (time.perf_counter() - start) / n_images
    start = time.perf_counter()
    for i in range(len(seq)):
        seq[i]
    batches = (time.perf_counter() - start) / (len(seq) * batch_size)

    class EpochTimes(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.last = time.perf_counter() - self.start

    keras.utils.set_random_seed(seed)
    model = _compiled_model(architecture)
    timer = EpochTimes()
    model.fit(sequence(), epochs=2, verbose=0, callbacks=[timer])  # epoch 1 traces the graph
    return {"prepare_ms_per_image": 1e3 * prepare, "batch_ms_per_image": 1e3 * batches,
            "fit_step_s": timer.last / steps}


def profile_estimate(profile, *, steps, warmup, seed=0):
    """Network-only estimate of notebook 04's training time for ``profile``.

    Returns
    -------
    dict
        The profile's training sizes, the measured network speed at its image
        size and batch size, ``train_s`` (epochs x images per epoch / images per
        second), ``validation_s`` (epochs x validation images x inference time)
        and ``estimate_s``, their sum.
    """
    import math

    from ccdnb.reproduce.profiles import notebook_parameters
    from ccdnb.training.train import split_validation

    sim = notebook_parameters(profile, "01_simulate")
    train = notebook_parameters(profile, "04_train")
    size = int(sim["image_size"])
    train_idx, val_idx = split_validation(int(sim["n_train"]), seed=train["train_seed"])
    batch = int(train["batch_size"])
    steps_per_epoch = int(train["steps_per_epoch"] or math.ceil(len(train_idx) / batch))
    images_per_epoch = (steps_per_epoch * batch if train["steps_per_epoch"] else len(train_idx))
    speed = measure(train["architecture"], batch_size=batch, steps=steps, warmup=warmup,
                    seed=seed, tile=size)
    epochs = int(train["epochs"])
    train_s = epochs * images_per_epoch / speed["train_images_per_s"]
    validation_s = epochs * len(val_idx) * speed["infer_s_per_tile"]
    return {"profile": profile, "architecture": train["architecture"], "image_size": size,
            "epochs": epochs, "batch_size": batch, "steps_per_epoch": steps_per_epoch,
            "images_per_epoch": images_per_epoch, "n_validation": len(val_idx),
            "max_minutes": train.get("max_minutes"), **speed, "train_s": train_s,
            "validation_s": validation_s, "estimate_s": train_s + validation_s}


def print_estimate(r, *, manifest=None, card=None) -> bool:
    """Print :func:`profile_estimate`'s result and, when given, the measured times beside it.

    Returns whether the gate printed (the manifest's notebook 04 time within
    :data:`ESTIMATE_RATIO_GATE` times the estimate) is met; True without a manifest.
    """
    import json

    print(f"profile {r['profile']}: {r['architecture']} U-Net, {r['epochs']} epochs x "
          f"{r['steps_per_epoch']} steps x batch {r['batch_size']} ({r['images_per_epoch']} "
          f"images/epoch, {r['image_size']}x{r['image_size']}), {r['n_validation']} validation "
          "images per epoch")
    print(f"network only: {r['train_images_per_s']:.2f} train img/s, "
          f"{r['infer_s_per_tile']:.4f} s per validation image")
    print(f"estimate: {r['train_s']:.0f} s training + {r['validation_s']:.0f} s validation "
          f"= {r['estimate_s']:.0f} s ({r['estimate_s'] / 60:.1f} min) for {r['epochs']} epochs")
    if r["max_minutes"]:
        print(f"  (the profile stops training after {r['max_minutes']} minutes)")
    if card:
        card = json.loads(open(card).read())
        per_epoch = r["estimate_s"] / r["epochs"]
        estimate = per_epoch * card["epochs_run"]
        print(f"model card: {card['epochs_run']} epochs in {card['training_time_s']:.0f} s; "
              f"estimate for those epochs {estimate:.0f} s; ratio "
              f"{card['training_time_s'] / estimate:.2f}")
    if manifest:
        seconds = json.loads(open(manifest).read())["timings"]["seconds"].get("04_train")
        if seconds is None:
            print(f"{manifest}: no time for 04_train")
            return False
        print(f"manifest: notebook 04 took {seconds:.0f} s; ratio to the estimate "
              f"{seconds / r['estimate_s']:.2f} (gate: 1.3; the notebook's time includes "
              "start-up and figures, and assumes all epochs ran)")
        return seconds / r["estimate_s"] <= ESTIMATE_RATIO_GATE
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architectures", nargs="+", default=["thesis", "small"])
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5, help="timed steps (median reported)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--pipeline", action="store_true",
                        help="also time AugmentedSequence batches and a real model.fit over them")
    parser.add_argument("--pipeline-images", type=int, default=32,
                        help="simulated images the pipeline draws from (default 32)")
    parser.add_argument("--estimate", metavar="PROFILE",
                        help="print the network-only estimate of notebook 04 for a profile")
    parser.add_argument("--manifest", help="with --estimate: a manifest.json with 04's time")
    parser.add_argument("--card", help="with --estimate: the run's model.card.json")
    args = parser.parse_args(argv)
    if args.estimate:
        met = print_estimate(profile_estimate(args.estimate, steps=args.steps,
                                              warmup=args.warmup),
                             manifest=args.manifest, card=args.card)
        return 0 if met else 1
    print(f"{'architecture':<12} {'params':>10} {'GFLOP/tile':>10} {'s/step':>8} "
          f"{'train img/s':>11} {'infer s/tile':>12}   (batch {args.batch_size}, {TILE}x{TILE})")
    for name in args.architectures:
        r = measure(name, batch_size=args.batch_size, steps=args.steps, warmup=args.warmup)
        print(f"{r['architecture']:<12} {r['parameters']:>10,} {r['gflop_per_tile']:>10.2f} "
              f"{r['step_s']:>8.2f} {r['train_images_per_s']:>11.2f} "
              f"{r['infer_s_per_tile']:>12.4f}", flush=True)
        if args.pipeline:
            p = measure_pipeline(name, batch_size=args.batch_size, steps=args.steps,
                                 n_images=args.pipeline_images)
            network_ms = 1e3 * r["step_s"] / args.batch_size
            print(f"{'':<12} input pipeline: background once {p['prepare_ms_per_image']:.1f} "
                  f"ms/image; augmented batches {p['batch_ms_per_image']:.1f} ms/image "
                  f"(network {network_ms:.1f} ms/image, ratio "
                  f"{p['batch_ms_per_image'] / network_ms:.2f})", flush=True)
            print(f"{'':<12} model.fit over the sequence: {p['fit_step_s']:.2f} s/step vs "
                  f"network only {r['step_s']:.2f} s/step: ratio "
                  f"{p['fit_step_s'] / r['step_s']:.2f}", flush=True)
    return 0  # the architectures' speeds: measurements, no gate


if __name__ == "__main__":
    sys.exit(main())
