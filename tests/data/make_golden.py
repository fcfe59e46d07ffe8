"""Recreate the golden outputs of ``ccdnb predict`` that tests/test_golden_outputs.py checks.

The golden pins what the prediction pipeline writes (masks, probabilities, catalog, DS9
regions) on the three real files beside this script and on two simulated frames written
here once (a 2-amplifier skipper frame with a dense single-electron field, and a 2-amplifier
DAMIC-like frame with glow), so that a refactoring of the pipeline can show it changed no
byte. Run it only when an output is meant to change, and say why in the commit:

    .venv/bin/python tests/data/make_golden.py            # outputs only
    .venv/bin/python tests/data/make_golden.py --frames   # also re-simulate the two frames
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from golden import GOLDEN_DIR, INPUTS, golden_record, save_record  # noqa: E402

FRAMES = {
    "skipper_dense_2amp.fits.fz": dict(preset="skipper-dense", shape=(200, 320), seed=424242),
    "damic_2amp.fits.fz": dict(preset="damic", shape=(256, 300), seed=434343),
}


def write_frames() -> None:
    from ccdnb.simulation.dataset import simulate_frame
    from ccdnb.simulation.fits import write_simulated_fits

    for name, spec in FRAMES.items():
        images = simulate_frame(spec["shape"], n_amplifiers=2, seed=spec["seed"],
                                preset=spec["preset"])
        write_simulated_fits(GOLDEN_DIR / name, images, compress=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", action="store_true", help="re-simulate the two frames")
    args = parser.parse_args()
    GOLDEN_DIR.mkdir(exist_ok=True)
    if args.frames:
        write_frames()
    records = {name: golden_record(path) for name, path in INPUTS.items()}
    save_record(records)
    print(f"wrote {GOLDEN_DIR / 'expected.npz'} and expected.json for {len(records)} inputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
