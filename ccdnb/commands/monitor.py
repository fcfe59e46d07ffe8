"""``ccdnb monitor``: a run of frames into trends, a defect map, outliers and an HTML report."""

from __future__ import annotations

import sys

from ..errors import CcdnbInputError
from . import parse_number

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "run"]

HELP = "monitor a run of frames: per-frame table, defect map, outliers, HTML report"
DESCRIPTION = """\
Segment every frame of a run (FILES, or every FITS file in DIR), or read the
masks `ccdnb predict` wrote (--masks), and write into REPORT:

  frames.csv, frames.fits  one row per frame and amplifier: time (DATE-OBS,
                           else file order), pedestal, read noise, gain, the
                           single-electron rate (e-/pixel) on the clean pixels
                           with its error, slope along the readout and
                           rate_method, clean pixels and pixel-days, pixels of
                           0, 1, 2, 3+ e-, share of each class, hot pixels and
                           columns, glow area, clusters (on masks settled by
                           the run's defect map), their rate per Mpix (and per
                           hour with EXPTIME) and energy
  defects.fits             the run's defect map, one HDU per amplifier: share
                           of frames each pixel is bright (hot pixel or
                           cluster, 3 sigma), share glowing, and the flag
  outliers.csv             frames out of line with the run, with the reason
                           (noise or pedestal jump, light leak or glow burst,
                           cluster-rate burst, single-electron rate)
  report.html              trend plot, defect map and outliers (trends.png,
                           defects.png beside it); opens with no server
  masks/, frames/          per frame: its masks file and its statistics

A rerun into the same REPORT skips the frames that are done. A bad file
prints one error line and the others still run (exit code 2 at the end).
Whatever else the run holds is reported, never fatal: each kind of problem
gets one "note:" line on stderr and a line in report.html (frames without
EXPTIME, DATE-OBS or GAIN: NaN figures and file order; dead or constant
amplifiers: flagged; files that lack an amplifier; integer and float files;
raw skipper files, averaged; several geometries: an amplifier is its
EXTNAME and its shape, each with its own trend and defect map).
Once the run's defect map is made, every frame's masks are settled with it
(a bright pixel on a known defect is a hot pixel, a one- or two-pixel hot
pixel off every defect a cluster, as `ccdnb predict --defects` does), its
quality bit mask is made (as `ccdnb predict --quality` does; options with
--quality-option) and the single-electron rate is measured on the clean
pixels: a Poisson x Gaussian fit of their histogram in electrons where the
frame resolves electrons (gain from the comb of electron peaks); else the
dark current over the prescan/overscan, with the GAIN header (ADU per
electron) or --gain, where the frame has such columns; else NaN, with
rate_method saying why. --rewrite-masks writes the settled masks to masks/.
In Python: ccdnb.monitor(files_or_dir, "REPORT", workers=N).
"""


def add_arguments(parser):
    """Add ``monitor``'s options to ``parser``."""
    from ..predict.runtime import RUNTIMES

    parser.add_argument("inputs", nargs="+", metavar="FILES|DIR",
                        help="the run's FITS files, or folders of them")
    parser.add_argument("--out-dir", required=True, metavar="REPORT",
                        help="the report folder; created if needed")
    parser.add_argument("--model", default=None, metavar="NAME|PATH",
                        help="shipped model name or .keras file (default: 'default')")
    parser.add_argument("--masks", default=None, metavar="DIR",
                        help="read the masks ccdnb predict wrote in DIR instead of segmenting")
    parser.add_argument("--gain", default=None, metavar="ADU_PER_E",
                        help="gain for the single-electron rate (default: the GAIN header)")
    parser.add_argument("--rewrite-masks", action="store_true",
                        help="write every frame's masks settled with the run's defect map")
    parser.add_argument("--quality-option", action="append", default=[], metavar="NAME=VALUE",
                        dest="quality_options",
                        help="an option of the quality mask the rate is measured on, e.g. "
                             "halo_radius=40 (repeat for more; see ccdnb predict --help)")
    parser.add_argument("--min-share", default=None, metavar="SHARE",
                        help="a defect is bright in at least this share of the frames "
                             "(default: 0.15, and in 3 frames at least)")
    parser.add_argument("--runtime", choices=RUNTIMES, default="auto",
                        help="the engine (see ccdnb predict --help)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", default=None, metavar="N",
                       help="spread the frames over N local worker processes (dask)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="use the workers of a running dask cluster, e.g. tcp://host:8786")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    """Monitor the run; return 0, or 2 if any file failed."""
    from tqdm.auto import tqdm

    from ..monitoring import monitor
    from .predict import parse_quality_options

    quality = parse_quality_options(args.quality_options)
    gain = parse_number(args.gain, "--gain", float, 0.0) if args.gain is not None else None
    if gain is not None and gain <= 0:
        raise CcdnbInputError(f"--gain {args.gain!r}: must be positive")
    workers = parse_number(args.workers, "--workers", int, 1) if args.workers else None
    min_share = (parse_number(args.min_share, "--min-share", float, 0.0)
                 if args.min_share is not None else None)
    if min_share is not None and min_share > 1:
        raise CcdnbInputError(f"--min-share {args.min_share!r}: must be at most 1")

    def report(result):
        if not result.ok:
            tqdm.write(f"ccdnb: error: {result.error}", file=sys.stderr)

    client = None
    if args.scheduler:
        from .predict import _connect

        client = _connect(args.scheduler)
    try:
        result = monitor(args.inputs, args.out_dir, model=args.model or "default",
                         masks=args.masks, gain=gain, rewrite_masks=args.rewrite_masks,
                         workers=workers, client=client, progress=not args.quiet,
                         callback=report, runtime=args.runtime, min_share=min_share,
                         quality=quality)
    finally:
        if client is not None:
            client.close()
    print(result.paths["html"])
    for note in result.notes:  # what the run held that the monitor worked around
        print(f"ccdnb: note: {note.text}", file=sys.stderr)
    print(f"ccdnb: {result.line()}", file=sys.stderr)
    return 0 if result.summary.ok else 2
