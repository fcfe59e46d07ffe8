"""Noiseless components of a simulated image and the truth derived from them.

A :class:`Scene` collects every object's noiseless signal (ADU) as sparse
entries (flat pixel index, object, value), rendered on small stamps, so that
an image with hundreds of objects never allocates more than a few full-frame
arrays. :meth:`Scene.finalize` turns the entries into per-class signals on the
touched pixels, the truth label (1-sigma rule and class priority, see
:func:`label_from_components`), the instance map and the objects table.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from ..classes import BACKGROUND, CLUSTER, GLOWING, HOT_PIXEL, PRIORITY
from .physics import pixel_weights, window_half_width

__all__ = ["OBJECT_DTYPE", "NEGLIGIBLE_SIGMA", "label_from_components", "Truth",
           "on_float32_grid", "Scene"]

#: One row per simulated object (see docs/internals.md). ``on`` says what a
#: cluster sits on: GLOWING, HOT_PIXEL or 0 (see :meth:`Scene.finalize`).
OBJECT_DTYPE = np.dtype([
    ("image", "i4"), ("id", "i4"), ("cls", "u1"), ("kind", "U16"), ("energy_kev", "f4"),
    ("x", "f4"), ("y", "f4"), ("peak_sigma", "f4"), ("npix", "i4"), ("on", "u1"),
])

#: Entries below this fraction of the read noise are dropped: far below any label threshold.
NEGLIGIBLE_SIGMA = 1e-3


def label_from_components(components, read_noise_adu):
    """Truth class mask from per-class noiseless signal maps.

    A pixel belongs to a component when that component's noiseless signal in
    it is at least one read-noise sigma; where several components qualify the
    label is the highest priority (hot pixel > cluster > glowing > background).

    Parameters
    ----------
    components : mapping of int to ndarray
        Class id -> noiseless signal in ADU (pedestal excluded), all of one
        shape, usually (H, W). Missing classes contribute nothing.
    read_noise_adu : float
        Read-noise sigma in ADU.

    Returns
    -------
    ndarray of uint8
        Same shape as the maps.
    """
    maps = [np.asarray(m) for m in components.values()]
    if not maps:
        raise ValueError("label_from_components needs at least one component map")
    label = np.full(maps[0].shape, BACKGROUND, dtype=np.uint8)
    for cls in reversed(PRIORITY):  # lowest priority first, so higher ones overwrite
        if cls != BACKGROUND and cls in components:
            label[np.asarray(components[cls]) >= read_noise_adu] = cls
    return label


@dataclass
class Truth:
    """What :meth:`Scene.finalize` returns.

    The noiseless signal is kept on the touched pixels only: ``pixels`` are
    the flat indices of every pixel some object reaches and ``signals[cls]``
    the class's summed signal (ADU) there. :meth:`component_maps` expands it.
    """

    shape: tuple
    pixels: np.ndarray
    signals: dict
    label: np.ndarray
    instances: np.ndarray
    objects: np.ndarray

    def component_maps(self):
        """Return class id -> (H, W) float64 noiseless signal map (ADU)."""
        maps = {}
        for cls, signal in self.signals.items():
            full = np.zeros(self.shape[0] * self.shape[1])
            full[self.pixels] = signal
            maps[cls] = full.reshape(self.shape)
        return maps


def on_float32_grid(signal, base):
    """Round ``signal`` to what survives in a float32 image: ``float32(base + signal) - base``.

    Parameters
    ----------
    signal : float or ndarray
        Signal in ADU above ``base``.
    base : float
        The image level it is added to (rounded to float32 first).

    Returns
    -------
    float64 ndarray or float
    """
    base32 = np.float32(base)
    rendered = base32 + np.asarray(signal).astype(np.float32)
    return rendered.astype(np.float64) - np.float64(base32)


def _separable_weights(rows, cols, sigmas, half):
    """Row and column pixel weights of Gaussian deposits, in one vectorised call."""
    n = len(rows)
    start, weights = pixel_weights(np.concatenate([rows, cols]),
                                   np.concatenate([sigmas, sigmas]), half)
    return start[:n], weights[:n], start[n:], weights[n:]


_WORKSPACE = threading.local()
#: Frames up to this many pixels keep their workspace between images.
_WORKSPACE_MAX_PIXELS = 1 << 22


def _workspace(size):
    """Full-frame index buffers (mark, position), reused between images of one size.

    Fresh full-frame arrays cost more in page faults than the arithmetic on
    them; these stay allocated (per thread) and are reset sparsely after each use.
    """
    cached = getattr(_WORKSPACE, "buffers", None)
    if cached is not None and cached[0].size == size:
        return cached
    buffers = (np.zeros(size, bool), np.zeros(size, np.int32))
    _WORKSPACE.buffers = buffers if size <= _WORKSPACE_MAX_PIXELS else None
    return buffers


def _touched_pixels(pix, size):
    """Sorted unique flat indices of ``pix`` and each entry's position among them."""
    mark, position = _workspace(size)
    mark[pix] = True
    pixels = np.flatnonzero(mark)
    mark[pixels] = False
    position[pixels] = np.arange(pixels.size)
    return pixels, position[pix]


