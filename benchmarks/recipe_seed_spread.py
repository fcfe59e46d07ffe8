"""Run-to-run spread of a profile's training recipe: one model per training seed, each scored.

A profile's figures come from one training seed (notebook 04's ``train_seed``), so
one draw of the recipe. This trains notebook 04's recipe of ``--profile`` again
with each of ``--seeds`` on the profile's training set, scores every model on the
profile's test set as notebook 05 does (:func:`ccdnb.predict.predict_image` with
its tile and margin; per-class F1 against the truth, thesis Table 1), and prints
per seed the F1 of each class, the glowing pixels called hot pixel, the epochs
and the training time, then the spread (min - max) of each class. A change of the
training code leaves a recipe's figures "within run-to-run noise" when they fall
inside that spread. Every seed is deterministic on one machine: the profile's own
seed gives the profile's model again, bit for bit.

Needs the profile's data (``make reproduce PROFILE=...``, or ``ccdnb reproduce
--profile ... --only 01_simulate,02_label``)::

    python benchmarks/recipe_seed_spread.py --profile thesis --seeds 5 6 7

The thesis recipe costs about 26 minutes per seed on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ccdnb.classes import CLASS_NAMES  # noqa: E402
from ccdnb.reproduce.profiles import PROFILES, notebook_parameters  # noqa: E402


def score(model_path, test, tile, margin) -> dict:
    """Per-class F1 against the truth and the glowing pixels called hot pixel."""
    from ccdnb.evaluation import report
    from ccdnb.model import load_model
    from ccdnb.predict import predict_image

    model, _ = load_model(model_path)
    masks = report.predict_dataset(
        lambda image: predict_image(model, image, tile=tile, margin=margin), test.images)
    table = report.classification_report_dict(test.labels, masks)
    out = {name: table[name]["f1-score"] for name in CLASS_NAMES}
    glow = test.labels == CLASS_NAMES.index("glowing")
    out["glow->hot"] = int((glow & (masks == CLASS_NAMES.index("hot pixel"))).sum())
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="thesis", choices=sorted(PROFILES))
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("--run-dir", help="the profile's run folder (default runs/<profile>)")
    parser.add_argument("--out", default="runs/seed-spread",
                        help="models go to OUT/<profile>/seed<N>/")
    args = parser.parse_args(argv)

    from ccdnb.simulation import load_dataset
    from ccdnb.training.train import train_model

    data = Path(args.run_dir or f"runs/{args.profile}") / "data"
    if not (data / "train.npz").exists() or not (data / "test.npz").exists():
        print(f"error: {data} has no train.npz and test.npz; run notebooks 01-02 of the "
              f"{args.profile} profile first", file=sys.stderr)
        return 2
    recipe = notebook_parameters(args.profile, "04_train")
    evaluate = notebook_parameters(args.profile, "05_evaluate")
    train, test = load_dataset(data / "train.npz"), load_dataset(data / "test.npz")
    print(f"profile {args.profile}: {len(train.images)} training, {len(test.images)} test "
          f"images; recipe {recipe['architecture']}, {recipe['epochs']} epochs, "
          f"{recipe['optimizer']}, {recipe['loss']} (profile seed {recipe['train_seed']})")

    rows = []
    for seed in args.seeds:
        start = time.perf_counter()
        result = train_model(
            train.images, train.labels, out_dir=Path(args.out) / args.profile / f"seed{seed}",
            architecture=recipe["architecture"], epochs=recipe["epochs"],
            batch_size=recipe["batch_size"], steps_per_epoch=recipe["steps_per_epoch"],
            optimizer=recipe["optimizer"], loss=recipe["loss"], seed=seed,
            max_minutes=recipe["max_minutes"], verbose=0)
        seconds = time.perf_counter() - start
        row = score(result.model_path, test, evaluate["tile_size"], evaluate["margin"])
        rows.append(row)
        print(f"seed {seed:3d}: " + "  ".join(f"{name} {row[name]:.3f}" for name in CLASS_NAMES)
              + f"  glow->hot {row['glow->hot']} px  best epoch {result.best_epoch} of "
              f"{result.card['epochs_run']}  {seconds:.0f} s", flush=True)
    print("spread (min - max F1): " + "  ".join(
        f"{name} {min(r[name] for r in rows):.3f}-{max(r[name] for r in rows):.3f}"
        for name in CLASS_NAMES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
