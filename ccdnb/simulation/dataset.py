"""Simulated CCD images with exact truth (labels, instances, an objects table).

An image is built in three steps: the preset's rules draw the image's
parameters (:mod:`ccdnb.simulation.presets`); glow, hot pixels and clusters are
placed and rendered on small stamps as noiseless signal (:mod:`ccdnb.simulation.objects`,
:mod:`ccdnb.simulation.physics`), from which the truth follows (:mod:`ccdnb.simulation.truth`);
finally the detector response is applied: charge Poisson-fluctuated, gain,
dark current, pedestal and its per-row drift, Gaussian read noise and
saturation. The public names are documented in docs/internals.md.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..classes import CLUSTER, GLOWING, HOT_PIXEL, class_percentages
from ..errors import CcdnbInputError
from ..io.atomic import atomic_path, jsonable
from ..seeds import derive_seed
from .objects import column_windows, place_clusters, place_glow, place_hot_pixels
from .presets import draw_parameters
from .truth import OBJECT_DTYPE, Scene, on_float32_grid

__all__ = [
    "Dataset", "SimulatedImage", "THESIS_DENSITIES", "class_density_table", "concatenate_datasets",
    "tile_dataset",
    "electron_rate_map", "electron_rate_summary", "load_dataset", "parse_shape", "save_dataset",
    "simulate_dataset", "simulate_frame", "simulate_image", "simulate_kind_examples",
]

@dataclass
class SimulatedImage:
    """One simulated image and its truth (see docs/internals.md)."""

    image: np.ndarray      # (H, W) float32 ADU, pedestal included
    label: np.ndarray      # (H, W) uint8 truth class
    instances: np.ndarray  # (H, W) int32 owning object id, 0 for background
    objects: np.ndarray    # OBJECT_DTYPE table
    meta: dict             # JSON-serialisable parameters

    def rate_map(self) -> np.ndarray:
        """The single-electron rate the image's field was drawn from (:func:`electron_rate_map`)."""
        return electron_rate_map(self.meta)


@dataclass
class Dataset:
    """Several simulated images stacked (see :func:`simulate_dataset`)."""

    images: np.ndarray     # (N, H, W) float32
    labels: np.ndarray     # (N, H, W) uint8
    instances: np.ndarray  # (N, H, W) int32
    objects: np.ndarray    # OBJECT_DTYPE, field ``image`` indexes the image
    meta: list             # one dict per image

    def __len__(self):
        return len(self.images)


def parse_shape(shape):
    """Return ``(H, W)`` from an int, a pair or a string ``'256'`` / ``'256x512'``.

    Raises
    ------
    CcdnbInputError
        Anything else, or a side below 8 pixels.
    """
    try:
        if isinstance(shape, str):
            parts = [int(p) for p in shape.lower().split("x")]
        elif np.ndim(shape) == 0:
            parts = [int(shape)]
        else:
            parts = [int(p) for p in shape]
    except (TypeError, ValueError):
        raise CcdnbInputError(f"image size {shape!r}: expected N or HxW, "
                              "e.g. 256 or 256x512") from None
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) < 8:
        raise CcdnbInputError(f"image size {shape!r}: expected N or HxW with sides >= 8")
    return parts[0], parts[1]


def _row_drift(rng, params, height):
    """Per-row pedestal offsets: a zero-mean random walk with the requested rms."""
    if not params["row_drift"] or params["row_drift_adu"] <= 0:
        return None
    walk = np.cumsum(rng.standard_normal(height))
    walk -= walk.mean()
    rms = walk.std()
    return (walk * (params["row_drift_adu"] / rms if rms > 0 else 0.0)).astype(np.float32)


