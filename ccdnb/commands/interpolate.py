"""``ccdnb interpolate``: a network part of the way from its start to a fine-tune of it."""

from __future__ import annotations

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "run"]

HELP = "write the network ALPHA of the way from START to TUNED, a fine-tune of START (WiSE-FT)"
DESCRIPTION = """\
Interpolate two networks of one architecture weight by weight:
(1 - ALPHA) * START + ALPHA * TUNED, where TUNED was fine-tuned from START
(ccdnb.training.interpolate). ALPHA 0 gives START, 1 gives TUNED; in between, a
network that often keeps most of what the fine-tune gained and loses less of what
START did well. The card is TUNED's with the interpolation recorded and without its
class factors (fit the new network's with `ccdnb class-factors`). Export it with
`ccdnb export-onnx` before `ccdnb predict` can run it on OpenVINO or ONNX Runtime.
Bad input (a missing model, another architecture, ALPHA outside [0, 1]) is one error
line, exit 2, and nothing written.
"""


def add_arguments(parser):
    """Add ``interpolate``'s options to ``parser``."""
    parser.add_argument("start", metavar="START", help="a .keras file or a shipped model name")
    parser.add_argument("tuned", metavar="TUNED", help="a fine-tune of START (.keras)")
    parser.add_argument("--alpha", required=True, metavar="ALPHA",
                        help="how far from START towards TUNED, in [0, 1]")
    parser.add_argument("--out", required=True, metavar="PATH", help="the .keras file to write")


def run(args) -> int:
    """Interpolate and write; print the new model's path."""
    from ..errors import CcdnbInputError
    from ..quiet_tensorflow import import_tensorflow_quietly
    from . import parse_number

    alpha = parse_number(args.alpha, "--alpha", float, 0.0)
    if alpha > 1.0:
        raise CcdnbInputError(f"--alpha {args.alpha!r}: must be at most 1")
    if not str(args.out).endswith(".keras"):
        raise CcdnbInputError(f"--out {args.out}: a model file must end in .keras")
    import_tensorflow_quietly()
    from ..training.interpolate import interpolate_models

    print(interpolate_models(args.start, args.tuned, alpha, args.out))
    return 0
