"""Write simulated images to FITS as a detector would: one HDU per amplifier."""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path

__all__ = ["HEADER_KEYS", "amplifier_extname", "write_simulated_fits"]

#: Meta key -> (FITS keyword, comment) written in every simulated HDU header.
HEADER_KEYS = {
    "preset": ("CCDNBSIM", "ccdnb simulation preset"),
    "seed": ("SIMSEED", "ccdnb simulation seed"),
    "pedestal_adu": ("PEDESTAL", "[ADU] simulated pedestal"),
    "read_noise_adu": ("RDNOISE", "[ADU] simulated read noise sigma"),
    "gain_adu_per_e": ("GAIN", "[ADU/e-] simulated gain"),
    "dark_current_e": ("DARKCUR", "[e-/pixel] simulated dark current"),
    "saturation_adu": ("SATURATE", "[ADU] saturation level"),
    "row_drift": ("ROWDRIFT", "per-row pedestal drift simulated"),
    "regime": ("READMODE", "conventional or skipper"),
    "noiseless": ("NOISELES", "expected image without noise"),
    "glow_level_adu": ("GLOWLVL", "[ADU] glow amplitude"),
    "hot_level_adu": ("HOTLVL", "[ADU] hot pixel level"),
    "amplifier": ("AMPLIFR", "amplifier name"),
    "readout_edge": ("READEDGE", "image edge next to the amplifier"),
}


def amplifier_extname(index):
    """EXTNAME of amplifier ``index``: CCD_A, CCD_B, ..."""
    return f"CCD_{string.ascii_uppercase[index % 26]}"


def _header(meta):
    from astropy.io import fits

    header = fits.Header()
    for key, (keyword, comment) in HEADER_KEYS.items():
        value = meta.get(key)
        if value is not None:
            header[keyword] = (value, comment)
    header["BUNIT"] = ("ADU", "analog-to-digital units")
    height = meta["shape"][0] if meta.get("shape") else None
    if meta.get("data_columns") and height:
        start, stop = meta["data_columns"]
        header["DATASEC"] = (f"[{start + 1}:{stop}:1,{height}]".replace(":1,", ",1:"),
                             "image pixels (1-based)")
        # the prescan is on the amplifier's side, the overscan beyond the image
        after = [b for b in meta["bias_columns"] if b[0] >= stop]
        before = [b for b in meta["bias_columns"] if b[1] <= start]
        overscan, prescan = ((before, after) if meta.get("readout_side") == "right"
                             else (after, before))
        for keyword, part, what in (("BIASSEC", overscan, "overscan"),
                                    ("PRESEC", prescan, "prescan")):
            if part:
                header[keyword] = (f"[{part[0][0] + 1}:{part[0][1]},1:{height}]",
                                   f"{what} columns (1-based): no image charge")
    return header


def _as_dtype(image, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return image.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.rint(image), info.min, info.max).astype(dtype)


def write_simulated_fits(path, images, *, compress=False, dtype=np.float32):
    """Write simulated images as a FITS file in a detector's layout.

    Parameters
    ----------
    path : str or Path
        Output file; written under a temporary name, then renamed.
    images : SimulatedImage or sequence of SimulatedImage
        One image goes to the primary HDU (to a single ``CCD_A`` extension
        when compressed, since a compressed image cannot be primary); several
        go to an empty primary HDU plus one image extension per amplifier with
        EXTNAME CCD_A, CCD_B, ...
    compress : bool
        Use tile-compressed extensions (``CompImageHDU``, RICE), as in
        DAMIC-M's fpack files. Float data are quantised by the compression.
    dtype : numpy dtype
        Pixel type; integer types are rounded and clipped to their range
        (``uint16`` is written with BZERO=32768).

    Returns
    -------
    Path
        The file written.
    """
    from astropy.io import fits

    if not isinstance(images, (list, tuple)):
        images = [images]
    path = Path(path)
    hdus = []
    if len(images) == 1 and not compress:
        hdus.append(fits.PrimaryHDU(_as_dtype(images[0].image, dtype),
                                    header=_header(images[0].meta)))
    else:
        hdus.append(fits.PrimaryHDU())
        for index, sim in enumerate(images):
            header = _header(sim.meta)
            data = _as_dtype(sim.image, dtype)
            name = amplifier_extname(index)
            if compress:
                hdus.append(fits.CompImageHDU(data, header=header, name=name,
                                              compression_type="RICE_1"))
            else:
                hdus.append(fits.ImageHDU(data, header=header, name=name))
    with atomic_path(path, suffix=".fits") as tmp:
        fits.HDUList(hdus).writeto(tmp)
    return path
