"""Compare held-out figures before and after a change: F1s, false clusters, gates.

Each source is the ``--json`` output of ``benchmarks/heldout_evaluation.py`` or a
model card (``*.card.json``, whose ``heldout`` section the same script wrote when
the model was trained). Prints one row per held-out set: per-class F1 and false
clusters per Mpix of every source, gates passed, and every gate whose status
differs from the source before it's, with its values (``k->k+1`` with more than
two sources)::

    python benchmarks/heldout_compare.py ccdnb/models/default.card.json runs/after.json

A change of engine, tiling or speed-up should move nothing beyond noise; the
closing note of such a change quotes this table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

CLASSES = ("background", "glowing", "hot pixel", "cluster")


def load_sets(path: Path) -> dict:
    """Set name -> {"f1": {...}, "false": float, "gates": [...]} from a run's JSON or a card."""
    data = json.loads(path.read_text())
    if "heldout" in data:  # a model card
        data = data["heldout"]
    sets = {}
    for name, entry in data["sets"].items():
        model = entry.get("model", entry)  # a run nests the model's figures; a card does not
        f1 = model.get("f1") or entry.get("f1") or {}
        false = model.get("false_clusters_per_mpix", entry.get("false_clusters_per_mpix"))
        sets[name] = {"f1": f1, "false": false, "gates": entry.get("gates", [])}
    return sets


def _f1s(entry) -> str:
    return "/".join(f"{entry['f1'].get(c, float('nan')):.3f}" for c in CLASSES)


def _false(entry) -> str:
    return "n/a" if entry["false"] is None else f"{entry['false']:.1f}"


def _passed(entry) -> int:
    return sum(gate["status"] == "PASS" for gate in entry["gates"])


def compare(sources: list[Path]) -> str:
    """The comparison as Markdown: one table row per set, then the total of passed gates."""
    runs = [load_sets(path) for path in sources]
    names = [name for name in runs[0] if all(name in run for run in runs)]
    arrow = " -> ".join
    lines = [
        "| set | F1 bg/glow/hot/cluster, " + arrow(p.name for p in sources)
        + " | false clusters / Mpix | gates PASS | gate status changes |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        entries = [run[name] for run in runs]
        changes = []
        for k in range(1, len(entries)):  # each source against the one before it
            earlier = {gate["gate"]: gate for gate in entries[k - 1]["gates"]}
            step = f"{k}->{k + 1} " if len(entries) > 2 else ""
            for gate in entries[k]["gates"]:
                before = earlier.get(gate["gate"])
                if before is not None and before["status"] != gate["status"]:
                    changes.append(f"{step}{gate['gate']}: {before['status']} "
                                   f"({before['value']:.4g}) -> {gate['status']} "
                                   f"({gate['value']:.4g})")
        lines.append(
            f"| {name} | {' -> '.join(_f1s(e) for e in entries)} | "
            f"{' -> '.join(_false(e) for e in entries)} | "
            f"{' -> '.join(str(_passed(e)) for e in entries)} | {'; '.join(changes) or 'none'} |")
    totals = " -> ".join(str(sum(_passed(run[name]) for name in names)) for run in runs)
    shifts = [abs(run[name]["f1"].get(c, 0.0) - runs[0][name]["f1"].get(c, 0.0))
              for run in runs[1:] for name in names for c in CLASSES]
    lines.append("")
    lines.append(f"gates passed in all: {totals}; largest F1 change from the first source: "
                 f"{max(shifts, default=0.0):.4f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", type=Path, nargs="+",
                        help="heldout_evaluation.py --json outputs or model cards, oldest first")
    args = parser.parse_args(argv)
    if len(args.sources) < 2:
        parser.error("give at least two sources to compare")
    for path in args.sources:
        if not path.is_file():
            parser.error(f"{path}: not found")
    print(compare(args.sources))
    return 0


if __name__ == "__main__":
    sys.exit(main())
