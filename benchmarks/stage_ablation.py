"""Ablation of the rules after the network: what each one pays on every held-out set.

For every held-out set of ``benchmarks/heldout_evaluation.py`` (same presets, seeds and
sizes), each image is taken through the pipeline's stages up to the network once
(:data:`ccdnb.predict.STAGES`), then through the rules after it in several variants: all
rules on (what ``ccdnb predict`` does), each rule switched off in turn, and none (the bare
network). Every variant's masks are scored as the held-out evaluation scores them
(:func:`ccdnb.evaluation.report.evaluate_predictions`) and printed per set:

- per-class F1 (background / glowing / hot pixel / cluster);
- clusters peaking at 5 sigma or more found as cluster;
- signal lost: groups of pixels at 5 sigma or more holding a simulated object, predicted
  background throughout;
- false clusters per Mpix, all of them and those of two pixels or more (issue 20's count
  on skipper frames, where a lone bright pixel is no cluster of the field's making).

A rule *pays* on a set when switching it off makes any of these worse by more than the
tolerances below (:data:`PAYS`); the gate is that every rule in the stage list pays on some
set (a rule that pays nothing on any set goes, issue 33). The exit status is 1 when a rule
pays nowhere. The frame set is segmented here amplifier by amplifier from its arrays (the
held-out evaluation writes it to a compressed FITS file first), so its figures can differ
from that script's in the last digits.

Usage (the shipped model, every set: about as long as the held-out evaluation on 2 CPU
cores; ``--quick`` for the small sets)::

    python benchmarks/stage_ablation.py [--model PATH] [--quick] [--sets thesis,sparse]
    python benchmarks/stage_ablation.py --markdown docs/ablation.md --json runs/ablation.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import heldout_evaluation as heldout  # noqa: E402

#: Switching a rule off must worsen one of these by more than this for the rule to pay.
PAYS = {"f1": 0.001, "found": 0.001, "lost": 0.0001, "false_per_mpix": 0.1,
        "false_2px_per_mpix": 0.1}
ALL_ON, NONE = "all rules", "bare network"


def variants() -> dict:
    """Variant name -> stages switched off."""
    from ccdnb.predict import RULES

    out = {ALL_ON: ()}
    out.update({f"- {rule}": (rule,) for rule in RULES})
    out[NONE] = tuple(RULES)
    return out


def images_of(spec, data):
    """``(dataset, images)``: the set as a Dataset-like stack and its images."""
    dataset = heldout.stack_frame(data) if spec.frame else data
    return dataset, dataset.images


def ablate_images(model, images, args) -> dict:
    """Variant name -> (N, H, W) masks, the network run once per image."""
    from ccdnb.predict.pipeline import (
        STAGE_NAMES,
        FrameState,
        TileGrid,
        auto_batch_size,
        branch,
        run_stages,
        tile_for,
    )

    chosen = variants()
    masks = {name: [] for name in chosen}
    upto = STAGE_NAMES[:STAGE_NAMES.index("network") + 1]
    after = STAGE_NAMES[len(upto):]
    for image in images:
        image = np.asarray(image)
        tile = args.tile if args.tile is not None else tile_for(model, image.shape, args.margin)
        grid = TileGrid.for_image(image.shape, tile, args.margin)
        state = FrameState(image=image, model=model, grid=grid,
                           batch_size=args.batch_size or auto_batch_size(grid.tile))
        run_stages(state, only=upto)
        for name, skip in chosen.items():
            masks[name].append(run_stages(branch(state), skip, only=after).mask)
    return {name: np.stack(stack) for name, stack in masks.items()}


def figures(dataset, masks) -> dict:
    """The four figures of one variant's masks."""
    from ccdnb.evaluation import events
    from ccdnb.evaluation.report import evaluate_predictions

    metrics = evaluate_predictions(dataset, masks)
    lost = metrics["signal_lost"]
    share = lost.get("object_share", lost.get("share"))
    two_px = events.false_cluster_components(masks, dataset.instances, dataset.objects,
                                             min_pixels=2)
    return {"f1": {k: float(v) for k, v in metrics["f1"].items()},
            "found": heldout._eff(metrics, heldout.BRIGHT_SIGMA),
            "lost": None if share is None else float(share),
            "false_per_mpix": float(metrics["false_clusters_per_mpix"]),
            "false_2px_per_mpix": float(two_px / (np.asarray(masks).size / 1e6))}


