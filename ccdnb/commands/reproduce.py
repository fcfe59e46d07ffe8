"""``ccdnb reproduce``: run the six notebooks headless with papermill."""

from __future__ import annotations

import sys
import time

from ..reproduce.profiles import DEFAULT_PROFILE, PROFILES

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "run"]

HELP = "run the notebooks 01..06 headless (papermill) and regenerate figures/<profile>/"
DESCRIPTION = """\
Run notebooks/01_simulate .. 07_monitor in order with papermill.

Profiles: smoke (seconds to minutes; what the tests run), quick (default: a
useful model on a 2-core CPU in ~20 min), thesis (the thesis's sizes: 200
training and 42 test images of 256x256, up to 100 epochs; for a long run or
a GPU). Executed notebooks go to RUN_DIR/notebooks; figures and the
classification report go to FIGURES_DIR (default figures/<profile>). One line per notebook with its
elapsed time; a failing notebook is named with its failing cell, exit 1. A run
that succeeds writes FIGURES_DIR/manifest.json: the commit, machine and package
versions, a SHA-256 of every output (the same on every run of one machine) and
the times per notebook (which differ from run to run).
"""


def add_arguments(parser):
    """Add ``reproduce``'s options to ``parser``."""
    parser.add_argument("--profile", choices=sorted(PROFILES), default=DEFAULT_PROFILE,
                        help=f"sizes of the run (default: {DEFAULT_PROFILE})")
    parser.add_argument("--run-dir", default=None,
                        help="where notebooks exchange data and executed copies land "
                             "(default: runs/<profile>)")
    parser.add_argument("--figures-dir", default=None,
                        help="where figures and reports go (default: figures/<profile>)")
    parser.add_argument("--only", default=None, metavar="NN[,NN...]",
                        help="run only these notebooks, e.g. 04,05 (they read what earlier "
                             "notebooks left in the run directory)")
    parser.add_argument("--notebooks-dir", default=None,
                        help="the source notebooks (default: notebooks/ of this checkout)")


def run(args) -> int:
    """Run the pipeline; return 0, or 1 when a notebook fails."""
    from ..reproduce.runner import NotebookFailure, run_pipeline

    start = time.perf_counter()
    print(f"ccdnb reproduce: profile {args.profile}", flush=True)
    try:
        runs = run_pipeline(args.profile, run_dir=args.run_dir, figures_dir=args.figures_dir,
                            only=args.only, notebooks_dir=args.notebooks_dir,
                            log=lambda line: print(line, flush=True))
    except NotebookFailure as failure:
        print(f"ccdnb reproduce: {failure}", file=sys.stderr)
        return 1
    print(f"ccdnb reproduce: {len(runs)} notebooks in {time.perf_counter() - start:.1f} s")
    return 0
