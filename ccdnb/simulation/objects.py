"""Placing glow, hot pixels and clusters of one image into a :class:`~ccdnb.simulation.truth.Scene`.

Each function draws its objects from the image's parameters (see
:mod:`ccdnb.simulation.presets`) and renders them on small stamps. A count given as
a float is the expected number per 256x256 pixels (scaled by the image area,
Poisson-drawn); given as an int it is the exact number in the image.

Kinds: glow "band", "edge", "corner"; hot pixels "pixel", "segment",
"column", "streak"; clusters "diffuse", "worm", "muon", "alpha", "hit",
"xray", "serial", "lowe", "track" (a "worm" is an electron of any energy: a
multiple-scattering walk through the silicon, :func:`~ccdnb.simulation.physics.electron_track`;
its truth energy is what it left in the silicon). A share ``events_on_defects`` of the
clusters is placed on the glow or across a hot line instead of uniformly.
"""

from __future__ import annotations

import math

import numpy as np

from ..classes import GLOWING, HOT_PIXEL
from .physics import (
    MIP_E_PER_UM,
    PIXEL_UM,
    THICKNESS_UM,
    diffusion_sigma_px,
    electron_track,
    electrons_from_kev,
    kev_from_electrons,
    muon_track,
    xray_conversions,
)
from .truth import NEGLIGIBLE_SIGMA

__all__ = ["column_windows", "place_glow", "place_hot_pixels", "ClusterPositions",
           "place_clusters", "place_hits", "place_xrays", "place_serial_hits",
           "place_low_energy_events", "place_long_tracks"]

_REFERENCE_AREA = 256 * 256


def _count(rng, rate, shape):
    """Number of objects: an int is exact; a float is a Poisson mean per 256x256 pixels."""
    if isinstance(rate, (int, np.integer)) and not isinstance(rate, bool):
        return max(int(rate), 0)
    return int(rng.poisson(max(float(rate), 0.0) * shape[0] * shape[1] / _REFERENCE_AREA))


def _log_uniform(rng, lo, hi, size=None):
    return np.exp(rng.uniform(math.log(lo), math.log(hi), size))


def column_windows(params, shape):
    """Column ranges of the glow, hot-pixel and cluster regions.

    With ``layout='regions'`` they are the ``regions`` fractions of the width
    (the thesis's left / middle / right); otherwise each is the full width.
    """
    width = shape[1]
    if params["layout"] != "regions":
        return [(0, width)] * 3
    windows = []
    for lo, hi in params["regions"]:
        start = int(round(lo * width))
        windows.append((start, max(int(round(hi * width)), start + 1)))
    return windows


def _labelled_pixels(stamp, row0, col0, shape, window, threshold):
    """Flat indices of the stamp's pixels at or above ``threshold`` inside the image and window."""
    rows, cols = np.nonzero(stamp >= threshold)
    rows, cols = rows + row0, cols + col0
    keep = ((rows >= 0) & (rows < shape[0])
            & (cols >= max(window[0], 0)) & (cols < min(window[1], shape[1])))
    return rows[keep] * shape[1] + cols[keep]


def _corner_stamp(rng, amplitude, decay, depth, edge):
    """Glow decaying exponentially with the distance from one corner on the side ``edge``."""
    aspect = _log_uniform(rng, 0.5, 2.0)  # elongated along one side or the other
    dy = np.arange(depth)[:, None] * math.sqrt(aspect)
    dx = np.arange(depth)[None, :] / math.sqrt(aspect)
    stamp = amplitude * np.exp(-np.hypot(dy, dx) / decay)
    first = rng.random() < 0.5  # which of the two corners of that side
    flip_rows = edge == "bottom" or (edge in ("left", "right") and first)
    flip_cols = edge == "right" or (edge in ("top", "bottom") and first)
    return stamp[::-1 if flip_rows else 1, ::-1 if flip_cols else 1], flip_rows, flip_cols


