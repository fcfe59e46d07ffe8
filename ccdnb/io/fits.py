"""Read the images of a detector FITS file and write its class masks.

Reading (:func:`read_fits_images`) accepts every 2-D image HDU of a file: the
primary HDU and image extensions, tile-compressed ones (``CompImageHDU``,
fpack ``.fz``) included, integer data with ``BZERO``/``BSCALE`` scaled to
float, any size. NaN/inf pixels are kept and counted. Anything that cannot be
segmented raises :class:`~ccdnb.errors.CcdnbInputError` with one line naming
the file and the problem: a missing path, an empty, text, truncated or corrupt
file, no image data, 1-D or 3-D data, an image without a finite pixel.
With ``keep_dead=True`` (``ccdnb predict``) a dead amplifier's image (no finite
pixel, or every finite pixel the same value) is kept, marked
(:attr:`FitsImage.dead`), and only a file whose every image is dead is refused.
Inputs are opened read-only and without memory mapping (scaled data would
otherwise be converted in a mapped buffer).

Writing (:func:`write_masks`) produces ``<stem>.masks.fits`` with the input's
HDU layout, so that HDU ``i`` of the masks file belongs to HDU ``i`` of the input:

* every image HDU becomes an HDU with the same EXTNAME/EXTVER (the primary stays
  primary) holding the uint8 class mask; a compressed input HDU gives a
  compressed (lossless RICE_1) mask HDU. The input header is copied without its
  structural keywords (BITPIX, NAXISn, BZERO, BSCALE, BLANK, compression, ...)
  and without BUNIT/DATAMIN/DATAMAX, which would be wrong for a mask; keywords
  ``CLASS0..CLASS3`` name the classes, ``CCDNBVER`` the ccdnb version,
  ``CCDNBMOD``/``CCDNBMID`` the model file and its card's id, ``CCDNBENG``/``CCDNBPRC``
  the engine that ran it and the arithmetic it ran in, ``CCDNBCF`` the class factors
  applied to its probabilities (where its card has them), ``NNONFIN`` the
  number of NaN/inf input pixels (their mask is background); a dead amplifier's
  HDU (:attr:`FitsImage.dead`) is all background, marked ``CCDNBDEA`` with the
  reason, and has no pedestal or read-noise keywords (nothing can be measured);
* every other HDU (a table, an empty primary or extension) becomes an empty
  placeholder HDU with the same EXTNAME, marked ``CCDNBSKP``, so indices line up;
* optional extras follow the mirrored HDUs: one ``<EXTNAME>_PROB`` cube
  (4, H, W) float32 of class probabilities per image (planes named by
  ``PLANE0..PLANE3``) and a ``CATALOG`` binary table (see :mod:`ccdnb.catalog`).

The file is written under a temporary name in the output directory and renamed
over the final name at the end (:func:`ccdnb.io.atomic.atomic_outputs`), so a
failure never leaves a partial file.

Provenance (:class:`Provenance`), ccdproc-style, in every mask HDU: the input
file name (``CCDNBIN``) and its SHA-256 (``CCDNBSHA``), the tiling
(``CCDNBTIL``, ``CCDNBMRG``) and the image's estimated background: pedestal,
the median of the per-row pedestals (``CCDNBPED``), and read noise
(``CCDNBRN``), both in ADU (:func:`ccdnb.normalize.estimate_background`); the
same facts as ``HISTORY`` lines.

Astropy's warnings about a broken file are caught (they become the one error
line), so they never reach the terminal.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..classes import CLASS_NAMES
from ..errors import CcdnbInputError, one_line
from ..skipper.raw import AVERAGED_KEYWORD, average_raw_samples
from .atomic import atomic_outputs  # noqa: F401  (the one atomic writer; re-exported)

__all__ = ["FITS_SUFFIXES", "COMPRESSED_SUFFIX", "STRUCTURAL_KEYWORDS", "STRUCTURAL_NUMBERED",
           "PROBABILITY_SUFFIX", "QUALITY_SUFFIX", "CATALOG_EXTNAME", "DEAD_KEYWORD", "FitsImage",
           "BIAS_KEYWORDS", "bias_columns_from_header", "HduSummary", "FitsContents",
           "output_stem", "masks_path", "read_fits_images", "hdulist_name", "file_sha256",
           "Provenance", "copy_header", "build_masks_hdulist", "write_masks", "write_hdulist"]

#: Suffixes stripped (case-insensitively) from an input name to form ``<stem>``.
FITS_SUFFIXES = (".fits", ".fit", ".fts")
COMPRESSED_SUFFIX = ".fz"

#: Header keywords that describe the data layout, its scaling or its compression,
#: dropped when a header is copied to a mask HDU (astropy writes the right ones
#: for the mask); BUNIT/DATAMIN/DATAMAX would be wrong for a mask.
STRUCTURAL_KEYWORDS = frozenset({
    "SIMPLE", "XTENSION", "BITPIX", "NAXIS", "EXTEND", "PCOUNT", "GCOUNT", "GROUPS",
    "BZERO", "BSCALE", "BLANK", "TFIELDS", "THEAP", "CHECKSUM", "DATASUM",
    "BUNIT", "DATAMIN", "DATAMAX",
    "ZIMAGE", "ZSIMPLE", "ZTENSION", "ZBITPIX", "ZNAXIS", "ZCMPTYPE", "ZMASKCMP", "ZQUANTIZ",
    "ZDITHER0", "ZEXTEND", "ZBLOCKED", "ZPCOUNT", "ZGCOUNT", "ZHECKSUM", "ZDATASUM",
    "ZBLANK", "ZSCALE", "ZZERO",
})
#: Numbered families of structural keywords (NAXIS1, TTYPE3, ZTILE1, ZNAME2, ...).
STRUCTURAL_NUMBERED = re.compile(
    r"^(NAXIS|TTYPE|TFORM|TUNIT|TDIM|TNULL|TSCAL|TZERO|TDISP|TBCOL|"
    r"ZNAXIS|ZTILE|ZNAME|ZVAL)\d+$")
#: EXTNAME suffix of the probability cube of an image HDU.
PROBABILITY_SUFFIX = "_PROB"
#: EXTNAME suffix of the quality bit mask of an image HDU (`ccdnb predict --quality`).
QUALITY_SUFFIX = "_QUALITY"
CATALOG_EXTNAME = "CATALOG"
#: Header keyword of a dead amplifier's mask HDU: why it was not segmented.
DEAD_KEYWORD = "CCDNBDEA"


@dataclass
class FitsImage:
    """One 2-D image HDU of a FITS file, as read by :func:`read_fits_images`."""

    index: int
    """Position of the HDU in the file (0 = primary)."""
    extname: str
    """EXTNAME ("PRIMARY" for a primary HDU without one)."""
    extver: int | None
    """EXTVER when the header has one, else None."""
    data: np.ndarray
    """(H, W) float32 pixel values (ADU), BZERO/BSCALE applied; NaN/inf kept."""
    header: object
    """A copy of the HDU's :class:`astropy.io.fits.Header` (the image header for
    compressed HDUs)."""
    n_nonfinite: int
    """Number of NaN/inf pixels."""
    compressed: bool = False
    """True for a tile-compressed (``CompImageHDU``) HDU."""
    dead: str | None = None
    """Why the amplifier is dead (``no finite pixel``, ``constant 0``), None when it holds
    data; set only by ``read_fits_images(..., keep_dead=True)``."""

    @property
    def bias_columns(self) -> list[slice] | None:
        """Overscan and prescan columns from ``BIASSEC`` / ``PRESEC`` (None without either)."""
        return bias_columns_from_header(self.header, self.data.shape)

    @property
    def label(self) -> str:
        """A short name for messages and tables: ``SCI,2``, ``PRIMARY`` or ``HDU3``."""
        name = self.extname or f"HDU{self.index}"
        return f"{name},{self.extver}" if self.extver is not None else name


#: Header keywords naming bias columns (IRAF sections, 1-based, inclusive).
BIAS_KEYWORDS = ("BIASSEC", "PRESEC")


def bias_columns_from_header(header, shape) -> list[slice] | None:
    """Column slices of the overscan/prescan sections a header names, inside ``shape``.

    Sections are IRAF's ``[x1:x2,y1:y2]`` (1-based, inclusive; x is the column).
    A section that cannot be read, or lies outside the image, or covers the
    whole width, is ignored: bias columns only help when they are right.

    Returns
    -------
    list of slice, or None when the header names no usable bias columns.
    """
    import re

    if header is None:
        return None
    width = shape[1]
    found = []
    for keyword in BIAS_KEYWORDS:
        value = header.get(keyword)
        match = re.fullmatch(r"\s*\[\s*(\d+)\s*:\s*(\d+)\s*,\s*\d+\s*:\s*\d+\s*\]\s*",
                             str(value)) if value is not None else None
        if not match:
            continue
        first, last = sorted(int(v) for v in match.groups())
        if first < 1 or last > width or last - first + 1 >= width:
            continue
        found.append(slice(first - 1, last))
    return found or None


@dataclass
class HduSummary:
    """Any HDU of a file: where it is, its names and what it holds."""

    index: int
    extname: str
    extver: int | None
    kind: str
    """``image``, ``compressed image``, ``empty`` or the astropy class name (tables)."""
    header: object = field(repr=False, default=None)


@dataclass
class FitsContents:
    """Everything :func:`write_masks` needs to mirror a file: its HDUs and images."""

    path: Path | str
    """The file, or the name of an HDUList in memory (:func:`hdulist_name`)."""
    hdus: list[HduSummary]
    """Every HDU of the file, in order."""
    images: list[FitsImage]
    """The 2-D image HDUs, in order (a subset of ``hdus`` by index)."""

    @property
    def n_nonfinite(self) -> int:
        """NaN/inf pixels over all images."""
        return sum(image.n_nonfinite for image in self.images)


def output_stem(path) -> str:
    """Return a file name without its FITS suffixes.

    ``.fits``, ``.fit``, ``.fts``, ``.fz`` and their combinations such as
    ``.fits.fz`` are stripped, case-insensitively: ``run1.FITS.fz`` -> ``run1``.
    """
    name = Path(path).name
    if name.lower().endswith(COMPRESSED_SUFFIX):
        name = name[: -len(COMPRESSED_SUFFIX)]
    for suffix in FITS_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def masks_path(in_path, out_dir) -> Path:
    """Return ``out_dir/<stem>.masks.fits`` for input ``in_path``."""
    return Path(out_dir) / f"{output_stem(in_path)}.masks.fits"


def _hdu_names(hdu, index: int) -> tuple[str, int | None]:
    header = hdu.header
    extname = str(header.get("EXTNAME", "PRIMARY" if index == 0 else "")).strip()
    extver = header.get("EXTVER")
    return extname, (int(extver) if isinstance(extver, (int, np.integer)) else None)


def _open_checked(path: Path):
    """Open ``path`` read-only; turn every failure into a one-line input error."""
    from astropy.io import fits

    if not path.exists():
        raise CcdnbInputError(f"{path}: no such file")
    if path.is_dir():
        raise CcdnbInputError(f"{path}: is a directory, not a FITS file")
    if path.stat().st_size == 0:
        raise CcdnbInputError(f"{path}: empty file")
    try:
        return fits.open(path, mode="readonly", memmap=False, lazy_load_hdus=False)
    except OSError as err:
        reason = err.strerror or one_line(err).split(".")[0]
        raise CcdnbInputError(f"{path}: not a readable FITS file ({reason})") from None
    except Exception as err:  # astropy raises many types on corrupt headers
        raise CcdnbInputError(f"{path}: corrupt FITS file ({one_line(err)})") from None


def _image_data(hdu, path: Path, index: int, extname: str):
    """Return the HDU's data as an array, or None for an HDU without data."""
    try:
        data = hdu.data
    except Exception as err:
        raise CcdnbInputError(
            f"{path}: cannot read the data of HDU {index} ({extname or 'unnamed'}): "
            f"file truncated or corrupt ({one_line(err)})") from None
    return None if data is None or data.size == 0 else np.asarray(data)


