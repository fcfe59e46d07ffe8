"""``ccdnb predict``: segment FITS files into class masks."""

from __future__ import annotations

import sys

from ..errors import CcdnbInputError
from . import parse_number

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "parse_stage_names", "parse_quality_options",
           "dead_notes", "run"]

HELP = "segment FITS files: write DIR/<stem>.masks.fits per input file"
DESCRIPTION = """\
Classify every pixel of every 2-D image HDU of each FILE as background (0),
glowing (1), hot pixel (2) or cluster (3) with a U-Net, and write
DIR/<stem>.masks.fits (<stem>: the file name without .fits/.fit/.fts/.fz).

Input: primary and extension images, fpack/tile-compressed (.fz) HDUs,
integer data with BZERO/BSCALE, any size; NaN/inf pixels are tolerated
(counted in NNONFIN; their class is background). Inputs are never modified.
A dead amplifier's HDU (no finite pixel, or every finite pixel the same value)
is not segmented: its mask is all background, marked CCDNBDEA with the reason,
without pedestal or noise keywords, no catalog rows; one "note:" line on
stderr names it. A file whose every image HDU is dead is an error.

Output layout mirrors the input: HDU i of the masks file belongs to HDU i of
the input. Each image HDU gives a uint8 mask HDU with the same EXTNAME (the
primary stays primary; compressed stays compressed), carrying the input
header plus CLASS0..CLASS3, CCDNBVER, CCDNBMOD (model file), CCDNBMID (model
id/hash), CCDNBENG/CCDNBPRC (the engine and the arithmetic it ran in: f32, or bf16
where --runtime openvino-bf16 runs on a CPU with bfloat16), CCDNBCF (the class
factors on the network's probabilities, where the model card has them) and the
provenance:
CCDNBIN/CCDNBSHA (input file name and SHA-256), CCDNBTIL/CCDNBMRG (tile,
margin), CCDNBPED/CCDNBRN (the image's pedestal, median over rows, and read
noise in ADU), also as HISTORY lines, and one HISTORY line per stage of the
pipeline with the pixels it changed. Tables and empty HDUs give empty
placeholder HDUs (CCDNBSKP).
The same masks are available in Python: ccdnb.segment_fits(FILE) returns this
HDUList in memory, ccdnb.segment(array) one mask.
  --probabilities  appends one <EXTNAME>_PROB HDU per image: a (4, H, W)
                   float32 cube, planes named by PLANE0..PLANE3.
  --catalog        appends a CATALOG binary table AND writes
                   DIR/<stem>.catalog.csv: one row per 8-connected cluster
                   (position, size, shape from second moments, charge in ADU,
                   electrons and keV, particle kind and its confidence; see
                   ccdnb.catalog), a DS9 region file per image,
                   DIR/<stem>.<EXTNAME>.reg, coloured by kind, and the gain
                   of each image (skipper peaks, Fe-55 lines or GAIN keyword)
                   in its masks header (CCDNBGN, CCDNBGNE, CCDNBGM).
  --gain G         with --catalog: G ADU per electron for every image instead
                   of the gain measured from each (method "user").
  --defects REPORT/defects.fits
                   settle each mask with a run's defect map (ccdnb monitor):
                   a bright pixel or short segment on a known defect is a hot
                   pixel, a one- or two-pixel hot pixel off every defect is a
                   cluster (CCDNBDEF in the header).
  --skip-stage NAME
                   switch off a stage after the network (repeatable, or a
                   comma-separated list; "rules" leaves the bare network);
                   named in CCDNBOFF and the HISTORY (docs/pipeline.md).
Outputs are written to a temporary name and renamed, so a failure never
leaves a partial file; an existing output needs --overwrite.

Many files: each FILE is independent. A bad file prints one error line and
the others still run; with several files the run ends with a summary line on
stderr (files written and failed, frames/min, Mpix/s). The exit code is 2 if
any file failed, else 0. The model is loaded once (once per worker).
  --workers N         spread the files over N local worker processes (a
                      dask.distributed LocalCluster; TensorFlow gets
                      cores // N threads in each)
  --scheduler ADDR    join a running dask cluster (tcp://host:8786), e.g. one
                      started with dask-jobqueue on SLURM, PBS or HTCondor;
                      FILEs and DIR must be on a file system the workers see
A progress bar (files, Mpix/s, ETA) goes to stderr when it is a terminal;
--quiet turns it off. Written masks files are listed on stdout.
In Python: ccdnb.segment_files(files, "DIR", workers=N or client=Client(...)).
"""


