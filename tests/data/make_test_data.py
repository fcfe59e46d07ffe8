"""Recreate the real FITS files of tests/data from the astropy-affiliated packages.

Run from the repository root with the project's venv (astropy 7.2.3,
ccdproc 2.5.1, astroscrappy 1.3.0 installed)::

    .venv/bin/python tests/data/make_test_data.py

Each file is cut from a test file that a BSD-3-Clause package ships; see
tests/data/README.md for provenance and licences. Pixel values are copied
unchanged (no rescaling, no resampling); only sections or HDUs are dropped,
and a HISTORY line in each output records how.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import astroscrappy
import ccdproc
import numpy as np
from astropy.io import fits

HERE = Path(__file__).resolve().parent
ASTROPY_DATA = Path(fits.__file__).parent / "tests" / "data"
CCDPROC_DATA = Path(ccdproc.__file__).parent / "tests" / "data"
ASTROSCRAPPY_DATA = Path(astroscrappy.__file__).parent / "tests" / "data"


def saao_raw_section():
    """SAAO 1.0m raw frame: the 256 x 256 corner [1:256,1:256] (overscan columns included)."""
    src = CCDPROC_DATA / "a8280271.fits"
    with fits.open(src, do_not_scale_image_data=False) as hdul:
        header = hdul[0].header.copy()
        data = np.asarray(hdul[0].data[0:256, 0:256], dtype=np.uint16)  # rows 1-256, cols 1-256
    header["TRIMSEC"] = ("[  17: 256,   1: 256]", "Useful part of data (of this section)")
    header["BIASSEC"] = ("[   4:  13,   1: 256]", "Overscan region (of this section)")
    header.add_history("ccdnb tests/data: section [1:256,1:256] (FITS x:y, 1-based) of "
                       "ccdproc 2.5.1 tests/data/a8280271.fits (536 x 520); pixel values "
                       "unchanged (uint16 via BZERO=32768); TRIMSEC/BIASSEC clipped to it")
    hdu = fits.PrimaryHDU(data=data, header=header)  # astropy writes int16 + BZERO=32768
    hdu.writeto(HERE / "saao_a8280271_raw_256.fits", overwrite=True)


def gmos_sci():
    """Gemini GMOS-S frame used by astroscrappy's tests: its primary header and SCI HDU."""
    src = ASTROSCRAPPY_DATA / "gmos.fits"
    with fits.open(src) as hdul:
        primary = fits.PrimaryHDU(header=hdul[0].header.copy())
        sci = fits.ImageHDU(data=np.array(hdul["SCI"].data), header=hdul["SCI"].header.copy())
    primary.header.add_history("ccdnb tests/data: PRIMARY and SCI HDUs of astroscrappy 1.3.0 "
                               "tests/data/gmos.fits; VAR and SKYFIT HDUs dropped; "
                               "pixel values unchanged")
    fits.HDUList([primary, sci]).writeto(HERE / "gmos_sci.fits", overwrite=True)


def stis_raw():
    """HST/STIS raw CCD file shipped by astropy: copied byte for byte."""
    shutil.copyfile(ASTROPY_DATA / "o4sp040b0_raw.fits", HERE / "o4sp040b0_raw.fits")


if __name__ == "__main__":
    saao_raw_section()
    gmos_sci()
    stis_raw()
    for path in sorted(HERE.glob("*.fits")):
        print(f"{path.name}: {path.stat().st_size} bytes")