def _dead_reason(pixels: np.ndarray, n_nonfinite: int) -> str | None:
    """Why an image holds no data (no finite pixel, one value everywhere), or None."""
    if n_nonfinite == pixels.size:
        return "no finite pixel"
    finite = pixels[np.isfinite(pixels)] if n_nonfinite else pixels.reshape(-1)
    value = finite[0]
    if (finite != value).any():
        return None
    return f"constant {float(value):.6g}"


def _dead_line(image) -> str:
    """The dead image's problem, as a clause after its file name."""
    where = f"HDU {image.index} ({image.extname or 'unnamed'})"
    if image.dead == "no finite pixel":
        return f"{where} has no finite pixel (all NaN/inf)"
    return f"{where} is {image.dead} (every finite pixel the same value)"


def _read_hdu(hdu, index: int, path: Path, keep_dead: bool = False):
    """Return ``(HduSummary, FitsImage or None)`` for one HDU; raise on unusable image data."""
    from astropy.io import fits

    extname, extver = _hdu_names(hdu, index)
    is_image = isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU))
    data = _image_data(hdu, path, index, extname) if is_image else None
    if data is None:
        kind = "empty" if is_image else type(hdu).__name__
        return HduSummary(index, extname, extver, kind, hdu.header.copy()), None
    where = f"HDU {index} ({extname or 'unnamed'})"
    if data.ndim != 2:
        what = {1: "1-D data", 3: "a 3-D cube"}.get(data.ndim, f"{data.ndim}-D data")
        raise CcdnbInputError(f"{path}: {where} holds {what} of shape {data.shape}; "
                              f"expected 2-D images (split cubes into 2-D HDUs)")
    pixels = data.astype(np.float32)
    # A raw skipper image (NSAMP samples per pixel along the row) is averaged first.
    pixels, nsamp = average_raw_samples(pixels, hdu.header, where=f"{path}: {where}")
    n_nonfinite = int(pixels.size - np.count_nonzero(np.isfinite(pixels)))
    if n_nonfinite == pixels.size and not keep_dead:
        raise CcdnbInputError(f"{path}: {where} has no finite pixel (all NaN/inf)")
    dead = _dead_reason(pixels, n_nonfinite) if keep_dead else None
    compressed = isinstance(hdu, fits.CompImageHDU)
    header = hdu.header.copy()
    if nsamp > 1:
        header[AVERAGED_KEYWORD] = (nsamp, "ccdnb averaged this many samples per pixel")
    image = FitsImage(index, extname, extver, pixels, header, n_nonfinite, compressed, dead)
    kind = "compressed image" if compressed else "image"
    return HduSummary(index, extname, extver, kind, image.header), image


