"""Particle ID on held-out simulation: the confusion matrix of kinds and the gates of issue 22.

Held-out images (seeds from :data:`ccdnb.particles.HELDOUT_SEED`, never trained on;
presets cycled as :data:`ccdnb.particles.SIMULATION_PRESETS`, 256 x 256), catalogued
as ``ccdnb predict --catalog`` does at the simulation's gain, with the shipped
particle-ID tree (``ccdnb/models/particle_tree.json``), on two sets of clusters:

- ``truth``: the clusters of the truth label (the naming alone);
- ``predicted``: the clusters of the shipped segmentation model's masks (``--predicted``;
  the network's and the naming's errors together). A predicted cluster holding no
  object's pixel is a false cluster, counted apart.

Each cluster's truth kind is that of the object owning most of its object pixels
(:func:`ccdnb.particles.label_simulated_clusters`). Three selections are quoted:
``all`` clusters; ``unmerged``: the owner holds >= 80 % of the cluster's object
pixels; ``whole``: unmerged and holding >= 50 % of the owner's pixels (one object,
neither a merger of several nor a fragment). A merger or a fragment has no one kind
to get right, so the gates (>= 95 % for muons, alphas, X-rays and serial-register
hits; >= 85 % for electrons and low-energy events) are judged on ``whole`` clusters;
the other selections are printed beside them.

Usage::

    python benchmarks/particle_id.py [--images 550] [--predicted] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

GATES = {"muon": 0.95, "alpha": 0.95, "xray": 0.95, "serial-register": 0.95,
         "electron": 0.85, "low-energy": 0.85}
MIN_PURITY = 0.8
MIN_COMPLETENESS = 0.5


def selections(table) -> dict:
    """Row masks of the ``all``, ``unmerged`` and ``whole`` selections (see the module notes)."""
    known = np.asarray(table["truth_kind"]).astype(str) != "unknown"
    unmerged = known & (np.asarray(table["truth_purity"]) >= MIN_PURITY)
    whole = unmerged & (np.asarray(table["truth_completeness"]) >= MIN_COMPLETENESS)
    return {"all": known, "unmerged": unmerged, "whole": whole}


def evaluate(table, label: str) -> dict:
    """Print the confusion matrices of one set of clusters; return the shares and gates."""
    from ccdnb.particles import confusion_matrix

    result = {"clusters": len(table),
              "false_clusters": int(np.count_nonzero(
                  np.asarray(table["truth_kind"]).astype(str) == "unknown"))}
    for name, rows in selections(table).items():
        matrix = confusion_matrix(table["truth_kind"][rows], table["kind"][rows])
        matrix["correct"].format = ".3f"
        print(f"\n{label} clusters, {name} ({int(rows.sum())}):")
        matrix.pprint(max_width=200, max_lines=-1)
        result[name] = {row["truth"]: {"correct": float(row["correct"]), "total": int(row["total"])}
                        for row in matrix if row["total"]}
    gates = {}
    for kind, floor in GATES.items():
        share = result["whole"].get(kind, {}).get("correct", float("nan"))
        gates[kind] = {"share": share, "gate": floor, "met": bool(share >= floor)}
    result["gates"] = gates
    print(f"\n{label}: gates on whole clusters")
    for kind, gate in gates.items():
        print(f"  {kind:16s} {gate['share']:.3f} (>= {gate['gate']:.2f}) "
              f"{'MET' if gate['met'] else 'MISSED'}")
    return result


def main(argv=None) -> int:
    from ccdnb.particles import HELDOUT_SEED, simulated_clusters

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=550, help="held-out 256x256 images")
    parser.add_argument("--predicted", action="store_true",
                        help="also on the clusters of the shipped model's masks")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)
    results = {"images": args.images, "first_seed": HELDOUT_SEED}
    start = time.perf_counter()
    truth = simulated_clusters(args.images, HELDOUT_SEED)
    results["truth"] = evaluate(truth, "truth-mask")
    if args.predicted:
        from ccdnb.api import get_segmenter

        segmenter = get_segmenter()
        predicted = simulated_clusters(args.images, HELDOUT_SEED, segment=segmenter.segment)
        results["predicted"] = evaluate(predicted, "predicted-mask")
        print(f"predicted-mask: {results['predicted']['false_clusters']} of "
              f"{len(predicted)} clusters hold no object pixel (false clusters, left out)")
    print(f"\n({time.perf_counter() - start:.0f} s)")
    if args.json:
        from ccdnb.io_utils import write_json_atomic

        write_json_atomic(args.json, results)
    met = all(gate["met"] for gate in results["truth"]["gates"].values())
    print(json.dumps({"truth_gates_met": met}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
