"""How much the held-out frame set's figures move from one simulated frame to the next.

The held-out evaluation's ``frame`` set is one DAMIC-like frame of 4 amplifiers of
1024 x 1024 (seed 90003). A retraining candidate is judged on it within 0.01 of per-class
F1 (issue 33); this prints, for frames of the same preset and size drawn with other seeds,
each model's per-class F1 (the whole pipeline, :func:`ccdnb.predict.predict_file` on the
frame written as FITS, as the held-out evaluation runs it) and the candidate's difference
from the reference, with its mean and standard deviation over the frames::

    python benchmarks/frame_seed_spread.py --model runs/candidate/default.keras \\
        --seeds 90003 91003 92003 93003

Seeds 90001-90010 are the held-out evaluation's; others are free (training used 1,
101-103, 201-312; the class factors' validation 401-411). The exit status is 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import heldout_evaluation as heldout  # noqa: E402

CLASSES = ("background", "glowing", "hot pixel", "cluster")


def frame_f1(spec, model, args) -> dict:
    """Per-class F1 of ``model`` on the frame of ``spec`` (4 amplifiers)."""
    from ccdnb.evaluation.report import evaluate_predictions

    frame = heldout.make_set(spec, quick=False)
    dataset = heldout.stack_frame(frame)
    masks, _ = heldout.predict_frame_via_file(frame, model, args.tile, args.margin,
                                              args.batch_size)
    metrics = evaluate_predictions(dataset, masks)
    return {name: float(metrics["f1"][name]) for name in CLASSES}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the candidate (.keras; its card's "
                        "class factors apply, as in the held-out evaluation)")
    parser.add_argument("--reference", default="default", help="default: the shipped model")
    parser.add_argument("--seeds", type=int, nargs="+", default=[90003, 91003, 92003, 93003])
    parser.add_argument("--amplifiers", type=int, default=4)
    parser.add_argument("--tile", type=heldout._tile, default=None)
    parser.add_argument("--margin", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=None)
    args = parser.parse_args(argv)
    diffs = []
    print("seed   | reference F1 bg / glow / hot / cluster | candidate F1 | difference")
    for seed in args.seeds:
        spec = heldout.HeldOutSet("frame", "damic", seed, args.amplifiers, 2, frame=True)
        ref, cand = frame_f1(spec, args.reference, args), frame_f1(spec, args.model, args)
        diff = [cand[c] - ref[c] for c in CLASSES]
        diffs.append(diff)
        print(f"{seed:6d} | " + " / ".join(f"{ref[c]:.3f}" for c in CLASSES) + " | "
              + " / ".join(f"{cand[c]:.3f}" for c in CLASSES) + " | "
              + " / ".join(f"{d:+.3f}" for d in diff), flush=True)
    diffs = np.array(diffs)
    mean = diffs.mean(axis=0)
    spread = diffs.std(axis=0, ddof=1) if len(diffs) > 1 else np.zeros(len(CLASSES))
    print("mean difference  " + " / ".join(f"{m:+.3f}" for m in mean))
    print("std over frames  " + " / ".join(f"{s:.3f}" for s in spread))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