def place_glow(scene, rng, params, window, targets=None):
    """Add at most one glowing object: a flat band, a glow decaying from an edge or from a corner.

    Parameters
    ----------
    scene : Scene
    rng : numpy.random.Generator
    params : dict
        The image's parameters.
    window : tuple of int
        Column range the glow is confined to.
    targets : list, optional
        When given, the flat indices of the glow's >= 1 sigma pixels are
        appended (where clusters on defects can go).

    Returns
    -------
    dict or None
        The glow's description (kind, edge, amplitude_adu, width_px,
        offset_px, decay_px), or None when the image has no glow.
    """
    if rng.random() >= params["glow_fraction"]:
        return None
    height, width = scene.shape
    sigma = params["read_noise_adu"]
    kind = str(rng.choice(params["glow_kinds"]))
    edge = str(rng.choice(params["glow_edges"]))
    if params["glow_level_adu"] is not None:
        amplitude = float(params["glow_level_adu"])
    else:
        amplitude = float(sigma * _log_uniform(rng, *params["glow_amplitude_sigma"]))
    horizontal = edge in ("left", "right")  # the glow varies along columns
    extent, along = (width, height) if horizontal else (height, width)
    offset = 0
    if rng.random() < params["glow_offset_probability"]:
        offset = int(rng.uniform(0.02, 0.15) * extent)
    labelled = max(int(round(rng.uniform(*params["glow_width_fraction"]) * extent)), 1)
    if horizontal and params["layout"] == "regions":  # stay inside the glow region
        extent = window[1] if edge == "left" else width - window[0]
    labelled = min(labelled, max(extent - offset, 1))

    if kind == "corner":
        offset = 0  # a corner glow sits at the corner itself
    decay = None
    if kind != "band":  # exponential fall-off whose >= 1 sigma part is `labelled` pixels wide
        decay = labelled / math.log(amplitude / sigma) if amplitude > math.e * sigma else labelled
        depth = min(int(math.ceil(decay * math.log(amplitude / (NEGLIGIBLE_SIGMA * sigma)))),
                    extent - offset)
    if kind == "corner":
        stamp, bottom, right = _corner_stamp(rng, amplitude, decay,
                                             max(min(depth, height, width), 1), edge)
        row0 = height - stamp.shape[0] if bottom else 0
        col0 = width - stamp.shape[1] if right else 0
    else:
        profile = (np.full(labelled, amplitude) if kind == "band"
                   else amplitude * np.exp(-np.arange(max(depth, 1)) / decay))
        profile = np.concatenate([np.zeros(offset), profile])
        envelope = np.ones(along)
        if kind == "edge" and rng.random() < 0.5:  # brighter towards one corner (amplifier glow)
            centre = rng.choice([0.0, along - 1.0, rng.uniform(0, along)])
            envelope = np.exp(-0.5 * ((np.arange(along) - centre)
                                      / (rng.uniform(0.3, 1.0) * along)) ** 2)
        if edge in ("right", "bottom"):
            profile = profile[::-1]
        stamp = (envelope[:, None] * profile[None, :] if horizontal
                 else profile[:, None] * envelope[None, :])
        start = {"left": 0, "top": 0, "right": width - profile.size,
                 "bottom": height - profile.size}[edge]
        row0, col0 = (0, start) if horizontal else (start, 0)
    scene.add_stamp(GLOWING, kind, row0, col0, stamp, cols_range=window)
    if targets is not None:
        targets.append(_labelled_pixels(stamp, row0, col0, scene.shape, window, sigma))
    return {"kind": kind, "edge": edge, "amplitude_adu": amplitude, "width_px": labelled,
            "offset_px": offset, "decay_px": decay}


def _hot_amplitude(rng, params):
    if params["hot_level_adu"] is not None:
        return float(params["hot_level_adu"])
    sigma = params["read_noise_adu"]
    top = max((params["saturation_adu"] - params["pedestal_adu"]) / sigma,
              params["hot_min_sigma"] * 1.01)
    return float(sigma * _log_uniform(rng, params["hot_min_sigma"], top))


