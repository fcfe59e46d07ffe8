"""labelme polygon annotations of real images, to and from class masks.

:func:`mask_from_labelme` paints a labelme JSON annotation (polygons,
rectangles, circles, lines, points named after the classes) into a class mask,
the highest-priority class winning where shapes overlap; :func:`mask_to_labelme`
writes a mask as one polygon per 8-connected region (:func:`ccdnb.objects.groups.label_groups`),
so that the two are inverse.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from ..classes import BACKGROUND, CLASS_IDS, CLASS_NAMES, CLUSTER, GLOWING, HOT_PIXEL, PRIORITY
from ..errors import CcdnbInputError
from ..objects.groups import label_groups

__all__ = ["LABELME_NAMES", "labelme_class", "mask_from_labelme", "mask_to_labelme"]


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
        regions, _ = label_groups(mask == cls)
        for index, found in enumerate(ndimage.find_objects(regions), start=1):
            component = regions[found] == index
            for shape_type, points in _component_shapes(component, found[0].start,
                                                        found[1].start):
                shapes.append({"label": CLASS_NAMES[cls], "points": points, "group_id": None,
                               "description": "", "shape_type": shape_type, "flags": {}})
    return {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": str(image_path),
            "imageData": None, "imageHeight": int(mask.shape[0]), "imageWidth": int(mask.shape[1])}