def _baseline_step(rng, params, width):
    """A baseline step along the rows (skipper readout transient), or None.

    From a column in the right half to the right edge every row is shifted by
    ``adu`` (either sign), decaying back over ``decay_px`` columns when that
    is not None.

    Returns
    -------
    (profile, description) or (None, None)
        ``profile`` (float32, length ``width - column``) is added to every
        row from ``column`` on; ``description`` is {column, adu, decay_px}.
    """
    probability = params["baseline_step_probability"]
    if probability <= 0 or rng.random() >= probability:  # no draw when off: seeds stay stable
        return None, None
    column = int(rng.integers(width // 2, width))
    adu = float(rng.choice([-1.0, 1.0]) * rng.uniform(*params["baseline_step_sigma"])
                * params["read_noise_adu"])
    decay = None
    if rng.random() < params["baseline_step_decay_probability"]:
        decay = float(rng.uniform(*params["baseline_step_decay_px"]))
    steps = np.arange(width - column)
    profile = adu * (np.exp(-steps / decay) if decay else np.ones(steps.size))
    return profile.astype(np.float32), {"column": column, "adu": adu, "decay_px": decay}


def dark_rate_map(params, shape) -> np.ndarray | float:
    """Expected single electrons per pixel: flat, or rising linearly along the readout.

    Charge collected while the frame is read out grows with the time a pixel waits:
    rows in readout order (row 0 first), and within a row the columns from the
    amplifier's side (``readout_side``). The mean over the image is
    ``dark_current_e``; the last pixel read holds ``dark_rise`` times the first's.

    Returns
    -------
    float or ndarray, shape (H, W), float64
        The rate (a float when it is flat).
    """
    mean, rise = float(params["dark_current_e"]), float(params.get("dark_rise", 1.0))
    if rise == 1.0 or mean <= 0:
        return mean
    height, width = shape
    cols = np.arange(width, dtype=np.float64)
    if params.get("readout_side", "left") == "right":
        cols = cols[::-1]
    order = np.arange(height, dtype=np.float64)[:, None] * width + cols[None, :]
    t = order / max(height * width - 1, 1)
    start = 2.0 * mean / (1.0 + rise)
    return start * (1.0 + (rise - 1.0) * t)


def electron_rate_summary(params, shape) -> dict:
    """The truth of the single-electron field of one image area, in numbers.

    Parameters
    ----------
    params : dict
        The image's parameters (``dark_current_e``, ``dark_rise``, ``readout_side``).
    shape : (int, int)
        The image area (prescan and overscan columns left out).

    Returns
    -------
    dict
        ``mean_e_per_pix`` (the field's mean rate over the image area), ``first_e_per_pix``
        and ``last_e_per_pix`` (the first and last pixel read), ``rise`` (their ratio),
        ``readout_side`` and ``slope_per_krow``: the change of the rows' mean rate per
        1000 rows in readout order (row 0 read first), electrons per pixel.
    """
    height, width = (int(n) for n in shape)
    mean, rise = float(params["dark_current_e"]), float(params.get("dark_rise", 1.0))
    if rise == 1.0 or mean <= 0:
        first = last = mean
        slope = 0.0
    else:
        first = 2.0 * mean / (1.0 + rise)
        last = first * rise
        # the rows' mean rises by W pixels of the readout order per row
        slope = 1000.0 * first * (rise - 1.0) * width / max(height * width - 1, 1)
    return {"mean_e_per_pix": mean, "first_e_per_pix": first, "last_e_per_pix": last,
            "rise": rise, "readout_side": str(params.get("readout_side", "left")),
            "slope_per_krow": slope}


def electron_rate_map(meta) -> np.ndarray:
    """The single-electron rate map a simulated image's field was drawn from.

    Parameters
    ----------
    meta : dict
        A :class:`SimulatedImage`'s ``meta`` (a single image, an amplifier of
        :func:`simulate_frame`, or a frame of a run).

    Returns
    -------
    ndarray, shape (H, W), float64
        Expected single electrons per pixel (dark current and charge collected
        during readout: the field drawn Poisson per pixel, :func:`dark_rate_map`),
        over the full frame: 0 in the prescan and overscan columns, which collect no
        charge.
    """
    height, width = (int(n) for n in meta["shape"])
    start, stop = meta.get("data_columns") or (0, width)
    rate = dark_rate_map(meta, (height, stop - start))
    out = np.zeros((height, width))
    out[:, start:stop] = rate
    if meta.get("tile"):  # a tile of a larger image (tile_dataset): its part of the map
        (top, left), (tile_height, tile_width) = meta["tile"]["origin"], meta["tile"]["shape"]
        out = out[top:top + tile_height, left:left + tile_width]
    return out


def _detector_response(rng, params, truth, noiseless):
    """Turn the noiseless signal (ADU) into the image the amplifier writes.

    Builds one float32 frame in place and touches only the pixels that
    objects reach: fresh full-frame temporaries would dominate the run time.

    Returns
    -------
    image : ndarray
    drift : ndarray or None
        Per-row pedestal offsets.
    step : dict or None
        The baseline step (see :func:`_baseline_step`).
    """
    shape = truth.shape
    gain = params["gain_adu_per_e"]
    dark = params["dark_current_e"]
    zero = np.zeros(truth.pixels.size)
    charge = truth.signals.get(CLUSTER, zero)
    defects = truth.signals.get(GLOWING, zero) + truth.signals.get(HOT_PIXEL, zero)
    if params["defect_shot_noise"]:  # glow and hot pixels are charge too
        charge, defects = charge + defects, zero
    drift = _row_drift(rng, params, shape[0])
    step_profile, step = _baseline_step(rng, params, shape[1])

    rate = dark_rate_map(params, shape)
    if noiseless:
        image = np.full(shape, params["pedestal_adu"] + dark * gain, np.float32)  # == float32 base
        if not np.isscalar(rate):
            image = (params["pedestal_adu"] + rate * gain).astype(np.float32)
        added = charge + defects
    else:
        image = rng.standard_normal(shape, dtype=np.float32)
        image *= np.float32(params["read_noise_adu"])
        image += np.float32(params["pedestal_adu"])
        added = rng.poisson(charge / gain) * gain + defects
        if not np.isscalar(rate):  # a field rising along the readout
            image += rng.poisson(rate).astype(np.float32) * np.float32(gain)
        elif dark > 0:
            frame = image.reshape(-1)
            if dark < 1:  # sparse draw: Poisson total, uniform positions == per-pixel Poisson
                hits = rng.integers(0, frame.size, rng.poisson(dark * frame.size))
                hits, counts = np.unique(hits, return_counts=True)
                frame[hits] += counts.astype(np.float32) * np.float32(gain)
            else:
                frame += rng.poisson(dark, frame.size).astype(np.float32) * np.float32(gain)
    image.reshape(-1)[truth.pixels] += added.astype(np.float32)
    if drift is not None:
        image += drift[:, None]
    if step is not None:
        image[:, step["column"]:] += step_profile[None, :]
    return np.minimum(image, np.float32(params["saturation_adu"]), out=image), drift, step


def simulate_image(preset="thesis", shape=(256, 256), seed=0, *, noiseless=False, **overrides):
    """Simulate one CCD image with its truth.

    Parameters
    ----------
    preset : str
        A key of :data:`PRESETS` (see :data:`ccdnb.simulation.presets.DESCRIPTIONS`),
        e.g. ``thesis``, ``thesis-balanced``, ``fe55``, ``skipper`` or ``random``.
    shape : int, (int, int) or str
        Image size (H, W); see :func:`parse_shape`.
    seed : int
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same arrays.
    noiseless : bool
        Render the expected image: no read noise, no Poisson fluctuation of
        charge or dark current. Labels are computed as usual from the nominal
        read noise.
    **overrides
        Any parameter of :data:`BASE` (a value or a rule), e.g.
        ``read_noise_adu=5.0`` or ``n_diffuse=0``.

    Returns
    -------
    SimulatedImage

    Raises
    ------
    CcdnbInputError
        Unknown preset or parameter, or a bad shape.
    """
    full_shape = parse_shape(shape)
    rng = np.random.default_rng(seed)
    params = draw_parameters(preset, rng, overrides)
    prescan, overscan = int(params["prescan_columns"]), int(params["overscan_columns"])
    if prescan < 0 or overscan < 0 or prescan + overscan > full_shape[1] - 8:
        raise CcdnbInputError(f"prescan {prescan} and overscan {overscan} columns leave fewer "
                              f"than 8 image columns of {full_shape[1]}")
    shape = (full_shape[0], full_shape[1] - prescan - overscan)  # the image area
    scene = Scene(shape, params["gain_adu_per_e"], params["read_noise_adu"])
    glow_window, hot_window, cluster_window = column_windows(params, shape)
    targets = [] if params["events_on_defects"] > 0 else None  # defect pixels to place clusters on
    glow = place_glow(scene, rng, params, glow_window, targets)
    place_hot_pixels(scene, rng, params, hot_window, targets)
    place_clusters(scene, rng, params, cluster_window, targets or ())
    base = params["pedestal_adu"] + params["dark_current_e"] * params["gain_adu_per_e"]
    truth = scene.finalize(params["cluster_max_adu"], float32_base=base)
    image, drift, step = _detector_response(rng, params, truth, noiseless)
    label, instances = truth.label, truth.instances
    bias = None
    if prescan or overscan:
        image, label, instances, bias = _with_bias_columns(rng, params, image, label, instances,
                                                           drift, step, noiseless)
    # The zero-charge level of every row: what a background estimator should find.
    row_pedestal = np.full(shape[0], float(params["pedestal_adu"]))
    if drift is not None:
        row_pedestal += drift
    meta = {"preset": preset, "seed": int(seed), "shape": list(full_shape),
            "noiseless": bool(noiseless), **params, "glow": glow, "baseline_step": step,
            "data_columns": None if bias is None else bias["data"],
            "bias_columns": None if bias is None else bias["bias"],
            "row_pedestal_adu": row_pedestal.tolist(),
            # the single-electron field's truth (electron_rate_map gives the map itself)
            "electron_rate": electron_rate_summary(params, shape),
            # the levels as they appear in a noiseless image, for threshold labellers
            "glow_level_adu": None if glow is None
            else float(on_float32_grid(glow["amplitude_adu"], base)),
            "hot_level_adu": None if params["hot_level_adu"] is None
            else float(on_float32_grid(params["hot_level_adu"], base))}
    if bias is not None:  # object positions in the full frame's columns
        truth.objects["x"] += bias["data"][0]
    return SimulatedImage(image=image, label=label, instances=instances,
                          objects=truth.objects, meta=jsonable(meta))


def _with_bias_columns(rng, params, image, label, instances, drift, step, noiseless):
    """Add prescan and overscan columns to an image area, as a readout writes them.

    They are read with every row after (overscan) or before (prescan, on the
    amplifier's side) its image pixels: the row's pedestal, drift and baseline
    step, read noise, and no charge (truth: background).

    Returns
    -------
    image, label, instances : ndarray
        Of the full width.
    bias : dict
        ``data``: [start, stop) of the image columns; ``bias``: list of [start,
        stop) of the prescan and overscan columns (0-based).
    """
    prescan, overscan = int(params["prescan_columns"]), int(params["overscan_columns"])
    height, width = image.shape
    full = width + prescan + overscan
    left, right = (prescan, overscan) if params["readout_side"] != "right" else (overscan, prescan)
    out = np.full((height, full), np.float32(params["pedestal_adu"]), np.float32)
    if not noiseless:
        out += rng.standard_normal(out.shape, dtype=np.float32) * np.float32(
            params["read_noise_adu"])
    if drift is not None:
        out += drift[:, None]
    if step is not None:  # the step runs on to the end of the row read out
        cols = np.arange(full) - (left + step["column"])
        after = cols >= 0
        decay = step["decay_px"]
        profile = step["adu"] * (np.exp(-cols[after] / decay) if decay
                                 else np.ones(np.count_nonzero(after)))
        out[:, after] += profile.astype(np.float32)
    out[:, left:left + width] = image
    pad = ((0, 0), (left, right))
    bias = [[0, left]] if left else []
    bias += [[left + width, full]] if right else []
    return (out, np.pad(label, pad), np.pad(instances, pad),
            {"data": [left, left + width], "bias": bias})


def simulate_dataset(preset="thesis", n=1, shape=(256, 256), seed=0, **overrides):
    """Simulate ``n`` images.

    Image ``i`` is ``simulate_image(preset, shape, derive_seed(seed, i))``.

    Parameters
    ----------
    preset : str
    n : int
        Number of images (>= 1).
    shape : int, (int, int) or str
    seed : int
    **overrides
        Passed to every :func:`simulate_image` call (``noiseless`` included).

    Returns
    -------
    Dataset
    """
    shape = parse_shape(shape)
    if int(n) < 1:
        raise CcdnbInputError(f"number of images {n!r}: must be at least 1")
    n = int(n)
    images = np.empty((n, *shape), np.float32)
    labels = np.empty((n, *shape), np.uint8)
    instances = np.empty((n, *shape), np.int32)
    objects, meta = [], []
    for i in range(n):
        sim = simulate_image(preset, shape, derive_seed(seed, i), **overrides)
        images[i], labels[i], instances[i] = sim.image, sim.label, sim.instances
        sim.objects["image"] = i
        objects.append(sim.objects)
        meta.append(sim.meta)
    return Dataset(images=images, labels=labels, instances=instances,
                   objects=np.concatenate(objects), meta=meta)


def save_dataset(path, dataset):
    """Write ``dataset`` as one compressed ``.npz`` at exactly ``path``.

    Arrays ``images``, ``labels``, ``instances``, ``objects`` and ``meta`` (a
    JSON string). Written under a temporary name and renamed, so no partial
    file is left behind.
    """
    path = Path(path)
    with atomic_path(path, suffix=".npz", make_parents=True) as tmp:
        np.savez_compressed(tmp, images=dataset.images, labels=dataset.labels,
                            instances=dataset.instances, objects=dataset.objects,
                            meta=np.array(json.dumps(dataset.meta)))
    return path


def _current_objects(objects):
    """An objects table in :data:`OBJECT_DTYPE`; fields missing in older files are zero."""
    if objects.dtype == OBJECT_DTYPE:
        return objects
    upgraded = np.zeros(objects.shape, OBJECT_DTYPE)
    for name in set(objects.dtype.names or ()) & set(OBJECT_DTYPE.names):
        upgraded[name] = objects[name]
    return upgraded


def load_dataset(path):
    """Read a dataset written by :func:`save_dataset`.

    Raises
    ------
    CcdnbInputError
        The file is missing or is not a ccdnb dataset.
    """
    path = Path(path)
    if not path.is_file():
        raise CcdnbInputError(f"{path}: no such dataset file")
    try:
        with np.load(path, allow_pickle=False) as data:
            return Dataset(images=data["images"], labels=data["labels"],
                           instances=data["instances"], objects=_current_objects(data["objects"]),
                           meta=json.loads(str(data["meta"])))
    except (KeyError, ValueError, OSError) as err:
        raise CcdnbInputError(f"{path}: not a ccdnb dataset ({err})") from None


def concatenate_datasets(datasets):
    """Stack several datasets of the same image shape into one.

    Object rows keep pointing at their image: their ``image`` index is shifted
    by the number of images before them.

    Raises
    ------
    CcdnbInputError
        The datasets' image shapes differ.
    """
    datasets = list(datasets)
    shapes = {d.images.shape[1:] for d in datasets}
    if len(shapes) != 1:
        listed = ", ".join(f"{h}x{w}" for h, w in sorted(shapes))
        raise CcdnbInputError(f"datasets of different image shapes cannot be combined ({listed})")
    if len(datasets) == 1:
        return datasets[0]
    objects, offset = [], 0
    for d in datasets:
        shifted = _current_objects(d.objects).copy()
        shifted["image"] += offset
        objects.append(shifted)
        offset += len(d)
    return Dataset(images=np.concatenate([d.images for d in datasets]),
                   labels=np.concatenate([d.labels for d in datasets]),
                   instances=np.concatenate([d.instances for d in datasets]),
                   objects=np.concatenate(objects),
                   meta=[m for d in datasets for m in d.meta])


def tile_dataset(dataset, tile):
    """Cut every image of ``dataset`` into tiles of ``tile`` x ``tile`` pixels.

    Large images hold what small ones cannot: an amplifier's edge glow at a frame's
    scale, seen through a training-sized window (issue 33's eleventh candidate was
    trained on DAMIC-like amplifiers of 1024x1024 cut into 256x256 tiles). Tiles go row
    by row, image by image; pixels beyond the last whole tile are left out.

    Parameters
    ----------
    dataset : Dataset
    tile : int
        The tiles' side, at most the images' smaller side.

    Returns
    -------
    Dataset
        A tile's objects are those with pixels in it (``instances``) or their centre in
        it, ``x`` and ``y`` in the tile's coordinates (``peak_sigma``, ``npix`` and the
        rest describe the whole object); its ``meta`` is the image's with ``tile``:
        ``{"image", "origin": [row, column], "shape": [tile, tile]}``
        (:func:`electron_rate_map` reads it).

    Raises
    ------
    CcdnbInputError
        ``tile`` below 8 or larger than the images.
    """
    tile = int(tile)
    n, height, width = dataset.images.shape
    if tile < 8 or tile > min(height, width):
        raise CcdnbInputError(f"tile {tile}: must be 8 to {min(height, width)} pixels "
                              f"(the images are {height}x{width})")
    objects = _current_objects(dataset.objects)
    corners = [(top, left) for top in range(0, height - tile + 1, tile)
               for left in range(0, width - tile + 1, tile)]
    images, labels, instances, tables, meta = [], [], [], [], []
    for i in range(n):
        own = objects[objects["image"] == i]
        for top, left in corners:
            window = (i, slice(top, top + tile), slice(left, left + tile))
            images.append(dataset.images[window])
            labels.append(dataset.labels[window])
            instances.append(dataset.instances[window])
            inside = ((own["x"] >= left) & (own["x"] < left + tile)
                      & (own["y"] >= top) & (own["y"] < top + tile))
            held = np.isin(own["id"], np.unique(instances[-1]))
            rows = own[inside | held].copy()
            rows["image"], rows["x"], rows["y"] = len(images) - 1, rows["x"] - left, rows["y"] - top
            tables.append(rows)
            meta.append({**dataset.meta[i], "tile": {"image": i, "origin": [top, left],
                                                     "shape": [tile, tile]}})
    return Dataset(images=np.stack(images), labels=np.stack(labels),
                   instances=np.stack(instances),
                   objects=np.concatenate(tables) if tables else objects[:0], meta=meta)


def simulate_frame(shape=(4096, 4096), n_amplifiers=4, seed=0, preset="damic", **overrides):
    """Simulate a multi-amplifier frame: one image per amplifier.

    Each amplifier's image has ``shape``, its own pedestal, noise and gain
    (drawn from ``preset``) and its glow at its readout edge (left for
    amplifiers A, C, ..., right for B, D, ...).

    Parameters
    ----------
    shape : int, (int, int) or str
        Size of each amplifier's image.
    n_amplifiers : int
    seed : int
        Amplifier ``k`` uses ``derive_seed(seed, k)``.
    preset : str
    **overrides
        Passed to :func:`simulate_image`.

    Returns
    -------
    list of SimulatedImage
        With ``meta['amplifier']`` ('A', 'B', ...) and ``meta['readout_edge']``.
    """
    if int(n_amplifiers) < 1:
        raise CcdnbInputError(f"number of amplifiers {n_amplifiers!r}: must be at least 1")
    images = []
    for k in range(int(n_amplifiers)):
        edge = "left" if k % 2 == 0 else "right"
        kwargs = {"glow_edges": (edge,), "readout_side": edge, **overrides}
        sim = simulate_image(preset, shape, derive_seed(seed, k), **kwargs)
        sim.meta.update(amplifier=string.ascii_uppercase[k % 26], readout_edge=edge)
        images.append(sim)
    return images


#: The thesis's class shares (% of pixels: background, glowing, hot pixel, cluster):
#: its Table 1 test set and its balanced training set (section 4.1.5).
THESIS_DENSITIES = {"thesis": (92.1, 6.8, 0.4, 0.7), "thesis-balanced": (41.0, 25.0, 21.0, 13.0)}

#: Object kind -> overrides that make an image with that kind only (see simulate_kind_examples).
_KIND_ONLY = {
    "band": dict(glow_fraction=1.0, glow_kinds=("band",), glow_width_fraction=(0.2, 0.3)),
    "edge": dict(glow_fraction=1.0, glow_kinds=("edge",), glow_width_fraction=(0.2, 0.3)),
    "corner": dict(glow_fraction=1.0, glow_kinds=("corner",), glow_width_fraction=(0.3, 0.5)),
    "pixel": dict(n_hot_pixels=3), "segment": dict(n_hot_segments=2),
    "column": dict(n_hot_columns=1), "streak": dict(n_hot_streaks=2),
    "diffuse": dict(n_diffuse=12), "worm": dict(n_worms=2), "muon": dict(n_muons=2),
    "alpha": dict(n_alphas=1), "hit": dict(n_hits=6), "xray": dict(n_xrays=6),
    "serial": dict(n_serial=2), "lowe": dict(n_lowe=12, read_noise_adu=2.0),
    "track": dict(n_long_tracks=1),
}


def simulate_kind_examples(shape=64, seed=0, kinds=None):
    """One image per object kind, with nothing else in it, at DAMIC-like noise.

    Parameters
    ----------
    shape : int, (int, int) or str
    seed : int
    kinds : sequence of str, optional
        Default: every kind (glow, hot pixel and cluster kinds).

    Returns
    -------
    kinds : list of str
    dataset : Dataset
        Image ``i`` shows ``kinds[i]``.
    """
    kinds = list(kinds or _KIND_ONLY)
    nothing = dict(glow_fraction=0.0, n_hot_pixels=0, n_hot_segments=0, n_hot_columns=0,
                   n_hot_streaks=0, n_diffuse=0, n_worms=0, n_muons=0, n_alphas=0,
                   pedestal_adu=5000.0, gain_adu_per_e=10.0, read_noise_adu=20.0,
                   dark_current_e=0.0, glow_offset_probability=0.0, glow_edges=("left",))
    images = [simulate_dataset("damic", 1, shape, derive_seed(seed, i),
                               **{**nothing, **_KIND_ONLY[k]})
              for i, k in enumerate(kinds)]
    return kinds, concatenate_datasets(images)


def class_density_table(presets=("thesis", "thesis-balanced"), n=50, shape=256, seed=0):
    """Percentage of pixels per class of ``n`` images of each preset, beside the thesis's.

    Returns
    -------
    list of dict
        One row per preset: ``preset``, ``simulated`` (4 percentages) and
        ``thesis`` (4 percentages, or None where the thesis gave none).
    """
    rows = []
    for preset in presets:
        labels = simulate_dataset(preset, n, shape, seed).labels
        share = class_percentages(labels)
        rows.append({"preset": preset, "simulated": [round(float(s), 2) for s in share],
                     "thesis": THESIS_DENSITIES.get(preset)})
    return rows
