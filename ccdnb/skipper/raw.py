"""Raw skipper-CCD images: NSAMP samples of every pixel along the row, averaged.

A skipper CCD reads each pixel NSAMP times without destroying its charge. The
raw file written by the readout (DAMIC-M's and SENSEI's LTA boards) keeps every
sample: a row of NCOL pixels is ``NCOL * NSAMP`` values, the samples of one
pixel side by side, and the ``NSAMP`` header keyword says how many. The
experiments average the samples of each pixel, which divides the read noise by
``sqrt(NSAMP)``; ccdnb does the same before anything else, since segmenting the
samples as if each were a pixel would see every event NSAMP times too wide.

Processed (averaged) images often keep the ``NSAMP`` keyword, so the keyword
alone does not make a file raw. It is raw when

- a column-count keyword (``NCOL``, ``CCDNCOL`` or ``NCOLS``) is present and the
  image is NSAMP times wider than it says; or, without such a keyword,
- the samples show the repetition that only raw data have: the difference of
  two neighbouring samples of one pixel is read noise alone (the charge is the
  same in both), while between samples of neighbouring pixels the charge
  differs. So differences far out in the tails occur between pixels and
  almost never within one (:func:`looks_raw`).
"""

from __future__ import annotations

import numpy as np

from ..errors import CcdnbInputError

__all__ = ["COLUMN_KEYWORDS", "AVERAGED_KEYWORD", "TAIL_SIGMA", "samples_per_pixel", "looks_raw",
           "average_raw_samples"]

#: Header keywords that give the number of pixel columns of a raw image.
COLUMN_KEYWORDS = ("NCOL", "CCDNCOL", "NCOLS")
#: Header keyword written on the mask HDU of an averaged raw image.
AVERAGED_KEYWORD = "SKPAVG"
#: A difference of this many robust sigma of the within-pixel differences is a tail one.
TAIL_SIGMA = 6.0
#: Raw: tail differences between pixels at least this many times as common as
#: within one, and at least this many of them.
TAIL_RATIO, MIN_TAIL = 20.0, 20


def samples_per_pixel(header) -> int:
    """The NSAMP keyword of ``header`` as an int (1 when absent or not a positive integer)."""
    value = header.get("NSAMP", 1) if header is not None else 1
    try:
        n = int(value)
    except (TypeError, ValueError):
        return 1
    return n if n >= 1 and n == float(value) else 1


def looks_raw(data, nsamp: int) -> bool:
    """Whether ``data`` holds ``nsamp`` consecutive samples of each pixel along the rows.

    Parameters
    ----------
    data : ndarray, shape (H, W)
        With ``W`` a multiple of ``nsamp``.
    nsamp : int

    Returns
    -------
    bool
        True when tail differences (beyond :data:`TAIL_SIGMA` robust sigma of the
        within-pixel differences) fall between pixels at least :data:`TAIL_RATIO`
        times as often as within them, and there are :data:`MIN_TAIL` or more.
        An image with no charge at all shows no difference, and is taken as
        averaged.
    """
    x = np.asarray(data, dtype=np.float64)
    h, w = x.shape
    groups = x.reshape(h, w // nsamp, nsamp)
    within = np.diff(groups, axis=2).ravel()
    between = (groups[:, 1:, 0] - groups[:, :-1, -1]).ravel()
    within, between = within[np.isfinite(within)], between[np.isfinite(between)]
    if within.size == 0 or between.size == 0:
        return False
    scale = 1.4826 * np.median(np.abs(within - np.median(within)))
    if not scale > 0:
        return False
    tail_within = np.mean(np.abs(within) > TAIL_SIGMA * scale)
    n_between = int(np.count_nonzero(np.abs(between) > TAIL_SIGMA * scale))
    return n_between >= MIN_TAIL and n_between / between.size >= TAIL_RATIO * tail_within


def average_raw_samples(data, header, *, where="image"):
    """Average a raw skipper image's samples per pixel, or return it unchanged.

    Parameters
    ----------
    data : ndarray, shape (H, W)
    header : astropy.io.fits.Header
        The HDU's header (NSAMP, NCOL).
    where : str
        Names the image in error messages.

    Returns
    -------
    data : ndarray, float32
        ``(H, W // NSAMP)`` means for a raw image, else ``data`` itself.
    nsamp : int
        Samples averaged per pixel (1 when the image was not raw).

    Raises
    ------
    CcdnbInputError
        The header says the image is raw (a column keyword times NSAMP equals
        its width... or not) but its width does not fit.
    """
    nsamp = samples_per_pixel(header)
    if nsamp == 1:
        return data, 1
    height, width = data.shape
    ncol = next((header[k] for k in COLUMN_KEYWORDS if k in header), None)
    if ncol is not None:
        try:
            ncol = int(ncol)
        except (TypeError, ValueError):
            ncol = None
    if ncol is not None and width == ncol:
        return data, 1  # already averaged
    if ncol is not None and width == ncol * nsamp:
        raw = True
    elif ncol is not None:
        raise CcdnbInputError(f"{where}: NSAMP={nsamp} and a column count of {ncol}, but the "
                              f"image is {width} values wide (neither {ncol} nor "
                              f"{ncol * nsamp}): cannot tell pixels from samples")
    else:
        raw = width % nsamp == 0 and width // nsamp >= 2 and looks_raw(data, nsamp)
    if not raw:
        return data, 1
    means = np.asarray(data, dtype=np.float64).reshape(height, width // nsamp, nsamp)
    return means.mean(axis=2).astype(np.float32), nsamp
