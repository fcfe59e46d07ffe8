"""Placing glow, hot pixels and clusters of one image into a :class:`~ccdnb.sim_truth.Scene`.

Each function draws its objects from the image's parameters (see
:mod:`ccdnb.sim_presets`) and renders them on small stamps. A count given as
a float is the expected number per 256x256 pixels (scaled by the image area,
Poisson-drawn); given as an int it is the exact number in the image.
"""

from __future__ import annotations

import math

import numpy as np

from .classes import GLOWING, HOT_PIXEL
from .sim_physics import (MIP_E_PER_UM, PIXEL_UM, THICKNESS_UM, diffusion_sigma_px,
                          electron_range_px, electrons_from_kev, kev_from_electrons,
                          muon_track, worm_track)
from .sim_truth import NEGLIGIBLE_SIGMA

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


def place_glow(scene, rng, params, window):
    """Add at most one glowing object: a flat band or a glow decaying from an edge.

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

    decay = None
    if kind == "band":
        profile = np.full(labelled, amplitude)
    else:  # exponential fall-off whose >= 1 sigma part is `labelled` pixels wide
        decay = labelled / math.log(amplitude / sigma) if amplitude > math.e * sigma else labelled
        depth = min(int(math.ceil(decay * math.log(amplitude / (NEGLIGIBLE_SIGMA * sigma)))),
                    extent - offset)
        profile = amplitude * np.exp(-np.arange(max(depth, 1)) / decay)
    profile = np.concatenate([np.zeros(offset), profile])

    envelope = np.ones(along)
    if kind == "edge" and rng.random() < 0.5:  # brighter towards one corner (amplifier glow)
        centre = rng.choice([0.0, along - 1.0, rng.uniform(0, along)])
        envelope = np.exp(-0.5 * ((np.arange(along) - centre) / (rng.uniform(0.3, 1.0) * along)) ** 2)

    if edge in ("right", "bottom"):
        profile = profile[::-1]
    stamp = envelope[:, None] * profile[None, :] if horizontal else profile[:, None] * envelope[None, :]
    start = {"left": 0, "top": 0, "right": width - profile.size,
             "bottom": height - profile.size}[edge]
    row0, col0 = (0, start) if horizontal else (start, 0)
    scene.add_stamp(GLOWING, kind, row0, col0, stamp, cols_range=window)
    return {"kind": kind, "edge": edge, "amplitude_adu": amplitude, "width_px": labelled,
            "offset_px": offset, "decay_px": decay}


def _hot_amplitude(rng, params):
    if params["hot_level_adu"] is not None:
        return float(params["hot_level_adu"])
    sigma = params["read_noise_adu"]
    top = max((params["saturation_adu"] - params["pedestal_adu"]) / sigma,
              params["hot_min_sigma"] * 1.01)
    return float(sigma * _log_uniform(rng, params["hot_min_sigma"], top))


def place_hot_pixels(scene, rng, params, window):
    """Add hot pixels: single pixels, vertical segments, full columns and horizontal streaks."""
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
    for kind, col in zip(kinds, columns):
        if kind == "column":
            rows = (0, height)
        else:
            length = 1 if kind == "pixel" else max(
                int(round(rng.uniform(*params["hot_segment_fraction"]) * height)), 2)
            start = int(rng.integers(0, max(height - length, 0) + 1))
            rows = (start, start + length)
        scene.add_box(HOT_PIXEL, kind, rows, (int(col), int(col) + 1), _hot_amplitude(rng, params))
    for _ in range(n_streak):
        length = min(max(int(round(rng.uniform(*params["hot_streak_fraction"]) * width)), 2), hi - lo)
        start = int(rng.integers(lo, hi - length + 1))
        row = int(rng.integers(0, height))
        scene.add_box(HOT_PIXEL, "streak", (row, row + 1), (start, start + length),
                      _hot_amplitude(rng, params))


def place_clusters(scene, rng, params, window):
    """Add ionisation clusters: diffuse point events, worms, muon tracks and alpha blobs."""
    height, width = scene.shape
    lo, hi = window

    def position():
        return rng.uniform(-0.5, height - 0.5), rng.uniform(lo - 0.5, hi - 0.5)

    n = _count(rng, params["n_diffuse"], scene.shape)
    if n:
        energy = _log_uniform(rng, *params["diffuse_kev"], size=n)
        depth = rng.uniform(0.0, THICKNESS_UM, n)
        rows = rng.uniform(-0.5, height - 0.5, n)
        cols = rng.uniform(lo - 0.5, hi - 0.5, n)
        scene.add_point_events("diffuse", rows, cols, diffusion_sigma_px(depth),
                               electrons_from_kev(energy), energy, cols_range=window)

    for _ in range(_count(rng, params["n_worms"], scene.shape)):
        energy = float(_log_uniform(rng, *params["worm_kev"]))
        row, col = position()
        track = worm_track(rng, float(electrons_from_kev(energy)), float(electron_range_px(energy)),
                           row, col, rng.uniform(0.0, THICKNESS_UM))
        scene.add_track("worm", *track, energy, cols_range=window)

    for _ in range(_count(rng, params["n_muons"], scene.shape)):
        # Cosmic muons: flux ~ cos^2 per solid angle, i.e. cos^3 on a flat sensor.
        cos_zenith = max(rng.random() ** 0.25, 1e-3)
        tan_zenith = math.sqrt(1.0 - cos_zenith ** 2) / cos_zenith
        length = float(np.clip(THICKNESS_UM / PIXEL_UM * tan_zenith, 1.0, 2.0 * max(height, width)))
        row, col = position()
        rows, cols, sigmas, electrons = muon_track(
            rng, length, row, col, rng.uniform(0, 2 * np.pi), MIP_E_PER_UM * PIXEL_UM)
        scene.add_track("muon", rows, cols, sigmas, electrons,
                        float(kev_from_electrons(electrons.sum())), cols_range=window)

    for _ in range(_count(rng, params["n_alphas"], scene.shape)):
        energy = float(rng.uniform(*params["alpha_kev"]))
        row, col = position()
        depth = THICKNESS_UM * rng.choice([rng.uniform(0.0, 0.05), rng.uniform(0.95, 1.0)])
        sigma = math.hypot(float(diffusion_sigma_px(depth)), rng.uniform(*params["alpha_plasma_px"]))
        scene.add_track("alpha", np.array([row]), np.array([col]), np.array([sigma]),
                        np.array([electrons_from_kev(energy)]), energy, cols_range=window)
