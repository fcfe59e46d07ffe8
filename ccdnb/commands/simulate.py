"""``ccdnb simulate``: write a simulated dataset (``.npz``) and optionally FITS files."""

from __future__ import annotations

from pathlib import Path

from ..errors import CcdnbInputError
from ..simulation.presets import DESCRIPTIONS, PRESETS
from . import parse_number

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "run"]

HELP = "simulate CCD images with exact truth and write them as a dataset (.npz)"
DESCRIPTION = """\
Simulate N images with a preset and write one compressed .npz with arrays
images (N,H,W) float32 ADU, labels (N,H,W) uint8, instances (N,H,W) int32,
objects (one row per object) and meta (JSON, one dict per image).

Presets:
{presets}

Object kinds (the objects table's "kind"): glowing band, edge, corner; hot
pixel pixel, segment (vertical), column, streak (horizontal); cluster diffuse,
worm, muon, alpha, hit (isolated 1-2 pixels), xray (Fe-55), serial
(serial-register, one row), lowe (2-50 e-), track (long straight muon).

With --fits DIR, every image is also written as DIR/<stem>_NNNN.fits, as a
detector would write it (pedestal included, simulation parameters in the
header). Image i is seeded from (--seed, i): the same seed gives the same data.

A run (--run N): N frames of one sensor (ccdnb.simulation.run), sharing its
defects (hot pixels, column segments, full columns; some intermittent, on in
30-90 % of the frames), with a slow pedestal and noise drift, a few bad frames
(noise jump, light leak, glow burst) and fresh hits in every frame. The frames
go to DIR/<stem>_NNNN.fits (--fits DIR, default: the folder of --out) with
DATE-OBS and EXPTIME, --amplifiers K extensions each; --out (.npz) receives the
truth: defects, which frame has which on, bad frames, defect pixel maps.
--preset is not used with --run (the run draws DAMIC-like frames).

With --tiles T, each image is cut into tiles of TxT before it is written
(ccdnb.simulation.tile_dataset): a training set that holds an amplifier's edge glow
at a frame's scale in images of the size the network trains on.
""".format(presets="\n".join(f"  {name:16s}{text}" for name, text in DESCRIPTIONS.items()))


def add_arguments(parser):
    """Add ``simulate``'s options to ``parser``."""
    parser.add_argument("--preset", default="thesis",
                        help=f"one of {', '.join(PRESETS)} (default: thesis)")
    parser.add_argument("--n", default="1", help="number of images (default: 1)")
    parser.add_argument("--size", default="256", help="image size: N or HxW, e.g. 256x512 "
                                                      "(default: 256)")
    parser.add_argument("--seed", default="0", help="random seed (default: 0)")
    parser.add_argument("--out", required=True, help="output dataset file (.npz)")
    parser.add_argument("--fits", default=None, metavar="DIR",
                        help="also write one FITS file per image into DIR")
    parser.add_argument("--compress", action="store_true",
                        help="write the FITS files tile-compressed (RICE, as fpack)")
    parser.add_argument("--noiseless", action="store_true",
                        help="render the expected images (no read noise, no Poisson noise)")
    parser.add_argument("--run", default=None, metavar="N",
                        help="simulate a run of N frames of one sensor (see above)")
    parser.add_argument("--amplifiers", default="1", metavar="K",
                        help="amplifiers per frame of a run (default: 1)")
    parser.add_argument("--tiles", default=None, metavar="T",
                        help="write each image cut into tiles of TxT (e.g. --size 1024 "
                             "--tiles 256: 16 tiles an image, glow at an amplifier's scale)")


def run(args) -> int:
    """Simulate, write the dataset (and FITS files); return 0."""
    from ..simulation import (
        SimulatedImage,
        parse_shape,
        save_dataset,
        simulate_dataset,
        tile_dataset,
        write_simulated_fits,
    )

    if args.preset not in PRESETS:
        raise CcdnbInputError(f"--preset {args.preset!r}: unknown; "
                              f"choose from {', '.join(PRESETS)}")
    n = parse_number(args.n, "--n", int, 1)
    seed = parse_number(args.seed, "--seed", int, 0)
    shape = parse_shape(args.size)
    out = Path(args.out)
    if out.suffix != ".npz":
        raise CcdnbInputError(f"--out {out}: the dataset file must end in .npz")
    if out.is_dir():
        raise CcdnbInputError(f"--out {out}: is a directory")
    tile = None if args.tiles is None else parse_number(args.tiles, "--tiles", int, 8)
    if tile is not None and (args.run is not None or args.fits):
        raise CcdnbInputError("--tiles cuts a dataset's images: not with --run or --fits")
    if tile is not None and tile > min(shape):
        raise CcdnbInputError(f"--tiles {tile}: larger than the images ({shape[0]}x{shape[1]})")
    if args.run is not None:
        return _run(args, shape, seed, out)

    dataset = simulate_dataset(args.preset, n, shape, seed, noiseless=args.noiseless)
    if tile is not None:
        dataset = tile_dataset(dataset, tile)
    save_dataset(out, dataset)
    tiles = "" if tile is None else f" in {len(dataset)} tiles of {tile}x{tile}"
    print(f"ccdnb simulate: {n} {args.preset} images of {shape[0]}x{shape[1]}{tiles} -> {out}")
    if args.fits:
        fits_dir = Path(args.fits)
        fits_dir.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            image = SimulatedImage(dataset.images[i], dataset.labels[i], dataset.instances[i],
                                   dataset.objects[dataset.objects["image"] == i], dataset.meta[i])
            write_simulated_fits(fits_dir / f"{out.stem}_{i:04d}.fits", image,
                                 compress=args.compress)
        print(f"ccdnb simulate: {n} FITS files -> {fits_dir}")
    return 0


def _run(args, shape, seed, out) -> int:
    """``--run N``: the frames of a simulated run and its truth."""
    from ..simulation.run import simulate_run

    n = parse_number(args.run, "--run", int, 1)
    amplifiers = parse_number(args.amplifiers, "--amplifiers", int, 1)
    run = simulate_run(n, shape, seed, n_amplifiers=amplifiers)
    fits_dir = Path(args.fits) if args.fits else out.parent
    paths = run.write(fits_dir, out.stem, compress=args.compress, truth=False)
    truth = run.save_truth(out)
    bad = ", ".join(f"{i} ({kind})" for i, kind in enumerate(run.bad) if kind) or "none"
    print(f"ccdnb simulate: a run of {n} frames of {shape[0]}x{shape[1]} x {amplifiers} "
          f"amplifier(s) -> {fits_dir}/{paths[0].name} ...; {len(run.defects)} defects; "
          f"bad frames {bad}; truth -> {truth}")
    return 0