def _positive_int(text: str) -> int:
    import argparse

    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def add_arguments(parser):
    """Add ``predict``'s options to ``parser``."""
    from ..predict.pipeline import STAGES
    from ..predict.runtime import RUNTIMES
    from ..predict.tiling import DEFAULT_MARGIN

    parser.add_argument("files", nargs="+", metavar="FILE", help="input FITS files")
    parser.add_argument("--out-dir", required=True, metavar="DIR",
                        help="where <stem>.masks.fits (and .catalog.csv) go; created if needed")
    parser.add_argument("--model", default=None, metavar="NAME|PATH",
                        help="a model shipped with ccdnb, by name, or a .keras file (its "
                             "<name>.card.json is read when present); default: the shipped "
                             "model 'default' (ccdnb/models/default.keras)")
    parser.add_argument("--probabilities", action="store_true",
                        help="also write per-class float32 probabilities (<EXTNAME>_PROB HDUs)")
    parser.add_argument("--catalog", action="store_true",
                        help="also write the cluster catalog: a CATALOG table in the masks "
                             "file and DIR/<stem>.catalog.csv")
    parser.add_argument("--gain", default=None, metavar="ADU_PER_E",
                        help="with --catalog: the gain of every image, ADU per electron "
                             "(default: measured from each image, else its GAIN keyword)")
    parser.add_argument("--defects", default=None, metavar="DEFECTS.FITS",
                        help="settle the masks with a run's defect map (ccdnb monitor's "
                             "REPORT/defects.fits)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing outputs (default: an existing output is an error)")
    parser.add_argument("--tile", type=_positive_int, default=None, metavar="N",
                        help="tile side in pixels, a multiple of the U-Net's 2**depth "
                             "(default: sized to each file's largest image and the engine: "
                             "at most 1152 with OpenVINO, 512 otherwise)")
    parser.add_argument("--margin", type=int, default=DEFAULT_MARGIN, metavar="N",
                        help="pixels discarded on each tile side when stitching "
                             f"(default: {DEFAULT_MARGIN})")
    parser.add_argument("--quality", action="store_true",
                        help="also write each image's quality bit mask (cluster, halo, bleed, "
                             "hot pixel, hot column, glowing, edge, serial-register event, run "
                             "defect, neighbour, ...) as an <EXTNAME>_QUALITY HDU, bits named "
                             "in its header, and the single-electron rate on its clean pixels "
                             "in the mask header (--catalog records the rate too)")
    parser.add_argument("--quality-option", action="append", default=[], metavar="NAME=VALUE",
                        dest="quality_options",
                        help="with --quality: an option of the quality mask, e.g. "
                             "halo_radius=40, halo_threshold_e=100, bleed_row_length=50, "
                             "edge_width=5, readout_side=right (repeatable; the options and "
                             "their sources: ccdnb.objects.quality_mask.MaskParameters)")
    parser.add_argument("--skip-stage", action="append", default=[], metavar="NAME[,NAME]",
                        dest="skip_stages",
                        help="switch off a stage of the pipeline after the network (repeat or "
                             "separate with commas; 'rules' switches off every rule and leaves "
                             "the bare network); the stages: " + ", ".join(
                                 s.name for s in STAGES if s.optional)
                             + " (docs/pipeline.md); each is recorded in the masks header")
    parser.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                        help="tiles per model call; memory grows with it (default: about "
                             "1.2 Mpix per call, e.g. 1 tile of 1088, 18 of 256)")
    parser.add_argument("--runtime", choices=RUNTIMES, default="auto",
                        help="the engine: OpenVINO, OpenVINO in bfloat16, ONNX Runtime (these "
                             "need no TensorFlow, only the ONNX export beside the model, which "
                             "shipped models have) or Keras; auto (default): OpenVINO, else "
                             "ONNX Runtime, when the export is there, Keras otherwise")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                       help="segment on N local worker processes (dask.distributed); "
                            "default: one after another in this process")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="segment on the workers of a running dask cluster, e.g. "
                            "tcp://10.0.0.5:8786")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar")


def parse_stage_names(values) -> tuple:
    """``--skip-stage`` values (repeated, comma-separated; ``rules``: every rule) as stage names.

    Raises
    ------
    CcdnbInputError
        An unknown stage, or one that cannot be switched off.
    """
    from ..predict.pipeline import RULES, check_stage_names

    names = []
    for value in values or ():
        for name in filter(None, (part.strip() for part in value.split(","))):
            names.extend(RULES if name == "rules" else [name.replace("-", "_")])
    return check_stage_names(tuple(dict.fromkeys(names)))


