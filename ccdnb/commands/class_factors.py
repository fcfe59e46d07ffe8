"""``ccdnb class-factors``: fit a model's class factors on validation images, record them."""

from __future__ import annotations

from pathlib import Path

from ..errors import CcdnbInputError

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "run"]

HELP = "fit the factors on a model's class probabilities on validation images (its card keeps them)"
DESCRIPTION = """\
Fit the class factors of MODEL (ccdnb.predict.class_factors): each class's
probability is multiplied by its factor before the mask takes the most probable
class, which moves the network's boundaries between classes (a loss weighted by
class sets them where the weights put them) without retraining it. The factors
maximise the mean, over the --data files (one group each, e.g. one simulated
preset), of the bare network's macro F1 (every rule after the network off); each
file counts alike. Use images neither the training nor the held-out evaluation
uses (`ccdnb simulate` with seeds of their own).

With --reference REF (the network MODEL is to replace, e.g. `default`), the
factors instead maximise the smallest change of any class's F1 on any file
against REF's (REF read with its own card's factors): the new network loses
as little as possible anywhere, ties broken by the mean macro F1. With
--tolerance T as well, they maximise the mean macro F1 among the factors with
which no class's F1 on any file falls more than T below REF's.

Prints the factors and, per file, each class's F1 without -> with them.
--write records them in the model card (<name>.card.json, key class_factors, with
the fit's figures and this command); from then on `ccdnb predict`, `ccdnb monitor`
and the Python API apply them to every batch the engine returns, and the masks
header records them (CCDNBCF). --remove takes them out of the card again.
Bad input (a missing model or data file, images of different sizes) is one error
line, exit 2.
"""


def add_arguments(parser):
    """Add ``class-factors``'s options to ``parser``."""
    parser.add_argument("model", metavar="MODEL", help="a .keras file or a shipped model name")
    parser.add_argument("--data", nargs="+", default=None, metavar="NPZ",
                        help="validation datasets from `ccdnb simulate`, one group each")
    parser.add_argument("--write", action="store_true",
                        help="record the factors in the model card")
    parser.add_argument("--remove", action="store_true",
                        help="take the factors out of the model card (no fit)")
    parser.add_argument("--reference", default=None, metavar="REF",
                        help="hold the factors to losing least against this model's F1 "
                             "(a .keras file or a shipped model name)")
    parser.add_argument("--tolerance", default=None, metavar="T",
                        help="with --reference: the best mean macro F1 among the factors with "
                             "which no class's F1 on any file is more than T below REF's")
    parser.add_argument("--span", default="2.5", metavar="B",
                        help="largest |log factor| searched (default 2.5: factors 1/12-12)")
    parser.add_argument("--step", default="0.02", metavar="S",
                        help="grid step of the log factors (default 0.02)")
    parser.add_argument("--runtime", default="auto",
                        help="engine that runs the network (as ccdnb predict; default auto)")


def run(args) -> int:
    """Fit, print, and record or remove the factors."""
    from ..io.atomic import write_json_atomic
    from ..model import card_path, model_card, resolve_model_path
    from ..predict.class_factors import CARD_KEY
    from . import parse_number

    path = resolve_model_path(args.model)
    card_file = card_path(path)
    if args.remove:
        if args.data or args.write:
            raise CcdnbInputError("--remove takes no --data or --write")
        card = model_card(path)
        if card.pop(CARD_KEY, None) is None:
            print(f"{card_file}: no class factors to remove")
            return 0
        write_json_atomic(card_file, card, sort_keys=True)
        print(f"{card_file}: class factors removed")
        return 0
    if not args.data:
        raise CcdnbInputError("give the validation images with --data (or --remove)")
    span = parse_number(args.span, "--span", float, 0.01)
    step = parse_number(args.step, "--step", float, 1e-4)
    tolerance = None if args.tolerance is None else \
        parse_number(args.tolerance, "--tolerance", float, 0.0)
    if tolerance is not None and args.reference is None:
        raise CcdnbInputError("--tolerance needs --reference")
    if step > span:
        raise CcdnbInputError(f"--step {args.step} is larger than --span {args.span}")
    if args.write and not card_file.is_file():
        raise CcdnbInputError(f"{card_file}: no model card to record the factors in")

    from ..predict.runtime import load_predictor
    from ..simulation import load_dataset
    from ..training.class_factors import (
        confusion_of,
        f1_scores,
        fit_class_factors,
        group_probabilities,
        network_probabilities,
    )

    reference_path = None if args.reference is None else resolve_model_path(args.reference)
    datasets = [(Path(name), load_dataset(name)) for name in args.data]  # errors first
    model, _ = load_predictor(path, args.runtime, class_factors=False)
    reference_model = None if reference_path is None else \
        load_predictor(reference_path, args.runtime)[0]
    groups, reference = [], []
    for name, data in datasets:
        probabilities = network_probabilities(model, data.images)
        groups.append(group_probabilities(name.stem, probabilities, data.labels, span=span))
        if reference_model is not None:
            scored = group_probabilities(name.stem, network_probabilities(
                reference_model, data.images), data.labels, span=span)
            reference.append(f1_scores(confusion_of(scored)))
        print(f"{name}: {len(data.images)} images read by the network", flush=True)
    fit = fit_class_factors(groups, span=span, step=step,
                            reference=reference if reference_model is not None else None,
                            tolerance=tolerance)
    print(fit.format())
    if args.write:
        card = model_card(path)
        card[CARD_KEY] = fit.card_entry(
            data=[str(name) for name, _ in datasets],
            reference_model=None if reference_path is None else str(args.reference),
            command="ccdnb class-factors " + " ".join(
                [str(args.model), "--data", *map(str, args.data), "--span", str(span),
                 "--step", str(step)]
                + ([] if reference_path is None else ["--reference", str(args.reference)])
                + ([] if tolerance is None else ["--tolerance", str(tolerance)])
                + ["--write"]))
        write_json_atomic(card_file, card, sort_keys=True)
        print(f"recorded in {card_file}")
    return 0