def place_hot_pixels(scene, rng, params, window, targets=None):
    """Add hot pixels: single pixels, vertical segments, full columns and horizontal streaks.

    When ``targets`` is a list, the flat indices of every hot line's pixels
    are appended to it as one array.
    """
    height, width = scene.shape
    lo, hi = window
    n_pix = _count(rng, params["n_hot_pixels"], scene.shape)
    n_seg = _count(rng, params["n_hot_segments"], scene.shape)
    n_col = _count(rng, params["n_hot_columns"], scene.shape)
    n_streak = _count(rng, params["n_hot_streaks"], scene.shape)
    n_vertical = n_pix + n_seg + n_col
    if params["hot_distinct_columns"]:  # flat levels must not add up where defects meet
        n_vertical = min(n_vertical, hi - lo)
        columns = lo + rng.choice(hi - lo, size=n_vertical, replace=False)
    else:
        columns = rng.integers(lo, hi, size=n_vertical)
    kinds = (["column"] * n_col + ["segment"] * n_seg + ["pixel"] * n_pix)[:n_vertical]
    boxes = []
    for kind, col in zip(kinds, columns):
        if kind == "column":
            rows = (0, height)
        else:
            length = 1 if kind == "pixel" else max(
                int(round(rng.uniform(*params["hot_segment_fraction"]) * height)), 2)
            start = int(rng.integers(0, max(height - length, 0) + 1))
            rows = (start, start + length)
        boxes.append((rows, (int(col), int(col) + 1)))
        scene.add_box(HOT_PIXEL, kind, *boxes[-1], _hot_amplitude(rng, params))
    for _ in range(n_streak):
        length = min(max(int(round(rng.uniform(*params["hot_streak_fraction"]) * width)), 2),
                     hi - lo)
        start = int(rng.integers(lo, hi - length + 1))
        row = int(rng.integers(0, height))
        boxes.append(((row, row + 1), (start, start + length)))
        scene.add_box(HOT_PIXEL, "streak", *boxes[-1], _hot_amplitude(rng, params))
    if targets is not None and boxes:
        targets.append(np.concatenate([
            (np.arange(*rows)[:, None] * width + np.arange(*cols)[None, :]).ravel()
            for rows, cols in boxes]))


class ClusterPositions:
    """Where clusters go: uniformly in the cluster window, or on a defect.

    With probability ``events_on_defects`` an object is centred on a pixel of
    one of ``targets`` (the glow's labelled pixels, the hot lines' pixels;
    each group equally likely) and is not cut to the cluster window.

    Parameters
    ----------
    rng : numpy.random.Generator
    params : dict
    shape : tuple of int
    window : tuple of int
        Column range of the uniform placement.
    targets : list of ndarray
        Flat pixel indices, one array per group; empty arrays are ignored.
    """

    def __init__(self, rng, params, shape, window, targets):
        self.rng, self.shape, self.window = rng, shape, window
        self.targets = [t for t in targets if t.size]
        self.share = float(params["events_on_defects"]) if self.targets else 0.0

    def draw(self, n):
        """Return ``rows, cols, on_defect`` of ``n`` objects (rows drawn before columns)."""
        rows = self.rng.uniform(-0.5, self.shape[0] - 0.5, n)
        cols = self.rng.uniform(self.window[0] - 0.5, self.window[1] - 0.5, n)
        on = np.zeros(n, bool)
        if self.share > 0 and n:
            on = self.rng.random(n) < self.share
            group = self.rng.integers(len(self.targets), size=int(on.sum()))
            pixel = np.array([t[self.rng.integers(t.size)]
                              for t in (self.targets[g] for g in group)],
                             dtype=np.int64)
            jitter = self.rng.uniform(-0.5, 0.5, (2, pixel.size))
            rows[on] = pixel // self.shape[1] + jitter[0]
            cols[on] = pixel % self.shape[1] + jitter[1]
        return rows, cols, on

    def one(self):
        """Return ``row, col, cols_range`` of one object."""
        rows, cols, on = self.draw(1)
        return float(rows[0]), float(cols[0]), None if on[0] else self.window

    def window_of(self, on):
        """The column window of the objects placed uniformly; None (no cut) on defects."""
        return None if on else self.window


