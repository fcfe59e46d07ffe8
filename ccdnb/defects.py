"""Run defect maps: where a sensor's defects are, learnt from many frames, and what they settle.

One frame cannot tell a hot pixel from a one-pixel ionisation hit: both are a
single bright pixel. A run can: a defect comes back at the same place frame
after frame, a hit does not. :class:`DefectAccumulator` counts, per pixel of
each amplifier, in how many frames it is *bright* (labelled hot pixel or
cluster, so the network decided it holds signal, and 3 sigma above its row's
pedestal, :func:`bright_pixels`) and in how many it is labelled glowing.
:class:`DefectMap` holds the shares and the flags:

- ``hot share``: frames in which the pixel is bright, over the frames counted;
- ``glow share``: frames in which it is glowing;
- ``flag``: :data:`ccdnb.classes.HOT_PIXEL` where the hot share reaches
  ``min_share`` (and at least ``min_frames`` frames) and the glow share is
  not higher, else :data:`ccdnb.classes.GLOWING` where the glow share
  reaches it, else 0.

:func:`settle_with_defects` then settles one frame's mask: a bright pixel or
short segment on a known defect is a hot pixel, and a one- or two-pixel "hot
pixel" off every defect is a cluster.

On disk (``REPORT/defects.fits``, :meth:`DefectMap.write`): an empty primary
HDU (``CCDNBNFR`` frames, ``CCDNBMSH`` min share, ``CCDNBMFR`` min frames)
and one image HDU per amplifier, a float32 cube (3, H, W) of hot share, glow
share and flag (``PLANE0..2``), its amplifier's label in ``CCDNBAMP`` and as
EXTNAME (``IMAGE`` for a primary-HDU image).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .classes import CLUSTER, GLOWING, HOT_PIXEL
from .errors import CcdnbInputError, one_line
from .objects.groups import flat_groups

__all__ = ["DefectMap", "DefectAccumulator", "settle_with_defects", "bright_pixels",
           "as_defect_map", "geometry_key", "amplifier_hdu_name", "DEFAULT_MIN_SHARE",
           "DEFAULT_MIN_FRAMES", "MAX_HIT_PIXELS", "MAX_HALO_PIXELS", "PLANES"]

#: A pixel is a defect when it is bright in at least this share of the frames ...
DEFAULT_MIN_SHARE = 0.15
#: ... and in at least this many frames (short runs).
DEFAULT_MIN_FRAMES = 3
#: Hot-pixel groups of at most this many pixels off every defect become clusters.
MAX_HIT_PIXELS = 2
#: A bright group on a defect whose other pixels all touch the defect, and are at most
#: this many, is the network's halo around the defect: hot pixel.
MAX_HALO_PIXELS = 8
PLANES = ("HOTSHARE", "GLOWSHAR", "FLAG")


def geometry_key(label: str, shape) -> str:
    """The name of amplifier ``label`` read out as ``shape`` (H, W) when a run holds several
    shapes of it: ``"CCD_A 64x96"``. An amplifier is its label and its shape."""
    return f"{label} {int(shape[0])}x{int(shape[1])}"


def _base_label(key: str) -> str:
    """The amplifier label of a map key: ``CCD_A`` for ``CCD_A`` and ``CCD_A 64x96``."""
    import re

    return re.sub(r" \d+x\d+$", "", key)


def amplifier_hdu_name(label: str) -> str:
    """EXTNAME of an amplifier's HDU in a defects file (a primary image gets ``IMAGE``;
    an amplifier of :func:`geometry_key` gets its shape: ``CCD_A_64x96``)."""
    base = _base_label(label)
    shape = label[len(base) + 1:]
    name = base.split(",")[0]
    name = "IMAGE" if name == "PRIMARY" else name
    return f"{name}_{shape}" if shape else name


@dataclass
class DefectMap:
    """Defect shares and flags of every amplifier of one sensor.

    Attributes
    ----------
    hot_share, glow_share : dict of str -> ndarray (H, W) float32
        Per amplifier label (``CCD_A``, ``PRIMARY``, ...): share of the frames
        counted in which each pixel is bright (hot pixel or cluster), glowing.
    n_frames : int
        Frames counted.
    min_share : float
    min_frames : int
    """

    hot_share: dict = field(default_factory=dict)
    glow_share: dict = field(default_factory=dict)
    n_frames: int = 0
    min_share: float = DEFAULT_MIN_SHARE
    min_frames: int = DEFAULT_MIN_FRAMES

    @property
    def amplifiers(self) -> list:
        return list(self.hot_share)

    def _threshold(self) -> float:
        return max(self.min_share, self.min_frames / max(self.n_frames, 1))

    def flag(self, amplifier: str) -> np.ndarray:
        """Flags (uint8): HOT_PIXEL for defects, GLOWING for persistent glow, else 0."""
        threshold = self._threshold() - 1e-9
        flags = np.zeros(self.hot_share[amplifier].shape, np.uint8)
        hot, glow = self.hot_share[amplifier], self.glow_share[amplifier]
        flags[glow >= threshold] = GLOWING
        # a pixel at the bright edge of a glow is sometimes taken for a hot pixel:
        # a defect is bright more often than it is glowing
        flags[(hot >= threshold) & (hot >= glow)] = HOT_PIXEL
        return flags

    def hot(self, amplifier: str) -> np.ndarray:
        """Boolean map of the known hot defects of ``amplifier``."""
        return self.flag(amplifier) == HOT_PIXEL

    def key_for(self, label: str | None, shape) -> str | None:
        """The amplifier of the map for image ``label`` of ``shape``, or None.

        ``label`` itself when the map has it in that shape, else its
        :func:`geometry_key` when the map has that (a run of several shapes).
        """
        shape = tuple(shape)
        for key in (label, geometry_key(label, shape) if label is not None else None):
            if key in self.hot_share and self.hot_share[key].shape == shape:
                return key
        return None

    def for_image(self, label: str | None, shape) -> np.ndarray:
        """The hot-defect map of amplifier ``label`` for an image of ``shape``.

        ``label`` None: the map's only amplifier (in the image's shape, when the
        map holds it in several). An amplifier mapped in several shapes
        (:func:`geometry_key`) is found by its label and the shape.

        Raises
        ------
        CcdnbInputError
            No amplifier of that name (or None for a map of several), or another shape.
        """
        if label is None and len(self.hot_share) == 1:
            label = self.amplifiers[0]
        elif label is None and len({_base_label(k) for k in self.hot_share}) == 1:
            label = _base_label(self.amplifiers[0])  # one amplifier in several shapes
        key = self.key_for(label, shape)
        if key is not None:
            return self.hot(key)
        if label not in self.hot_share:
            raise CcdnbInputError(
                f"the defect map has no amplifier {label!r} (it has "
                f"{', '.join(self.amplifiers) or 'none'})" if label is not None else
                f"the defect map holds amplifiers {', '.join(self.amplifiers)}: "
                f"name the image's amplifier")
        flags = self.hot(label)
        if flags.shape != tuple(shape):
            raise CcdnbInputError(f"the defect map of {label} is {flags.shape[0]}x{flags.shape[1]}"
                                  f" pixels; the image is {shape[0]}x{shape[1]}")
        return flags

    def write(self, path) -> Path:
        """Write ``defects.fits`` atomically (see the module docstring)."""
        from astropy.io import fits

        from . import __version__
        from .io.atomic import atomic_path

        primary = fits.PrimaryHDU()
        primary.header["CCDNBVER"] = (__version__, "ccdnb version")
        primary.header["CCDNBNFR"] = (int(self.n_frames), "frames counted")
        primary.header["CCDNBMSH"] = (float(self.min_share), "min share of frames of a defect")
        primary.header["CCDNBMFR"] = (int(self.min_frames), "min frames of a defect")
        hdus = [primary]
        for amp in self.amplifiers:
            cube = np.stack([self.hot_share[amp], self.glow_share[amp],
                             self.flag(amp).astype(np.float32)]).astype(np.float32)
            hdu = fits.ImageHDU(cube, name=amplifier_hdu_name(amp))
            hdu.header["CCDNBAMP"] = (amp, "amplifier (image HDU label of the frames)")
            for i, plane in enumerate(PLANES):
                hdu.header[f"PLANE{i}"] = plane
            hdu.header["FLAGVALS"] = ("0 none, 1 glowing, 2 hot pixel", "FLAG plane")
            hdus.append(hdu)
        path = Path(path)
        with atomic_path(path, suffix=".fits") as tmp:
            fits.HDUList(hdus).writeto(tmp)
        return path

    @classmethod
    def read(cls, path) -> DefectMap:
        """Read a ``defects.fits`` written by :meth:`write` (``ccdnb monitor``).

        Raises
        ------
        CcdnbInputError
            A missing or unreadable file, or one that is not a defect map.
        """
        from astropy.io import fits

        path = Path(path)
        if not path.is_file():
            raise CcdnbInputError(f"{path}: defect map not found")
        try:
            with fits.open(path) as hdul:
                header = hdul[0].header
                if "CCDNBNFR" not in header:
                    raise CcdnbInputError(f"{path}: not a ccdnb defect map (no CCDNBNFR)")
                result = cls(n_frames=int(header["CCDNBNFR"]),
                             min_share=float(header.get("CCDNBMSH", DEFAULT_MIN_SHARE)),
                             min_frames=int(header.get("CCDNBMFR", DEFAULT_MIN_FRAMES)))
                for hdu in hdul[1:]:
                    data = np.asarray(hdu.data, np.float32)
                    if data.ndim != 3 or data.shape[0] != len(PLANES):
                        raise CcdnbInputError(f"{path}: HDU {hdu.name} is not a (3, H, W) "
                                              f"defect cube")
                    amp = str(hdu.header.get("CCDNBAMP", hdu.name))
                    result.hot_share[amp], result.glow_share[amp] = data[0], data[1]
        except CcdnbInputError:
            raise
        except Exception as err:  # truncated or corrupt files
            raise CcdnbInputError(f"{path}: cannot read the defect map ({one_line(err)})") from None
        return result


class DefectAccumulator:
    """Counts bright and glowing pixels frame by frame, in constant memory.

    Parameters
    ----------
    min_share : float
    min_frames : int
        See :class:`DefectMap`.
    """

    def __init__(self, min_share: float = DEFAULT_MIN_SHARE,
                 min_frames: int = DEFAULT_MIN_FRAMES):
        self.min_share, self.min_frames = float(min_share), int(min_frames)
        self.bright: dict = {}
        self.glowing: dict = {}
        self.frames: dict = {}

    def add(self, amplifier: str, bright, glowing) -> None:
        """Count one frame of ``amplifier``: its bright (:func:`bright_pixels`), glowing pixels."""
        bright, glowing = np.asarray(bright, bool), np.asarray(glowing, bool)
        if amplifier not in self.bright:
            self.bright[amplifier] = np.zeros(bright.shape, np.uint32)
            self.glowing[amplifier] = np.zeros(bright.shape, np.uint32)
            self.frames[amplifier] = 0
        if self.bright[amplifier].shape != bright.shape:
            raise CcdnbInputError(f"amplifier {amplifier}: frames of different sizes "
                                  f"({self.bright[amplifier].shape} and {bright.shape})")
        self.bright[amplifier] += bright
        self.glowing[amplifier] += glowing
        self.frames[amplifier] += 1

    def result(self) -> DefectMap:
        """The :class:`DefectMap` of the frames counted so far."""
        result = DefectMap(n_frames=max(self.frames.values(), default=0),
                           min_share=self.min_share, min_frames=self.min_frames)
        for amp, n in self.frames.items():
            result.hot_share[amp] = (self.bright[amp] / max(n, 1)).astype(np.float32)
            result.glow_share[amp] = (self.glowing[amp] / max(n, 1)).astype(np.float32)
        return result


def settle_with_defects(mask, hot_defects, *, max_hit_pixels: int = MAX_HIT_PIXELS) -> np.ndarray:
    """Settle what one frame cannot: hot pixel or hit, from the run's defect map.

    Parameters
    ----------
    mask : ndarray (H, W) uint8
        A frame's classes.
    hot_defects : ndarray (H, W) bool
        Known defects (:meth:`DefectMap.hot`).
    max_hit_pixels : int
        Hot-pixel groups of at most this many pixels that touch no defect
        become clusters.

    Returns
    -------
    ndarray (H, W) uint8
        A new mask, settled group by group (8-connected groups of hot-pixel
        or cluster pixels):

        - on a known defect: its pixels on the defect are hot pixels; the rest
          keep their class (a track crossing a hot column), unless every one of
          them touches the defect and they are at most :data:`MAX_HALO_PIXELS`
          (the network's halo around a defect): then they are hot too;
        - off every defect: a hot-pixel group of at most ``max_hit_pixels`` pixels
          is a cluster (a one- or two-pixel hit); larger ones stay hot (a new defect).

        Background and glowing pixels are left alone: a defect that is off in
        this frame is not drawn.
    """
    mask = np.asarray(mask)
    hot_defects = np.asarray(hot_defects, bool)
    out = mask.copy()
    height, width = mask.shape
    # the hot-pixel and cluster pixels alone (a few per cent of a frame), by flat index
    kind = mask.reshape(-1)
    index = np.flatnonzero((kind == HOT_PIXEL) | (kind == CLUSTER))
    if index.size == 0:
        return out
    group, n = flat_groups(index, width)
    is_hot = kind[index] == HOT_PIXEL
    on_defect = hot_defects.reshape(-1)[index]
    # beside a defect: one of the 3 x 3 pixels around is one (outside the frame: none)
    rows, cols = np.divmod(index, width)
    beside = np.zeros(index.size, dtype=bool)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            r, c = rows + dr, cols + dc
            inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
            beside[inside] |= hot_defects[r[inside], c[inside]]
    size = np.bincount(group, minlength=n)
    on = np.bincount(group[on_defect], minlength=n)
    hot_count = np.bincount(group[is_hot], minlength=n)
    away = np.bincount(group[~beside], minlength=n)
    # a halo hugs its defect: every pixel off it touches it, and they are few
    halo = (on > 0) & (away == 0) & (size - on <= MAX_HALO_PIXELS)
    hit = (on == 0) & (hot_count > 0) & (size <= max_hit_pixels)
    settled = out.reshape(-1)
    settled[index[on_defect | halo[group]]] = HOT_PIXEL
    settled[index[hit[group] & is_hot]] = CLUSTER
    return out


def bright_pixels(mask, image, background, *, sigma: float = 3.0, field="measure") -> np.ndarray:
    """Pixels a frame shows as signal: labelled hot pixel or cluster and ``sigma`` above the row
    pedestal (the network's halo around a bright pixel is not a defect of its own).

    ``field`` is the image's single-electron field where the caller measured it already
    (None: the image resolves no electrons); by default it is measured here
    (:func:`ccdnb.normalize.standardize_image`).
    """
    from .normalize import standardize_image

    z = standardize_image(image, background, field)
    return ((mask == HOT_PIXEL) | (mask == CLUSTER)) & (z >= sigma)


def as_defect_map(defects) -> DefectMap | None:
    """A :class:`DefectMap` from a map, a ``defects.fits`` path, or None."""
    if defects is None or isinstance(defects, DefectMap):
        return defects
    if isinstance(defects, (str, Path)):
        return DefectMap.read(defects)
    raise CcdnbInputError(f"defects: expected a DefectMap or the path of a defects.fits, "
                          f"got {type(defects).__name__}")