def _trailing_bytes(hdul, path: Path) -> int:
    """Bytes after the last complete HDU that are not zero padding (a cut-off HDU)."""
    # the HDU's own fileinfo: the HDUList's also asks whether any HDU was resized, which
    # formats every header again (4 ms a frame of a few HDUs) for a file only read here
    info = hdul[len(hdul) - 1].fileinfo()
    end = info["datLoc"] + info["datSpan"]
    if end >= path.stat().st_size:
        return 0
    with open(path, "rb") as handle:
        handle.seek(end)
        tail = handle.read()
    return len(tail) if tail.strip(b"\0") else 0


def read_fits_images(source, *, keep_dead: bool = False) -> FitsContents:
    """Read every 2-D image HDU of a FITS file or of an open HDUList.

    Parameters
    ----------
    source : str, Path or astropy.io.fits.HDUList
        A FITS file (``.fits``, ``.fit``, ``.fts``, fpack ``.fz``...), or an
        HDUList in memory (its ``filename()``, when it has one, names it in
        messages; it is not closed).
    keep_dead : bool
        Keep a dead amplifier's image (no finite pixel, or every finite pixel
        the same value) with :attr:`FitsImage.dead` naming why, instead of
        refusing the file for an image without a finite pixel (``ccdnb
        predict``; ``ccdnb monitor`` reads with the default). A file whose
        every image is dead is refused either way: nothing to segment.

    Returns
    -------
    FitsContents
        ``hdus`` lists every HDU (for mirroring the layout on output) and
        ``images`` the 2-D images as float32 :class:`FitsImage` objects with
        their headers and NaN/inf counts.

    Raises
    ------
    CcdnbInputError
        One line naming the file and the problem: missing, empty, not FITS,
        truncated or corrupt, no image HDU, an image HDU that is not 2-D (1-D
        rows or 3-D cubes: split cubes into 2-D HDUs first), or an image
        without a single finite pixel (with ``keep_dead``: every image dead).
        Astropy's warnings on the way are caught, never shown.
    """
    from astropy.io import fits  # imported before catching: astropy's logger hooks warnings

    if isinstance(source, fits.HDUList):
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            return _read_hdulist(source, hdulist_name(source), keep_dead=keep_dead)
    if isinstance(source, fits.hdu.base._BaseHDU):
        raise CcdnbInputError("read_fits_images takes a file or an HDUList; "
                              "wrap a single HDU as fits.HDUList([hdu])")
    path = Path(source)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # astropy reports truncation only as a warning
        with _open_checked(path) as hdul:
            contents = _read_hdulist(hdul, path, require_images=False, keep_dead=keep_dead)
            trailing = _trailing_bytes(hdul, path)
    truncated = [str(w.message) for w in caught if "truncated" in str(w.message)]
    if truncated:
        raise CcdnbInputError(f"{path}: truncated FITS file ({truncated[0]})")
    if trailing:
        raise CcdnbInputError(
            f"{path}: truncated or corrupt FITS file ({trailing} bytes after HDU "
            f"{len(contents.hdus) - 1} do not form a complete HDU)")
    _require_images(contents)
    return contents