def _point_events(scene, positions, kind, rows, cols, on, sigmas, electrons, energy):
    """Add point events, the ones on defects without the column window."""
    for sel in (~on, on):
        if sel.any():
            scene.add_point_events(kind, rows[sel], cols[sel], sigmas[sel], electrons[sel],
                                   energy[sel], cols_range=positions.window_of(sel is on))


def place_clusters(scene, rng, params, window, targets=()):
    """Add ionisation clusters of every kind (see the module docstring).

    Parameters
    ----------
    scene : Scene
    rng : numpy.random.Generator
    params : dict
    window : tuple of int
        Column range of the uniformly placed clusters.
    targets : list of ndarray, optional
        Defect pixels for ``events_on_defects`` (see :class:`ClusterPositions`).
    """
    height, width = scene.shape
    positions = ClusterPositions(rng, params, scene.shape, window, list(targets))

    n = _count(rng, params["n_diffuse"], scene.shape)
    if n:
        energy = _log_uniform(rng, *params["diffuse_kev"], size=n)
        depth = rng.uniform(0.0, THICKNESS_UM, n)
        rows, cols, on = positions.draw(n)
        _point_events(scene, positions, "diffuse", rows, cols, on, diffusion_sigma_px(depth),
                      electrons_from_kev(energy), energy)

    for _ in range(_count(rng, params["n_worms"], scene.shape)):
        # Electrons (Compton, beta): a multiple-scattering walk from a uniform depth in an
        # isotropic direction; the truth energy is what stays in the silicon.
        energy = float(_log_uniform(rng, *params["worm_kev"]))
        row, col, cut = positions.one()
        *track, path = electron_track(rng, energy, row, col, rng.uniform(0.0, THICKNESS_UM))
        scene.add_track("worm", *track, path.deposited_kev, cols_range=cut)

    for _ in range(_count(rng, params["n_muons"], scene.shape)):
        # Cosmic muons: flux ~ cos^2 per solid angle, i.e. cos^3 on a flat sensor.
        cos_zenith = max(rng.random() ** 0.25, 1e-3)
        tan_zenith = math.sqrt(1.0 - cos_zenith ** 2) / cos_zenith
        length = float(np.clip(THICKNESS_UM / PIXEL_UM * tan_zenith, 1.0, 2.0 * max(height, width)))
        row, col, cut = positions.one()
        _add_muon(scene, rng, "muon", length, row, col, rng.uniform(0, 2 * np.pi), cut,
                  centred=cut is None)

    for _ in range(_count(rng, params["n_alphas"], scene.shape)):
        energy = float(rng.uniform(*params["alpha_kev"]))
        row, col, cut = positions.one()
        depth = THICKNESS_UM * rng.choice([rng.uniform(0.0, 0.05), rng.uniform(0.95, 1.0)])
        sigma = math.hypot(float(diffusion_sigma_px(depth)),
                           rng.uniform(*params["alpha_plasma_px"]))
        scene.add_track("alpha", np.array([row]), np.array([col]), np.array([sigma]),
                        np.array([electrons_from_kev(energy)]), energy, cols_range=cut)

    place_hits(scene, rng, params, positions)
    place_xrays(scene, rng, params, positions)
    place_serial_hits(scene, rng, params, positions)
    place_low_energy_events(scene, rng, params, positions)
    place_long_tracks(scene, rng, params, positions)


def _add_muon(scene, rng, kind, length, row, col, angle, cut, centred):
    """Add a straight MIP track from (row, col), or centred there when ``centred``."""
    if centred:  # the track crosses the defect it was placed on
        row -= 0.5 * length * math.sin(angle)
        col -= 0.5 * length * math.cos(angle)
    rows, cols, sigmas, electrons = muon_track(rng, length, row, col, angle,
                                               MIP_E_PER_UM * PIXEL_UM)
    scene.add_track(kind, rows, cols, sigmas, electrons,
                    float(kev_from_electrons(electrons.sum())), cols_range=cut)


