"""Evaluate a model on held-out simulated sets, against the targets of the shipped model.

Generates three test sets from seeds that no training run of this project uses
(training: 1, 101-103 and the profiles' seeds; here: 90001-90003), runs the
model through the code behind ``ccdnb predict`` (:func:`ccdnb.predict.predict_image`
with the command's tiling, and for the frame :func:`ccdnb.predict.predict_file` on a
written FITS file), and prints, per set, the pixel classification report, the
cluster efficiency per bin of peak significance, the false-cluster rate, the
classical baseline's scores and a PASS/MISS line for every target:

(a) ``thesis``: the thesis's crowded 256 x 256 layout (glow left, hot segments in
    the middle, hundreds of clusters on the right);
(b) ``sparse``: DAMIC-like fields with pedestal, noise and gain drawn far apart
    (the ``random`` preset's ranges, skipper regime included) and few objects
    anywhere;
(c) ``frame``: one multi-amplifier frame (one FITS extension per amplifier).

Targets: F1 >= 0.98 for background, glowing and hot pixel; >= 0.90 for cluster;
clusters with a peak >= 5 sigma found at >= 99 %, 3-5 sigma at >= 90 %; <= 5
false cluster components per megapixel; cluster F1 above the baseline's.

Usage (about 5 minutes on 2 cores)::

    python benchmarks/heldout_evaluation.py                 # the shipped model
    python benchmarks/heldout_evaluation.py --model runs/quick/model/model.keras --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SEEDS = {"thesis": 90001, "sparse": 90002, "frame": 90003}

#: The sparse set: the random preset's detector ranges with few objects.
SPARSE_OVERRIDES = dict(n_diffuse=(0.0, 40.0), n_worms=(0.0, 4.0), n_muons=(0.0, 1.5),
                        n_alphas=(0.0, 0.3))

F1_TARGETS = {"background": 0.98, "glowing": 0.98, "hot pixel": 0.98, "cluster": 0.90}
EFFICIENCY_TARGETS = ((5.0, np.inf, 0.99), (3.0, 5.0, 0.90))
FALSE_CLUSTERS_PER_MPIX = 5.0


def make_sets(n_thesis, n_sparse, amp_shape, n_amplifiers):
    """The three held-out sets as (name, Dataset or list of SimulatedImage)."""
    from ccdnb.simulate import Uniform, simulate_dataset, simulate_frame

    sparse = {k: Uniform(*v) for k, v in SPARSE_OVERRIDES.items()}
    return [
        ("thesis", simulate_dataset("thesis", n_thesis, (256, 256), SEEDS["thesis"])),
        ("sparse", simulate_dataset("random", n_sparse, (256, 256), SEEDS["sparse"], **sparse)),
        ("frame", simulate_frame(amp_shape, n_amplifiers, seed=SEEDS["frame"], preset="damic")),
    ]


def stack_frame(frame):
    """A multi-amplifier frame (list of SimulatedImage) as one Dataset-like stack."""
    from ccdnb.simulate import Dataset

    objects = []
    for k, sim in enumerate(frame):
        rows = sim.objects.copy()
        rows["image"] = k
        objects.append(rows)
    return Dataset(images=np.stack([s.image for s in frame]),
                   labels=np.stack([s.label for s in frame]),
                   instances=np.stack([s.instances for s in frame]),
                   objects=np.concatenate(objects), meta=[s.meta for s in frame])


def predict_frame_via_file(frame, model_path, tile, margin, batch_size):
    """Write the frame as FITS, run predict_file on it and read the masks back."""
    from astropy.io import fits

    from ccdnb.predict import predict_file
    from ccdnb.simulate import write_simulated_fits

    with tempfile.TemporaryDirectory() as scratch:
        path = write_simulated_fits(Path(scratch) / "frame.fits.fz", frame, compress=True)
        start = time.perf_counter()
        out = predict_file(path, scratch, model=model_path, tile=tile, margin=margin,
                           batch_size=batch_size, progress=False)
        seconds = time.perf_counter() - start
        with fits.open(out) as hdus:
            masks = [h.data.astype(np.uint8) for h in hdus if h.data is not None and h.is_image]
    return np.stack(masks), seconds


def check_targets(metrics, baseline_metrics, found, peaks, masks):
    """PASS/MISS lines for the targets; returns (lines, all_passed)."""
    from ccdnb.classes import CLASS_NAMES
    from ccdnb.events import efficiency_table

    predicted = np.bincount(np.asarray(masks).ravel(), minlength=len(CLASS_NAMES))
    lines, ok = [], True
    report = metrics["classification_report"]
    for cls, target in F1_TARGETS.items():
        if report[cls]["support"] == 0 and predicted[CLASS_NAMES.index(cls)] == 0:
            lines.append(f"  F1 {cls:<10} n/a (no such pixels in the truth or the prediction)")
            continue
        f1 = report[cls]["f1-score"]
        passed = f1 >= target
        ok &= passed
        lines.append(f"  F1 {cls:<10} {f1:.3f}  target >= {target:.2f}  "
                     f"{'PASS' if passed else 'MISS'}")
    for low, high, target in EFFICIENCY_TARGETS:
        (row,) = efficiency_table(found, peaks, (low, high))
        eff, n = row["efficiency"], row["n"]
        span = f"{low:g}-{high:g} sigma" if np.isfinite(high) else f">= {low:g} sigma"
        if not n:
            lines.append(f"  efficiency {span:<12} n/a (no clusters)")
            continue
        passed = eff >= target
        ok &= passed
        lines.append(f"  efficiency {span:<12} {eff:.3f} of {n}  target >= {target:.2f}  "
                     f"{'PASS' if passed else 'MISS'}")
    rate = metrics["false_clusters_per_mpix"]
    passed = rate <= FALSE_CLUSTERS_PER_MPIX
    ok &= passed
    lines.append(f"  false clusters   {rate:.2f} /Mpix  target <= {FALSE_CLUSTERS_PER_MPIX:g}  "
                 f"{'PASS' if passed else 'MISS'}")
    if baseline_metrics is None:
        lines.append("  cluster F1 vs baseline  n/a (--skip-baseline)")
        return lines, ok
    ours, theirs = metrics["f1"]["cluster"], baseline_metrics["f1"]["cluster"]
    passed = ours > theirs
    ok &= passed
    lines.append(f"  cluster F1 vs baseline {ours:.3f} vs {theirs:.3f}  "
                 f"{'PASS' if passed else 'MISS'}")
    return lines, ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="a .keras model (default: the shipped default model)")
    parser.add_argument("--n-thesis", type=int, default=42, help="images in set (a)")
    parser.add_argument("--n-sparse", type=int, default=100, help="images in set (b)")
    parser.add_argument("--amp-shape", type=int, nargs=2, default=[2048, 2048],
                        help="pixels per amplifier of the frame (c)")
    parser.add_argument("--n-amplifiers", type=int, default=4)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--margin", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--skip-baseline", action="store_true",
                        help="leave out the classical baseline (and its target)")
    parser.add_argument("--json", type=Path, default=None, help="write all metrics here")
    args = parser.parse_args(argv)

    from ccdnb.quiet_tensorflow import import_tensorflow_quietly

    import_tensorflow_quietly()
    from ccdnb import events
    from ccdnb.baseline import classify_baseline
    from ccdnb.classes import CLUSTER
    from ccdnb.evaluate import evaluate_predictions, format_report, predict_dataset
    from ccdnb.predict import DEFAULT_MODEL, load_model_file, predict_image

    model_path = args.model or DEFAULT_MODEL
    model, card = load_model_file(model_path)
    print(f"model: {model_path} ({card.get('architecture', '?')}, "
          f"{model.count_params():,} parameters)")
    results, all_ok = {}, True
    for name, data in make_sets(args.n_thesis, args.n_sparse, tuple(args.amp_shape),
                                args.n_amplifiers):
        start = time.perf_counter()
        if name == "frame":
            dataset = stack_frame(data)
            masks, _ = predict_frame_via_file(data, model_path, args.tile, args.margin,
                                              args.batch_size)
        else:
            dataset = data
            masks = predict_dataset(
                lambda im: predict_image(model, im, tile=args.tile, margin=args.margin,
                                         batch_size=args.batch_size), dataset.images)
        seconds = time.perf_counter() - start
        metrics = evaluate_predictions(dataset, masks)
        found, clusters = events.cluster_detection(masks, dataset.instances, dataset.objects)
        peaks = np.asarray(clusters["peak_sigma"], dtype=np.float64)
        if args.skip_baseline:
            base = None
        else:
            base = evaluate_predictions(dataset, predict_dataset(classify_baseline,
                                                                 dataset.images))
        n_images, h, w = dataset.labels.shape
        print(f"\n=== set ({'abc'[list(SEEDS).index(name)]}) {name}: {n_images} image(s) of "
              f"{h}x{w}, {dataset.labels.size / 1e6:.1f} Mpix, "
              f"{int((dataset.objects['cls'] == CLUSTER).sum())} clusters, seed {SEEDS[name]}; "
              f"predicted in {seconds:.1f} s ===")
        print(format_report(metrics["classification_report"], digits=3))
        print("cluster efficiency by peak significance (sigma of read noise):")
        for row in metrics["cluster_efficiency_by_significance"]:
            eff = "  -  " if row["efficiency"] is None else f"{row['efficiency']:.3f}"
            high = "inf" if row["high"] is None else f"{row['high']:g}"
            print(f"  {row['low']:>5g} - {high:<5}  {eff}  ({row['found']}/{row['n']})")
        print(f"false cluster components: {metrics['false_clusters']} "
              f"({metrics['false_clusters_per_mpix']:.2f} per Mpix); hot-pixel object recall "
              f"{metrics['hot_pixel_recall']}; glow object recall {metrics['glowing_recall']}")
        if not args.skip_baseline:
            print("baseline (classical, ccdnb.baseline): F1 " +
                  ", ".join(f"{k} {v:.3f}" for k, v in base["f1"].items()) +
                  f"; false clusters {base['false_clusters_per_mpix']:.2f} per Mpix")
        lines, ok = check_targets(metrics, base, found, peaks, masks)
        all_ok &= ok
        print("targets:")
        print("\n".join(lines))
        results[name] = {"model": metrics, "baseline": base, "seconds": seconds}
    print(f"\nall targets met: {'yes' if all_ok else 'no'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