def hdulist_name(hdulist) -> str:
    """The file an HDUList was read from, or ``<HDUList in memory>``."""
    name = hdulist.filename() if hasattr(hdulist, "filename") else None
    return str(name) if name else "<HDUList in memory>"


def _read_hdulist(hdul, path, *, require_images: bool = True,
                  keep_dead: bool = False) -> FitsContents:
    hdus, images = [], []
    for index, hdu in enumerate(hdul):
        summary, image = _read_hdu(hdu, index, path, keep_dead)
        hdus.append(summary)
        if image is not None:
            images.append(image)
    contents = FitsContents(path, hdus, images)
    if require_images:
        _require_images(contents)
    return contents


def _require_images(contents: FitsContents) -> None:
    if not contents.images:
        listing = ", ".join(f"{h.extname or h.index}: {h.kind}" for h in contents.hdus)
        raise CcdnbInputError(f"{contents.path}: no image data in any HDU ({listing or 'no HDU'})")
    if all(image.dead for image in contents.images):
        raise CcdnbInputError(f"{contents.path}: nothing to segment: "
                              + "; ".join(_dead_line(image) for image in contents.images))


def file_sha256(path, *, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks (frames are hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Provenance:
    """What a masks header records about how it was made (ccdproc-style).

    ``backgrounds`` maps an HDU index to ``(pedestal, read_noise)`` in ADU:
    the median of the per-row pedestals and the read noise that
    :func:`ccdnb.normalize.estimate_background` finds in that image.
    """

    input_name: str
    """The input file's name (no folders), or ``<HDUList in memory>``."""
    input_sha256: str | None
    """Hex SHA-256 of the input file; None for an HDUList without a file."""
    tile: int
    margin: int
    backgrounds: dict = field(default_factory=dict)
    stage_logs: dict = field(default_factory=dict)
    """HDU index -> ``[(stage, mask pixels changed or None when skipped), ...]``
    (:func:`ccdnb.predict.pipeline.run_stages`)."""
    engine: str | None = None
    """The engine that ran the network (``openvino``, ``openvino-bf16``, ``onnxruntime``,
    ``keras``; :func:`ccdnb.predict.runtime.engine_of`)."""
    precision: str | None = None
    """The arithmetic it ran in (``f32``, ``bf16``): what the engine chose, which is
    ``f32`` where bfloat16 was asked for on a CPU without it."""
    class_factors: tuple | None = None
    """The class factors applied to the network's probabilities
    (:mod:`ccdnb.predict.class_factors`), or None."""

    @classmethod
    def measure(cls, contents: FitsContents, *, tile: int, margin: int, sha256=None,
                backgrounds=None, stage_logs=None, engine=None, precision=None,
                class_factors=None):
        """Collect the facts, with the background of every image of ``contents``.

        ``backgrounds`` (image index -> :class:`ccdnb.normalize.Background`) are
        the estimates prediction used; missing ones are estimated here.
        ``stage_logs`` are the pipeline's logs of each image; ``class_factors`` the four
        factors the engine's probabilities were multiplied by, if any.
        """
        from ..background import estimate_background

        known, backgrounds = dict(backgrounds or {}), {}
        for image in contents.images:
            if image.dead:  # nothing to measure: no pedestal or noise is recorded
                continue
            background = known.get(image.index)
            if background is None:
                background = estimate_background(image.data, bias_columns=image.bias_columns)
            pedestal = np.asarray(background.pedestal, dtype=np.float64)
            finite = pedestal[np.isfinite(pedestal)]
            median = float(np.median(finite)) if finite.size else float("nan")
            backgrounds[image.index] = (median, float(background.noise))
        return cls(Path(str(contents.path)).name, sha256, int(tile), int(margin), backgrounds,
                   dict(stage_logs or {}), engine, precision,
                   None if class_factors is None else tuple(float(f) for f in class_factors))

    def apply(self, header, index: int) -> None:
        """Add the keywords and HISTORY lines of image HDU ``index`` to ``header``."""
        checksum = f"sha256:{self.input_sha256}" if self.input_sha256 else "none (in memory)"
        header["CCDNBIN"] = (self.input_name, "input file segmented by ccdnb")
        header["CCDNBSHA"] = (checksum, "checksum of the input file")
        header["CCDNBTIL"] = (self.tile, "tile side (pixels) fed to the model")
        header["CCDNBMRG"] = (self.margin, "tile margin (pixels) discarded on stitching")
        if self.engine:
            header["CCDNBENG"] = (self.engine, "engine that ran the network")
        if self.precision:
            header["CCDNBPRC"] = (self.precision, "arithmetic the network ran in")
        ran = f", {self.engine} in {self.precision}" if self.engine and self.precision else ""
        if self.class_factors is not None:
            from ..predict.class_factors import format_factors

            factors = format_factors(self.class_factors)
            header["CCDNBCF"] = (factors, "class factors on the network's probabilities")
            ran += f", class factors {factors}"
        history = [f"ccdnb {__version__}: segmented {self.input_name} ({checksum})",
                   f"ccdnb: model {header.get('CCDNBMOD', 'unknown')}, "
                   f"tiles {self.tile} px, margin {self.margin} px{ran}"]
        if index in self.backgrounds:
            pedestal, noise = self.backgrounds[index]
            header["CCDNBPED"] = (_finite_or_nan(pedestal),
                                  "[adu] pedestal, median of per-row estimates")
            header["CCDNBRN"] = (_finite_or_nan(noise), "[adu] read noise estimated by ccdnb")
            history.append(f"ccdnb: pedestal {pedestal:.6g} ADU (row median), "
                           f"read noise {noise:.6g} ADU")
        skipped = [stage for stage, changed in self.stage_logs.get(index, ()) if changed is None]
        if skipped:
            header["CCDNBOFF"] = (",".join(skipped), "pipeline stages switched off")
        for stage, changed in self.stage_logs.get(index, ()):
            # ccdproc's log_to_metadata: one line per step, in the order run
            history.append(f"ccdnb stage {stage}: "
                           + ("skipped" if changed is None else f"{changed} px changed"))
        for line in history:
            header.add_history(line)


def _finite_or_nan(value: float):
    """A header value: the float rounded to 6 significant digits, or the string 'nan'."""
    return float(f"{value:.6g}") if np.isfinite(value) else "nan"


def copy_header(header):
    """Return a copy of ``header`` without structural and scaling keywords."""
    from astropy.io import fits

    clean = fits.Header()
    for card in header.cards:
        key = card.keyword
        if key in STRUCTURAL_KEYWORDS or STRUCTURAL_NUMBERED.match(key):
            continue
        clean.append(card, end=True)
    return clean


def _provenance(header, model_name: str | None, model_id: str | None) -> None:
    header["CCDNBVER"] = (__version__, "ccdnb version that wrote this file")
    header["CCDNBMOD"] = (str(model_name or "unknown"), "model file")
    header["CCDNBMID"] = (str(model_id or "unknown"), "model id/hash from its card")


def _named_hdu(kind, header, extname: str, extver, data=None):
    """Make an HDU of class ``kind`` with ``header``, EXTNAME and EXTVER set."""
    hdu = kind(data=data, header=header)
    if extname and not (kind.__name__ == "PrimaryHDU" and extname == "PRIMARY"):
        hdu.header["EXTNAME"] = extname
    if extver is not None:
        hdu.header["EXTVER"] = extver
    return hdu


def build_masks_hdulist(contents: FitsContents, masks: dict, *, model_name=None, model_id=None,
                        probabilities: dict | None = None, catalog=None,
                        provenance: Provenance | None = None, quality: dict | None = None,
                        rates: dict | None = None):
    """Build the masks file's HDUs (see the module docstring for the layout).

    Parameters
    ----------
    contents : FitsContents
        The input file, from :func:`read_fits_images`.
    masks : dict
        HDU index -> (H, W) uint8 class mask, one per image of ``contents``.
    model_name, model_id : str, optional
        Recorded as ``CCDNBMOD`` and ``CCDNBMID``.
    probabilities : dict, optional
        HDU index -> (H, W, 4) float32 probabilities; adds ``<EXTNAME>_PROB`` HDUs.
    catalog : astropy.table.Table, optional
        Added as the ``CATALOG`` binary table.
    provenance : Provenance, optional
        Input file, checksum, tiling and background of each image, recorded in
        every mirrored HDU (keywords and HISTORY, see :class:`Provenance`).
    quality : dict, optional
        HDU index -> ``(mask, parameters, with_charge)``: the (H, W) uint16 quality bit
        mask, the :class:`ccdnb.objects.quality_mask.MaskParameters` it was made with and
        whether the charge in electrons was known; adds ``<EXTNAME>_QUALITY`` HDUs with
        the bits named (:func:`ccdnb.objects.quality_mask.quality_hdu`).
    rates : dict, optional
        HDU index -> :class:`ccdnb.skipper.electron_rate.ElectronRate`, recorded in the
        image's mask header (``CCDNBRT`` ...).

    Returns
    -------
    astropy.io.fits.HDUList
    """
    from astropy.io import fits

    images = {image.index: image for image in contents.images}
    hdus = []
    for summary in contents.hdus:
        primary = summary.index == 0
        header = copy_header(summary.header)
        _provenance(header, model_name, model_id)
        if provenance is not None:
            provenance.apply(header, summary.index)
        image = images.get(summary.index)
        if image is None:
            header["CCDNBSKP"] = (f"input HDU is {summary.kind}", "not segmented by ccdnb")
            kind = fits.PrimaryHDU if primary else fits.ImageHDU
            hdus.append(_named_hdu(kind, header, summary.extname, summary.extver))
            continue
        for class_id, name in enumerate(CLASS_NAMES):
            header[f"CLASS{class_id}"] = (name, f"mask value {class_id}")
        header["NNONFIN"] = (image.n_nonfinite, "NaN/inf input pixels (mask: background)")
        if image.dead:
            header[DEAD_KEYWORD] = (image.dead, "dead amplifier: not segmented, all background")
            header.add_history(f"ccdnb: dead amplifier ({image.dead}): not segmented, "
                               f"mask all background")
        if rates and image.index in rates:
            for key, value, comment in rates[image.index].header_cards():
                header[key] = (value, comment)
        mask = np.ascontiguousarray(masks[image.index], dtype=np.uint8)
        if primary:
            kind = fits.PrimaryHDU
        else:
            kind = fits.CompImageHDU if image.compressed else fits.ImageHDU
        hdus.append(_named_hdu(kind, header, summary.extname, summary.extver, mask))
    if probabilities:
        for image in contents.images:
            probs = probabilities[image.index]
            header = fits.Header()
            _provenance(header, model_name, model_id)
            for class_id, name in enumerate(CLASS_NAMES):
                header[f"PLANE{class_id}"] = (name, f"probability of class {class_id}")
            cube = np.ascontiguousarray(np.moveaxis(probs, -1, 0), dtype=np.float32)
            name = (image.extname or f"HDU{image.index}") + PROBABILITY_SUFFIX
            hdus.append(_named_hdu(fits.ImageHDU, header, name, image.extver, cube))
    if quality:
        from ..objects.quality_mask import quality_hdu

        for image in contents.images:
            mask, parameters, with_charge = quality[image.index]
            hdu = quality_hdu(mask, name=(image.extname or f"HDU{image.index}") + QUALITY_SUFFIX,
                              parameters=parameters, with_charge=with_charge,
                              rate=(rates or {}).get(image.index))
            _provenance(hdu.header, model_name, model_id)
            if image.extver is not None:
                hdu.header["EXTVER"] = image.extver
            if image.dead:
                hdu.header[DEAD_KEYWORD] = (image.dead, "dead amplifier: every pixel unusable")
            hdus.append(hdu)
    if catalog is not None:
        table = fits.BinTableHDU(catalog, name=CATALOG_EXTNAME)
        _provenance(table.header, model_name, model_id)
        hdus.append(table)
    if not isinstance(hdus[0], fits.PrimaryHDU):  # pragma: no cover - astropy always lists one
        hdus.insert(0, fits.PrimaryHDU())
    return fits.HDUList(hdus)


def write_masks(out_path, contents: FitsContents, masks: dict, **extras) -> Path:
    """Write the masks file atomically; return its path.

    ``extras`` are passed to :func:`build_masks_hdulist` (``model_name``,
    ``model_id``, ``probabilities``, ``catalog``). An existing file at
    ``out_path`` is replaced; callers decide whether that is allowed.
    """
    hdulist = build_masks_hdulist(contents, masks, **extras)
    with atomic_outputs(out_path) as (tmp_path,):
        write_hdulist(hdulist, tmp_path)
    return Path(out_path)


def write_hdulist(hdulist, path) -> None:
    """Write ``hdulist`` to ``path`` (replacing it), fixing only what FITS requires."""
    hdulist.writeto(path, overwrite=True, output_verify="silentfix")