def place_hits(scene, rng, params, positions):
    """Add isolated 1-2 pixel deposits (near-surface hits: almost no diffusion).

    The brightest pixel holds ``hit_sigma`` (log-uniform) read-noise sigma;
    half of the hits share their charge with one neighbour (up to an equal split).
    """
    n = _count(rng, params["n_hits"], scene.shape)
    if not n:
        return
    sigma, gain = params["read_noise_adu"], params["gain_adu_per_e"]
    peak = sigma * _log_uniform(rng, *params["hit_sigma"], size=n)
    second = np.where(rng.random(n) < 0.5, peak * rng.uniform(0.0, 1.0, n), 0.0)
    vertical = rng.random(n) < 0.5
    rows, cols, on = positions.draw(n)
    for k in range(n):
        stamp = (np.array([[peak[k]], [second[k]]]) if vertical[k]
                 else np.array([[peak[k], second[k]]]))
        if rng.random() < 0.5:  # the partner on either side
            stamp = stamp[::-1, ::-1]
        total = peak[k] + second[k]
        scene.add_cluster_stamp("hit", int(round(rows[k])), int(round(cols[k])), stamp,
                                float(kev_from_electrons(total / gain)),
                                cols_range=positions.window_of(on[k]))


def place_xrays(scene, rng, params, positions):
    """Add Fe-55 X-rays: 5.9 / 6.49 keV, diffused from their depth of conversion."""
    n = _count(rng, params["n_xrays"], scene.shape)
    if not n:
        return
    energy, electrons, depth = xray_conversions(rng, n, params["xray_side"])
    rows, cols, on = positions.draw(n)
    _point_events(scene, positions, "xray", rows, cols, on, diffusion_sigma_px(depth),
                  electrons, energy)


def place_serial_hits(scene, rng, params, positions):
    """Add serial-register hits: charge along one row, ``serial_length_px`` long.

    The charge was deposited in the serial register and clocked out with the
    row, so it spreads horizontally only; its share per pixel fluctuates.
    """
    for _ in range(_count(rng, params["n_serial"], scene.shape)):
        energy = float(_log_uniform(rng, *params["serial_kev"]))
        length = max(int(round(rng.uniform(*params["serial_length_px"]))), 1)
        row, col, cut = positions.one()
        share = rng.gamma(2.0, size=length)
        charge = electrons_from_kev(energy) * params["gain_adu_per_e"] * share / share.sum()
        scene.add_cluster_stamp("serial", int(round(row)), int(round(col)) - length // 2,
                                charge[None, :], energy, cols_range=cut)


def place_low_energy_events(scene, rng, params, positions):
    """Add low-energy events of ``lowe_electrons`` (log-uniform), point-like with diffusion."""
    n = _count(rng, params["n_lowe"], scene.shape)
    if not n:
        return
    electrons = _log_uniform(rng, *params["lowe_electrons"], size=n)
    depth = rng.uniform(0.0, THICKNESS_UM, n)
    rows, cols, on = positions.draw(n)
    _point_events(scene, positions, "lowe", rows, cols, on, diffusion_sigma_px(depth),
                  electrons, kev_from_electrons(electrons))


def place_long_tracks(scene, rng, params, positions):
    """Add long straight muon tracks at any angle, centred in the image or on a defect.

    The projected length is log-uniform in ``long_track_px``, capped at the
    image's longer side, so that tracks cross the tile borders of big frames.
    """
    longest = float(max(scene.shape))
    lo, hi = params["long_track_px"]
    for _ in range(_count(rng, params["n_long_tracks"], scene.shape)):
        length = float(_log_uniform(rng, min(lo, longest),
                                    max(min(hi, longest), min(lo, longest) * 1.001)))
        row, col, cut = positions.one()
        _add_muon(scene, rng, "track", length, row, col, rng.uniform(0, 2 * np.pi), cut,
                  centred=True)
