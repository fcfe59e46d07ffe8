"""Particle ID on held-out simulation: the confusion matrix of kinds and the gates of issue 22.

Held-out images (seeds from :data:`ccdnb.particles.HELDOUT_SEED`, never trained on;
presets cycled as :data:`ccdnb.particles.SIMULATION_PRESETS`, 256 x 256), catalogued
as ``ccdnb predict --catalog`` does at the simulation's gain, with the shipped
particle naming (the tree ``ccdnb/models/particle_tree.json`` and, for the clusters it
calls muon or electron, the boosted stage ``ccdnb/models/track_booster.json`` reading
each track's own pixels), on two sets of clusters:

- ``truth``: the clusters of the truth label (the naming alone);
- ``predicted``: the clusters of the shipped segmentation model's masks (``--predicted``;
  the network's and the naming's errors together). A predicted cluster holding no
  object's pixel is a false cluster, counted apart.

Each cluster's truth kind is that of the object owning most of its object pixels
(:func:`ccdnb.particles.label_simulated_clusters`). Three selections are quoted:
``all`` clusters; ``unmerged``: the owner holds >= 80 % of the cluster's object
pixels; ``whole``: unmerged and holding >= 50 % of the owner's pixels (one object,
neither a merger of several nor a fragment). A merger or a fragment has no one kind
to get right, so the gates (issue 34: >= 90 % for electrons, >= 95 % for every other
kind: muons, alphas, X-rays, serial-register hits and low-energy events) are judged on
``whole`` clusters, on the truth masks and, with ``--predicted``, on the model's own
masks; the other selections are printed beside them. The electrons are the
simulator's multiple-scattering walks of 5 keV to 2 MeV (those whose CSDA range is
below a pixel are point deposits, named as X-rays or low-energy events); their
share named right is also printed per energy band.

The exit status is 1 when any gate is missed (on either set of masks), else 0.

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
         "electron": 0.90, "low-energy": 0.95}
#: Energy bands (keV, deposited) of the electrons' shares named right.
ELECTRON_BANDS_KEV = (0.0, 100.0, 200.0, 300.0, 500.0, 1000.0, 2000.0)
MIN_PURITY = 0.8
MIN_COMPLETENESS = 0.5


def selections(table) -> dict:
    """Row masks of the ``all``, ``unmerged`` and ``whole`` selections (see the module notes)."""
    known = np.asarray(table["truth_kind"]).astype(str) != "unknown"
    unmerged = known & (np.asarray(table["truth_purity"]) >= MIN_PURITY)
    whole = unmerged & (np.asarray(table["truth_completeness"]) >= MIN_COMPLETENESS)
    return {"all": known, "unmerged": unmerged, "whole": whole}


def electron_bands(table, rows, label: str) -> list:
    """Print and return the share of whole electrons named right per deposited-energy band."""
    truth = np.asarray(table["truth_kind"]).astype(str)
    named = np.asarray(table["kind"]).astype(str)
    energy = np.asarray(table["truth_kev"], dtype=float)
    bands = []
    print(f"\n{label}: whole electrons named right by deposited energy")
    for lo, hi in zip(ELECTRON_BANDS_KEV[:-1], ELECTRON_BANDS_KEV[1:]):
        mine = rows & (truth == "electron") & (energy >= lo) & (energy < hi)
        right = int(np.count_nonzero(mine & (named == "electron")))
        total = int(np.count_nonzero(mine))
        wrong = {str(k): int(c) for k, c in zip(*np.unique(named[mine & (named != "electron")],
                                                          return_counts=True))}
        bands.append({"kev": [lo, hi], "right": right, "total": total, "named_else": wrong})
        share = f"{right / total:.3f}" if total else "  -  "
        print(f"  {lo:6.0f}-{hi:<6.0f} {share} ({right} of {total}) else: {wrong}")
    return bands


def evaluate(table, label: str) -> dict:
    """Print the confusion matrices of one set of clusters; return the shares and gates."""
    from ccdnb.evaluation.particles import confusion_matrix

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
    result["electron_bands"] = electron_bands(table, selections(table)["whole"], label)
    print(f"\n{label}: gates on whole clusters")
    for kind, gate in gates.items():
        print(f"  {kind:16s} {gate['share']:.3f} (>= {gate['gate']:.2f}) "
              f"{'MET' if gate['met'] else 'MISSED'}")
    return result


def main(argv=None) -> int:
    from ccdnb.evaluation.particles import HELDOUT_SEED, simulated_clusters

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
    met = {name: all(gate["met"] for gate in results[name]["gates"].values())
           for name in ("truth", "predicted") if name in results}
    print(json.dumps({f"{name}_gates_met": ok for name, ok in met.items()}))
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
