"""How much a held-out set's figures move from one simulated draw of it to the next.

Each set of the held-out evaluation is one draw (one seed) of its preset; a retraining
candidate is judged on it within 0.01 of per-class F1 (issue 33). This draws the set
``--set`` again with other seeds and prints, per draw, the reference's and the
candidate's per-class F1, share of clusters >= 5 sigma found as cluster and false
clusters per Mpix (the held-out evaluation's own prediction path: the frame set through
:func:`ccdnb.predict.predict_file` on the frame written as FITS, the others through
:func:`ccdnb.predict.predict_image`), the candidate's differences, and their mean and
standard deviation over the draws::

    python benchmarks/heldout_seed_spread.py --model runs/candidate/default.keras \\
        --set frame --seeds 90003 91003 92003 93003

Seeds 90001-90010 are the held-out evaluation's own; training used 1, 101-103 and
201-312, the class factors' validation 401-411. Each model's card's class factors apply,
as in the held-out evaluation. The exit status is 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import heldout_evaluation as heldout  # noqa: E402

CLASSES = ("background", "glowing", "hot pixel", "cluster")
FIGURES = CLASSES + ("found", "false")


def set_figures(spec, data, model, args) -> dict:
    """Per-class F1, found >= 5 sigma and false clusters per Mpix of ``model`` on ``data``,
    the set ``spec`` drawn (:func:`heldout_evaluation.make_set`)."""
    from ccdnb.evaluation.report import evaluate_predictions

    dataset, masks = heldout.predict_set(spec, data, model, args)
    metrics = evaluate_predictions(dataset, masks)
    out = {name: float(metrics["f1"][name]) for name in CLASSES}
    found = heldout._eff(metrics, heldout.BRIGHT_SIGMA)
    out["found"] = np.nan if found is None else float(found)
    out["false"] = float(metrics["false_clusters_per_mpix"])
    return out


def _row(values) -> str:
    return (" / ".join(f"{values[c]:.3f}" for c in CLASSES)
            + f" | {values['found']:.3f} | {values['false']:.1f}")


def _load(model, runtime):
    from ccdnb.model import DEFAULT_MODEL
    from ccdnb.runtime import load_predictor

    return load_predictor(DEFAULT_MODEL if model == "default" else Path(model), runtime)[0]


def main(argv=None) -> int:
    by_name = {spec.name: spec for spec in heldout.SETS}
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the candidate (.keras)")
    parser.add_argument("--reference", default="default", help="default: the shipped model")
    parser.add_argument("--set", default="frame", choices=sorted(by_name))
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="default: the set's own seed and three more")
    parser.add_argument("--runtime", default="auto")
    parser.add_argument("--tile", type=heldout._tile, default=None)
    parser.add_argument("--margin", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=None)
    args = parser.parse_args(argv)
    base = by_name[args.set]
    seeds = args.seeds or [base.seed + k * 1000 for k in range(4)]
    reference, candidate = _load(args.reference, args.runtime), _load(args.model, args.runtime)
    diffs = []
    print(f"set {args.set} (preset {base.preset}): per draw, F1 bg / glow / hot / cluster | "
          "found >= 5 sigma | false / Mpix")
    for seed in seeds:
        spec = dataclasses.replace(base, seed=seed)
        data = heldout.make_set(spec, quick=False)  # one draw, both models
        ref = set_figures(spec, data, reference, args)
        cand = set_figures(spec, data, candidate, args)
        diff = {k: cand[k] - ref[k] for k in FIGURES}
        diffs.append([diff[k] for k in FIGURES])
        print(f"{seed:6d} | reference {_row(ref)} | candidate {_row(cand)} | difference "
              + " / ".join(f"{diff[c]:+.3f}" for c in CLASSES)
              + f" | {diff['found']:+.3f} | {diff['false']:+.1f}", flush=True)
    diffs = np.array(diffs)
    mean = diffs.mean(axis=0)
    spread = diffs.std(axis=0, ddof=1) if len(diffs) > 1 else np.zeros(len(FIGURES))
    for label, values in (("mean difference", mean), ("std over draws", spread)):
        print(f"{label:16s} " + " / ".join(f"{v:+.3f}" for v in values[:4])
              + f" | {values[4]:+.3f} | {values[5]:+.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
