"""``ccdnb calibrate``: the gain of every image of FITS files, from the images themselves."""

from __future__ import annotations

from pathlib import Path

from ..errors import CcdnbInputError

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "run"]

HELP = "measure the gain (ADU per electron) of every image: skipper peaks or Fe-55 lines"
DESCRIPTION = """\
Measure the gain of every image HDU of each FILE, as `ccdnb predict --catalog`
does (ccdnb.calibration), in this order:
  skipper peaks   the 0, 1, 2, ... electron peaks of the pixel histogram
                  (read noise 0.1-0.35 e-);
  Fe-55 lines     the Mn K-alpha (5.90 keV) and K-beta (6.49 keV) lines of the
                  cluster charges (clusters by classical thresholds: seeds at
                  4 sigma, neighbours at 2 sigma), at 3.77 eV per electron;
  GAIN keyword    the header's GAIN, read as ADU per electron;
  none            energies then stay in ADU.
--gain G records G for every image instead (method "user").

Prints one line per image and writes, for each FILE, into --out-dir:
  <stem>.calibration.json   one record per image (method, gain and its error,
                            read noise, peaks or lines fitted);
  <stem>.calibration.csv    the same as a table;
  <stem>.<EXTNAME>.gain.png the fitted histogram (skipper) or spectrum (Fe-55).
Bad input (a missing or unreadable file, no image) is one error line, exit 2.
"""


def add_arguments(parser):
    """Add ``calibrate``'s options to ``parser``."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="FITS files")
    parser.add_argument("--out-dir", default=".", metavar="DIR",
                        help="where the .calibration.json/.csv and .gain.png files go "
                             "(default: the current folder; created if needed)")
    parser.add_argument("--gain", default=None, metavar="G",
                        help="ADU per electron for every image, instead of measuring it")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def run(args) -> int:
    """Calibrate every file; print one line per image."""
    from ..io.fits import output_stem, read_fits_images
    from ..predict import ensure_output_dir
    from . import parse_number

    gain = None
    if args.gain is not None:
        gain = parse_number(args.gain, "--gain", float, 0.0)
        if not gain > 0:
            raise CcdnbInputError(f"--gain must be positive, got {args.gain}")
    out_dir = Path(args.out_dir)
    contents = []
    for path in args.files:  # every file read before any output: bad input writes nothing
        read = read_fits_images(path)
        if not read.images:
            raise CcdnbInputError(f"{path}: no image HDU to calibrate")
        stem = output_stem(path)
        targets = [out_dir / f"{stem}.calibration.json", out_dir / f"{stem}.calibration.csv"]
        if not args.overwrite:
            for target in targets:
                if target.exists():
                    raise CcdnbInputError(
                        f"{path}: output {target} exists; pass --overwrite to replace it")
        contents.append((path, stem, read))
    ensure_output_dir(out_dir)
    for path, stem, read in contents:
        _calibrate_file(path, stem, read, out_dir, gain)
    return 0


def _calibrate_file(path, stem, contents, out_dir: Path, gain):
    """Calibrate one file's images; print and write the results."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from astropy.table import Table

    from ..calibration import calibrate_images
    from ..io.atomic import atomic_path, write_json_atomic
    from ..plots.particles import plot_gain_fit

    results = calibrate_images(contents.images, gain=gain)
    records = []
    for result in results:
        record = result.record()
        records.append(record)
        c = result.calibration
        if c.gain is None:
            text = "no gain (energies stay in ADU)"
        else:
            error = f" ± {c.gain_error:.2g}" if c.gain_error is not None else ""
            text = f"gain {c.gain:.5g}{error} ADU/e- ({c.method})"
            if c.noise_e is not None:
                text += f", read noise {c.noise_e:.3f} e-"
            if record["n_kalpha"] is not None:
                text += f", {record['n_kalpha']:.0f} K-alpha clusters"
        print(f"{path}[{result.label}]: {text}")
        figure, ax = plt.subplots(figsize=(8, 4))
        image = contents.images[[im.index for im in contents.images].index(result.index)]
        plot_gain_fit(c, image=image.data, background=result.background,
                      charges_adu=result.charges_adu, ax=ax)
        ax.set_title(f"{Path(str(path)).name}[{result.label}]: gain from {c.method}")
        with atomic_path(out_dir / f"{stem}.{result.label}.gain.png") as tmp:
            figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
        plt.close(figure)
    write_json_atomic(out_dir / f"{stem}.calibration.json",
                      {"file": str(path), "images": records})
    table = Table(rows=[[r[k] if r[k] is not None else float("nan") for k in records[0]]
                        for r in records], names=list(records[0]))
    with atomic_path(out_dir / f"{stem}.calibration.csv") as tmp:
        table.write(tmp, format="ascii.csv", overwrite=True)