def parse_quality_options(values) -> dict:
    """``--quality-option NAME=VALUE`` values as keyword options of the quality mask.

    Each value is read as its option's type (a number, ``true``/``false``, a word;
    ``off`` or ``none`` where the option may be switched off).

    Raises
    ------
    CcdnbInputError
        A value without ``=``, an unknown option, or a value of the wrong type.
    """
    from dataclasses import fields

    from ..objects.quality_mask import MaskParameters

    defaults = {f.name: f.default for f in fields(MaskParameters)}
    options = {}
    for value in values or ():
        name, sep, text = value.partition("=")
        name = name.strip().replace("-", "_")
        if not sep:
            raise CcdnbInputError(f"--quality-option {value!r}: expected NAME=VALUE")
        if name not in defaults:
            raise CcdnbInputError(f"--quality-option {name!r}: unknown; known: "
                                  f"{', '.join(sorted(defaults))}")
        default, text = defaults[name], text.strip()
        if text.lower() in ("off", "none") and not isinstance(default, str):
            options[name] = None
        elif isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise CcdnbInputError(f"--quality-option {name}={text!r}: expected true or false")
            options[name] = text.lower() in ("true", "1", "yes")
        elif isinstance(default, int):
            options[name] = parse_number(text, f"--quality-option {name}", int, 0)
        elif isinstance(default, float) or default is None:
            options[name] = parse_number(text, f"--quality-option {name}", float, 0.0)
        else:
            options[name] = text
    MaskParameters.of(**options)  # a value out of range: one error before any work
    return options


def dead_notes(masks_file, input_name) -> list[str]:
    """One line per dead amplifier of a written masks file (its ``CCDNBDEA`` HDUs).

    Read from the file itself, so that it holds wherever the file was segmented
    (this process or a dask worker).
    """
    from astropy.io import fits

    from ..io.fits import DEAD_KEYWORD

    notes = []
    try:
        with fits.open(masks_file, mode="readonly", memmap=False) as hdul:
            for index, hdu in enumerate(hdul):
                reason = hdu.header.get(DEAD_KEYWORD)
                if reason is None or "CLASS0" not in hdu.header:  # mask HDUs only
                    continue
                name = hdu.header.get("EXTNAME", "PRIMARY" if index == 0 else "unnamed")
                notes.append(f"{input_name}: HDU {index} ({name}) is a dead amplifier "
                             f"({reason}): not segmented, mask all background")
    except OSError:  # the file is written; a note that cannot be read is no failure
        return []
    return notes


def _connect(address: str):
    """A dask Client of the scheduler at ``address``; CcdnbInputError when impossible."""
    from ..predict.scaleout import _import_distributed

    distributed = _import_distributed()
    try:
        return distributed.Client(address)
    except (OSError, TimeoutError, ValueError) as err:
        raise CcdnbInputError(f"--scheduler {address}: cannot connect ({err})") from None


def run(args) -> int:
    """Segment every file; return 0, or 2 if any file failed."""
    from tqdm.auto import tqdm

    from ..predict import check_tiling
    from ..predict.scaleout import segment_files

    check_tiling(args.tile, args.margin, args.batch_size)  # reject a bad tiling up front
    skip_stages = parse_stage_names(args.skip_stages)
    quality = None
    if args.quality_options and not args.quality:
        raise CcdnbInputError("--quality-option needs --quality")
    if args.quality:
        quality = parse_quality_options(args.quality_options)
    gain = None
    if args.gain is not None:
        if not args.catalog:
            raise CcdnbInputError("--gain needs --catalog (the gain converts the catalog's "
                                  "charges to electrons and keV)")
        gain = parse_number(args.gain, "--gain", float, 0.0)
        if not gain > 0:
            raise CcdnbInputError(f"--gain {args.gain!r}: must be positive")
    if args.defects is not None:
        from ..predict.scaleout import worker_defect_map

        worker_defect_map(args.defects)  # a bad map: one error before any work

    def report(result):
        if result.ok:
            tqdm.write(result.output, file=sys.stdout)
            for note in dead_notes(result.output, result.input):
                tqdm.write(f"ccdnb: note: {note}", file=sys.stderr)
        else:
            tqdm.write(f"ccdnb: error: {result.error}", file=sys.stderr)

    client = _connect(args.scheduler) if args.scheduler else None
    try:
        summary = segment_files(
            args.files, args.out_dir, model=args.model or "default", client=client,
            workers=args.workers, progress=not args.quiet, callback=report, runtime=args.runtime,
            probabilities=args.probabilities, catalog=args.catalog, overwrite=args.overwrite,
            tile=args.tile, margin=args.margin, batch_size=args.batch_size,
            defects=args.defects, gain=gain, skip_stages=skip_stages, quality=quality)
    finally:
        if client is not None:
            client.close()
    if len(args.files) > 1 or args.workers or args.scheduler:
        print(f"ccdnb: {summary.line()}", file=sys.stderr)
    return 0 if summary.ok else 2
