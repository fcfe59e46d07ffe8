"""A frame of a run, read as the monitor needs it: dead amplifiers kept, not fatal.

``ccdnb predict`` refuses a file with an image HDU that holds no finite pixel:
there is nothing to segment. A run is different: an amplifier that died, or a
readout that wrote NaN, is a finding about the detector, and the other
amplifiers of the same file still have figures. :func:`read_run_frame` reads
a file as :func:`ccdnb.predict.read_input` does and, only when that fails,
looks whether the file is sound but for image HDUs without a finite pixel.
Then it reads it again with those HDUs emptied, and names them as dead.
Every other problem (missing, truncated, corrupt, a cube...) stays the
reader's one-line :class:`ccdnb.CcdnbInputError`. It also records the pixel
type each HDU stores (:func:`stored_types`), which the headers of scaled
data no longer tell once astropy has scaled them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CcdnbInputError

__all__ = ["DeadAmplifier", "RunFrame", "read_run_frame", "input_type", "stored_types",
           "finite_number"]


@dataclass
class DeadAmplifier:
    """An image HDU without a finite pixel."""

    index: int
    label: str
    shape: tuple
    header: object = field(repr=False, default=None)


@dataclass
class RunFrame:
    """A file of a run: what :func:`ccdnb.predict.read_input` gives, and its dead amplifiers.

    ``contents`` is None when every image HDU of the file is dead;
    ``primary_header`` is the file's first header then (else None: it is
    ``contents.hdus[0].header``).
    """

    contents: object
    sha256: str | None
    dead: list = field(default_factory=list)
    primary_header: object = field(repr=False, default=None)
    input_types: dict = field(default_factory=dict)
    """HDU index -> the pixel type the file stores (:func:`stored_types`)."""

    @property
    def preread(self) -> tuple:
        """``(contents, sha256)``, as :func:`ccdnb.predict.segment_to_file` takes it."""
        return self.contents, self.sha256


def _label(header, index: int) -> str:
    """The amplifier's name as :attr:`ccdnb.fitsio.FitsImage.label` gives it."""
    extname = str(header.get("EXTNAME", "PRIMARY" if index == 0 else "")).strip()
    extver = header.get("EXTVER")
    name = extname or f"HDU{index}"
    return f"{name},{int(extver)}" if isinstance(extver, (int, np.integer)) else name


def _dead_hdus(path: Path) -> tuple:
    """``(dead, n_images, primary header)``: the image HDUs of ``path`` without a finite
    pixel, when that is all that is wrong, and the number of 2-D image HDUs.

    No dead HDU when the file does not open cleanly: any warning (astropy
    reports a truncated file only so), any error, or bytes after its last HDU.
    """
    from astropy.io import fits

    dead, n_images, primary = [], 0, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with fits.open(path, mode="readonly", memmap=False, lazy_load_hdus=False) as hdul:
                primary = hdul[0].header.copy()
                for index, hdu in enumerate(hdul):
                    if not isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)):
                        continue
                    data = hdu.data
                    if data is None or data.ndim != 2 or data.size == 0:
                        continue
                    n_images += 1
                    if not np.isfinite(data).any():
                        dead.append(DeadAmplifier(index, _label(hdu.header, index), data.shape,
                                                  hdu.header.copy()))
                last = hdul.fileinfo(len(hdul) - 1)
                if last["datLoc"] + last["datSpan"] < path.stat().st_size:
                    return [], n_images, primary
    except Exception:  # the reader's own error stands
        return [], 0, None
    return dead, n_images, primary


def _without(path: Path, dead: list):
    """``path`` as an HDUList in memory with the ``dead`` HDUs' data left out."""
    from astropy.io import fits

    hdul = fits.open(path, mode="readonly", memmap=False, lazy_load_hdus=False)
    for amp in dead:
        hdul[amp.index].data = None
    return hdul


def finite_number(value):
    """A header ``value`` as a finite float, or None (absent, not a number, NaN, inf)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def input_type(header) -> str:
    """The pixel type the file holds (``int16``, ``uint16``, ``float32``...) from BITPIX/BZERO."""
    if header is None:
        return ""
    bitpix = header.get("ZBITPIX", header.get("BITPIX"))
    names = {8: "uint8", 16: "int16", 32: "int32", 64: "int64", -32: "float32", -64: "float64"}
    try:
        name = names.get(int(bitpix), "")
    except (TypeError, ValueError):
        return ""
    bzero = finite_number(header.get("BZERO", 0)) or 0.0
    bscale = finite_number(header.get("BSCALE", 1))
    if bitpix in (16, 32, 64) and bzero == 2.0 ** (bitpix - 1) and bscale in (None, 1.0):
        return "u" + name  # the FITS convention for unsigned integers
    if bitpix == 8 and bzero == -128 and bscale in (None, 1.0):
        return "int8"
    if bzero or bscale not in (None, 1.0):
        name += f" (BZERO {bzero:g}, BSCALE {1.0 if bscale is None else bscale:g})"
    return name


def stored_types(path) -> dict:
    """HDU index -> the pixel type the file stores there (``int16``, ``uint16``,
    ``int32 (BZERO 200, BSCALE 0.5)``, ``float32``...), from the headers alone.

    Astropy rewrites BITPIX and drops BZERO/BSCALE once it has scaled the data,
    so the reader's headers no longer tell; this reads the headers again (no
    data). Empty when that fails: the type is then the reader's.
    """
    from astropy.io import fits

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, mode="readonly", memmap=True) as hdul:
                return {index: input_type(hdu.header) for index, hdu in enumerate(hdul)
                        if isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU))}
    except Exception:
        return {}


def read_run_frame(path, *, provenance: bool = True) -> RunFrame:
    """Read one file of a run; image HDUs without a finite pixel are dead, not an error.

    Parameters
    ----------
    path : str or Path
    provenance : bool
        Also the file's SHA-256 (the masks header's) and the pixel types it stores
        (:func:`stored_types`). The monitor's second pass takes both from the first
        pass's rows, and reads without (``sha256`` None, ``input_types`` empty).

    Returns
    -------
    RunFrame

    Raises
    ------
    CcdnbInputError
        Whatever :func:`ccdnb.predict.read_input` raises for a file that is
        unusable for another reason than dead amplifiers.
    """
    from ..io.fits import file_sha256, read_fits_images

    path = Path(path)

    def checksum():
        return file_sha256(path) if provenance else None

    def types():
        return stored_types(path) if provenance else {}

    try:
        contents = read_fits_images(path)
    except CcdnbInputError:
        dead, n_images, primary = _dead_hdus(path)
        if not dead:
            raise
    else:
        return RunFrame(contents, checksum(), input_types=types())
    if len(dead) == n_images:  # nothing left to segment
        return RunFrame(None, checksum(), dead, primary, types())
    with _without(path, dead) as hdul:
        contents = read_fits_images(hdul)
    return RunFrame(contents, checksum(), dead, input_types=types())