def worse(off: dict, on: dict) -> list:
    """What switching a rule off made worse (beyond :data:`PAYS`), as short texts."""
    out = []
    for cls, value in on["f1"].items():
        if value - off["f1"][cls] > PAYS["f1"]:
            out.append(f"F1 {cls} {value:.3f}->{off['f1'][cls]:.3f}")
    if on["found"] is not None and off["found"] is not None \
            and on["found"] - off["found"] > PAYS["found"]:
        out.append(f"found {on['found']:.3f}->{off['found']:.3f}")
    if on["lost"] is not None and off["lost"] is not None \
            and off["lost"] - on["lost"] > PAYS["lost"]:
        out.append(f"lost {100 * on['lost']:.2f}->{100 * off['lost']:.2f} %")
    if off["false_per_mpix"] - on["false_per_mpix"] > PAYS["false_per_mpix"]:
        out.append(f"false/Mpix {on['false_per_mpix']:.1f}->{off['false_per_mpix']:.1f}")
    if off["false_2px_per_mpix"] - on["false_2px_per_mpix"] > PAYS["false_2px_per_mpix"]:
        out.append(f"false >= 2 px/Mpix {on['false_2px_per_mpix']:.1f}->"
                   f"{off['false_2px_per_mpix']:.1f}")
    return out


def set_table(name, results) -> str:
    """The Markdown table of one set: a row per variant."""
    on = results[ALL_ON]
    lines = [f"#### {name}", "",
             "| variant | F1 bg / glow / hot / cluster | >= 5 sigma found | lost % | "
             "false / Mpix (>= 2 px) | worse without it |", "|---|---|---|---|---|---|"]
    for variant, fig in results.items():
        f1 = " / ".join(f"{v:.3f}" for v in fig["f1"].values())
        found = "-" if fig["found"] is None else f"{fig['found']:.3f}"
        lost = "-" if fig["lost"] is None else f"{100 * fig['lost']:.2f}"
        verdict = "" if variant == ALL_ON else ("; ".join(worse(fig, on)) or "nothing")
        lines.append(f"| {variant} | {f1} | {found} | {lost} | {fig['false_per_mpix']:.1f} "
                     f"({fig['false_2px_per_mpix']:.1f}) | {verdict} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="a .keras model (default: the shipped default model)")
    parser.add_argument("--runtime", default="auto")
    parser.add_argument("--sets", default=None, help="comma-separated set names (default: all)")
    parser.add_argument("--quick", action="store_true", help="the small sets")
    parser.add_argument("--tile", type=int, default=None)
    parser.add_argument("--margin", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    parser.add_argument("--markdown", type=Path, default=None,
                        help="write the tables as a Markdown page (docs/ablation.md)")
    args = parser.parse_args(argv)

    from ccdnb.api import Segmenter

    segmenter = Segmenter(args.model or "default", runtime=args.runtime)
    model = segmenter.model
    names = args.sets.split(",") if args.sets else [s.name for s in heldout.SETS]
    unknown = set(names) - {s.name for s in heldout.SETS}
    if unknown:
        print(f"stage_ablation: unknown sets {sorted(unknown)}", file=sys.stderr)
        return 2
    print(f"model: {segmenter.name} ({segmenter.runtime}); variants: {', '.join(variants())}")
    results, tables = {}, []
    for spec in heldout.SETS:
        if spec.name not in names:
            continue
        start = time.perf_counter()
        dataset, images = images_of(spec, heldout.make_set(spec, args.quick))
        masks = ablate_images(model, images, args)
        results[spec.name] = {variant: figures(dataset, stack)
                              for variant, stack in masks.items()}
        tables.append(set_table(spec.name, results[spec.name]))
        print(f"\n{tables[-1]}({time.perf_counter() - start:.0f} s)", flush=True)

    pays = {variant: [s for s, res in results.items() if worse(res[variant], res[ALL_ON])]
            for variant in variants() if variant not in (ALL_ON, NONE)}
    print("\nrules and the sets they pay on (switching them off makes something worse):")
    summary = ["| rule | pays on |", "|---|---|"]
    for variant, sets in pays.items():
        text = ", ".join(sets) or "no set: it goes"
        print(f"  {variant[2:]:<26} {text}")
        summary.append(f"| `{variant[2:]}` | {text} |")
    idle = [variant[2:] for variant, sets in pays.items() if not sets]
    status = "MISS" if idle else "PASS"
    print(f"  {status}  every rule pays on some set" + (f" (not: {', '.join(idle)})" if idle
                                                        else ""))
    if args.json:
        args.json.write_text(json.dumps({"model": segmenter.name, "quick": args.quick,
                                         "results": results, "pays": pays}, indent=1))
    if args.markdown:
        args.markdown.write_text(
            "# Ablation of the rules after the network\n\n"
            f"Made by `python benchmarks/stage_ablation.py{' --quick' if args.quick else ''}` "
            f"with the model `{segmenter.name}` on the held-out sets of "
            "`benchmarks/heldout_evaluation.py`. A rule pays on a set when switching it off "
            f"worsens an F1 by more than {PAYS['f1']}, the share of clusters >= 5 sigma found "
            f"by more than {PAYS['found']}, the signal lost by more than "
            f"{100 * PAYS['lost']:.2f} % or the false clusters (all, or those of two pixels "
            f"or more) by more than {PAYS['false_per_mpix']} per Mpix.\n\n## Summary\n\n"
            + "\n".join(summary) + "\n\n## Per set\n\n" + "\n".join(tables))
    return 1 if idle else 0


if __name__ == "__main__":
    sys.exit(main())
