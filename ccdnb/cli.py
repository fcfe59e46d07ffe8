"""The ``ccdnb`` command line.

Each sub-command lives in its own module under :mod:`ccdnb.commands` and
exposes ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Those modules import heavy libraries (TensorFlow) inside ``run`` only, so
``ccdnb --version`` and ``--help`` stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import CcdnbInputError

__all__ = ["COMMANDS", "EXIT_BAD_INPUT", "build_parser", "main"]

#: Sub-command name -> module implementing it.
COMMANDS = {
    "simulate": "ccdnb.commands.simulate",
    "train": "ccdnb.commands.train",
    "predict": "ccdnb.commands.predict",
    "calibrate": "ccdnb.commands.calibrate",
    "monitor": "ccdnb.commands.monitor",
    "reproduce": "ccdnb.commands.reproduce",
    "export-onnx": "ccdnb.commands.export_onnx",
    "class-factors": "ccdnb.commands.class_factors",
    "interpolate": "ccdnb.commands.interpolate",
}

EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="ccdnb",
        description="Segment CCD images into background, glowing, hot pixel and cluster.",
    )
    parser.add_argument("--version", action="version", version=f"ccdnb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            continue  # a command not built yet is simply not offered
        cmd = sub.add_parser(
            name,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code.

    Bad input (:class:`ccdnb.errors.CcdnbInputError`) becomes one line on
    stderr, ``ccdnb: error: ...``, and exit code 2, without a traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        # Commands import TensorFlow themselves, quietly and only once the input is
        # checked (ccdnb.quiet_tensorflow): --help and bad input never wait for it, and
        # predict on OpenVINO or ONNX Runtime never loads it at all.
        return int(args._run(args) or 0)
    except CcdnbInputError as err:
        print(f"ccdnb: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("ccdnb: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