class Scene:
    """Sparse accumulator of the noiseless signal of every object in one image.

    Parameters
    ----------
    shape : tuple of int
        (H, W) of the image.
    gain : float
        ADU per electron, to convert deposits given in electrons.
    read_noise : float
        Read-noise sigma in ADU (sets the negligible-signal cut).
    """

    def __init__(self, shape, gain, read_noise):
        self.shape = (int(shape[0]), int(shape[1]))
        self.gain = float(gain)
        self.read_noise = float(read_noise)
        self._pix, self._obj, self._val = [], [], []
        self._cls, self._kind, self._energy = [], [], []

    @property
    def n_objects(self):
        return len(self._cls)

    def _new_objects(self, n, cls, kind, energy_kev):
        first = len(self._cls)
        self._cls.extend([cls] * n)
        self._kind.extend([kind] * n if isinstance(kind, str) else list(kind))
        if np.ndim(energy_kev) == 0:
            self._energy.extend([float(energy_kev)] * n)
        else:
            self._energy.extend(np.asarray(energy_kev, float).tolist())
        return first

    def _append(self, obj, rows, cols, values, cols_range):
        """Keep the entries inside the image (and column window) and above the cut."""
        h, w = self.shape
        lo, hi = (0, w) if cols_range is None else cols_range
        keep = ((rows >= 0) & (rows < h) & (cols >= lo) & (cols < hi)
                & (values > NEGLIGIBLE_SIGMA * self.read_noise))
        self._pix.append(rows[keep] * w + cols[keep])
        self._obj.append(obj[keep].astype(np.int32))
        self._val.append(values[keep].astype(np.float32))

    def _append_stamp(self, obj, row0, col0, stamp, cols_range):
        """Append a dense stamp of one object, cropped to the image and column window."""
        h, w = self.shape
        lo, hi = (0, w) if cols_range is None else cols_range
        r0, r1 = max(row0, 0), min(row0 + stamp.shape[0], h)
        c0, c1 = max(col0, lo), min(col0 + stamp.shape[1], hi)
        if r1 <= r0 or c1 <= c0:
            return
        values = stamp[r0 - row0:r1 - row0, c0 - col0:c1 - col0].ravel()
        pix = (np.arange(r0, r1)[:, None] * w + np.arange(c0, c1)[None, :]).ravel()
        keep = values > NEGLIGIBLE_SIGMA * self.read_noise
        if not keep.all():
            pix, values = pix[keep], values[keep]
        self._pix.append(pix)
        self._obj.append(np.full(pix.size, obj, np.int32))
        self._val.append(values.astype(np.float32))

    def add_box(self, cls, kind, rows, cols, level_adu):
        """Add one object of constant signal over a rectangle.

        Parameters
        ----------
        cls : int
            Class id.
        kind : str
        rows, cols : tuple of int
            Half-open ranges ``(start, stop)``; clipped to the image.
        level_adu : float
        """
        obj = self._new_objects(1, cls, kind, np.nan)
        stamp = np.full((rows[1] - rows[0], cols[1] - cols[0]), level_adu, np.float32)
        self._append_stamp(obj, rows[0], cols[0], stamp, None)

    def add_stamp(self, cls, kind, row0, col0, values_adu, cols_range=None):
        """Add one object whose signal is a dense stamp with top-left corner (row0, col0)."""
        obj = self._new_objects(1, cls, kind, np.nan)
        self._append_stamp(obj, row0, col0, values_adu, cols_range)

    def add_cluster_stamp(self, kind, row0, col0, values_adu, energy_kev, cols_range=None):
        """Add one cluster whose signal is a dense stamp (isolated hits, serial-register hits)."""
        obj = self._new_objects(1, CLUSTER, kind, energy_kev)
        self._append_stamp(obj, row0, col0, np.asarray(values_adu, dtype=np.float64), cols_range)

    def add_point_events(self, kind, rows, cols, sigmas, electrons, energy_kev,
                         cols_range=None):
        """Add one cluster per Gaussian point deposit, all rendered at once.

        Parameters
        ----------
        kind : str
        rows, cols, sigmas, electrons, energy_kev : ndarray, shape (n,)
            Centre (px), lateral sigma (px), mean charge (electrons) and
            deposited energy of each event.
        cols_range : tuple of int, optional
            Column window outside which the signal is cut.
        """
        n = len(rows)
        if n == 0:
            return
        first = self._new_objects(n, CLUSTER, kind, energy_kev)
        half = int(window_half_width(np.max(sigmas)))  # diffusion keeps this small (<= 7)
        k = 2 * half + 1
        r0, wy, c0, wx = _separable_weights(rows, cols, sigmas, half)
        values = ((electrons * self.gain)[:, None, None] * wy[:, :, None] * wx[:, None, :]).ravel()
        # Most of each window is negligible: drop it before computing positions.
        idx = np.flatnonzero(values > NEGLIGIBLE_SIGMA * self.read_noise)
        event, rest = np.divmod(idx, k * k)
        dr, dc = np.divmod(rest, k)
        self._append(first + event, r0[event] + dr, c0[event] + dc, values[idx], cols_range)

    def add_track(self, kind, rows, cols, sigmas, electrons, energy_kev, cols_range=None):
        """Add one cluster made of many Gaussian deposits (muon, worm, alpha).

        The deposits are summed on the object's bounding-box stamp first, so
        the object has one value per pixel.
        """
        obj = self._new_objects(1, CLUSTER, kind, energy_kev)
        half = int(window_half_width(np.max(sigmas)))
        r0, wy, c0, wx = _separable_weights(rows, cols, sigmas, half)
        k = 2 * half + 1
        top, left = r0.min(), c0.min()
        height, width = r0.max() - top + k, c0.max() - left + k
        values = (electrons * self.gain)[:, None, None] * wy[:, :, None] * wx[:, None, :]
        offs = np.arange(k)
        local = ((r0 - top)[:, None, None] + offs[None, :, None]) * width \
            + (c0 - left)[:, None, None] + offs[None, None, :]
        stamp = np.bincount(local.ravel(), weights=values.ravel(), minlength=height * width)
        self._append_stamp(obj, top, left, stamp.reshape(height, width), cols_range)

    def finalize(self, cluster_max_adu=None, float32_base=None):
        """Build component maps, truth label, instances and the objects table.

        Parameters
        ----------
        cluster_max_adu : float, optional
            Cap on the summed cluster signal of a pixel (the thesis preset keeps
            cluster pixels below the hot-pixel level); each cluster's share in a
            capped pixel is scaled down in proportion.
        float32_base : float, optional
            The level the signals sit on in a noiseless float32 image (pedestal
            plus mean dark charge). Signals are rounded as ``float32(base +
            signal) - base`` so that thresholds applied to the rendered
            noiseless image reproduce the truth exactly.

        Returns
        -------
        Truth
            Objects left without any labelled pixel are dropped and the ids
            renumbered 1..n in creation order. A cluster's ``on`` is HOT_PIXEL
            when a hot-pixel-labelled pixel touches (shares or neighbours) one
            of its own >= 1 sigma pixels, else GLOWING when the glow signal at
            its brightest pixel is >= 1 sigma, else 0.
        """
        h, w = self.shape
        n_obj = self.n_objects
        pix = np.concatenate(self._pix) if self._pix else np.zeros(0, np.int64)
        obj = np.concatenate(self._obj) if self._obj else np.zeros(0, np.int32)
        val = np.concatenate(self._val) if self._val else np.zeros(0, np.float32)
        obj_cls = np.asarray(self._cls, dtype=np.uint8)
        entry_cls = obj_cls[obj]

        # Work on the touched pixels only ("u" arrays), then scatter to the frame.
        pixels, where = _touched_pixels(pix, h * w)
        signals = {}
        for cls in np.unique(obj_cls):
            sel = np.flatnonzero(entry_cls == cls)
            total = np.bincount(where[sel], weights=val[sel], minlength=pixels.size)
            if cls == CLUSTER and cluster_max_adu is not None:
                at_entry = total[where[sel]]
                hit = at_entry > cluster_max_adu
                if hit.any():  # scale every cluster's share of a capped pixel
                    val[sel[hit]] *= (cluster_max_adu / at_entry[hit]).astype(np.float32)
                    np.minimum(total, cluster_max_adu, out=total)
            if float32_base is not None:
                total = on_float32_grid(total, float32_base)
            signals[int(cls)] = total
        label_u = (label_from_components(signals, self.read_noise) if signals
                   else np.zeros(0, np.uint8))
        label = np.zeros(h * w, np.uint8)
        label[pixels] = label_u

        # Owner of a labelled pixel: the object of the winning class with the
        # largest signal there (ties: the later entry).
        own = np.flatnonzero(entry_cls == label_u[where])
        where_own, val_own = where[own], val[own]
        best = np.zeros(pixels.size, np.float32)
        np.maximum.at(best, where_own, val_own)
        won = val_own == best[where_own]
        chosen = np.full(pixels.size, -1, np.int64)
        np.maximum.at(chosen, where_own[won], own[won])
        owner = chosen[chosen >= 0]  # one entry per labelled pixel
        owner_pix, owner_obj = pix[owner], obj[owner]

        npix = np.bincount(owner_obj, minlength=n_obj)
        kept = np.flatnonzero(npix > 0)
        new_id = np.zeros(n_obj, np.int32)
        new_id[kept] = np.arange(1, kept.size + 1, dtype=np.int32)
        instances = np.zeros(h * w, np.int32)
        instances[owner_pix] = new_id[owner_obj]

        # Per-object sums and peaks by segments: each object's entries are
        # contiguous (appended object by object), so reduceat needs no sort.
        weight, x, y, peak = (np.full(n_obj, np.nan) for _ in range(4))
        if obj.size:
            starts = np.r_[0, np.flatnonzero(obj[1:] != obj[:-1]) + 1]
            ids = obj[starts]
            rows = ((pix + 0.5) * (1.0 / w)).astype(np.int64)  # exact floor(pix / w), faster
            val64 = val.astype(np.float64)
            weight[ids] = np.add.reduceat(val64, starts)
            y[ids] = np.add.reduceat(val64 * rows, starts) / weight[ids]
            x[ids] = np.add.reduceat(val64 * (pix - rows * w), starts) / weight[ids]
            peak[ids] = np.maximum.reduceat(val, starts)

        on = self._cluster_surroundings(pix, obj, val, where, obj_cls, peak, signals, label)

        objects = np.zeros(kept.size, dtype=OBJECT_DTYPE)
        objects["id"] = np.arange(1, kept.size + 1)
        objects["cls"] = obj_cls[kept]
        objects["kind"] = np.asarray(self._kind, dtype="U16")[kept] if n_obj else []
        objects["energy_kev"] = np.asarray(self._energy, dtype=float)[kept] if n_obj else []
        objects["x"], objects["y"] = x[kept], y[kept]
        objects["peak_sigma"] = peak[kept] / self.read_noise
        objects["npix"] = npix[kept]
        objects["on"] = on[kept]
        return Truth(shape=self.shape, pixels=pixels, signals=signals, label=label.reshape(h, w),
                     instances=instances.reshape(h, w), objects=objects)

    def _cluster_surroundings(self, pix, obj, val, where, obj_cls, peak, signals, label):
        """Per object: HOT_PIXEL, GLOWING or 0, what each cluster sits on (see finalize)."""
        on = np.zeros(obj_cls.size, np.uint8)
        is_cluster = obj_cls[obj] == CLUSTER
        glow = signals.get(GLOWING)
        if glow is not None:
            brightest = np.flatnonzero(is_cluster & (val == peak[obj]))
            on_glow = brightest[glow[where[brightest]] >= self.read_noise]
            on[obj[on_glow]] = GLOWING
        if HOT_PIXEL in signals:
            h, w = self.shape
            own = np.flatnonzero(is_cluster & (val >= self.read_noise))
            rows, cols = np.divmod(pix[own], w)
            touched = np.zeros(own.size, bool)
            for dr in (-1, 0, 1):  # the pixel itself and its 8 neighbours
                for dc in (-1, 0, 1):
                    r, c = rows + dr, cols + dc
                    inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
                    touched[inside] |= label[r[inside] * w + c[inside]] == HOT_PIXEL
            on[obj[own[touched]]] = HOT_PIXEL
        return on
