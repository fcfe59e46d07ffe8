"""Pixel labels: the thesis's threshold labelling, encodings, class statistics, labelme I/O.

The thesis labelled its simulated images by intensity thresholds: in its
images glow is a flat band at one level, hot pixels sit at one higher level
and clusters stay below it, so a pixel's value alone tells its class.
:func:`threshold_labels` reproduces that method from each image's meta (the
simulation now provides exact truth labels; the thresholds remain as a method
and a comparison, notebook 02). The rest are the small label utilities the
notebooks and training share: one-hot encoding, colour rendering, class
percentages, inverse-frequency class weights, and import/export of labelme
polygon annotations of real images.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .classes import (BACKGROUND, CLASS_COLOURS, CLASS_IDS, CLASS_NAMES, CLUSTER, GLOWING,
                      HOT_PIXEL, N_CLASSES, PRIORITY)
from .errors import CcdnbInputError
from .io_utils import write_text_atomic

#: Half-width of the glow and hot-pixel windows and the background cut, in read-noise
#: sigma, for images with noise (noiseless images use exact windows).
DEFAULT_N_SIGMA = 3.0


# --------------------------------------------------------------------------- thresholds

@dataclass(frozen=True)
class ThresholdWindows:
    """Intensity windows of one image, in ADU as the image holds them (pedestal included).

    A pixel ``v`` is hot when ``v >= hot_min``, else glowing when
    ``glow_min <= v <= glow_max``, else a cluster when ``v >= signal_min``,
    else background. Absent levels are ``inf`` / ``-inf`` bounds that no pixel meets.
    """

    signal_min: float
    glow_min: float
    glow_max: float
    hot_min: float


def _up(value):
    """Smallest float32 >= ``value``: ``x >= value`` equals ``x >= _up(value)`` for float32 ``x``."""
    rounded = np.float32(value)
    return np.nextafter(rounded, np.float32(np.inf)) if rounded < value else rounded


def _down(value):
    """Largest float32 <= ``value``: ``x <= value`` equals ``x <= _down(value)`` for float32 ``x``."""
    rounded = np.float32(value)
    return np.nextafter(rounded, np.float32(-np.inf)) if rounded > value else rounded


def threshold_windows(meta, *, n_sigma=DEFAULT_N_SIGMA):
    """Intensity windows of one image from its simulation meta.

    The levels are measured from the image's base, the float32 value of
    ``pedestal_adu + dark_current_e * gain_adu_per_e`` (what a noiseless
    image holds where nothing is). In a noiseless image (``meta['noiseless']``)
    the windows are exact: signal at least 1 read-noise sigma, glow exactly at
    ``glow_level_adu``, hot pixels at ``hot_level_adu`` or above. With noise
    they widen by ``n_sigma`` read-noise sigma, as the thesis's did: the glow
    window becomes ``glow_level +- n_sigma sigma``, the hot window starts
    ``n_sigma sigma`` below the hot level and the signal cut rises to
    ``n_sigma sigma`` (a 1-sigma cut would call 16 % of the background signal).

    Parameters
    ----------
    meta : dict
        ``SimulatedImage.meta``: needs ``pedestal_adu``, ``read_noise_adu``,
        ``gain_adu_per_e``; uses ``dark_current_e``, ``noiseless``,
        ``glow_level_adu`` and ``hot_level_adu`` (None: no such level).
    n_sigma : float
        Widening with noise, in read-noise sigma.

    Returns
    -------
    ThresholdWindows

    Raises
    ------
    CcdnbInputError
        A required meta key is missing.
    """
    try:
        base = np.float32(meta["pedestal_adu"] + meta.get("dark_current_e", 0.0) * meta["gain_adu_per_e"])
        sigma = float(meta["read_noise_adu"])
    except KeyError as err:
        raise CcdnbInputError(f"threshold labelling needs image meta key {err.args[0]!r}") from None
    base = float(base)
    tol = 0.0 if meta.get("noiseless", False) else float(n_sigma) * sigma
    signal_min = _up(base + max(sigma, tol))
    glow = meta.get("glow_level_adu")
    glow_min, glow_max = ((np.inf, -np.inf) if glow is None
                          else (_up(base + glow - tol), _down(base + glow + tol)))
    hot = meta.get("hot_level_adu")
    hot_min = np.inf if hot is None else _up(base + hot - tol)
    return ThresholdWindows(float(signal_min), float(glow_min), float(glow_max), float(hot_min))


def threshold_labels(images, meta, *, n_sigma=DEFAULT_N_SIGMA):
    """Label images by intensity thresholds, the thesis's automated labelling.

    Vectorised over the stack: each image gets its own windows
    (:func:`threshold_windows`), compared at once with broadcasting.
    Precedence where windows overlap: hot pixel > glowing > cluster >
    background. Row drift of the pedestal is not followed (the thesis's
    images had none).

    Parameters
    ----------
    images : ndarray, shape (N, H, W) or (H, W)
        Images in ADU as simulated (pedestal included).
    meta : list of dict or dict
        One meta dict per image (a single dict for a single image).
    n_sigma : float
        Window widening for images with noise, in read-noise sigma.

    Returns
    -------
    ndarray of uint8, same shape as ``images``
    """
    images = np.asarray(images)
    single = images.ndim == 2
    if single:
        images, meta = images[None], [meta]
    if images.ndim != 3 or len(meta) != len(images):
        raise CcdnbInputError(f"threshold labelling needs (N, H, W) images and N meta dicts; "
                              f"got shape {images.shape} and {len(meta)} meta")
    windows = [threshold_windows(m, n_sigma=n_sigma) for m in meta]
    dtype = images.dtype if images.dtype == np.float32 else np.float64

    def bound(name):
        return np.array([getattr(w, name) for w in windows], dtype)[:, None, None]

    # Lowest precedence first, higher ones overwrite; np.where keeps it to a few passes.
    labels = np.where(images >= bound("signal_min"), np.uint8(CLUSTER), np.uint8(BACKGROUND))
    glow = (images >= bound("glow_min")) & (images <= bound("glow_max"))
    labels[glow] = GLOWING
    labels[images >= bound("hot_min")] = HOT_PIXEL
    return labels[0] if single else labels


# --------------------------------------------------------------------------- encodings

def one_hot(labels):
    """One-hot encode class masks.

    Parameters
    ----------
    labels : array_like of int, shape (...)
        Class ids in ``0 .. N_CLASSES - 1``.

    Returns
    -------
    ndarray of float32, shape (..., N_CLASSES)
    """
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise CcdnbInputError(f"class ids must lie in 0..{N_CLASSES - 1}")
    return np.eye(N_CLASSES, dtype=np.float32)[labels]


def from_one_hot(encoded):
    """Class masks (uint8) from one-hot encodings or class probabilities (argmax of the last axis)."""
    return np.argmax(np.asarray(encoded), axis=-1).astype(np.uint8)


def label_to_rgb(labels):
    """Render class masks in the thesis colours (:data:`ccdnb.classes.CLASS_COLOURS`).

    Parameters
    ----------
    labels : array_like of int, shape (...)

    Returns
    -------
    ndarray of float32, shape (..., 3), values in [0, 1]
    """
    return np.asarray(CLASS_COLOURS, dtype=np.float32)[np.asarray(labels)]


# --------------------------------------------------------------------------- statistics

def class_counts(labels):
    """Number of pixels of each class, shape (N_CLASSES,) int64."""
    return np.bincount(np.asarray(labels, dtype=np.intp).ravel(), minlength=N_CLASSES)[:N_CLASSES]


def class_percentages(labels):
    """Percentage of the pixels in each class, over all images given.

    Returns
    -------
    ndarray of float64, shape (N_CLASSES,)
        Sums to 100 (all zeros for an empty array).
    """
    counts = class_counts(labels)
    return 100.0 * counts / max(int(counts.sum()), 1)


def class_weights(labels):
    """Inverse-frequency class weights, the thesis's weighting of the loss.

    ``w_k`` is proportional to ``1 / freq_k`` and the weights sum to
    ``N_CLASSES``. A class with no pixel gets weight 0 (there is nothing to
    weight; 1/0 would be infinite) and the present classes share the sum.

    Parameters
    ----------
    labels : array_like of int
        Class masks (any shape), usually the training set's truth labels.

    Returns
    -------
    ndarray of float64, shape (N_CLASSES,)
    """
    counts = class_counts(labels).astype(np.float64)
    inverse = np.divide(1.0, counts, out=np.zeros_like(counts), where=counts > 0)
    total = inverse.sum()
    return N_CLASSES * inverse / total if total > 0 else inverse


def confusion_counts(truth, other):
    """(N_CLASSES, N_CLASSES) pixel counts: row = class in ``truth``, column = class in ``other``.

    One :func:`numpy.bincount` over all pixels, fast enough for a whole training set.
    """
    truth = np.asarray(truth, dtype=np.intp).ravel()
    other = np.asarray(other, dtype=np.intp).ravel()
    if truth.shape != other.shape:
        raise CcdnbInputError("truth and other must have the same number of pixels")
    return np.bincount(truth * N_CLASSES + other,
                       minlength=N_CLASSES * N_CLASSES).reshape(N_CLASSES, N_CLASSES)


def agreement_table(truth, other):
    """Per-class agreement of a labelling with the truth, one row per class.

    Parameters
    ----------
    truth, other : array_like of int
        Class masks of the same shape (any number of images).

    Returns
    -------
    list of dict
        ``class``, ``truth px``, ``labelled px``, ``precision`` (share of the
        pixels labelled k that are k), ``recall`` (share of the true k pixels
        labelled k), ``f1``; NaN where a share has no pixels.
    """
    counts = confusion_counts(truth, other).astype(np.float64)
    hits = np.diag(counts)
    in_truth, labelled = counts.sum(axis=1), counts.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision, recall = hits / labelled, hits / in_truth
        f1 = 2 * hits / (in_truth + labelled)
    return [{"class": CLASS_NAMES[k], "truth px": int(in_truth[k]), "labelled px": int(labelled[k]),
             "precision": float(precision[k]), "recall": float(recall[k]), "f1": float(f1[k])}
            for k in CLASS_IDS]


def write_label_stats(path, labels):
    """Write the class statistics of ``labels`` as JSON (the run directory's ``label_stats.json``).

    Parameters
    ----------
    path : str or Path
        Written under a temporary name and renamed, so no partial file is left.
    labels : array_like of int
        Usually the truth labels of the training set.

    Returns
    -------
    dict
        What was written: ``{"class_percent": [4 floats], "class_weights": [4 floats]}``
        (:func:`class_percentages`, :func:`class_weights`).
    """
    stats = {"class_percent": class_percentages(labels).tolist(),
             "class_weights": class_weights(labels).tolist()}
    write_text_atomic(path, json.dumps(stats, indent=2) + "\n")
    return stats


# --------------------------------------------------------------------------- labelme

def _name_key(name):
    return re.sub(r"[\s_\-]+", "", str(name).lower())


#: labelme label names (lower case, spaces/underscores/hyphens removed) -> class id.
LABELME_NAMES = {
    "background": BACKGROUND, "bg": BACKGROUND,
    "glowing": GLOWING, "glow": GLOWING,
    "hotpixel": HOT_PIXEL, "hotpixels": HOT_PIXEL, "hot": HOT_PIXEL,
    "hotcolumn": HOT_PIXEL, "hotcolumns": HOT_PIXEL,
    "cluster": CLUSTER, "clusters": CLUSTER,
}


def labelme_class(name):
    """Class id of a labelme label name, case-insensitively (``'Hot pixel'``, ``'hot_pixel'``, ...).

    Raises
    ------
    CcdnbInputError
        The name is not one of the four classes.
    """
    try:
        return LABELME_NAMES[_name_key(name)]
    except KeyError:
        raise CcdnbInputError(f"labelme label {name!r} is not a class; use one of "
                              f"{', '.join(CLASS_NAMES)}") from None


def _shape_pixels(shape_type, points, size):
    """Row and column indices of the pixels a labelme shape covers (pixel centres at integers)."""
    from skimage import draw

    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    cols, rows = points[:, 0], points[:, 1]
    if shape_type == "polygon":
        if len(points) < 3:
            raise CcdnbInputError("a polygon needs at least 3 points")
        return draw.polygon(rows, cols, shape=size)
    if shape_type == "rectangle":  # two opposite corners, both included (as labelme draws it)
        if len(points) != 2:
            raise CcdnbInputError("a rectangle needs 2 points")
        r0, r1 = math.ceil(rows.min()), math.floor(rows.max())
        c0, c1 = math.ceil(cols.min()), math.floor(cols.max())
        rr, cc = np.mgrid[max(r0, 0):min(r1, size[0] - 1) + 1, max(c0, 0):min(c1, size[1] - 1) + 1]
        return rr.ravel(), cc.ravel()
    if shape_type == "circle":  # centre and a point on the circle
        if len(points) != 2:
            raise CcdnbInputError("a circle needs 2 points")
        radius = math.hypot(rows[1] - rows[0], cols[1] - cols[0])
        return draw.disk((rows[0], cols[0]), radius + 0.5, shape=size)
    if shape_type == "point":
        rr, cc = np.rint(rows).astype(int), np.rint(cols).astype(int)
    elif shape_type in ("line", "linestrip"):
        if len(points) < 2:
            raise CcdnbInputError(f"a {shape_type} needs at least 2 points")
        r, c = np.rint(rows).astype(int), np.rint(cols).astype(int)
        pieces = [draw.line(r[i], c[i], r[i + 1], c[i + 1]) for i in range(len(r) - 1)]
        rr, cc = np.concatenate([p[0] for p in pieces]), np.concatenate([p[1] for p in pieces])
    else:
        raise CcdnbInputError(f"shape type {shape_type!r} is not supported "
                         "(polygon, rectangle, circle, point, line, linestrip)")
    inside = (rr >= 0) & (rr < size[0]) & (cc >= 0) & (cc < size[1])
    return rr[inside], cc[inside]


def mask_from_labelme(source, shape=None):
    """Class mask from a labelme annotation.

    Where shapes overlap the pixel takes the highest-priority class (hot pixel >
    cluster > glowing > background, as the truth labels), whatever the order of
    the shapes; unannotated pixels are background.

    Parameters
    ----------
    source : str, Path or dict
        A labelme JSON file or its parsed content (``shapes`` with ``label``,
        ``points`` as [x, y] = [column, row], ``shape_type``; ``imageHeight``,
        ``imageWidth``).
    shape : tuple of int, optional
        (H, W) of the mask; defaults to the file's ``imageHeight`` x ``imageWidth``.

    Returns
    -------
    ndarray of uint8, shape (H, W)

    Raises
    ------
    CcdnbInputError
        Unreadable file, unknown label, unsupported or malformed shape, no image size.
    """
    name = "labelme annotation"
    if not isinstance(source, dict):
        name = str(source)
        try:
            source = json.loads(Path(source).read_text())
        except (OSError, ValueError) as err:
            raise CcdnbInputError(f"{name}: cannot read labelme JSON ({err})") from None
    try:
        size = tuple(int(s) for s in shape) if shape is not None else (
            int(source["imageHeight"]), int(source["imageWidth"]))
        shapes = list(source.get("shapes", []))
    except (KeyError, TypeError, ValueError):
        raise CcdnbInputError(f"{name}: no image size (imageHeight, imageWidth)") from None
    rank = {cls: len(PRIORITY) - i for i, cls in enumerate(PRIORITY)}  # higher wins
    best = np.zeros(size, np.int8)  # rank of the class painted so far (0: nothing)
    mask = np.full(size, BACKGROUND, np.uint8)
    for k, item in enumerate(shapes):
        try:
            cls = labelme_class(item["label"])
            rr, cc = _shape_pixels(item.get("shape_type") or "polygon", item["points"], size)
        except (KeyError, TypeError, ValueError) as err:  # CcdnbInputError included
            raise CcdnbInputError(f"{name}: shape {k}: {err}") from None
        wins = best[rr, cc] < rank[cls]
        mask[rr[wins], cc[wins]] = cls
        best[rr[wins], cc[wins]] = rank[cls]
    return mask


def _component_shapes(component, top, left):
    """labelme shapes covering exactly the pixels of one connected component.

    ``component`` is the component's bounding box (bool) with its top-left
    pixel at (``top``, ``left``) of the image. A component without holes
    becomes one polygon along its pixel boundary (vertices half a pixel off
    the pixel centres, so filling it back is exact); one with holes, which a
    labelme polygon cannot express, becomes one rectangle per run of pixels
    in a row.
    """
    from scipy import ndimage
    from skimage import measure

    crop = np.pad(component, 1)
    if np.array_equal(ndimage.binary_fill_holes(crop), crop):
        contours = measure.find_contours(crop.astype(np.float32), 0.5, fully_connected="high")
        if len(contours) == 1:
            outline = measure.approximate_polygon(contours[0][:-1], tolerance=0.0)
            # back to image coordinates (undo the pad); labelme wants [x, y]
            points = [[float(c + left - 1), float(r + top - 1)] for r, c in outline]
            return [("polygon", points)]
    runs = []
    rows, cols = np.nonzero(component)
    for r in np.unique(rows):
        row_cols = cols[rows == r]
        breaks = np.flatnonzero(np.diff(row_cols) > 1)
        for start, stop in zip(np.r_[0, breaks + 1], np.r_[breaks, row_cols.size - 1]):
            runs.append(("rectangle", [[float(row_cols[start] + left), float(r + top)],
                                       [float(row_cols[stop] + left), float(r + top)]]))
    return runs


def mask_to_labelme(mask, *, image_path=""):
    """labelme annotation (a JSON-serialisable dict) of a class mask.

    Every 8-connected region of a non-background class becomes one polygon
    (regions with holes become rectangles, one per row run), labelled with
    the class name. :func:`mask_from_labelme` of the result gives ``mask`` back.

    Parameters
    ----------
    mask : array_like of int, shape (H, W)
    image_path : str
        Stored as ``imagePath`` (the image file the annotation belongs to).

    Returns
    -------
    dict
        labelme's format: ``version``, ``flags``, ``shapes``, ``imagePath``,
        ``imageData`` (None), ``imageHeight``, ``imageWidth``.
    """
    from scipy import ndimage

    mask = np.asarray(mask)
    shapes = []
    for cls in CLASS_IDS:
        if cls == BACKGROUND:
            continue
        regions, n = ndimage.label(mask == cls, structure=np.ones((3, 3), bool))
        for index, found in enumerate(ndimage.find_objects(regions), start=1):
            component = regions[found] == index
            for shape_type, points in _component_shapes(component, found[0].start,
                                                        found[1].start):
                shapes.append({"label": CLASS_NAMES[cls], "points": points, "group_id": None,
                               "description": "", "shape_type": shape_type, "flags": {}})
    return {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": str(image_path),
            "imageData": None, "imageHeight": int(mask.shape[0]), "imageWidth": int(mask.shape[1])}
